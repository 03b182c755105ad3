/**
 * Fine-tuning and the Model Registry end to end: `luna-lab train --register NAME` on the real
 * MLflow server of global setup registers its model as version 1; `mlflow.pyfunc.load_model`
 * (the test venv) predicts with `models:/NAME/1`; runs fine-tuned `--from` the `--out` folder
 * and `--from models:/NAME/1` (read by the page's train worker from MLflow) keep their frozen
 * weights bit-identical to the source's and record the source in run.json, the lab URL and
 * MLflow. The page's evaluation and Inspect panels take `models:/NAME/1` too (a FROC case of
 * the evaluation opens that model in Inspect), and a page run
 * fine-tuned from another run of the same browser (real IndexedDB) keeps its frozen weights and
 * names its source.
 */
import { test, expect, type Page } from '@playwright/test';
import { execFile } from 'node:child_process';
import { runLunaLab } from './cli-run.ts';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { SYNTH_CLI, SYNTH_GOOD } from './paths.ts';
import { SMALL_MODEL, clickFrocPoint, dropFolder, openLab, runs, setConfig, waitTrainIdle } from './lab.ts';
import { buildLunaModel } from '../src/model/luna-model.ts';
import { exportOnnx } from '../src/model/onnx-export.ts';
import { evaluateFolder } from '../src/cli/eval.ts';
import type { EvalOutcome } from '../src/ui/inference-client.ts';
import { MLFLOW, ensureMlflow } from './mlflow.ts';
import { MlflowClient } from '../src/tracking/mlflow-client.ts';
import { decodeLabUrl } from '../src/config/lab-url.ts';
import { resolveConfigOrThrow, type LabConfig } from '../src/config/lab-config.ts';
import { tfjsModelFiles } from '../src/tracking/artifacts.ts';
import { predictionsCsv } from '../src/tracking/run-tracking.ts';
import type { RunRecord } from '../src/store/records.ts';

const SMALL = ['--crop', '16,24,24', '--blocks', '2', '--width', '4', '--batch-size', '16', '--epochs', '1'];
const tmp = (name: string) => mkdtempSync(join(tmpdir(), `luna-ft-${name}-`));

interface Done {
  status: string;
  runId: string;
  labUrl: string;
}

/** `luna-lab ARGS --json`: its exit code, stderr and the `done` event. */
async function cli(args: string[]): Promise<{ code: number | null; stderr: string; done: Done | null }> {
  const { code, stderr, events } = await runLunaLab([...args, '--json']);
  return { code, stderr, done: (events.findLast((e) => e.event === 'done') as Done | undefined) ?? null };
}

/** A `--out` folder's final weights, by name, as hex. */
function finalWeights(out: string): Map<string, string> {
  const cp = JSON.parse(readFileSync(join(out, 'checkpoints/final/checkpoint.json'), 'utf8')) as {
    weightSpecs: { name: string; shape: number[] }[];
  };
  const bin = readFileSync(join(out, 'checkpoints/final/weights.bin'));
  const out2 = new Map<string, string>();
  let at = 0;
  for (const s of cp.weightSpecs) {
    const n = s.shape.reduce((a, b) => a * b, 1) * 4;
    out2.set(s.name, bin.subarray(at, at + n).toString('hex'));
    at += n;
  }
  return out2;
}

/** The parts that must not move at a depth (2 blocks: tail_bn, block1, block2, head). */
function expectFrozen(source: Map<string, string>, tuned: Map<string, string>, trained: string[]): void {
  expect([...tuned.keys()].sort()).toEqual([...source.keys()].sort());
  for (const [k, v] of tuned) {
    const layer = k.split('/')[0];
    const part = layer === 'head' ? 'head' : layer === 'tail_bn' ? 'tail_bn' : layer.split('_')[0];
    if (trained.includes(part)) {
      if (k.endsWith('kernel')) expect(v, `${k} trains`).not.toBe(source.get(k));
    } else expect(v, `${k} is frozen`).toBe(source.get(k));
  }
}

const tagsOf = async (client: MlflowClient, labRunId: string) => {
  const exp = await client.getOrCreateExperiment('luna-lab');
  const [id] = await client.findRunsByTag(exp, 'luna.run_id', labRunId);
  const run = await client.getRun(id);
  return {
    id,
    tags: Object.fromEntries((run.data.tags ?? []).map((t) => [t.key, t.value])),
    params: Object.fromEntries((run.data.params ?? []).map((t) => [t.key, t.value])),
  };
};

test('a run registers its model; runs fine-tuned from its --out folder and from models:/NAME/1 keep frozen weights bit-identical', async () => {
  test.setTimeout(900_000);
  await ensureMlflow();
  const name = `luna-ft-${Date.now()}`;
  const client = new MlflowClient(MLFLOW());
  const cache = tmp('profile');

  const src = join(tmp('src'), 'out');
  const a = await cli([
    'train',
    '--data',
    SYNTH_CLI,
    ...SMALL,
    '--seed',
    '7',
    '--mlflow',
    MLFLOW(),
    '--register',
    name,
    '--out',
    src,
    '--cache',
    cache,
  ]);
  expect(a.stderr).not.toMatch(/^luna-lab: (?!warning: |note: )/m);
  expect(a.code).toBe(0);
  const { id: srcMlflowId } = await tagsOf(client, a.done!.runId);
  const mv = await client.getModelVersion(name, '1');
  expect(mv.run_id).toBe(srcMlflowId);

  // MLflow's own loader takes the registered model, signature and all, and predicts.
  const py = await promisify(execFile)(
    join(process.cwd(), '.venv', 'bin', 'python'),
    [
      '-c',
      [
        'import sys, json, numpy as np, mlflow',
        'mlflow.set_tracking_uri(sys.argv[1])',
        'm = mlflow.pyfunc.load_model(f"models:/{sys.argv[2]}/1")',
        'x = np.random.default_rng(0).uniform(-1000, 1000, (2, 1, 16, 24, 24)).astype(np.float32)',
        'y = m.predict(x)',
        'y = next(iter(y.values())) if isinstance(y, dict) else np.asarray(y)',
        'print(json.dumps({"shape": list(y.shape), "finite": bool(np.isfinite(y).all()), "input": list(m.metadata.get_input_schema().inputs[0].shape)}))',
      ].join('\n'),
      MLFLOW(),
      name,
    ],
    { env: { ...process.env, MLFLOW_ENABLE_TELEMETRY: 'false' } },
  );
  expect(JSON.parse(py.stdout.trim().split('\n').pop()!)).toEqual({
    shape: [2, 2],
    finite: true,
    input: [-1, 1, 16, 24, 24],
  });

  // From the --out folder, head only: everything but the head is the source's, bit for bit.
  const fromDir = join(tmp('dir'), 'out');
  const b = await cli([
    'train',
    '--data',
    SYNTH_CLI,
    ...SMALL,
    '--seed',
    '8',
    '--from',
    src,
    '--finetune-depth',
    '1',
    '--mlflow',
    MLFLOW(),
    '--out',
    fromDir,
    '--cache',
    cache,
  ]);
  expect(b.stderr).not.toMatch(/^luna-lab: (?!warning: |note: )/m);
  expect(b.code).toBe(0);
  expectFrozen(finalWeights(src), finalWeights(fromDir), ['head']);
  expect(decodeLabUrl(b.done!.labUrl).config.finetune).toEqual({ from: src, depth: 1 });
  const runJson = JSON.parse(readFileSync(join(fromDir, 'run.json'), 'utf8')) as { config: { finetune: unknown } };
  expect(runJson.config.finetune).toEqual({ from: src, depth: 1 });
  const bTracked = await tagsOf(client, b.done!.runId);
  expect(bTracked.tags).toMatchObject({
    'luna.finetune.from': src,
    'luna.finetune.depth': '1',
    'luna.finetune.source_folder': src,
    'luna.finetune.source_run': a.done!.runId,
  });
  expect(bTracked.params).toMatchObject({ 'lab/finetune.from': src, 'lab/finetune.depth': '1' });

  // From models:/NAME/1, the last block and the head: tail_bn and block1 stay the source's.
  const fromModel = join(tmp('model'), 'out');
  const c = await cli([
    'train',
    '--data',
    SYNTH_CLI,
    ...SMALL,
    '--seed',
    '9',
    '--from',
    `models:/${name}/1`,
    '--finetune-depth',
    '2',
    '--mlflow',
    MLFLOW(),
    '--out',
    fromModel,
    '--cache',
    cache,
  ]);
  expect(c.stderr).not.toMatch(/^luna-lab: (?!warning: |note: )/m);
  expect(c.code).toBe(0);
  expectFrozen(finalWeights(src), finalWeights(fromModel), ['block2', 'head']);
  expect(decodeLabUrl(c.done!.labUrl).config.finetune).toEqual({ from: `models:/${name}/1`, depth: 2 });
  expect((await tagsOf(client, c.done!.runId)).tags).toMatchObject({
    'luna.finetune.from': `models:/${name}/1`,
    'luna.finetune.depth': '2',
    'luna.finetune.source_model': `models:/${name}/1`,
    'luna.finetune.source_mlflow_run_id': srcMlflowId,
    'luna.finetune.source_run': a.done!.runId,
  });
  // Only the run given --register is registered.
  await expect(client.getModelVersion(name, '2')).rejects.toThrow();
});

test('the page evaluates a registered model: models:/NAME/1 is read from MLflow and scored as luna-lab eval scores its file; a FROC case opens that model in Inspect', async ({
  page,
}) => {
  test.setTimeout(600_000);
  await ensureMlflow();
  // A model registered the way the lab registers its runs' models: model/model.onnx in a run,
  // beside the run's config.json, tfjs/ and predictions.csv (what Inspect reads).
  await tf.setBackend('cpu');
  const config = resolveConfigOrThrow({
    crop: [16, 24, 24],
    model: { blocks: 2, width: 4, blockNorm: false, dropout: 'none', dropoutRate: 0 },
    train: { seed: 5 },
  });
  const net = buildLunaModel(config.model, config.crop, config.train.seed);
  net.getLayer('tail_bn').setWeights([tf.tensor1d([1]), tf.tensor1d([0]), tf.tensor1d([-500]), tf.tensor1d([250000])]);
  const onnx = exportOnnx(net, config.crop);
  const tfjsFiles = await tfjsModelFiles(net);
  net.dispose();
  const file = join(tmp('onnx'), 'model.onnx');
  writeFileSync(file, onnx);
  const predictions = candidatePredictions(3);
  const client = new MlflowClient(MLFLOW());
  const name = await registerByHand(client, 'luna-ft-page', 'registered by hand', {
    config,
    predictions,
    files: [{ path: 'model/model.onnx', data: onnx }, ...tfjsFiles],
  });

  const errors = await openLab(page);
  await dropFolder(page, SYNTH_GOOD);
  await expect(page.locator('luna-eval-panel')).toHaveAttribute('data-eval', 'idle');
  await page.getByTestId('eval-model').selectOption('mlflow');
  await page.getByTestId('eval-model-server').fill(MLFLOW());
  // A URI without its version is refused as Inspect refuses it (the shared inputs), before any request.
  await page.getByTestId('eval-model-uri').fill(`models:/${name}`);
  await expect(page.getByTestId('eval-model-uri-issue')).toHaveText(
    `model "models:/${name}": expected runs:/<32-hex MLflow run id>/<artifact path> or models:/<name>/<version number>`,
  );
  await expect(page.getByTestId('eval-start')).toBeDisabled();
  await page.getByTestId('eval-model-uri').fill(`models:/${name}/1`);
  await expect(page.getByTestId('eval-model-uri-issue')).toHaveCount(0);
  await page.getByTestId('eval-ep').selectOption('wasm');
  await page.getByTestId('eval-start').click();
  await expect(page.locator('luna-eval-panel[data-eval="idle"]')).toHaveCount(1, { timeout: 300_000 });
  const failure = page.getByTestId('eval-failure');
  if (await failure.count()) throw new Error(await failure.innerText());
  const o = (await page.evaluate(() => window.lunaEval ?? null)) as EvalOutcome | null;
  expect(o).not.toBeNull();
  expect(o!.source).toContain(`models:/${name}/1`);
  const cli = await evaluateFolder(file, SYNTH_GOOD, {});
  expect(o!.froc).toMatchObject({ scans: cli.scans, nodules: cli.nodules, detected: cli.detected });
  expect(o!.froc.cpm).toBeCloseTo(cli.cpm, 3);

  // A case of the FROC (at the curve's last point with false positives, clicked where the chart
  // draws it) opens the evaluated model in Inspect: read from the same server, its run's
  // predictions listed, the select and the inputs on it.
  await clickFrocPoint(page, o!.froc);
  const inspect = page.locator('luna-inspect-panel');
  await expect(inspect).toHaveAttribute('data-run', '');
  const fp = page.getByTestId('eval-fp').first();
  const series = (await fp.getAttribute('data-series'))!;
  await fp.click();
  await expect(inspect).toHaveAttribute('data-run', `models:/${name}/1`);
  await expect(inspect).toHaveAttribute('data-inspect', 'idle');
  await expect(inspect.getByTestId('inspect-failure')).toHaveCount(0);
  await expect(inspect.getByTestId('inspect-run')).toHaveValue('mlflow');
  await expect(inspect.getByTestId('inspect-model-uri')).toHaveValue(`models:/${name}/1`);
  await expect(inspect.getByTestId('inspect-model-server')).toHaveValue(MLFLOW());
  await expect(inspect.locator('luna-prediction-browser').getByTestId('prediction-row')).toHaveCount(
    predictions.length,
  );
  await expect(inspect.locator('luna-ct-viewer')).toHaveAttribute('data-series', series);
  await expect(inspect.locator('luna-crop-view')).toHaveAttribute('data-drawn', 'plain');
  expect(errors).toEqual([]);
});

test('the page inspects a registered model: models:/NAME/1 gives its predictions, crop and saliency; an unknown version is named', async ({
  page,
}) => {
  test.setTimeout(300_000);
  await ensureMlflow();
  // A lab run as MLflow keeps it (config.json, predictions.csv, tfjs/), registered by hand. Its
  // head is set so p(nodule) ≈ 0.75 whatever the crop: a model built fresh would say ≈ 0.5.
  await tf.setBackend('cpu');
  const config = resolveConfigOrThrow({ crop: [8, 16, 16], model: { blocks: 2, width: 4 }, train: { seed: 4 } });
  const net = buildLunaModel(config.model, config.crop, config.train.seed);
  net.getLayer('tail_bn').setWeights([tf.tensor1d([1]), tf.tensor1d([0]), tf.tensor1d([-500]), tf.tensor1d([250000])]);
  const head = net.getLayer('head');
  const [kernel] = head.getWeights();
  head.setWeights([tf.mul(kernel, 1e-4), tf.tensor1d([0, Math.log(3)])]);
  const files = await tfjsModelFiles(net);
  net.dispose();
  const predictions = candidatePredictions(4);
  const client = new MlflowClient(MLFLOW());
  const name = await registerByHand(client, 'luna-inspect-page', 'inspected', { config, predictions, files });

  const errors = await openLab(page);
  await dropFolder(page, SYNTH_GOOD);
  const panel = page.locator('luna-inspect-panel');
  await panel.getByTestId('inspect-run').selectOption('mlflow');
  await panel.getByTestId('inspect-model-server').fill(MLFLOW());

  // A URI without its version: refused as typed, in the words the evaluation panel uses.
  await panel.getByTestId('inspect-model-uri').fill(`models:/${name}`);
  await expect(panel.getByTestId('inspect-model-uri-issue')).toHaveText(
    `model "models:/${name}": expected runs:/<32-hex MLflow run id>/<artifact path> or models:/<name>/<version number>`,
  );
  await expect(panel.getByTestId('inspect-model-load')).toBeDisabled();

  // An unknown version: the panel says which URI, and inspects nothing.
  await panel.getByTestId('inspect-model-uri').fill(`models:/${name}/9`);
  await panel.getByTestId('inspect-model-load').click();
  await expect(panel.getByTestId('inspect-failure')).toContainText(`model "models:/${name}/9": MLflow`);
  await expect(panel).toHaveAttribute('data-run', '');

  await panel.getByTestId('inspect-model-uri').fill(`models:/${name}/1`);
  await panel.getByTestId('inspect-model-load').click();
  await expect(panel).toHaveAttribute('data-run', `models:/${name}/1`);
  await expect(panel.getByTestId('inspect-failure')).toHaveCount(0);
  const rows = panel.locator('luna-prediction-browser').getByTestId('prediction-row');
  await expect(rows).toHaveCount(predictions.length);
  await rows.first().click();
  const cropView = panel.locator('luna-crop-view');
  await expect(cropView).toHaveAttribute('data-drawn', 'plain');
  await cropView.getByTestId('saliency-toggle').check();
  await expect(cropView).toHaveAttribute('data-saliency', 'ready', { timeout: 120_000 });
  const p = Number(await cropView.getAttribute('data-prob'));
  expect(Math.abs(p - 0.75), `p(nodule) ${p}`).toBeLessThan(0.02);
  expect(Number(await cropView.getAttribute('data-max'))).toBeGreaterThan(0);
  await expect(cropView).toHaveAttribute('data-drawn', 'saliency');
  expect(errors).toEqual([]);
});

/** The first `n` candidates of SYNTH_GOOD as predictions of p = 0.5. */
function candidatePredictions(n: number): RunRecord['predictions'] {
  return readFileSync(join(SYNTH_GOOD, 'candidates.csv'), 'utf8')
    .trim()
    .split('\n')
    .slice(1, n + 1)
    .map((line) => {
      const [seriesUid, x, y, z, label] = line.split(',');
      return { seriesUid, xyz: [+x, +y, +z], diameterMm: 0, label: +label as 0 | 1, prob: 0.5, loss: 0 };
    });
}

/**
 * A run logged as the lab logs its runs (config.json, predictions.csv, the model's files), its
 * `model/` registered by hand as version 1 of a new model; the model's name.
 */
async function registerByHand(
  client: MlflowClient,
  experiment: string,
  runName: string,
  run: { config: LabConfig; predictions: RunRecord['predictions']; files: { path: string; data: Uint8Array | Blob }[] },
): Promise<string> {
  const exp = await client.getOrCreateExperiment(experiment);
  const runId = await client.createRun(exp, runName, Date.now(), []);
  await client.uploadArtifact(exp, runId, 'config.json', JSON.stringify(run.config), 'application/json');
  const csv = predictionsCsv({ predictions: run.predictions } as unknown as RunRecord);
  await client.uploadArtifact(exp, runId, 'predictions.csv', csv, 'text/csv');
  for (const f of run.files)
    await client.uploadArtifact(
      exp,
      runId,
      f.path,
      f.data instanceof Blob ? new Uint8Array(await f.data.arrayBuffer()) : f.data,
    );
  const root = (await client.getRun(runId)).info.artifact_uri!;
  const name = `${experiment}-${Date.now()}`;
  await client.createRegisteredModel(name);
  await client.createModelVersion(name, `${root}/model`, runId);
  return name;
}

/** A page run's checkpoint weights, by name, as hex (straight from IndexedDB). */
async function pageWeights(page: Page, runId: string): Promise<Map<string, string>> {
  const rows = await page.evaluate(
    (id) =>
      new Promise<[string, string][]>((ok, fail) => {
        const req = indexedDB.open('luna-lab');
        req.onerror = () => fail(req.error);
        req.onsuccess = () => {
          const get = req.result.transaction('checkpoints').objectStore('checkpoints').get(id);
          get.onerror = () => fail(get.error);
          get.onsuccess = async () => {
            const cp = get.result as { weights: Blob; weightSpecs: { name: string; shape: number[] }[] };
            const bytes = new Uint8Array(await cp.weights.arrayBuffer());
            const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
            let at = 0;
            ok(
              cp.weightSpecs.map((s) => {
                const n = s.shape.reduce((a, b) => a * b, 1) * 4;
                at += n;
                return [s.name, hex(bytes.subarray(at - n, at))];
              }),
            );
          };
        };
      }),
    runId,
  );
  return new Map(rows);
}

test('a page run fine-tunes from a run of this browser: from=<run id>, depth 1 keeps all but the head bit-identical and records its source', async ({
  page,
}) => {
  test.setTimeout(600_000);
  const errors = await openLab(page);
  await dropFolder(page, SYNTH_GOOD);
  const small = { ...SMALL_MODEL, 'sampling.epochSamples': '32', 'train.epochs': '1' };
  await setConfig(page, small);
  await page.getByTestId('train-start').click();
  await waitTrainIdle(page, 300_000);
  const [source] = await runs(page);
  expect(source.error).toBeNull();
  expect(source.status).toBe('finished');

  await setConfig(page, { 'finetune.from': source.runId, 'finetune.depth': '1', 'train.seed': '4' });
  await page.getByTestId('train-start').click();
  await waitTrainIdle(page, 300_000);
  const all = await runs(page);
  const tuned = all.find((r) => r.runId !== source.runId)!;
  expect(tuned.error).toBeNull();
  expect(tuned.status).toBe('finished');
  expectFrozen(await pageWeights(page, source.runId), await pageWeights(page, tuned.runId), ['head']);

  // The source is recorded: the run's config and lab URL, its tags, and the run list.
  const record = (await page.evaluate(
    (id) => window.lunaTrain!.runs.find((r) => r.runId === id),
    tuned.runId,
  )) as unknown as RunRecord;
  expect(record.config.finetune).toEqual({ from: source.runId, depth: 1 });
  expect(new URL(record.labUrl).hash).toContain(`from=${source.runId}`);
  expect(decodeLabUrl(record.labUrl).config.finetune).toEqual({ from: source.runId, depth: 1 });
  expect(Object.fromEntries((record.tags ?? []).map((t) => [t.key, t.value]))).toMatchObject({
    'luna.finetune.source_run': source.runId,
    'luna.finetune.source_epoch': '1',
  });
  const from = page.locator(`[data-testid=run-row][data-run="${tuned.runId}"]`).getByTestId('run-from');
  await expect(from).toHaveAttribute('data-from', source.runId);
  await expect(from).toContainText('fine-tuned from');
  await expect(from).toContainText('depth 1');
  await expect(page.locator(`[data-testid=run-row][data-run="${source.runId}"]`).getByTestId('run-from')).toHaveCount(
    0,
  );
  expect(errors).toEqual([]);
});
