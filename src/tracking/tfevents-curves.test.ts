/**
 * The seed's PR curve and histograms in the lab's event files, judged by TensorBoard itself and
 * against what the seed writes: src/tracking/tfevents_curves_reference.py reads the lab's file with
 * TensorBoard's EventAccumulator and with the data provider its dashboards use, and writes the same
 * predictions with torch.utils.tensorboard as the seed's logMetrics does, read back the same way.
 * A missing venv FAILS here, never skips.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { phaseCurves, PR_THRESHOLDS } from '../model/curves.ts';
import type { MetricsMode } from '../model/metrics.ts';
import type { MetricPoint } from '../store/records.ts';
import { EventFileWriter, eventFileName, writeMetricPoints } from './tfevents.ts';

const ROOT = process.cwd();
const PYTHON = path.join(ROOT, '.venv/bin/python');
const SCRIPT = path.join(ROOT, 'src/tracking/tfevents_curves_reference.py');

interface Read {
  accumulator: {
    histograms: Record<string, { step: number; num: number; min: number; max: number; bucket: number[] }[]>;
    pr: Record<string, { step: number; num_thresholds: number; shape: number[]; values: number[][] }[]>;
  };
  dashboard: Record<'histograms' | 'pr_curves', Record<string, { step: number; values: number[][] }[]>>;
}

/** A seeded spread of predictions, edges included (0, 0.01, 0.02, 0.5, 0.99, 1), as float32. */
function phase(mode: MetricsMode, step: number, n: number, seed: number, posBelow99 = true) {
  let s = seed;
  const rand = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const labels: number[] = [];
  const probs: number[] = [];
  const edges = [0, 0.01, 0.02, 0.5, 0.99, 1, 10 / 126, 0.3];
  for (let i = 0; i < n; i++) {
    const label = i % 4 === 0 ? 1 : 0;
    let p = i < edges.length * 2 ? edges[i >> 1] : label ? 0.3 + 0.7 * rand() : 0.8 * rand() ** 2;
    if (label && !posBelow99) p = 0.995;
    labels.push(label);
    probs.push(Math.fround(p));
  }
  return { mode, step, labels, probs };
}

const PHASES = [phase('training', 64, 120, 1), phase('validating', 64, 40, 2), phase('training', 128, 60, 3, false)];

let dir = '';
let ours: Read;
let torch: Read;

beforeAll(() => {
  if (!fs.existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: run \`bash .ci/setup-venv\``);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'luna-tfcurves-'));
  const points: MetricPoint[] = PHASES.map((p, i) => ({
    epoch: i < 2 ? 1 : 2,
    step: p.step,
    values: { [`${p.mode}/loss/all`]: 0.5 },
    curves: phaseCurves(p.mode, p.labels, p.probs),
  }));
  const w = new EventFileWriter(1_780_000_000);
  writeMetricPoints(w, points);
  fs.mkdirSync(path.join(dir, 'lab'));
  fs.writeFileSync(path.join(dir, 'lab', eventFileName(w.wallTimeSec, 'luna-host')), w.bytes());
  fs.writeFileSync(path.join(dir, 'data.json'), JSON.stringify(PHASES));
  const r = spawnSync(PYTHON, [SCRIPT, path.join(dir, 'lab'), path.join(dir, 'data.json'), path.join(dir, 'torch')], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  if (r.status !== 0) throw new Error(`tfevents_curves_reference.py exited ${r.status}: ${r.stderr}`);
  ({ ours, torch } = JSON.parse(r.stdout) as { ours: Read; torch: Read });
}, 180_000);

afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('TensorBoard reads the PR curves and histograms', () => {
  it('finds the pr_curves plugin data per phase, step = samples seen, [6, 127] float32', () => {
    const pr = ours.accumulator.pr;
    expect(Object.keys(pr).sort()).toEqual(['training/pr', 'validating/pr']);
    expect(pr['training/pr'].map((e) => e.step)).toEqual([64, 128]);
    expect(pr['validating/pr'].map((e) => e.step)).toEqual([64]);
    for (const e of [...pr['training/pr'], ...pr['validating/pr']]) {
      expect(e.num_thresholds).toBe(PR_THRESHOLDS);
      expect(e.shape).toEqual([6, PR_THRESHOLDS]);
    }
    // Threshold 0: every sample is predicted positive: TP = positives, FP = negatives.
    const [tp, fp, tn, fn] = pr['validating/pr'][0].values;
    const v = PHASES[1];
    expect(tp[0]).toBe(v.labels.filter((l) => l === 1).length);
    expect(fp[0]).toBe(v.labels.filter((l) => l === 0).length);
    expect(tn[0] + fn[0]).toBe(0);
  });

  it('finds both histograms where the seed writes them (no is_pos when no positive is below 0.99)', () => {
    const h = ours.accumulator.histograms;
    expect(Object.keys(h).sort()).toEqual([
      'training/is_neg',
      'training/is_pos',
      'validating/is_neg',
      'validating/is_pos',
    ]);
    expect(h['training/is_neg'].map((e) => e.step)).toEqual([64, 128]);
    expect(h['training/is_pos'].map((e) => e.step)).toEqual([64]);
    expect(h['validating/is_pos'].map((e) => e.step)).toEqual([64]);
    const t = PHASES[0];
    const negAbove = t.probs.filter((p, i) => t.labels[i] === 0 && p > 0.01);
    expect(h['training/is_neg'][0]).toMatchObject({ num: negAbove.length, max: Math.max(...negAbove) });
    expect(h['training/is_neg'][0].bucket.reduce((a, b) => a + b, 0)).toBe(negAbove.length);
    // A negative at exactly 0.01 is left out, as the seed's `> 0.01` leaves it.
    expect(t.probs.some((p, i) => t.labels[i] === 0 && p === Math.fround(0.01))).toBe(true);
    expect(h['training/is_neg'][0].min).toBe(Math.min(...negAbove));
  });

  it('shows the dashboards what torch.utils.tensorboard shows for the seed (same curves, same buckets)', () => {
    for (const plugin of ['pr_curves', 'histograms'] as const) {
      const a = ours.dashboard[plugin];
      const b = torch.dashboard[plugin];
      expect(Object.keys(b), plugin).toHaveLength(plugin === 'pr_curves' ? 2 : 4);
      expect(Object.keys(a).sort(), plugin).toEqual(Object.keys(b).sort());
      for (const tag of Object.keys(b)) {
        expect(
          a[tag].map((e) => e.step),
          tag,
        ).toEqual(b[tag].map((e) => e.step));
        a[tag].forEach((e, i) => {
          const want = b[tag][i].values.flat();
          const got = e.values.flat();
          expect(got.length, `${tag} @${e.step}`).toBe(want.length);
          got.forEach((x, j) => expect(x, `${tag} @${e.step} [${j}]`).toBeCloseTo(want[j], 5));
        });
      }
    }
  });
});
