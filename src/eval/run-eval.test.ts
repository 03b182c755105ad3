/**
 * A run's evaluation as kept and reported: the stored summary, the MLflow metric names, the
 * held-out check, and the outbox items that send it (metrics at the run's step, two artifacts).
 */
import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../config/lab-config.ts';
import type { RunRecord } from '../store/records.ts';
import { evalItems } from '../tracking/run-tracking.ts';
import { froc, type Nodule, type ScoredCandidate } from './froc.ts';
import { describeScored, evalMetrics, runEvalOf, trainingScansAmong } from './run-eval.ts';

const nodules: Nodule[] = [{ seriesUid: 'a', xyz: [0, 0, 0], diameterMm: 10 }];
const marks: ScoredCandidate[] = [
  { seriesUid: 'a', xyz: [0, 0, 0], probability: 0.9 },
  { seriesUid: 'b', xyz: [9, 9, 9], probability: 0.8 },
];

describe('run evaluation', () => {
  const f = froc(marks, nodules, ['a', 'b'], { bootstrap: { samples: 20 } });
  const e = runEvalOf(f, { at: 1000, epoch: 2, scope: 'validation', trainingScans: 0 });

  it('keeps the CPM, the seven sensitivities, the band and what was scored', () => {
    expect(e).toMatchObject({
      at: 1000,
      epoch: 2,
      scope: 'validation',
      cpm: f.cpm,
      scans: 2,
      nodules: 1,
      trainingScans: 0,
    });
    expect(e.sensitivities.map((s) => s.fpsPerScan)).toEqual([0.125, 0.25, 0.5, 1, 2, 4, 8]);
    expect(e.cpmBand).toEqual({ lower: f.band!.cpm.lower, upper: f.band!.cpm.upper, confidence: 0.95 });
  });

  it('names the metrics as MLflow gets them', () => {
    expect(evalMetrics(e).map((m) => m.key)).toEqual([
      'eval/cpm',
      'eval/sensitivity_at_0.125_fp',
      'eval/sensitivity_at_0.25_fp',
      'eval/sensitivity_at_0.5_fp',
      'eval/sensitivity_at_1_fp',
      'eval/sensitivity_at_2_fp',
      'eval/sensitivity_at_4_fp',
      'eval/sensitivity_at_8_fp',
    ]);
    expect(evalMetrics(e)[0].value).toBe(f.cpm);
  });

  it('finds training scans among those scored and says so', () => {
    expect(trainingScansAmong(['a', 'b', 'c'], ['c', 'a'])).toEqual(['a', 'c']);
    expect(describeScored(2, 'validation', 0)).toBe(
      "2 scans, the run's validation series; none used for training (held out)",
    );
    expect(describeScored(3, 'all', 2)).toMatch(/every cached scan; 2 of them also gave training candidates/);
    expect(describeScored(1, 'file', null)).toMatch(/training scans unknown/);
  });

  it('becomes outbox items: the metrics at the run step, the submission and the plot', () => {
    const run = { runId: 'r', samplesSeen: 64, config: defaultConfig() } as RunRecord;
    const items = evalItems(run, { server: 'http://mlflow.test', experiment: 'x' }, e, {
      submissionCsv: 'seriesuid\n',
      frocSvg: '<svg/>',
    });
    const batch = items.filter((i) => i.payload.kind === 'batch');
    expect(
      batch
        .flatMap((i) => (i.payload.kind === 'batch' ? i.payload.metrics : []))
        .map((m) => [m.key, m.step, m.timestamp])[0],
    ).toEqual(['eval/cpm', 64, 1000]);
    expect(items.flatMap((i) => (i.payload.kind === 'artifact' ? [i.payload.path] : []))).toEqual([
      'eval/submission.csv',
      'eval/froc.svg',
    ]);
    expect(items.every((i) => i.runId === 'r' && i.server === 'http://mlflow.test')).toBe(true);
  });
});
