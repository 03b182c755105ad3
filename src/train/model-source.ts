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
 * Errors name the source and what is missing.
 */
import type { LabStore } from '../store/lab-store.ts';
import type { WeightSpec } from '../store/records.ts';
import { MlflowClient, type FetchLike } from '../tracking/mlflow-client.ts';

export type ModelSource =
  | { kind: 'run'; runId: string }
  | { kind: 'folder'; path: string }
  | { kind: 'mlflow-run'; runId: string; artifactPath: string }
  | { kind: 'mlflow-model'; name: string; version: string };

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

async function mlflowWeights(
  source: Extract<ModelSource, { kind: 'mlflow-run' | 'mlflow-model' }>,
  ports: SourcePorts,
): Promise<SourceWeights> {
  const uri = source.kind === 'mlflow-run' ? `runs:/${source.runId}/${source.artifactPath}` : modelUri(source);
  if (!ports.server)
    throw new Error(`finetune.from "${uri}": an MLflow model needs the tracking server (tracking.server, --mlflow)`);
  const client = new MlflowClient(ports.server, ports.fetch);
  const tags: SourceWeights['tags'] = [];
  let runId: string;
  if (source.kind === 'mlflow-model') {
    const mv = await client.getModelVersion(source.name, source.version);
    if (!mv.run_id)
      throw new Error(
        `finetune.from "${uri}": the version has no run (source ${mv.source}); the lab reads a model's weights from its run's ${TFJS_MODEL}`,
      );
    runId = mv.run_id;
    tags.push({ key: 'luna.finetune.source_model', value: uri });
  } else runId = source.runId;
  tags.push({ key: 'luna.finetune.source_mlflow_run_id', value: runId });
  const run = await client.getRun(runId);
  const experimentId = run.info.experiment_id;
  const json = await client.downloadArtifact(experimentId, runId, TFJS_MODEL).catch((e: unknown) => {
    throw new Error(
      `finetune.from "${uri}": MLflow run ${runId} has no ${TFJS_MODEL} (is it a lab run?): ${e instanceof Error ? e.message : String(e)}`,
      { cause: e },
    );
  });
  const manifest = parseTfjsManifest(new TextDecoder().decode(json), `${uri} (${TFJS_MODEL})`);
  const data = await client.downloadArtifact(experimentId, runId, `tfjs/${manifest.path}`);
  const labRun = (run.data.tags ?? []).find((t) => t.key === 'luna.run_id');
  if (labRun) tags.push({ key: 'luna.finetune.source_run', value: labRun.value });
  return { specs: manifest.specs, data, tags };
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
