/**
 * FROC/CPM: a constructed case computed by hand (boundary hits, a double hit, a tie, a missed
 * nodule, scans outside the list), and a synthetic run of thousands of candidates against an
 * independent NumPy implementation (froc_reference.py in the project's .venv; a missing venv
 * FAILS here, never skips).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createRng } from '../data/rng.ts';
import { CPM_FPS, froc, FrocError, interp, type Nodule, type ScoredCandidate } from './froc.ts';

const PYTHON = path.join(process.cwd(), '.venv/bin/python');
const SCRIPT = path.join(process.cwd(), 'src/eval/froc_reference.py');

const c = (seriesUid: string, x: number, y: number, z: number, probability: number): ScoredCandidate => ({ seriesUid, xyz: [x, y, z], probability });
const n = (seriesUid: string, x: number, y: number, z: number, diameterMm: number): Nodule => ({ seriesUid, xyz: [x, y, z], diameterMm });

describe('froc: a case computed by hand', () => {
  const nodules = [n('A', 0, 0, 0, 10), n('A', 50, 0, 0, 6), n('B', 0, 0, 0, 4), n('C', 0, 0, 0, 10)];
  const candidates = [
    c('A', 1, 1, 1, 0.9), // hits A's first nodule (dist² 3 < 25)
    c('A', 0, 0, 4.9, 0.5), // a second hit on it: ignored
    c('A', 0, 0, 5, 0.95), // exactly on the radius: not a hit (strict <), a false positive
    c('A', 100, 0, 0, 0.3), // FP
    c('A', 50, 3, 0, 0.2), // on the second nodule's radius: FP, and that nodule is missed
    c('B', 0, 0, 1.9, 0.7), // hits B's nodule
    c('B', 10, 10, 10, 0.7), // FP tied with the hit: one threshold
    c('B', 20, 0, 0, 0.1), // FP
    c('C', 0, 0, 0, 1), // scan C is not evaluated
  ];
  const r = froc(candidates, nodules, ['A', 'B']);

  it('counts hits, misses, double hits and false positives', () => {
    expect(r).toMatchObject({ scans: 2, nodules: 3, detected: 2, candidates: 8, falsePositives: 5, duplicateHits: 1 });
  });

  it('builds the curve one point per distinct probability, from (0, 0)', () => {
    // marks by p: .95 FP, .9 TP, .7 TP+FP, .3 FP, .2 FP, .1 FP; FPs/scan = FP/2, sensitivity = TP/3
    const want = [
      [0, 0, Infinity],
      [0.5, 0, 0.95],
      [0.5, 1 / 3, 0.9],
      [1, 2 / 3, 0.7],
      [1.5, 2 / 3, 0.3],
      [2, 2 / 3, 0.2],
      [2.5, 2 / 3, 0.1],
    ];
    expect(r.curve).toHaveLength(want.length);
    r.curve.forEach((p, i) => {
      expect(p.fpsPerScan).toBeCloseTo(want[i][0], 12);
      expect(p.sensitivity).toBeCloseTo(want[i][1], 12);
      expect(p.threshold).toBe(want[i][2]);
    });
  });

  it('interpolates as np.interp: linear between points, the top of a vertical step, flat beyond the ends', () => {
    expect(r.sensitivities.map((s) => s.fpsPerScan)).toEqual([...CPM_FPS]);
    const want = [0, 0, 1 / 3, 2 / 3, 2 / 3, 2 / 3, 2 / 3];
    r.sensitivities.forEach((s, i) => expect(s.sensitivity).toBeCloseTo(want[i], 12));
    expect(r.cpm).toBeCloseTo(3 / 7, 12);
    expect(interp(0.75, r.curve)).toBeCloseTo(0.5, 12);
    expect(interp(0.25, r.curve)).toBe(0);
  });

  it('a perfect ranker reaches full sensitivity at every rate; no false positives at all gives fps 0', () => {
    const perfect = froc([c('A', 0, 0, 0, 0.9), c('A', 50, 0, 0, 0.8), c('B', 0, 0, 0, 0.7), c('A', 9, 9, 9, 0.1)], nodules, ['A', 'B']);
    expect(perfect.cpm).toBeCloseTo(1, 12);
    const noFp = froc([c('A', 0, 0, 0, 0.9)], nodules, ['A', 'B']);
    expect(noFp.curve.every((p) => p.fpsPerScan === 0)).toBe(true);
    expect(noFp.cpm).toBeCloseTo(1 / 3, 12);
    const none = froc([c('A', 99, 0, 0, 0.9)], nodules, ['A', 'B']);
    expect(none.cpm).toBe(0);
  });

  it('refuses what it cannot evaluate, naming the problem', () => {
    expect(() => froc(candidates, nodules, [])).toThrow(FrocError);
    expect(() => froc(candidates, nodules, ['D'])).toThrow(/no annotated nodules/);
    expect(() => froc(candidates, [n('A', 0, 0, 0, 0)], ['A'])).toThrow(/diameter_mm 0/);
    expect(() => froc([c('A', 0, 0, 0, NaN)], nodules, ['A'])).toThrow(/probability NaN/);
  });
});

describe('froc: a synthetic run against an independent NumPy implementation', () => {
  it('agrees on the curve, the seven sensitivities and the CPM', () => {
    if (!fs.existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: run \`bash .ci/setup-venv\``);
    const rng = createRng(2024).fork('froc-test');
    const scans = Array.from({ length: 40 }, (_, i) => `1.3.6.1.4.1.14519.5.2.1.6279.6001.${1000 + i}`);
    const nodules: Nodule[] = [];
    const candidates: ScoredCandidate[] = [];
    for (const uid of scans) {
      const k = Math.floor(rng.uniform(0, 4));
      for (let j = 0; j < k; j++) {
        const centre: [number, number, number] = [rng.uniform(-150, 150), rng.uniform(-150, 150), rng.uniform(-300, 0)];
        const d = rng.uniform(3, 30);
        nodules.push({ seriesUid: uid, xyz: centre, diameterMm: d });
        // Some candidates near each nodule, inside or just outside its radius; a nodule may be missed.
        const near = Math.floor(rng.uniform(0, 4));
        for (let m = 0; m < near; m++) {
          const off = rng.uniform(0, 0.7) * d;
          const dir = [rng.normal(0, 1), rng.normal(0, 1), rng.normal(0, 1)];
          const len = Math.hypot(...dir);
          // Probabilities rounded to 2 decimals: many ties, as a real classifier's saturated outputs.
          candidates.push({ seriesUid: uid, xyz: [centre[0] + (dir[0] / len) * off, centre[1] + (dir[1] / len) * off, centre[2] + (dir[2] / len) * off], probability: Math.round(rng.uniform(0.2, 1) * 100) / 100 });
        }
      }
      for (let m = 0; m < 120; m++) {
        candidates.push({ seriesUid: uid, xyz: [rng.uniform(-150, 150), rng.uniform(-150, 150), rng.uniform(-300, 0)], probability: Math.round(rng.next() ** 3 * 100) / 100 });
      }
    }
    const r = froc(candidates, nodules, scans);
    expect(r.nodules).toBeGreaterThan(30);
    expect(r.detected).toBeLessThan(r.nodules); // some misses: the denominator matters

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'luna-froc-'));
    try {
      const input = path.join(dir, 'in.json');
      const output = path.join(dir, 'out.json');
      fs.writeFileSync(
        input,
        JSON.stringify({
          scans,
          nodules: nodules.map((x) => [x.seriesUid, ...x.xyz, x.diameterMm]),
          candidates: candidates.map((x) => [x.seriesUid, ...x.xyz, x.probability]),
        }),
      );
      const py = spawnSync(PYTHON, [SCRIPT, input, output], { encoding: 'utf8', timeout: 120_000 });
      if (py.status !== 0) throw new Error(`froc_reference.py failed: ${py.stderr}`);
      const ref = JSON.parse(fs.readFileSync(output, 'utf8')) as { fps: number[]; sens: number[]; sensitivities: number[]; cpm: number; detected: number; fp: number };
      expect(r.detected).toBe(ref.detected);
      expect(r.falsePositives).toBe(ref.fp);
      expect(r.curve.map((p) => p.fpsPerScan)).toEqual(ref.fps);
      expect(r.curve.map((p) => p.sensitivity)).toEqual(ref.sens);
      r.sensitivities.forEach((s, i) => expect(s.sensitivity).toBeCloseTo(ref.sensitivities[i], 12));
      expect(r.cpm).toBeCloseTo(ref.cpm, 12);
      // Not degenerate: the seven rates fall on different parts of the curve.
      expect(new Set(r.sensitivities.map((s) => s.sensitivity.toFixed(6))).size).toBeGreaterThan(3);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
