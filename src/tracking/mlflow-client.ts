/**
 * A typed client for the MLflow tracking server's REST API (2.0), for the browser and Node.
 * It only speaks HTTP: batching within the server's limits, retries and persistence are the
 * outbox's job. Every failure is an `MlflowError` carrying the endpoint, the HTTP status and
 * the server's own message, and says whether trying again could help.
 */

/** The server's per-request limits for runs/log-batch. */
export const LOG_BATCH_LIMITS = { metrics: 1000, params: 100, tags: 100, total: 1000 } as const;

export type RunStatus = 'RUNNING' | 'SCHEDULED' | 'FINISHED' | 'FAILED' | 'KILLED';

export interface MlflowMetric {
  key: string;
  value: number;
  /** ms since the epoch; fixed when the point is made, so a re-sent point is the same point. */
  timestamp: number;
  step: number;
}

export interface MlflowTag {
  key: string;
  value: string;
}

export type MlflowParam = MlflowTag;

export interface DatasetInput {
  name: string;
  digest: string;
  sourceType: string;
  source: string;
  schema?: string;
  profile?: string;
  /** e.g. { key: 'mlflow.data.context', value: 'training' } */
  tags?: MlflowTag[];
}

/**
 * MLflow answers 400 when two writers insert the same row at once: two runs of an experiment
 * logging one dataset (`runs/log-inputs`: "UNIQUE constraint failed: datasets.experiment_id,
 * datasets.name, datasets.digest", issue 15). Asked again, it finds the row the other made.
 * SQLite's, PostgreSQL's and MySQL's words.
 */
const LOST_RACE =
  /IntegrityError|UNIQUE constraint failed|duplicate key value violates unique constraint|Duplicate entry/i;

export class MlflowError extends Error {
  override name = 'MlflowError';
  constructor(
    readonly endpoint: string,
    /** HTTP status, or 0 when the server could not be reached. */
    readonly status: number,
    readonly serverMessage: string,
    readonly errorCode: string | null = null,
  ) {
    super(
      status === 0
        ? `MLflow server unreachable at ${endpoint}: ${serverMessage}`
        : `MLflow ${endpoint} answered ${status}${errorCode ? ` ${errorCode}` : ''}: ${serverMessage}`,
    );
  }

  /** Network failures and server errors may pass; client errors (4xx) will not, but for a
   *  write that lost a race in the server's database (below). */
  get retryable(): boolean {
    return (
      this.status === 0 ||
      this.status >= 500 ||
      this.status === 429 ||
      this.status === 408 ||
      (this.status === 400 && LOST_RACE.test(this.serverMessage))
    );
  }
}

/** JSON has no NaN or infinities: MLflow takes them as the strings "NaN", "Infinity", "-Infinity". */
export function metricValue(v: number): number | string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return 'Infinity';
  if (v === -Infinity) return '-Infinity';
  return v;
}

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export class MlflowClient {
  readonly base: string;

  constructor(
    trackingUri: string,
    private readonly fetchFn: FetchLike = (i, init) => globalThis.fetch(i, init),
  ) {
    let url: URL;
    try {
      url = new URL(trackingUri);
    } catch {
      throw new MlflowError(trackingUri, 0, 'not a URL (expected e.g. http://127.0.0.1:5000)');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new MlflowError(trackingUri, 0, `unsupported protocol ${url.protocol} (expected http: or https:)`);
    }
    this.base = url.toString().replace(/\/+$/, '');
  }

  private async request<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const endpoint = `${this.base}${path}`;
    let res: Response;
    try {
      res = await this.fetchFn(endpoint, {
        method,
        headers: body === undefined ? undefined : { 'Content-Type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw new MlflowError(endpoint, 0, e instanceof Error ? e.message : String(e));
    }
    const text = await res.text().catch(() => '');
    if (!res.ok) {
      let message = text.trim().slice(0, 500) || res.statusText;
      let code: string | null = null;
      try {
        const j = JSON.parse(text) as { message?: string; error_code?: string };
        message = j.message ?? message;
        code = j.error_code ?? null;
      } catch {
        /* not JSON: keep the text */
      }
      if (res.status === 403 && !code)
        message +=
          ' (MLflow ≥ 3.5 refuses other origins and hosts: start it with --cors-allowed-origins / --allowed-hosts for this page)';
      throw new MlflowError(endpoint, res.status, message, code);
    }
    if (text.trim() === '') return {} as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new MlflowError(endpoint, res.status, `answered with malformed JSON: ${text.slice(0, 120)}`);
    }
  }

  /** The server's version (GET /version), for "test connection". */
  async version(): Promise<string> {
    const endpoint = `${this.base}/version`;
    let res: Response;
    try {
      res = await this.fetchFn(endpoint, { method: 'GET' });
    } catch (e) {
      throw new MlflowError(endpoint, 0, e instanceof Error ? e.message : String(e));
    }
    const text = (await res.text()).trim();
    if (!res.ok) throw new MlflowError(endpoint, res.status, text.slice(0, 200) || res.statusText);
    if (!/^\d+\.\d+/.test(text))
      throw new MlflowError(
        endpoint,
        res.status,
        `does not look like an MLflow server (answered "${text.slice(0, 60)}")`,
      );
    return text;
  }

  /** The experiment's id, creating it when absent. */
  async getOrCreateExperiment(name: string): Promise<string> {
    try {
      const r = await this.request<{ experiment: { experiment_id: string; lifecycle_stage?: string } }>(
        'GET',
        `/api/2.0/mlflow/experiments/get-by-name?experiment_name=${encodeURIComponent(name)}`,
      );
      if (r.experiment.lifecycle_stage === 'deleted') {
        throw new MlflowError(
          `${this.base}/api/2.0/mlflow/experiments/get-by-name`,
          400,
          `experiment "${name}" is deleted; restore it or choose another name`,
        );
      }
      return r.experiment.experiment_id;
    } catch (e) {
      if (!(e instanceof MlflowError) || e.errorCode !== 'RESOURCE_DOES_NOT_EXIST') throw e;
    }
    try {
      const r = await this.request<{ experiment_id: string }>('POST', '/api/2.0/mlflow/experiments/create', { name });
      return r.experiment_id;
    } catch (e) {
      // Another client created it between our two calls.
      if (e instanceof MlflowError && e.errorCode === 'RESOURCE_ALREADY_EXISTS')
        return this.getOrCreateExperiment(name);
      throw e;
    }
  }

  async createRun(experimentId: string, runName: string, startTime: number, tags: MlflowTag[]): Promise<string> {
    const r = await this.request<{ run: { info: { run_id: string } } }>('POST', '/api/2.0/mlflow/runs/create', {
      experiment_id: experimentId,
      run_name: runName,
      start_time: startTime,
      tags,
    });
    return r.run.info.run_id;
  }

  /** Runs of an experiment whose tag `key` equals `value` (to find a run created before a lost answer). */
  async findRunsByTag(experimentId: string, key: string, value: string): Promise<string[]> {
    const r = await this.request<{ runs?: { info: { run_id: string } }[] }>('POST', '/api/2.0/mlflow/runs/search', {
      experiment_ids: [experimentId],
      filter: `tags.\`${key}\` = '${value.replace(/'/g, "\\'")}'`,
      max_results: 10,
    });
    return (r.runs ?? []).map((x) => x.info.run_id);
  }

  async logBatch(
    runId: string,
    batch: { metrics?: MlflowMetric[]; params?: MlflowParam[]; tags?: MlflowTag[] },
  ): Promise<void> {
    const metrics = batch.metrics ?? [];
    const params = batch.params ?? [];
    const tags = batch.tags ?? [];
    if (
      metrics.length > LOG_BATCH_LIMITS.metrics ||
      params.length > LOG_BATCH_LIMITS.params ||
      tags.length > LOG_BATCH_LIMITS.tags ||
      metrics.length + params.length + tags.length > LOG_BATCH_LIMITS.total
    ) {
      throw new RangeError(
        `log-batch over the server's limits: ${metrics.length} metrics, ${params.length} params, ${tags.length} tags (split with splitLogBatch)`,
      );
    }
    await this.request('POST', '/api/2.0/mlflow/runs/log-batch', {
      run_id: runId,
      metrics: metrics.map((m) => ({ key: m.key, value: metricValue(m.value), timestamp: m.timestamp, step: m.step })),
      params,
      tags,
    });
  }

  async logInputs(runId: string, datasets: DatasetInput[]): Promise<void> {
    await this.request('POST', '/api/2.0/mlflow/runs/log-inputs', {
      run_id: runId,
      datasets: datasets.map((d) => ({
        tags: d.tags ?? [],
        dataset: {
          name: d.name,
          digest: d.digest,
          source_type: d.sourceType,
          source: d.source,
          ...(d.schema ? { schema: d.schema } : {}),
          ...(d.profile ? { profile: d.profile } : {}),
        },
      })),
    });
  }

  async updateRun(runId: string, status: RunStatus, endTime?: number): Promise<void> {
    await this.request('POST', '/api/2.0/mlflow/runs/update', {
      run_id: runId,
      status,
      ...(endTime ? { end_time: endTime } : {}),
    });
  }

  async getRun(runId: string): Promise<MlflowRunData> {
    const r = await this.request<{ run: MlflowRunData }>(
      'GET',
      `/api/2.0/mlflow/runs/get?run_id=${encodeURIComponent(runId)}`,
    );
    return r.run;
  }

  async metricHistory(runId: string, key: string): Promise<MlflowMetric[]> {
    const out: MlflowMetric[] = [];
    let token: string | undefined;
    do {
      const q = `run_id=${encodeURIComponent(runId)}&metric_key=${encodeURIComponent(key)}&max_results=25000${token ? `&page_token=${encodeURIComponent(token)}` : ''}`;
      const r = await this.request<{
        metrics?: (Omit<MlflowMetric, 'value'> & { value: number | string })[];
        next_page_token?: string;
      }>('GET', `/api/2.0/mlflow/metrics/get-history?${q}`);
      out.push(...(r.metrics ?? []).map((m) => ({ ...m, value: Number(m.value) }))); // "NaN", "Infinity" come back as strings
      token = r.next_page_token;
    } while (token);
    return out;
  }

  /** Upload one artifact file through the server's artifact proxy (`mlflow server` serves artifacts by default). */
  async uploadArtifact(
    experimentId: string,
    runId: string,
    path: string,
    data: Blob | Uint8Array | string,
    contentType = 'application/octet-stream',
  ): Promise<void> {
    const clean = path.split('/').filter((p) => p && p !== '.' && p !== '..');
    if (clean.length === 0) throw new RangeError(`artifact path "${path}" is empty`);
    const endpoint = `${this.base}/api/2.0/mlflow-artifacts/artifacts/${experimentId}/${runId}/artifacts/${clean.map(encodeURIComponent).join('/')}`;
    let res: Response;
    try {
      res = await this.fetchFn(endpoint, {
        method: 'PUT',
        headers: { 'Content-Type': contentType },
        body: data as BodyInit,
      });
    } catch (e) {
      throw new MlflowError(endpoint, 0, e instanceof Error ? e.message : String(e));
    }
    if (!res.ok) {
      const text = await res.text().catch(() => '');
      let message = text.trim().slice(0, 300) || res.statusText;
      try {
        message = (JSON.parse(text) as { message?: string }).message ?? message;
      } catch {
        /* keep the text */
      }
      throw new MlflowError(endpoint, res.status, message);
    }
  }

  /** One artifact file's bytes, through the same artifact proxy `uploadArtifact` writes to. */
  async downloadArtifact(experimentId: string, runId: string, path: string): Promise<ArrayBuffer> {
    const clean = path.split('/').filter((p) => p && p !== '.' && p !== '..');
    const endpoint = `${this.base}/api/2.0/mlflow-artifacts/artifacts/${experimentId}/${runId}/artifacts/${clean.map(encodeURIComponent).join('/')}`;
    let res: Response;
    try {
      res = await this.fetchFn(endpoint, { method: 'GET' });
    } catch (e) {
      throw new MlflowError(endpoint, 0, e instanceof Error ? e.message : String(e));
    }
    if (!res.ok) {
      const text = await res.text().catch(() => '');
      throw new MlflowError(endpoint, res.status, text.trim().slice(0, 300) || res.statusText);
    }
    return res.arrayBuffer();
  }

  /** The Model Registry's entry `name`, created when absent. */
  async createRegisteredModel(name: string): Promise<void> {
    try {
      await this.request('POST', '/api/2.0/mlflow/registered-models/create', { name });
    } catch (e) {
      if (!(e instanceof MlflowError) || e.errorCode !== 'RESOURCE_ALREADY_EXISTS') throw e;
    }
  }

  /** A new version of registered model `name` from `source` (an artifact URI), made by `runId`. */
  async createModelVersion(name: string, source: string, runId: string): Promise<ModelVersion> {
    const r = await this.request<{ model_version: ModelVersion }>('POST', '/api/2.0/mlflow/model-versions/create', {
      name,
      source,
      run_id: runId,
    });
    return r.model_version;
  }

  /** Versions of `name` made by `runId` (to find one created before a lost answer). */
  async modelVersionsOfRun(name: string, runId: string): Promise<ModelVersion[]> {
    const filter = `name='${name.replace(/'/g, "\\'")}' and run_id='${runId}'`;
    const r = await this.request<{ model_versions?: ModelVersion[] }>(
      'GET',
      `/api/2.0/mlflow/model-versions/search?filter=${encodeURIComponent(filter)}`,
    );
    return r.model_versions ?? [];
  }

  async getModelVersion(name: string, version: string): Promise<ModelVersion> {
    const r = await this.request<{ model_version: ModelVersion }>(
      'GET',
      `/api/2.0/mlflow/model-versions/get?name=${encodeURIComponent(name)}&version=${encodeURIComponent(version)}`,
    );
    return r.model_version;
  }

  async listArtifacts(runId: string, path = ''): Promise<{ path: string; is_dir: boolean; file_size?: number }[]> {
    const r = await this.request<{ files?: { path: string; is_dir: boolean; file_size?: number }[] }>(
      'GET',
      `/api/2.0/mlflow/artifacts/list?run_id=${encodeURIComponent(runId)}${path ? `&path=${encodeURIComponent(path)}` : ''}`,
    );
    return r.files ?? [];
  }
}

/** A Model Registry version, as the REST API answers it (the fields the lab reads). */
export interface ModelVersion {
  name: string;
  version: string;
  source: string;
  run_id?: string;
  status?: string;
}

export interface MlflowRunData {
  info: {
    run_id: string;
    run_name?: string;
    status: RunStatus;
    start_time?: number;
    end_time?: number;
    experiment_id: string;
    artifact_uri?: string;
  };
  data: {
    metrics?: { key: string; value: number; step: number; timestamp: number }[];
    params?: MlflowParam[];
    tags?: MlflowTag[];
  };
  inputs?: {
    dataset_inputs?: {
      dataset: { name: string; digest: string; source_type: string; source: string };
      tags?: MlflowTag[];
    }[];
  };
}

/** Split metrics, params and tags into requests within the log-batch limits. */
export function splitLogBatch(
  metrics: MlflowMetric[],
  params: MlflowParam[] = [],
  tags: MlflowTag[] = [],
): { metrics: MlflowMetric[]; params: MlflowParam[]; tags: MlflowTag[] }[] {
  const out: { metrics: MlflowMetric[]; params: MlflowParam[]; tags: MlflowTag[] }[] = [];
  for (let i = 0; i < params.length; i += LOG_BATCH_LIMITS.params)
    out.push({ metrics: [], params: params.slice(i, i + LOG_BATCH_LIMITS.params), tags: [] });
  for (let i = 0; i < tags.length; i += LOG_BATCH_LIMITS.tags)
    out.push({ metrics: [], params: [], tags: tags.slice(i, i + LOG_BATCH_LIMITS.tags) });
  for (let i = 0; i < metrics.length; i += LOG_BATCH_LIMITS.metrics)
    out.push({ metrics: metrics.slice(i, i + LOG_BATCH_LIMITS.metrics), params: [], tags: [] });
  return out;
}
