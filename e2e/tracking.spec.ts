/**
 * Tracking on a real MLflow server (started by global setup): a run from the page arrives
 * whole — params, tags, every metric point, the dataset input, the artifacts — and survives
 * the server going away mid-run; a wrong address is reported in the page.
 */
import { test, expect } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { SYNTH_TRAIN, MLFLOW_DIR } from './paths.ts';
import { MLFLOW, delivered, ensureMlflow } from './mlflow.ts';
import { dropFolder, openLab, runs, setConfig, waitTrainIdle, type RunView } from './lab.ts';
import { MlflowClient } from '../src/tracking/mlflow-client.ts';
import { startMlflowServer, stopMlflowOnPort } from '../src/cli/mlflow-server.ts';

const SMALL = {
  crop: '8,16,16',
  'model.blocks': '2',
  'model.width': '4',
  'optimizer.name': 'adamw',
  'sampling.valStride': '3',
  'sampling.epochSamples': '32',
  'train.batchSize': '16',
  'train.validationCadence': '1',
  'train.seed': '5',
};

/** Every metric point of the page's run, by key. */
function pointsByKey(run: RunView): Map<string, number> {
  const m = new Map<string, number>();
  for (const p of run.history) for (const k of Object.keys(p.values)) m.set(k, (m.get(k) ?? 0) + 1);
  return m;
}

async function mlflowRunOf(client: MlflowClient, run: RunView): Promise<{ experimentId: string; id: string }> {
  const experimentId = await client.getOrCreateExperiment('luna-lab e2e');
  const ids = await client.findRunsByTag(experimentId, 'luna.run_id', run.runId);
  expect(ids).toHaveLength(1);
  return { experimentId, id: ids[0] };
}

async function expectSamePoints(client: MlflowClient, mlflowRunId: string, run: RunView) {
  for (const [key, n] of pointsByKey(run)) {
    const hist = await client.metricHistory(mlflowRunId, key);
    expect(hist.length, key).toBe(n);
    expect(new Set(hist.map((h) => h.step)).size, `${key} steps`).toBe(n);
  }
}

test('a run from the page is logged whole to a real MLflow server', async ({ page }) => {
  test.setTimeout(300_000);
  await ensureMlflow();
  await openLab(page);
  await dropFolder(page, SYNTH_TRAIN);
  await page.getByTestId('preset-quick').click();
  await setConfig(page, {
    ...SMALL,
    'train.epochs': '2',
    'tracking.server': MLFLOW(),
    'tracking.experiment': 'luna-lab e2e',
  });
  await page.getByTestId('tracking-test').click();
  await expect(page.getByTestId('tracking-connection')).toContainText(/MLflow 3\.\d+.* answers/);
  await page.getByTestId('train-start').click();
  await waitTrainIdle(page, 240_000);
  await delivered(page);
  const [run] = await runs(page);
  expect(run.status).toBe('finished');

  const client = new MlflowClient(MLFLOW());
  const { id } = await mlflowRunOf(client, run);
  // The final artifacts and status are queued as the run ends: wait until they have arrived.
  await expect.poll(async () => (await client.getRun(id)).info.status, { timeout: 60_000 }).toBe('FINISHED');
  await delivered(page);
  const got = await client.getRun(id);
  expect(got.info.end_time).toBeGreaterThan(0);
  const params = Object.fromEntries((got.data.params ?? []).map((p) => [p.key, p.value]));
  expect(params).toMatchObject({
    model: 'LunaModel',
    'model/n_block': '2',
    optimizer: 'AdamW',
    'optimizer/lr': '0.001',
    epochs: '2',
    batch_size: '16',
    seed: '5',
    'nodule/ratio': '1',
  });
  expect(params['optimizer/betas']).toBe('(0.9, 0.999)');
  const tags = Object.fromEntries((got.data.tags ?? []).map((t) => [t.key, t.value]));
  expect(tags['mlflow.source.name']).toBe('luna-lab');
  expect(tags['luna.backend']).toBe('webgpu');
  expect(tags['luna.webgpu_adapter']).not.toBe('none');
  expect(tags['luna.lab_url']).toContain('#v=2&');
  expect(got.inputs?.dataset_inputs?.[0].dataset.digest).toBe(run.dataDigest.slice(0, 36));
  await expectSamePoints(client, id, run);
  expect(pointsByKey(run).get('validating/pr/f1_score')).toBe(2);
  expect(pointsByKey(run).get('system/samples_per_second')).toBe(2);

  const files = [
    ...(await client.listArtifacts(id)),
    ...(await client.listArtifacts(id, 'model')),
    ...(await client.listArtifacts(id, 'tfjs')),
  ].map((f) => f.path);
  expect(files).toEqual(
    expect.arrayContaining([
      'config.json',
      'lab_url.txt',
      'model_summary.txt',
      'predictions.csv',
      'model/MLmodel',
      'model/model.onnx',
      'tfjs/model.json',
      'tfjs/weights.bin',
    ]),
  );

  // Outside the lab: MLflow's own Python loads the logged model and predicts.
  const out = execFileSync(
    '.venv/bin/python',
    [
      '-c',
      `import mlflow, numpy as np; m = mlflow.pyfunc.load_model("runs:/${id}/model"); r = m.predict(np.zeros((3, 1, 8, 16, 16), dtype=np.float32) - 800); print(sorted(r.keys()) if isinstance(r, dict) else type(r).__name__); print(np.asarray(r["probabilities"]).shape)`,
    ],
    { env: { ...process.env, MLFLOW_TRACKING_URI: MLFLOW() }, encoding: 'utf8' },
  );
  expect(out).toContain("['logits', 'probabilities']");
  expect(out).toContain('(3, 2)');
});

test('the server goes away mid-run: the run goes on and every point arrives once', async ({ page }) => {
  test.setTimeout(420_000);
  await ensureMlflow();
  await openLab(page);
  await dropFolder(page, SYNTH_TRAIN);
  await page.getByTestId('preset-quick').click();
  await setConfig(page, {
    ...SMALL,
    'train.epochs': '3',
    'tracking.server': MLFLOW(),
    'tracking.experiment': 'luna-lab e2e',
  });
  await page.getByTestId('train-start').click();
  // Let the start and the first epoch reach the server, then take it away.
  await expect.poll(async () => (await runs(page))[0]?.epochsDone ?? 0, { timeout: 120_000 }).toBeGreaterThanOrEqual(1);
  await delivered(page);
  const port = Number(process.env.LUNA_E2E_MLFLOW_PORT);
  // The global setup's server is another process's child: end it by its command line.
  await stopMlflowOnPort(port);
  await expect
    .poll(
      async () =>
        new MlflowClient(MLFLOW()).version().then(
          () => 'up',
          () => 'down',
        ),
      { timeout: 30_000 },
    )
    .toBe('down');
  await waitTrainIdle(page, 240_000);
  const [run] = await runs(page);
  expect(run.status).toBe('finished');
  await expect(page.getByTestId('tracking-backlog')).toContainText(/unreachable/, { timeout: 60_000 });
  await expect(page.locator('[data-testid=tracking-backlog]')).not.toHaveAttribute('data-pending', '0');

  // A reload in the outage keeps the backlog (it lives in IndexedDB)…
  await page.reload();
  await expect(page.locator('html[data-luna-ready="true"]')).toHaveCount(1);
  await expect(page.getByTestId('tracking-backlog')).toContainText(/unreachable/, { timeout: 60_000 });
  // …and when the server is back, delivery resumes by itself.
  // (It keeps serving for later tests; global teardown ends it by its port.)
  await startMlflowServer({ port, dir: MLFLOW_DIR });
  await delivered(page, 120_000);
  const client = new MlflowClient(MLFLOW());
  const { id } = await mlflowRunOf(client, run);
  await expectSamePoints(client, id, run);
  expect((await client.getRun(id)).info.status).toBe('FINISHED');
});

test('a wrong server address is reported in the page and nothing is dropped', async ({ page }) => {
  test.setTimeout(300_000);
  await ensureMlflow();
  await openLab(page);
  await dropFolder(page, SYNTH_TRAIN);
  await page.getByTestId('preset-quick').click();
  await setConfig(page, { ...SMALL, 'train.epochs': '1', 'tracking.server': `${MLFLOW()}/no-such-prefix` });
  await page.getByTestId('tracking-test').click();
  await expect(page.getByTestId('tracking-connection')).toContainText('404');
  await page.getByTestId('train-start').click();
  await waitTrainIdle(page, 240_000);
  await expect(page.getByTestId('tracking-failed')).toContainText(/answered 404/);
  // The refused start and everything after it are kept for a retry or a discard.
  const backlog = page.locator('[data-testid=tracking-backlog]');
  await expect(backlog).toHaveAttribute('data-failed', '1');
  expect(Number(await backlog.getAttribute('data-pending'))).toBeGreaterThan(0);
});
