/**
 * A run's evaluation in the page, end to end on the real MLflow server of global setup: a run
 * trained in the page (validation by series) is evaluated on its validation series by default
 * and the panel says no training scan was scored; the run list shows its CPM; MLflow gets
 * `eval/cpm`, the seven sensitivities and the submission and plot; a click on the FROC curve
 * lists the false positives at that point and choosing one moves the CT viewer onto it.
 */
import { test, expect } from '@playwright/test';
import { SYNTH_TRAIN } from './paths.ts';
import { MLFLOW, delivered, ensureMlflow } from './mlflow.ts';
import { clickFrocPoint, dropFolder, expectScanInView, openLab, runs, setConfig, waitTrainIdle } from './lab.ts';
import { MlflowClient } from '../src/tracking/mlflow-client.ts';
import type { EvalOutcome } from '../src/ui/inference-client.ts';
import type { LunaCtViewer } from '../src/ui/ct-viewer.ts';

const EXPERIMENT = 'luna-lab eval e2e';

const SMALL = {
  crop: '8,16,16',
  'model.blocks': '2',
  'model.width': '4',
  'optimizer.name': 'adamw',
  'sampling.validation': 'series',
  'sampling.valStride': '3',
  'sampling.epochSamples': '32',
  'train.batchSize': '16',
  'train.epochs': '1',
  'train.seed': '5',
};

test('a page-trained run: held-out evaluation by default, CPM in the run list and MLflow, FROC point to the viewer', async ({
  page,
}) => {
  test.setTimeout(480_000);
  await ensureMlflow();
  const errors = await openLab(page);
  await dropFolder(page, SYNTH_TRAIN);
  await page.getByTestId('preset-quick').click();
  await setConfig(page, { ...SMALL, 'tracking.server': MLFLOW(), 'tracking.experiment': EXPERIMENT });
  await page.getByTestId('train-start').click();
  await waitTrainIdle(page, 240_000);
  await delivered(page);
  const [run] = await runs(page);
  expect(run.status).toBe('finished');
  const validationSeries = [
    ...new Set((run.predictions as unknown as { seriesUid: string }[]).map((p) => p.seriesUid)),
  ].sort();
  expect(validationSeries.length).toBeGreaterThan(0);

  // Held out by default: the run's validation series, and the panel says none trained the run.
  await expect(page.getByTestId('eval-scope')).toHaveValue('validation');
  await page.getByTestId('eval-model').selectOption(run.runId);
  await page.getByTestId('eval-start').click();
  await expect(page.locator('luna-eval-panel[data-eval="idle"]')).toHaveCount(1, { timeout: 300_000 });
  const failure = page.getByTestId('eval-failure');
  if (await failure.count()) throw new Error(await failure.innerText());
  const o = (await page.evaluate(() => window.lunaEval ?? null)) as EvalOutcome | null;
  expect(o).not.toBeNull();
  expect(o!.scope).toBe('validation');
  expect([...o!.scans].sort()).toEqual(validationSeries);
  expect(o!.trainingScans).toEqual([]);
  await expect(page.getByTestId('eval-scored')).toHaveAttribute('data-training-scans', '0');
  await expect(page.getByTestId('eval-scored')).toContainText('held out');
  await expect(page.getByTestId('eval-band')).toHaveCount(1);
  expect(o!.stored?.cpm).toBe(o!.froc.cpm);

  // The run list shows the CPM kept with the run.
  const cell = page.locator(`[data-testid=run-row][data-run="${run.runId}"] [data-testid=run-cpm]`);
  await expect(cell).toHaveAttribute('data-cpm', String(o!.froc.cpm));
  await expect(cell).toContainText(o!.froc.cpm.toFixed(3));

  // MLflow: eval/cpm, the sensitivities and the two files.
  expect(o!.trackingItems).toBeGreaterThan(0);
  await delivered(page);
  const client = new MlflowClient(MLFLOW());
  const exp = await client.getOrCreateExperiment(EXPERIMENT);
  const [id] = await client.findRunsByTag(exp, 'luna.run_id', run.runId);
  await expect
    .poll(async () => (await client.metricHistory(id, 'eval/cpm')).map((m) => m.value), { timeout: 60_000 })
    .toEqual([o!.froc.cpm]);
  expect((await client.metricHistory(id, 'eval/sensitivity_at_8_fp')).map((m) => m.value)).toEqual([
    o!.froc.sensitivities[6].sensitivity,
  ]);
  expect((await client.listArtifacts(id, 'eval')).map((a) => a.path).sort()).toEqual([
    'eval/froc.svg',
    'eval/submission.csv',
  ]);

  // A FROC point: the curve's last point with false positives, clicked where the chart draws it.
  await clickFrocPoint(page, o!.froc);
  const cases = page.getByTestId('eval-cases');
  await expect(cases).toHaveCount(1);
  const threshold = Number(await cases.getAttribute('data-threshold'));
  const chosen = o!.froc.curve.find((p) => p.threshold === threshold)!;
  expect(Number(await cases.getAttribute('data-fp'))).toBe(Math.round(chosen.fpsPerScan * o!.froc.scans));
  const fp = page.getByTestId('eval-fp').first();
  await expect(fp).toHaveCount(1);
  const series = (await fp.getAttribute('data-series'))!;
  await fp.click();

  // The viewer shows that scan, centred on the false positive as far as the scan fills the canvas,
  // and the crop view its p.
  const xyz = (await fp.getAttribute('data-xyz'))!.split(',').map(Number);
  const p = Number(await fp.getAttribute('data-p'));
  expect(
    o!.predictions.some((q) => q.seriesUid === series && q.probability === p && q.xyz.every((v, i) => v === xyz[i])),
  ).toBe(true);
  expect(p).toBeGreaterThanOrEqual(threshold);
  const viewer = page.locator('luna-ct-viewer');
  await expect(viewer).toHaveAttribute('data-series', series);
  await expect(viewer).toHaveAttribute('data-state', 'ready');
  await expect(page.locator('luna-inspect-panel')).toHaveAttribute('data-run', run.runId);
  const onCanvas = await viewer.evaluate(
    (el, x) => (el as LunaCtViewer).canvasPointOf(x as [number, number, number]),
    xyz,
  );
  expect(Math.abs(onCanvas!.slicesAway)).toBeLessThanOrEqual(0.5);
  await expectScanInView(viewer, onCanvas!);
  expect(errors).toEqual([]);
});
