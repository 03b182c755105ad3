/**
 * Training through the page, in Debian Chromium with WebGPU (SwiftShader here): a small model
 * learns on small synthetic scans, survives a reload, and repeats itself for the same seed.
 */
import { test, expect } from '@playwright/test';
import { SYNTH_TRAIN } from './paths.ts';
import { SMALL_MODEL, dropFolder, metricsOnly, openLab, runs, setConfig, waitTrainIdle } from './lab.ts';

const SMALL = SMALL_MODEL;

test('a small model trains on WebGPU through the page and beats a constant predictor', async ({ page }) => {
  test.setTimeout(600_000);
  const errors = await openLab(page);
  await dropFolder(page, SYNTH_TRAIN);
  await page.getByTestId('preset-quick').click();
  await setConfig(page, { ...SMALL, 'train.epochs': '12', 'train.validationCadence': '6' });
  await page.getByTestId('train-start').click();
  await expect(page.getByTestId('train-progress')).toContainText('samples/s', { timeout: 60_000 });
  await expect(page.getByTestId('train-backend')).toContainText('webgpu');
  await waitTrainIdle(page, 540_000);

  const [run] = await runs(page);
  expect(run.error).toBeNull();
  expect(run.status).toBe('finished');
  expect(run.backend).toBe('webgpu');
  expect(run.adapter ?? '').not.toBe('');
  // validated at epochs 1, 6 and 12 (the cadence), trained every epoch
  expect(run.history.filter((p) => 'validating/pr/f1_score' in p.values).map((p) => p.epoch)).toEqual([1, 6, 12]);
  expect(run.history.filter((p) => 'training/loss/all' in p.values)).toHaveLength(12);

  const positives = run.predictions.filter((p) => p.label === 1).length;
  const share = positives / run.predictions.length;
  expect(positives).toBeGreaterThan(2);
  // "always nodule" is the best constant predictor for F1: 2p / (1 + p)
  const constantF1 = (2 * share) / (1 + share);
  const f1 = run.history[run.history.length - 1].values['validating/pr/f1_score'];
  expect(f1).toBeGreaterThan(2 * constantF1);

  // the charts drew the points
  await expect(page.locator('luna-metrics-chart[data-metric="pr/f1_score"] .plot[data-points="15"]')).toHaveCount(1);
  await expect(page.locator('[data-testid=run-row][data-status=finished]')).toHaveCount(1);
  expect(errors).toEqual([]);
});

test('a run survives a reload mid-training and ends as an uninterrupted run with the same seed', async ({ page }) => {
  test.setTimeout(600_000);
  await openLab(page);
  await dropFolder(page, SYNTH_TRAIN);
  await page.getByTestId('preset-quick').click();
  const short = { ...SMALL, 'sampling.epochSamples': '64', 'train.epochs': '3', 'train.validationCadence': '1' };
  await setConfig(page, short);
  await page.getByTestId('train-start').click();
  await waitTrainIdle(page, 300_000);
  const [straight] = await runs(page);
  expect(straight.status).toBe('finished');

  await setConfig(page, short);
  await page.getByTestId('train-start').click();
  // Wait for the first checkpoint, then pull the page away mid-epoch 2.
  await expect.poll(async () => (await runs(page))[0]?.epochsDone ?? 0, { timeout: 200_000 }).toBeGreaterThanOrEqual(1);
  const interrupted = (await runs(page))[0];
  expect(interrupted.runId).not.toBe(straight.runId);
  expect(interrupted.epochsDone).toBeLessThan(3);
  await page.reload();
  await expect(page.getByTestId('train-notice')).toContainText('Resuming');
  await waitTrainIdle(page, 300_000);
  const resumed = (await runs(page)).find((r) => r.runId === interrupted.runId)!;
  expect(resumed.status).toBe('finished');
  expect(resumed.epochsDone).toBe(3);
  expect(metricsOnly(resumed)).toEqual(metricsOnly(straight));
});
