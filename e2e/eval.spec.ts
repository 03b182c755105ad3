/**
 * LUNA16 evaluation through the page, in Debian Chromium with WebGPU (SwiftShader here): the
 * inference worker runs ONNX models in onnxruntime-web over the cached candidates and the FROC
 * panel shows the provider, the CPM, the seven sensitivities and the curve.
 * - A user's .onnx (exported in this test by the lab's exporter, as a PyTorch export would be
 *   uploaded): every p(nodule) the page computes (crops from IndexedDB, ORT WebGPU) equals the
 *   one `luna-lab eval` computes in Node (crops from the files, ORT wasm) within 1e-4, and so do
 *   the CPM and the counts.
 * - A small run trained in the page: its checkpoint exported to ONNX in the worker; onnxruntime
 *   agrees with the run's tfjs model within 1e-4 on the crops the worker checks.
 */
import { test, expect, type Page } from '@playwright/test';
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { SYNTH_GOOD, E2E_DATA } from './paths.ts';
import { dropFolder, openLab, runs, setConfig, waitTrainIdle } from './lab.ts';
import { buildLunaModel } from '../src/model/luna-model.ts';
import { exportOnnx } from '../src/model/onnx-export.ts';
import { evaluateFolder } from '../src/cli/eval.ts';
import type { EvalOutcome } from '../src/ui/inference-client.ts';

const TOL = 1e-4;

async function waitEvalIdle(page: Page, timeout = 300_000): Promise<void> {
  await expect(page.locator('luna-eval-panel[data-eval="idle"]')).toHaveCount(1, { timeout });
}

/** Fails with the panel's own message when the evaluation failed. */
async function expectNoFailure(page: Page): Promise<void> {
  const failure = page.getByTestId('eval-failure');
  if (await failure.count()) throw new Error(await failure.innerText());
}

async function outcome(page: Page): Promise<EvalOutcome> {
  const o = await page.evaluate(() => window.lunaEval ?? null);
  expect(o).not.toBeNull();
  return o as EvalOutcome;
}

async function expectPanelShows(page: Page, o: EvalOutcome): Promise<void> {
  await expect(page.getByTestId('eval-cpm')).toHaveText(o.froc.cpm.toFixed(4));
  await expect(page.locator('[data-testid=eval-sensitivities] tr[data-fps]')).toHaveCount(7);
  await expect(page.getByTestId('eval-provider')).toContainText(`onnxruntime-web ${o.provider}`);
  // the curve was drawn: uPlot's canvas inside the chart, with the curve's points
  const plot = page.locator('luna-froc-chart .plot');
  expect(Number(await plot.getAttribute('data-points'))).toBeGreaterThan(7);
  await expect(page.locator('luna-froc-chart canvas')).toHaveCount(1);
}

test('a user ONNX file: the page scores every cached candidate as luna-lab eval does, and shows the FROC', async ({
  page,
}) => {
  test.setTimeout(600_000);
  // A small LunaModel with CT-like input statistics, exported to a file the user picks.
  await tf.setBackend('cpu');
  const model = buildLunaModel(
    { blocks: 2, width: 4, blockNorm: false, dropout: 'none', dropoutRate: 0 },
    [16, 24, 24],
    21,
  );
  model
    .getLayer('tail_bn')
    .setWeights([tf.tensor1d([1]), tf.tensor1d([0]), tf.tensor1d([-500]), tf.tensor1d([250000])]);
  const file = path.join(E2E_DATA, 'user-model.onnx');
  fs.writeFileSync(file, exportOnnx(model, [16, 24, 24]));
  model.dispose();

  const errors = await openLab(page);
  await dropFolder(page, SYNTH_GOOD);
  await expect(page.locator('luna-eval-panel')).toHaveAttribute('data-eval', 'idle');
  await page.getByTestId('eval-model').selectOption('file');
  await page.getByTestId('eval-file').setInputFiles(file);
  await page.getByTestId('eval-ep').selectOption('webgpu');
  await page.getByTestId('eval-start').click();
  await expect(page.locator('luna-eval-panel[data-eval="running"]')).toHaveCount(1);
  await waitEvalIdle(page);
  await expectNoFailure(page);
  const o = await outcome(page);
  console.log(
    `page: ${o.source} on ${o.provider}${o.adapter ? ` (${o.adapter})` : ''}${o.fallbackReason ? `, fallback: ${o.fallbackReason}` : ''}; CPM ${o.froc.cpm.toFixed(4)}, ${o.cropsPerSecond.toFixed(1)} crops/s`,
  );
  expect(o.provider).toMatch(/^webgpu/); // WebGPU ran (SwiftShader here), wholly or with some nodes on wasm
  await expectPanelShows(page, o);

  // The same model and data through the CLI's path: files, not IndexedDB; ORT wasm in Node.
  const cli = await evaluateFolder(file, SYNTH_GOOD, { withPredictions: true });
  const key = (p: { seriesUid: string; xyz: readonly number[] }) => `${p.seriesUid}|${p.xyz.join(',')}`;
  const want = new Map(cli.predictions!.map((p) => [key(p), p.probability]));
  expect(o.predictions).toHaveLength(want.size);
  let maxDiff = 0;
  for (const p of o.predictions) {
    const q = want.get(key(p));
    expect(q, key(p)).toBeDefined();
    maxDiff = Math.max(maxDiff, Math.abs(p.probability - q!));
  }
  console.log(
    `page (ORT ${o.provider}) vs luna-lab eval (ORT wasm in Node): max |Δp| ${maxDiff.toExponential(2)} over ${o.predictions.length} candidates`,
  );
  expect(maxDiff).toBeLessThanOrEqual(TOL);
  const spread =
    Math.max(...o.predictions.map((p) => p.probability)) - Math.min(...o.predictions.map((p) => p.probability));
  expect(spread).toBeGreaterThan(1e-3); // the outputs vary: the comparison means something
  expect(o.froc).toMatchObject({
    scans: cli.scans,
    nodules: cli.nodules,
    detected: cli.detected,
    falsePositives: cli.falsePositives,
  });
  expect(o.froc.cpm).toBeCloseTo(cli.cpm, 3);

  // The WASM provider in the page (the binary Vite serves): the same numbers again.
  await page.getByTestId('eval-ep').selectOption('wasm');
  await page.getByTestId('eval-start').click();
  await expect(page.locator('luna-eval-panel[data-eval="running"]')).toHaveCount(1);
  await waitEvalIdle(page);
  await expectNoFailure(page);
  const ow = await outcome(page);
  expect(ow.provider).toBe('wasm');
  let wasmDiff = 0;
  for (const p of ow.predictions) wasmDiff = Math.max(wasmDiff, Math.abs(p.probability - want.get(key(p))!));
  console.log(
    `page (ORT wasm) vs luna-lab eval: max |Δp| ${wasmDiff.toExponential(2)}; ${ow.cropsPerSecond.toFixed(1)} crops/s`,
  );
  expect(wasmDiff).toBeLessThanOrEqual(TOL);
  await expectPanelShows(page, ow);
  expect(errors).toEqual([]);
});

test('a small run trained in the page: its ONNX export runs in the worker and agrees with its tfjs model', async ({
  page,
}) => {
  test.setTimeout(600_000);
  const errors = await openLab(page);
  await dropFolder(page, SYNTH_GOOD);
  await page.getByTestId('preset-quick').click();
  await setConfig(page, {
    crop: '8,16,16',
    'model.blocks': '2',
    'model.width': '4',
    'sampling.valStride': '3',
    'sampling.epochSamples': '32',
    'train.batchSize': '16',
    'train.epochs': '1',
    'train.validationCadence': '1',
    'train.seed': '5',
    // tfjs cpu: this test is about evaluation, not about the WebGPU training kernels.
    backend: 'cpu',
  });
  await page.getByTestId('train-start').click();
  await waitTrainIdle(page, 300_000);
  const [run] = await runs(page);
  expect(run.status).toBe('finished');

  // The panel lists the finished run (it re-lists every few seconds) and picks it.
  await expect(page.locator(`[data-testid=eval-model] option[value="${run.runId}"]`)).toHaveCount(1, {
    timeout: 15_000,
  });
  await page.getByTestId('eval-model').selectOption(run.runId);
  await page.getByTestId('eval-ep').selectOption('webgpu');
  await page.getByTestId('eval-start').click();
  await waitEvalIdle(page);
  await expectNoFailure(page);
  const o = await outcome(page);
  console.log(
    `page: ${o.source} on ${o.provider}; CPM ${o.froc.cpm.toFixed(4)}; tfjs check ${JSON.stringify(o.tfjsCheck)}`,
  );
  expect(o.source).toMatch(/ \(epoch 1\)$/);
  expect(o.crop).toEqual([8, 16, 16]);
  expect(o.tfjsCheck).not.toBeNull();
  expect(o.tfjsCheck!.crops).toBe(8);
  expect(o.tfjsCheck!.maxAbsDiff).toBeLessThanOrEqual(TOL);
  await expect(page.getByTestId('eval-tfjs-check')).toBeVisible();
  await expectPanelShows(page, o);
  expect(errors).toEqual([]);
});
