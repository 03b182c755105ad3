/**
 * `luna-lab cv --folds subsets` end to end (the real CLI, the built lab in headless Chromium,
 * the real MLflow server of global setup): a tiny synthetic dataset of 3 subsets gives 3 fold
 * runs under one parent run, each evaluated on its held-out subset; the pooled submission
 * covers every scan and `luna-lab froc` scores it exactly as cv.json and the parent run say;
 * run again on the same --out, every finished fold is kept.
 */
import { test, expect } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { runLunaLab } from './cli-run.ts';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MlflowClient, type MlflowRunData } from '../src/tracking/mlflow-client.ts';

const SMALL = [
  '--crop',
  '16,24,24',
  '--blocks',
  '2',
  '--width',
  '4',
  '--batch-size',
  '16',
  '--seed',
  '7',
  '--epochs',
  '1',
];
const tmp = (name: string) => mkdtempSync(join(tmpdir(), `luna-cv-${name}-`));
const tagsOf = (run: MlflowRunData) => Object.fromEntries((run.data.tags ?? []).map((t) => [t.key, t.value]));

interface CvDone {
  folds: { heldOut: string; runId: string; status: string; cpm: number; scans: number }[];
  pooled: { cpm: number; scans: number; nodules: number };
  parent: string;
  out: string;
}

test('luna-lab cv: one fold run per held-out subset under one parent, pooled as LUNA16 pools them', async () => {
  test.setTimeout(600_000);
  const data = join(tmp('data'), 'synth3');
  execFileSync(
    process.execPath,
    ['bin/luna-lab.js', 'synth', '--out', data, '--scans', '6', '--size', 'tiny', '--seed', '9', '--subsets', '3'],
    { stdio: 'inherit' },
  );
  const out = join(tmp('out'), 'cv');
  const cache = tmp('profile');
  const experiment = 'cv-e2e';
  const args = [
    'cv',
    '--data',
    data,
    '--folds',
    'subsets',
    ...SMALL,
    '--mlflow',
    process.env.LUNA_E2E_MLFLOW!,
    '--experiment',
    experiment,
    '--out',
    out,
    '--cache',
    cache,
    '--json',
  ];
  const r = await runLunaLab(args);
  expect(r.code, r.stderr).toBe(0);
  const d = r.events.findLast((e) => e.event === 'done') as unknown as CvDone;
  expect(d.folds.map((f) => [f.heldOut, f.status])).toEqual([
    ['subset0', 'finished'],
    ['subset1', 'finished'],
    ['subset2', 'finished'],
  ]);
  expect(d.folds.map((f) => f.scans)).toEqual([2, 2, 2]);
  expect(d.pooled.scans).toBe(6);

  // The pooled submission, scored by `luna-lab froc` (the page's froc()), gives cv's CPM.
  const seriesuids = readFileSync(join(out, 'seriesuids.csv'), 'utf8').trim().split('\n'); // LUNA16's: no header
  expect(seriesuids).toHaveLength(6);
  const scored = JSON.parse(
    execFileSync(
      process.execPath,
      [
        'bin/luna-lab.js',
        'froc',
        '--submission',
        join(out, 'submission.csv'),
        '--annotations',
        join(data, 'annotations.csv'),
        '--seriesuids',
        join(out, 'seriesuids.csv'),
        '--json',
      ],
      { encoding: 'utf8' },
    ),
  ) as { cpm: number; scans: number };
  expect(scored.scans).toBe(6);
  expect(scored.cpm).toBe(d.pooled.cpm);

  // MLflow: one parent, three children holding out one subset each, the pooled metrics and files on the parent.
  const client = new MlflowClient(process.env.LUNA_E2E_MLFLOW!);
  const exp = await client.getOrCreateExperiment(experiment);
  const parent = await client.getRun(d.parent);
  expect(parent.info.status).toBe('FINISHED');
  expect((await client.metricHistory(d.parent, 'eval/cpm')).map((m) => m.value)).toEqual([d.pooled.cpm]);
  expect((await client.listArtifacts(d.parent, 'eval')).map((a) => a.path).sort()).toEqual([
    'eval/froc.svg',
    'eval/submission.csv',
  ]);
  for (const fold of d.folds) {
    const [id] = await client.findRunsByTag(exp, 'luna.run_id', fold.runId);
    const child = await client.getRun(id);
    expect(tagsOf(child)['mlflow.parentRunId']).toBe(d.parent);
    expect(tagsOf(child)['luna.cv_heldout']).toBe(fold.heldOut);
    expect((await client.metricHistory(id, 'eval/cpm')).map((m) => m.value)).toEqual([fold.cpm]);
  }

  // Resumable: the same command again keeps every finished fold and pools the same marks.
  const again = await runLunaLab(args);
  expect(again.code, again.stderr).toBe(0);
  expect(again.events.filter((e) => e.event === 'fold').map((e) => e.kept)).toEqual([true, true, true]);
  const d2 = again.events.findLast((e) => e.event === 'done') as unknown as CvDone;
  expect(d2.pooled.cpm).toBe(d.pooled.cpm);
  expect(d2.parent).toBe(d.parent);
  expect((await client.getRun(d.parent)).info.status).toBe('FINISHED');
});
