/**
 * Where a run's starting weights come from (`finetune.from`): a run of this browser's lab (its
 * run id), a run folder written by `luna-lab train --out`, or an MLflow model (`runs:/<id>/model`,
 * `models:/<name>/<version>`), read the way MLflow resolves those URIs against the tracking
 * server. Every kind ends as the same `SourceWeights`: tf.io weight specs and their bytes (the
 * lab's checkpoint and tfjs formats), with tags that record the source in the run.
 *
 * Promise: `parseModelSource` never touches the network; `loadSourceWeights` reads a lab run's
 * last checkpoint from the store and an MLflow model's run's `tfjs/` artifacts (which every
 * lab run logs beside `model/`) through the server's artifact proxy. A run folder is the CLI's
 * to read (`readRunFolderWeights`, src/cli/run-outputs.ts): the page cannot open local folders.
 * Inspection reads an MLflow model the same way (`loadMlflowModel`: the weights, plus the run's
 * `config.json` and `predictions.csv`). Errors name the source and what is missing.
 */
import type { LabStore } from '../store/lab-store.ts';
import type { PredictionRow, WeightSpec } from '../store/records.ts';
import type { Vec3 } from '../data/volume.ts';
import { MlflowClient, type FetchLike } from '../tracking/mlflow-client.ts';
import { formatIssue, resolveConfig, type LabConfig, type LabConfigInput } from '../config/lab-config.ts';
import Papa from 'papaparse';

export type ModelSource =
  | { kind: 'run'; runId: string }
  | { kind: 'folder'; path: string }
  | { kind: 'mlflow-run'; runId: string; artifactPath: string }
  | { kind: 'mlflow-model'; name: string; version: string };

export type MlflowModelSource = Extract<ModelSource, { kind: 'mlflow-run' | 'mlflow-model' }>;

/** A model's weights in tf.io's encoding, and the tags that say where they came from. */
export interface SourceWeights {
  specs: WeightSpec[];
  data: ArrayBuffer;
  tags: { key: string; value: string }[];
}

/** A lab run id: 8 random bytes as hex (src/train/trainer.ts). */
const LAB_RUN_ID = /^[0-9a-f]{16}$/;

export function parseModelSource(text: string): ModelSource {
  const runs = /^runs:\/([0-9a-f]{32})\/(.+)$/.exec(text);
  if (runs) return { kind: 'mlflow-run', runId: runs[1], artifactPath: runs[2] };
  const models = /^models:\/([\w.-]{1,100})\/(\d{1,9})$/.exec(text);
  if (models) return { kind: 'mlflow-model', name: models[1], version: models[2] };
  if (/^(runs|models):/.test(text))
    throw new Error(
      `finetune.from "${text}": expected runs:/<32-hex MLflow run id>/<artifact path> or models:/<name>/<version number>`,
    );
  if (LAB_RUN_ID.test(text)) return { kind: 'run', runId: text };
  return { kind: 'folder', path: text };
}

export interface SourcePorts {
  store: LabStore;
  /** The MLflow tracking server that `runs:/` and `models:/` are resolved against. */
  server: string;
  fetch?: FetchLike;
}

export async function loadSourceWeights(source: ModelSource, ports: SourcePorts): Promise<SourceWeights> {
  switch (source.kind) {
    case 'run':
      return labRunWeights(source.runId, ports.store);
    case 'folder':
      throw new Error(
        `finetune.from "${source.path}": a run folder is read by luna-lab train --from DIR; in the page, give a run id or an MLflow model (runs:/…, models:/…)`,
      );
    case 'mlflow-run':
    case 'mlflow-model':
      return mlflowWeights(source, ports);
  }
}

async function labRunWeights(runId: string, store: LabStore): Promise<SourceWeights> {
  const run = await store.getRun(runId);
  if (!run) throw new Error(`finetune.from "${runId}": no run ${runId} in this browser's lab`);
  const cp = await store.getCheckpoint(runId);
  if (!cp) throw new Error(`finetune.from "${runId}": run ${run.name} has no checkpoint yet (no epoch has ended)`);
  const tracked = await store.getTracking(runId);
  return {
    specs: cp.weightSpecs,
    data: await cp.weights.arrayBuffer(),
    tags: [
      { key: 'luna.finetune.source_run', value: runId },
      { key: 'luna.finetune.source_epoch', value: String(cp.epoch) },
      ...(tracked ? [{ key: 'luna.finetune.source_mlflow_run_id', value: tracked.mlflowRunId }] : []),
    ],
  };
}

/** The tfjs files every lab run logs (src/tracking/artifacts.ts). */
const TFJS_MODEL = 'tfjs/model.json';

async function mlflowWeights(source: MlflowModelSource, ports: SourcePorts): Promise<SourceWeights> {
  const r = await resolveMlflowRun(source, ports.server, ports.fetch, 'finetune.from');
  return { specs: r.specs, data: r.data, tags: r.tags };
}

/** An MLflow model's run, resolved, and its tfjs weights read. */
interface ResolvedMlflowModel extends SourceWeights {
  client: MlflowClient;
  uri: string;
  runId: string;
  experimentId: string;
  runName: string;
}

/**
 * The MLflow run behind `runs:/…` or `models:/…`, and its tfjs weights. Every failure (server
 * down, unknown model or version, a run without the lab's files) is named `FIELD "URI": …`.
 */
async function resolveMlflowRun(
  source: MlflowModelSource,
  server: string,
  fetchFn: FetchLike | undefined,
  field: string,
): Promise<ResolvedMlflowModel> {
  const uri = source.kind === 'mlflow-run' ? `runs:/${source.runId}/${source.artifactPath}` : modelUri(source);
  const named = (what: string) => (e: unknown) => {
    throw new Error(`${field} "${uri}": ${what}${e instanceof Error ? e.message : String(e)}`, { cause: e });
  };
  if (!server)
    throw new Error(`${field} "${uri}": an MLflow model needs the tracking server (tracking.server, --mlflow)`);
  const client = new MlflowClient(server, fetchFn);
  const tags: SourceWeights['tags'] = [];
  let runId: string;
  if (source.kind === 'mlflow-model') {
    const mv = await client.getModelVersion(source.name, source.version).catch(named(''));
    if (!mv.run_id)
      throw new Error(
        `${field} "${uri}": the version has no run (source ${mv.source}); the lab reads a model's weights from its run's ${TFJS_MODEL}`,
      );
    runId = mv.run_id;
    tags.push({ key: 'luna.finetune.source_model', value: uri });
  } else runId = source.runId;
  tags.push({ key: 'luna.finetune.source_mlflow_run_id', value: runId });
  const run = await client.getRun(runId).catch(named(''));
  const experimentId = run.info.experiment_id;
  const json = await client
    .downloadArtifact(experimentId, runId, TFJS_MODEL)
    .catch(named(`MLflow run ${runId} has no ${TFJS_MODEL} (is it a lab run?): `));
  const manifest = parseTfjsManifest(new TextDecoder().decode(json), `${uri} (${TFJS_MODEL})`);
  const data = await client.downloadArtifact(experimentId, runId, `tfjs/${manifest.path}`).catch(named(''));
  const labRun = (run.data.tags ?? []).find((t) => t.key === 'luna.run_id');
  if (labRun) tags.push({ key: 'luna.finetune.source_run', value: labRun.value });
  const runName = (run.data.tags ?? []).find((t) => t.key === 'mlflow.runName')?.value ?? runId;
  return { client, uri, runId, experimentId, runName, specs: manifest.specs, data, tags };
}

/**
 * `uri` as an MLflow model (`runs:/<id>/<path>`, `models:/<name>/<version>`), else an error
 * `FIELD "URI": …` saying what is expected. No network: the page's model inputs check a URI
 * with it as it is typed, so every panel accepts and refuses the same URIs with the same words.
 */
export function parseMlflowModelUri(uri: string, field = 'model'): MlflowModelSource {
  let source: ModelSource;
  try {
    source = parseModelSource(uri);
  } catch (e) {
    throw new Error(`${field} "${uri}": ${(e as Error).message.replace(/^finetune\.from "[^"]*": /, '')}`, {
      cause: e,
    });
  }
  if (source.kind !== 'mlflow-run' && source.kind !== 'mlflow-model')
    throw new Error(`${field} "${uri}": not an MLflow model URI (runs:/<id>/<path> or models:/<name>/<version>)`);
  return source;
}

/** A model read for inspection: what building it needs, its weights, and its run's validation predictions. */
export interface MlflowModel {
  uri: string;
  /** Its MLflow run's name. */
  name: string;
  /** The lab config the model was trained with (its run's `config.json`): architecture and crop. */
  config: LabConfig;
  weights: SourceWeights;
  /** The run's `predictions.csv` (none when the run has no such file). */
  predictions: PredictionRow[];
}

/**
 * An MLflow model URI (`runs:/<id>/<path>`, `models:/<name>/<version>`) as the lab's inspection
 * takes it: the run's config, tfjs weights and predictions, read through the artifact proxy.
 * Errors name `field` and the URI.
 */
export async function loadMlflowModel(
  uri: string,
  server: string,
  options: { fetch?: FetchLike; field?: string } = {},
): Promise<MlflowModel> {
  const field = options.field ?? 'model';
  const source = parseMlflowModelUri(uri, field);
  const r = await resolveMlflowRun(source, server, options.fetch, field);
  const configText = await r.client.downloadArtifact(r.experimentId, r.runId, 'config.json').catch((e: unknown) => {
    throw new Error(
      `${field} "${uri}": MLflow run ${r.runId} has no config.json (is it a lab run?): ${(e as Error).message}`,
      {
        cause: e,
      },
    );
  });
  const config = parseRunConfig(new TextDecoder().decode(configText), `${uri} (config.json)`);
  const csv = await r.client.downloadArtifact(r.experimentId, r.runId, 'predictions.csv').then(
    (b) => new TextDecoder().decode(b),
    () => '',
  );
  return {
    uri,
    name: r.runName,
    config,
    weights: { specs: r.specs, data: r.data, tags: r.tags },
    predictions: csv ? parsePredictionsCsv(csv, `${uri} (predictions.csv)`) : [],
  };
}

/** A run's logged `config.json` as a lab config (checked against the config table). */
export function parseRunConfig(text: string, shownAs: string): LabConfig {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`${shownAs}: not JSON (${(e as Error).message})`, { cause: e });
  }
  if (!json || typeof json !== 'object') throw new Error(`${shownAs}: expected a lab config object`);
  const { config, issues } = resolveConfig(json as LabConfigInput);
  if (issues.length) throw new Error(`${shownAs}: ${issues.map(formatIssue).join('; ')}`);
  return config;
}

/** A run's logged `predictions.csv` (src/tracking/run-tracking.ts, `predictionsCsv`) read back. */
export function parsePredictionsCsv(text: string, shownAs: string): PredictionRow[] {
  const parsed = Papa.parse<Record<string, string>>(text.trim(), { header: true, skipEmptyLines: true });
  const want = ['seriesuid', 'coordX', 'coordY', 'coordZ', 'diameter_mm', 'label', 'probability', 'loss'];
  const missing = want.filter((k) => !parsed.meta.fields?.includes(k));
  if (missing.length)
    throw new Error(`${shownAs}: missing column${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`);
  return parsed.data.map((r, i) => {
    const n = (k: string) => {
      const v = Number(r[k]);
      if (!Number.isFinite(v)) throw new Error(`${shownAs}: row ${i + 2}: ${k} "${r[k]}" is not a number`);
      return v;
    };
    const label = n('label');
    if (label !== 0 && label !== 1) throw new Error(`${shownAs}: row ${i + 2}: label "${r.label}" is not 0 or 1`);
    return {
      seriesUid: r.seriesuid,
      xyz: [n('coordX'), n('coordY'), n('coordZ')] as Vec3,
      diameterMm: n('diameter_mm'),
      label,
      prob: n('probability'),
      loss: n('loss'),
    };
  });
}

function modelUri(s: { name: string; version: string }): string {
  return `models:/${s.name}/${s.version}`;
}

/** The weight specs and the one weights file of a tfjs model.json (as the lab writes it). */
export function parseTfjsManifest(text: string, shownAs: string): { specs: WeightSpec[]; path: string } {
  let json: { weightsManifest?: { paths?: string[]; weights?: WeightSpec[] }[] };
  try {
    json = JSON.parse(text) as typeof json;
  } catch (e) {
    throw new Error(`${shownAs}: not JSON (${(e as Error).message})`, { cause: e });
  }
  const groups = json.weightsManifest ?? [];
  if (groups.length !== 1 || groups[0].paths?.length !== 1 || !Array.isArray(groups[0].weights))
    throw new Error(`${shownAs}: expected one weights manifest group with one file`);
  return {
    specs: groups[0].weights.map((w) => ({ name: w.name, shape: w.shape, dtype: w.dtype })),
    path: groups[0].paths[0],
  };
}

/** The ONNX file (`model.onnx`) of the MLflow model directory the lab logs, by the file's name in it. */
const MODEL_ONNX = 'model.onnx';

/**
 * The ONNX bytes of an MLflow model URI (`runs:/<id>/<path>`, `models:/<name>/<version>`): the
 * `model.onnx` of its model directory, for whatever takes an ONNX model (`luna-lab eval`).
 */
export async function mlflowModelOnnx(uri: string, server: string, fetchFn?: FetchLike): Promise<Uint8Array> {
  const source = parseModelSource(uri);
  if (source.kind !== 'mlflow-run' && source.kind !== 'mlflow-model')
    throw new Error(`${uri}: not an MLflow model URI (runs:/<id>/<path> or models:/<name>/<version>)`);
  if (!server) throw new Error(`${uri}: an MLflow model needs the tracking server (--mlflow or MLFLOW_TRACKING_URI)`);
  const client = new MlflowClient(server, fetchFn);
  let runId: string;
  let dir: string;
  if (source.kind === 'mlflow-model') {
    const mv = await client.getModelVersion(source.name, source.version);
    if (!mv.run_id) throw new Error(`${uri}: the version has no run (source ${mv.source})`);
    runId = mv.run_id;
    const root = (await client.getRun(runId)).info.artifact_uri?.replace(/\/+$/, '') ?? '';
    if (!root || !mv.source.startsWith(`${root}/`))
      throw new Error(`${uri}: its source ${mv.source} lies outside its run's artifacts (${root || 'none'})`);
    dir = mv.source.slice(root.length + 1);
  } else {
    runId = source.runId;
    dir = source.artifactPath;
  }
  const run = await client.getRun(runId);
  const bytes = await client
    .downloadArtifact(run.info.experiment_id, runId, `${dir}/${MODEL_ONNX}`)
    .catch((e: unknown) => {
      throw new Error(
        `${uri}: no ${dir}/${MODEL_ONNX} in MLflow run ${runId}: ${e instanceof Error ? e.message : String(e)}`,
        {
          cause: e,
        },
      );
    });
  return new Uint8Array(bytes);
}
