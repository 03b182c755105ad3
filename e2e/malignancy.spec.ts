/**
 * The malignancy task end to end: `luna-lab synth --malignancy` writes tiny synthetic scans with
 * annotations_with_malignancy.csv, and `luna-lab train --task malignancy` drives the page
 * headless (SwiftShader WebGPU here) on them with a tiny config, logging to the real MLflow
 * server of global setup. The run must finish and report AUC and the diameter baseline — in
 * its JSON events, its final line, metrics.csv and MLflow (with the `task` param) — and the
 * AUCs must be what roc.ts (checked against scikit-learn in roc.test.ts) gives on the run's own
 * validation predictions, which hold the nodules only. Through the page: the form's task and
 * ratio fields start such a run, and its run view draws the ROC beside the diameter baseline.
 */
import { test, expect } from '@playwright/test';
import { runLunaLab } from './cli-run.ts';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MlflowClient } from '../src/tracking/mlflow-client.ts';
import { rocAuc } from '../src/model/roc.ts';
import { SMALL_MODEL, dropFolder, openLab, runs, setConfig, waitTrainIdle } from './lab.ts';

const tmp = mkdtempSync(join(tmpdir(), 'luna-malignancy-'));
const data = join(tmp, 'data');

test.beforeAll(async () => {
  const synth = await runLunaLab([
    'synth',
    '--out',
    data,
    '--scans',
    '6',
    '--size',
    'tiny',
    '--seed',
    '5',
    '--malignancy',
  ]);
  expect(synth.code, synth.stderr).toBe(0);
});

test('a malignancy run on synthetic data trains and reports AUC beside the diameter baseline', async () => {
  test.setTimeout(480_000);
  const malCsv = readFileSync(join(data, 'annotations_with_malignancy.csv'), 'utf8');
  expect(malCsv.split('\n')[0]).toBe('seriesuid,coordX,coordY,coordZ,diameter_mm,mal_bool');

  const out = join(tmp, 'out');
  const result = await runLunaLab([
    'train',
    '--data',
    data,
    '--task',
    'malignancy',
    '--crop',
    '16,24,24',
    '--blocks',
    '2',
    '--width',
    '4',
    '--batch-size',
    '16',
    '--epochs',
    '2',
    '--seed',
    '7',
    // Every 3rd candidate validates: the sorted list's malignant and benign nodules both land there.
    '--set',
    'sampling.valStride=3;sampling.epochSamples=32;sampling.malignancyRatio=1,2,3',
    '--mlflow',
    process.env.LUNA_E2E_MLFLOW!,
    '--out',
    out,
    '--cache',
    join(tmp, 'profile'),
    '--json',
    '--name',
    'malignancy-e2e',
  ]);
  expect(result.stderr).not.toMatch(/^luna-lab: (?!warning: |note: )/m);
  expect(result.code, result.stderr).toBe(0);
  const d = result.events.findLast((e) => e.event === 'done') as {
    status: string;
    runId: string;
    labUrl: string;
    metrics: { training: Record<string, number>; validating: Record<string, number> };
  };
  expect(d.status).toBe('finished');
  expect(d.labUrl).toMatch(/[#&]task=malignancy(&|$)/);
  expect(d.labUrl).toContain('sampling.malignancyRatio=1%2C2%2C3');
  const { auc, auc_diameter: baseline } = d.metrics.validating;
  expect(auc).toBeGreaterThanOrEqual(0);
  expect(auc).toBeLessThanOrEqual(1);
  expect(baseline).toBeGreaterThanOrEqual(0);
  expect(baseline).toBeLessThanOrEqual(1);
  expect(d.metrics.training.auc).toBeGreaterThanOrEqual(0);

  // The AUCs are those of the run's own validation predictions (malignant vs benign nodules only).
  const [head, ...rows] = readFileSync(join(out, 'predictions.csv'), 'utf8').trim().split('\n');
  const cols = head.split(',');
  const at = (name: string) => {
    const i = cols.indexOf(name);
    expect(i, `predictions.csv column ${name} (${head})`).toBeGreaterThanOrEqual(0);
    return rows.map((r) => Number(r.split(',')[i]));
  };
  const labels = at('label');
  expect(labels.filter((l) => l === 1).length).toBeGreaterThan(0);
  expect(labels.filter((l) => l === 0).length).toBeGreaterThan(0);
  expect(at('diameter_mm').every((v) => v > 0)).toBe(true); // nodules only, no not-nodules
  // predictions.csv rounds probabilities to 6 decimals, which can tie two of them: one pair's worth.
  const pairs = labels.filter((l) => l === 1).length * labels.filter((l) => l === 0).length;
  expect(Math.abs(rocAuc(labels, at('probability')) - auc)).toBeLessThanOrEqual(0.5 / pairs + 1e-12);
  expect(rocAuc(labels, at('diameter_mm'))).toBeCloseTo(baseline, 10);

  expect(readFileSync(join(out, 'metrics.csv'), 'utf8').split('\n')[0]).toContain('validating/auc');

  const client = new MlflowClient(process.env.LUNA_E2E_MLFLOW!);
  const exp = await client.getOrCreateExperiment('luna-lab');
  const [id] = await client.findRunsByTag(exp, 'luna.run_id', d.runId);
  const run = await client.getRun(id);
  const params = Object.fromEntries((run.data.params ?? []).map((p) => [p.key, p.value]));
  expect(params['lab/task']).toBe('malignancy');
  expect(params['lab/sampling.malignancyRatio']).toBe('1,2,3');
  expect((await client.metricHistory(id, 'validating/auc')).length).toBeGreaterThan(0);
  expect((await client.metricHistory(id, 'validating/auc_diameter')).length).toBeGreaterThan(0);
});

test('the page trains the malignancy task from its form and draws the ROC beside the diameter baseline', async ({
  page,
}) => {
  test.setTimeout(480_000);
  const errors = await openLab(page);
  await dropFolder(page, data);
  await page.getByTestId('preset-quick').click();
  await setConfig(page, {
    ...SMALL_MODEL,
    task: 'malignancy',
    'sampling.malignancyRatio': '1,2,3',
    'sampling.epochSamples': '32',
    'train.epochs': '1',
  });
  await page.getByTestId('train-start').click();
  await waitTrainIdle(page, 420_000);
  const [run] = await runs(page);
  expect(run.error).toBeNull();
  expect(run.status).toBe('finished');
  const last = run.history[run.history.length - 1].values;
  expect(last['validating/auc']).toBeGreaterThanOrEqual(0);
  expect(last['validating/auc_diameter']).toBeGreaterThanOrEqual(0);
  // The run view's ROC: the same AUCs as the run's metrics, and a drawn plot.
  const summary = page.getByTestId('roc-auc');
  await expect(summary).toContainText('diameter baseline');
  expect(Number(await summary.getAttribute('data-auc'))).toBeCloseTo(last['validating/auc'], 10);
  expect(Number(await summary.getAttribute('data-baseline'))).toBeCloseTo(last['validating/auc_diameter'], 10);
  await expect(page.locator('luna-roc-chart .plot canvas')).toHaveCount(1);
  expect(errors).toEqual([]);
});
