/**
 * The seed's views of a headless run (issue 14): `luna-lab train --mlflow … --profile` on the
 * tiny synthetic data, in Debian's Chromium (SwiftShader WebGPU here), against the real MLflow
 * server of global setup. MLflow gets the system metrics under its own names; TensorBoard's own
 * reader finds the PR curves and the is_neg/is_pos histograms at step = samples seen; the
 * profile is Chrome trace JSON with the lab's kernel names in it.
 */
import { test, expect } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { runLunaLab } from './cli-run.ts';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SYNTH_CLI } from './paths.ts';
import { ensureMlflow, MLFLOW } from './mlflow.ts';
import { MlflowClient } from '../src/tracking/mlflow-client.ts';

const SMALL = ['--crop', '16,24,24', '--blocks', '2', '--width', '4', '--batch-size', '16', '--seed', '7'];

test('a headless run: system metrics in MLflow, PR curves and histograms in TensorBoard, a kernel trace', async () => {
  test.setTimeout(600_000);
  await ensureMlflow();
  const out = join(mkdtempSync(join(tmpdir(), 'luna-seed-views-')), 'out');
  const r = await runLunaLab([
    'train',
    '--data',
    SYNTH_CLI,
    ...SMALL,
    '--epochs',
    '2',
    '--set',
    'train.validationCadence=1',
    '--mlflow',
    MLFLOW(),
    '--experiment',
    'seed-views',
    '--out',
    out,
    '--cache',
    mkdtempSync(join(tmpdir(), 'luna-seed-views-profile-')),
    '--profile',
    '--json',
  ]);
  expect(r.stderr).not.toMatch(/^luna-lab: (?!warning: |note: )/m);
  expect(r.code).toBe(0);
  const d = r.events.findLast((e) => e.event === 'done') as { runId: string; files: string[] };
  expect(d.files).toEqual(expect.arrayContaining(['profile/trace.json', 'profile/kernels.csv']));
  const steps = readFileSync(join(out, 'metrics.csv'), 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((row) => Number(row.split(',')[1]));
  const trainingSteps = [...new Set(steps)];
  expect(trainingSteps).toHaveLength(2);

  // MLflow: the CLI's samples of the browser's processes and the page's own, under MLflow's names.
  const client = new MlflowClient(MLFLOW());
  const exp = await client.getOrCreateExperiment('seed-views');
  const [mlflowRun] = await client.findRunsByTag(exp, 'luna.run_id', d.runId);
  expect(mlflowRun).toBeTruthy();
  for (const key of [
    'system/cpu_utilization_percentage',
    'system/system_memory_usage_megabytes',
    'system/system_memory_usage_percentage',
    'system/browser_tfjs_tensors',
    'system/browser_tfjs_memory_megabytes',
  ]) {
    const h = await client.metricHistory(mlflowRun, key);
    expect(h.length, key).toBeGreaterThan(0);
    for (const m of h) expect(Number.isFinite(m.value), key).toBe(true);
  }
  const cpu = await client.metricHistory(mlflowRun, 'system/cpu_utilization_percentage');
  for (const m of cpu) expect(m.value).toBeGreaterThanOrEqual(0);
  for (const m of cpu) expect(m.value).toBeLessThanOrEqual(100);
  const rss = await client.metricHistory(mlflowRun, 'system/system_memory_usage_megabytes');
  // A Chromium process tree holds tens of megabytes at least.
  expect(Math.max(...rss.map((m) => m.value))).toBeGreaterThan(20);
  expect(Object.keys((await client.getRun(mlflowRun)).data.metrics ?? {}).length).toBeGreaterThan(0);
  expect(await client.metricHistory(mlflowRun, 'validating/pr/specificity')).toHaveLength(2);

  // TensorBoard's own reader: the seed's PR curve and histograms per phase, step = samples seen.
  const tb = JSON.parse(
    execFileSync('.venv/bin/python', ['src/tracking/tfevents_curves_reference.py', join(out, 'tensorboard')], {
      maxBuffer: 64 << 20,
    }).toString(),
  ) as {
    ours: {
      accumulator: {
        pr: Record<string, { step: number; num_thresholds: number; shape: number[] }[]>;
        histograms: Record<string, { step: number }[]>;
      };
    };
  };
  const { pr, histograms } = tb.ours.accumulator;
  for (const mode of ['training', 'validating']) {
    expect(pr[`${mode}/pr`].map((e) => e.step)).toEqual(trainingSteps);
    expect(pr[`${mode}/pr`][0]).toMatchObject({ num_thresholds: 127, shape: [6, 127] });
  }
  // An untrained model puts negatives above 0.01 and positives below 0.99: both histograms, each epoch.
  for (const tag of ['training/is_neg', 'training/is_pos', 'validating/is_neg', 'validating/is_pos'])
    expect(
      histograms[tag].map((e) => e.step),
      tag,
    ).toEqual(trainingSteps);

  // The profile: Chrome trace JSON with the lab's own kernels in it, and its table.
  const trace = JSON.parse(readFileSync(join(out, 'profile/trace.json'), 'utf8')) as {
    traceEvents: { name: string; ph: string; cat?: string; ts?: number; dur?: number }[];
  };
  const kernels = trace.traceEvents.filter((e) => e.ph === 'X' && e.cat === 'kernel');
  expect(kernels.length).toBeGreaterThan(10);
  for (const k of kernels) expect(Number.isFinite(k.ts) && Number.isFinite(k.dur)).toBe(true);
  const names = new Set(kernels.map((k) => k.name));
  expect([...names]).toEqual(expect.arrayContaining(['LunaConv3DBiasRelu', 'LunaConv3DFilterBiasGrad']));
  expect(trace.traceEvents.filter((e) => e.cat === 'step')).toHaveLength(3);
  const table = readFileSync(join(out, 'profile/kernels.csv'), 'utf8').trim().split('\n');
  expect(table[0]).toBe('kernel,calls,total_ms,mean_ms,share_percent');
  expect(table.slice(1).map((l) => l.split(',')[0])).toEqual(expect.arrayContaining(['LunaConv3DBiasRelu']));
});
