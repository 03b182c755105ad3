/**
 * The cases behind a FROC point: a hand case (a double hit, an excluded finding, diameter −1,
 * a miss hit below the threshold, the mark limit) and, over seeded random submissions, the
 * counts at every curve threshold equal froc()'s curve (FPs = fps·scans, hits = sens·nodules).
 */
import { describe, expect, it } from 'vitest';
import { createRng } from '../data/rng.ts';
import { froc, type Nodule, type ScoredCandidate } from './froc.ts';
import { frocCasesAt, nearestPoint } from './froc-cases.ts';

const c = (seriesUid: string, x: number, y: number, z: number, probability: number): ScoredCandidate => ({
  seriesUid,
  xyz: [x, y, z],
  probability,
});
const n = (seriesUid: string, x: number, y: number, z: number, diameterMm: number): Nodule => ({
  seriesUid,
  xyz: [x, y, z],
  diameterMm,
});

describe('frocCasesAt: a case by hand', () => {
  const nodules = [n('A', 0, 0, 0, 10), n('A', 50, 0, 0, 6), n('B', 0, 0, 0, 4)];
  const excluded = [n('A', 100, 0, 0, -1)]; // 10 mm
  const marks = [
    c('A', 1, 1, 1, 0.9), // hit
    c('A', 0, 0, 2, 0.4), // second hit: neither
    c('A', 50, 1, 0, 0.3), // hits the second nodule, below 0.5
    c('A', 100, 0, 4.9, 0.8), // inside the excluded finding: ignored
    c('A', 100, 0, 5, 0.85), // on its radius: FP
    c('B', 9, 9, 9, 0.6), // FP
    c('B', 9, 9, 9, 0.2), // FP below the threshold
    c('C', 0, 0, 0, 1), // not listed
  ];
  it('lists the false positives and misses at p ≥ 0.5', () => {
    const r = frocCasesAt(marks, nodules, ['A', 'B'], 0.5, { excluded });
    expect(r.hit).toBe(1);
    expect(r.falsePositives.map((f) => f.probability)).toEqual([0.85, 0.6]);
    expect(r.missed).toEqual([
      { seriesUid: 'A', xyz: [50, 0, 0], diameterMm: 6, bestProbability: 0.3 },
      { seriesUid: 'B', xyz: [0, 0, 0], diameterMm: 4, bestProbability: null },
    ]);
  });
  it('applies the per-scan limit before matching', () => {
    // With at most 2 marks on A, only p 0.9 and 0.85 stay (0.8 < the 3rd): the FP on the radius stays, the excluded one goes.
    const r = frocCasesAt(marks, nodules, ['A'], 0, { excluded, maxMarksPerScan: 2 });
    expect(r.falsePositives.map((f) => f.probability)).toEqual([0.85]);
    expect(r.missed.map((m) => m.bestProbability)).toEqual([null]);
  });
});

describe('frocCasesAt agrees with froc() at every threshold', () => {
  it('over seeded random submissions with >100 marks on some scans', () => {
    const rng = createRng(77).fork('froc-cases');
    for (let trial = 0; trial < 3; trial++) {
      const scans = Array.from({ length: 20 }, (_, i) => `s${trial}-${i}`);
      const nodules: Nodule[] = [];
      const excluded: Nodule[] = [];
      const marks: ScoredCandidate[] = [];
      for (const uid of scans) {
        const k = Math.floor(rng.uniform(0, 3));
        const centres: [number, number, number][] = [];
        for (let j = 0; j < k; j++) {
          const centre: [number, number, number] = [
            rng.uniform(-100, 100),
            rng.uniform(-100, 100),
            rng.uniform(-200, 0),
          ];
          centres.push(centre);
          nodules.push({ seriesUid: uid, xyz: centre, diameterMm: rng.uniform(4, 20) });
        }
        if (rng.uniform(0, 1) < 0.5)
          excluded.push({
            seriesUid: uid,
            xyz: [rng.uniform(-100, 100), 0, -100],
            diameterMm: rng.uniform(0, 1) < 0.5 ? -1 : 8,
          });
        const m = rng.uniform(0, 1) < 0.3 ? 130 : Math.floor(rng.uniform(0, 40));
        for (let j = 0; j < m; j++) {
          const near =
            centres.length && rng.uniform(0, 1) < 0.2 ? centres[Math.floor(rng.uniform(0, centres.length))] : null;
          const xyz: [number, number, number] = near
            ? [near[0] + rng.uniform(-4, 4), near[1] + rng.uniform(-4, 4), near[2] + rng.uniform(-4, 4)]
            : [rng.uniform(-100, 100), rng.uniform(-100, 100), rng.uniform(-200, 0)];
          marks.push({ seriesUid: uid, xyz, probability: Math.round(rng.uniform(0, 1) * 50) / 50 }); // ties
        }
      }
      if (!nodules.length) continue;
      const f = froc(marks, nodules, scans, { excluded, bootstrap: false });
      for (const p of f.curve) {
        if (!Number.isFinite(p.threshold)) continue;
        const r = frocCasesAt(marks, nodules, scans, p.threshold, { excluded });
        expect(r.falsePositives.length).toBe(Math.round(p.fpsPerScan * f.scans));
        expect(r.hit).toBe(Math.round(p.sensitivity * f.nodules));
        expect(r.hit + r.missed.length).toBe(f.nodules);
      }
    }
  });
});

describe('nearestPoint', () => {
  it('takes the nearest rate on the log axis, the last point of a vertical step', () => {
    const curve = [
      { fpsPerScan: 0, sensitivity: 0 },
      { fpsPerScan: 0.5, sensitivity: 0.2 },
      { fpsPerScan: 0.5, sensitivity: 0.4 },
      { fpsPerScan: 4, sensitivity: 0.8 },
    ];
    expect(nearestPoint(curve, 0.6)).toEqual({ fpsPerScan: 0.5, sensitivity: 0.4 });
    expect(nearestPoint(curve, 3)).toEqual({ fpsPerScan: 4, sensitivity: 0.8 });
    expect(nearestPoint([], 1)).toBeNull();
  });
});
