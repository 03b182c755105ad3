/**
 * FROC/CPM: constructed cases computed by hand (boundary hits, a double hit, a tie, a missed
 * nodule, scans outside the list; excluded findings, diameter −1, the per-scan mark limit with
 * ties at the cut, listed scans without marks, no detection at all), and seeded synthetic runs
 * of thousands of marks against an independent NumPy implementation of the official script's
 * rules, bootstrap band included (froc_reference.py in the project's .venv; a missing venv
 * FAILS here, never skips).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createRng } from '../data/rng.ts';
import {
  bootstrapDraws,
  CPM_FPS,
  froc,
  FrocError,
  interp,
  limitMarks,
  type Nodule,
  type ScoredCandidate,
} from './froc.ts';

const PYTHON = path.join(process.cwd(), '.venv/bin/python');
const SCRIPT = path.join(process.cwd(), 'src/eval/froc_reference.py');

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
    const perfect = froc(
      [c('A', 0, 0, 0, 0.9), c('A', 50, 0, 0, 0.8), c('B', 0, 0, 0, 0.7), c('A', 9, 9, 9, 0.1)],
      nodules,
      ['A', 'B'],
    );
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
          candidates.push({
            seriesUid: uid,
            xyz: [centre[0] + (dir[0] / len) * off, centre[1] + (dir[1] / len) * off, centre[2] + (dir[2] / len) * off],
            probability: Math.round(rng.uniform(0.2, 1) * 100) / 100,
          });
        }
      }
      for (let m = 0; m < 120; m++) {
        candidates.push({
          seriesUid: uid,
          xyz: [rng.uniform(-150, 150), rng.uniform(-150, 150), rng.uniform(-300, 0)],
          probability: Math.round(rng.next() ** 3 * 100) / 100,
        });
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
      const ref = JSON.parse(fs.readFileSync(output, 'utf8')) as {
        fps: number[];
        sens: number[];
        sensitivities: number[];
        cpm: number;
        detected: number;
        fp: number;
      };
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

interface Reference {
  fps: number[];
  sens: (number | null)[];
  sensitivities: (number | null)[];
  cpm: number | null;
  detected: number;
  fp: number;
  excludedMarks: number;
  overLimit: number;
  duplicateHits: number;
  band: { mean: number[]; lower: number[]; upper: number[]; cpm: [number, number, number] } | null;
}

/** froc_reference.py on these inputs (rows as the reference reads them). */
function reference(input: {
  scans: string[];
  nodules: Nodule[];
  candidates: ScoredCandidate[];
  excluded?: Nodule[];
  maxMarks?: number;
  draws?: Uint32Array[];
}): Reference {
  if (!fs.existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: run \`bash .ci/setup-venv\``);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'luna-froc-'));
  try {
    const file = path.join(dir, 'in.json');
    const out = path.join(dir, 'out.json');
    const rows = (xs: readonly Nodule[]) => xs.map((x) => [x.seriesUid, ...x.xyz, x.diameterMm]);
    fs.writeFileSync(
      file,
      JSON.stringify({
        scans: input.scans,
        nodules: rows(input.nodules),
        excluded: rows(input.excluded ?? []),
        candidates: input.candidates.map((x) => [x.seriesUid, ...x.xyz, x.probability]),
        ...(input.maxMarks !== undefined ? { maxMarks: input.maxMarks } : {}),
        ...(input.draws ? { draws: input.draws.map((d) => [...d]) } : {}),
      }),
    );
    const py = spawnSync(PYTHON, [SCRIPT, file, out], { encoding: 'utf8', timeout: 120_000 });
    if (py.status !== 0) throw new Error(`froc_reference.py failed: ${py.stderr}`);
    return JSON.parse(fs.readFileSync(out, 'utf8')) as Reference;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const NO_BAND = { bootstrap: false } as const;

describe('froc: excluded findings and diameter −1, by hand', () => {
  const nodules = [n('A', 0, 0, 0, 10), n('B', 0, 0, 0, 4)];
  const excluded = [n('A', 30, 0, 0, -1), n('A', 60, 0, 0, 4), n('A', 5, 0, 0, 6)];
  const marks = [
    c('A', 1, 0, 0, 0.9), // hits A's nodule
    c('A', 30, 4.9, 0, 0.8), // inside the −1 finding, read as 10 mm: ignored
    c('A', 30, 5, 0, 0.7), // on that finding's radius: a false positive
    c('A', 60, 1.9, 0, 0.6), // inside the 4 mm excluded finding: ignored
    c('A', 4, 0, 0, 0.5), // inside the nodule AND an excluded finding: the nodule's (second) hit
    c('B', 50, 0, 0, 0.95), // FP; B's nodule is missed
  ];

  it('ignores marks inside excluded findings: neither hit nor false positive', () => {
    const r = froc(marks, nodules, ['A', 'B'], { excluded, ...NO_BAND });
    expect(r).toMatchObject({
      scans: 2,
      nodules: 2,
      detected: 1,
      candidates: 6,
      falsePositives: 2,
      excludedMarks: 2,
      duplicateHits: 1,
      overLimit: 0,
    });
    // entries by p: .95 FP, .9 TP, .7 FP; FPs/scan = FP/2, sensitivity = TP/2
    expect(r.curve.map((p) => [p.fpsPerScan, p.sensitivity, p.threshold])).toEqual([
      [0, 0, Infinity],
      [0.5, 0, 0.95],
      [0.5, 0.5, 0.9],
      [1, 0.5, 0.7],
    ]);
    expect(r.sensitivities.map((s) => s.sensitivity)).toEqual([0, 0, 0.5, 0.5, 0.5, 0.5, 0.5]);
    expect(r.cpm).toBeCloseTo(2.5 / 7, 12);
    // Without the excluded findings those two marks are false positives.
    expect(froc(marks, nodules, ['A', 'B'], NO_BAND)).toMatchObject({ falsePositives: 4, excludedMarks: 0 });
  });

  it('reads a nodule of diameter −1 as 10 mm too, and refuses 0 and NaN', () => {
    const r = froc([c('A', 0, 0, 4.9, 0.9), c('A', 0, 0, 5, 0.8)], [n('A', 0, 0, 0, -1)], ['A'], NO_BAND);
    expect(r).toMatchObject({ detected: 1, falsePositives: 1 });
    expect(() => froc(marks, nodules, ['A'], { excluded: [n('A', 0, 0, 0, 0)] })).toThrow(
      /excluded finding of A .*diameter_mm 0/,
    );
    expect(() => froc(marks, [n('A', 0, 0, 0, NaN)], ['A'])).toThrow(/diameter_mm NaN/);
  });

  it('agrees with the NumPy reference', () => {
    const ref = reference({ scans: ['A', 'B'], nodules, candidates: marks, excluded });
    const r = froc(marks, nodules, ['A', 'B'], { excluded, ...NO_BAND });
    expect([r.detected, r.falsePositives, r.excludedMarks, r.duplicateHits]).toEqual([
      ref.detected,
      ref.fp,
      ref.excludedMarks,
      ref.duplicateHits,
    ]);
    expect(r.cpm).toBeCloseTo(ref.cpm!, 12);
  });
});

describe('froc: the per-scan mark limit, by hand', () => {
  it('keeps the marks strictly above the (limit+1)-th probability: ties at the cut all go', () => {
    const five = [0.9, 0.8, 0.7, 0.7, 0.7].map((p, i) => c('A', i, 0, 0, p));
    expect(limitMarks(five, 3).map((m) => m.probability)).toEqual([0.9, 0.8]); // fewer than 3
    expect(limitMarks(five, 5)).toEqual(five); // at the limit: all
    expect(limitMarks(five, 4).map((m) => m.probability)).toEqual([0.9, 0.8]); // cut at the 5th, 0.7
    expect(limitMarks(five, 2).map((m) => m.probability)).toEqual([0.9, 0.8]);
    expect(limitMarks(five, 1).map((m) => m.probability)).toEqual([0.9]);
  });

  it("applies LUNA16's 100 before matching: a scan of 103 marks loses the 5 tied at the cut, a hit among them", () => {
    const nodules = [n('A', 0, 0, 0, 10), n('B', 0, 0, 0, 10), n('C', 0, 0, 0, 10)];
    const marks: ScoredCandidate[] = [c('A', 1, 0, 0, 0.995)];
    for (let i = 0; i < 97; i++) marks.push(c('A', 100 + i, 0, 0, 0.98 - i / 1000));
    for (let i = 0; i < 4; i++) marks.push(c('A', 0, 300 + i, 0, 0.5));
    marks.push(c('A', 0, 1, 0, 0.5)); // a second hit on A's nodule, tied at the cut: dropped
    // B: 101 marks of one probability, a hit among them: all dropped, its nodule missed.
    for (let i = 0; i < 100; i++) marks.push(c('B', 100 + i, 0, 0, 0.3));
    marks.push(c('B', 0, 0, 0, 0.3));
    // C: exactly 100 marks: all kept.
    for (let i = 0; i < 99; i++) marks.push(c('C', 100 + i, 0, 0, 0.2));
    marks.push(c('C', 0, 0, 0, 0.2));
    const r = froc(marks, nodules, ['A', 'B', 'C'], NO_BAND);
    expect(r).toMatchObject({
      candidates: 304,
      overLimit: 5 + 101,
      detected: 2,
      duplicateHits: 0,
      falsePositives: 97 + 99,
      maxMarksPerScan: 100,
    });
    const all = froc(marks, nodules, ['A', 'B', 'C'], { maxMarksPerScan: Infinity, ...NO_BAND });
    expect(all).toMatchObject({ overLimit: 0, detected: 3, duplicateHits: 1, falsePositives: 97 + 4 + 100 + 99 });
    // The script's "no limit" is maxNumberOfCADMarks ≤ 0 (its default −1).
    expect(froc(marks, nodules, ['A', 'B', 'C'], { maxMarksPerScan: -1, ...NO_BAND })).toEqual(all);
    expect(froc(marks, nodules, ['A', 'B', 'C'], { maxMarksPerScan: 0, ...NO_BAND })).toEqual(all);
    expect(reference({ scans: ['A', 'B', 'C'], nodules, candidates: marks, maxMarks: -1 }).fp).toBe(all.falsePositives);
    const ref = reference({ scans: ['A', 'B', 'C'], nodules, candidates: marks });
    expect([r.overLimit, r.detected, r.falsePositives]).toEqual([ref.overLimit, ref.detected, ref.fp]);
    expect(r.cpm).toBeCloseTo(ref.cpm!, 12);
  });
});

describe('froc: the scan list, several hits, no detection', () => {
  it('a listed scan without marks counts in the divisor and its nodules are misses', () => {
    const nodules = [n('A', 0, 0, 0, 10), n('Z', 0, 0, 0, 10)];
    const marks = [c('A', 0, 0, 0, 0.9), c('A', 50, 0, 0, 0.8), c('A', 60, 0, 0, 0.7)];
    const two = froc(marks, nodules, ['A', 'Z'], NO_BAND);
    // 2 FPs over 2 scans; sensitivity 1 of 2.
    expect(two.curve.map((p) => [p.fpsPerScan, p.sensitivity])).toEqual([
      [0, 0],
      [0, 0.5],
      [0.5, 0.5],
      [1, 0.5],
    ]);
    // A scan that failed to load is listed all the same: three scans, FPs/scan 2/3.
    const three = froc(marks, nodules, ['A', 'Z', 'FAILED'], NO_BAND);
    expect(three.scans).toBe(3);
    expect(three.curve[three.curve.length - 1].fpsPerScan).toBeCloseTo(2 / 3, 15);
    expect(three.sensitivities[0].sensitivity).toBe(0.5);
  });

  it('several hits on one nodule: the best probability, the rest ignored; a mark on two nodules serves both', () => {
    const nodules = [n('A', 0, 0, 0, 10), n('A', 6, 0, 0, 10)];
    const marks = [c('A', -1, 0, 0, 0.4), c('A', 3, 0, 0, 0.6), c('A', 0, 1, 0, 0.5), c('A', 9, 0, 0, 0.3)];
    // (3,0,0) hits both nodules; nodule 1 is hit by .4 .6 .5, nodule 2 by .6 .3.
    const r = froc(marks, nodules, ['A'], NO_BAND);
    expect(r).toMatchObject({ detected: 2, falsePositives: 0, duplicateHits: 3 });
    expect(r.curve.map((p) => [p.fpsPerScan, p.sensitivity, p.threshold])).toEqual([
      [0, 0, Infinity],
      [0, 1, 0.6],
    ]);
    expect(r.cpm).toBe(1);
    const ref = reference({ scans: ['A'], nodules, candidates: marks });
    expect([ref.detected, ref.duplicateHits, ref.cpm]).toEqual([2, 3, 1]);
  });

  it('no detection: the script gives NaN (sklearn tpr 0/0), the lab 0 with a warning saying so', () => {
    const nodules = [n('A', 0, 0, 0, 10)];
    const r = froc([c('A', 99, 0, 0, 0.9)], nodules, ['A']);
    expect(r.cpm).toBe(0);
    expect(r.warnings.join()).toMatch(/prints NaN/);
    expect(reference({ scans: ['A'], nodules, candidates: [c('A', 99, 0, 0, 0.9)] }).cpm).toBeNull(); // NaN
    const none = froc([], nodules, ['A']);
    expect(none.cpm).toBe(0);
    expect(none.warnings.join()).toMatch(/no marks.*ValueError/);
    expect(none.band!.cpm).toEqual({ mean: 0, lower: 0, upper: 0 });
  });
});

/** Seeded random submission: scans with nodules, excluded findings (some −1), marks around both, many random marks (> 100 on some scans), tied probabilities. */
function randomSubmission(seed: number, scanCount: number) {
  const rng = createRng(seed).fork('froc-random-submission');
  const scans = Array.from({ length: scanCount }, (_, i) => `1.3.6.1.4.1.14519.5.2.1.6279.6001.${seed}${100 + i}`);
  const nodules: Nodule[] = [];
  const excluded: Nodule[] = [];
  const candidates: ScoredCandidate[] = [];
  const around = (uid: string, centre: [number, number, number], d: number, k: number) => {
    for (let m = 0; m < k; m++) {
      const off = rng.uniform(0, 0.7) * Math.abs(d);
      const dir = [rng.normal(0, 1), rng.normal(0, 1), rng.normal(0, 1)];
      const len = Math.hypot(...dir);
      candidates.push({
        seriesUid: uid,
        xyz: [centre[0] + (dir[0] / len) * off, centre[1] + (dir[1] / len) * off, centre[2] + (dir[2] / len) * off],
        probability: Math.round(rng.uniform(0.2, 1) * 100) / 100,
      });
    }
  };
  const point = (): [number, number, number] => [rng.uniform(-150, 150), rng.uniform(-150, 150), rng.uniform(-300, 0)];
  for (const uid of scans) {
    for (let j = Math.floor(rng.uniform(0, 4)); j > 0; j--) {
      const centre = point();
      const d = rng.uniform(3, 30);
      nodules.push({ seriesUid: uid, xyz: centre, diameterMm: d });
      around(uid, centre, d, Math.floor(rng.uniform(0, 4)));
    }
    for (let j = Math.floor(rng.uniform(0, 6)); j > 0; j--) {
      const centre = point();
      const d = rng.chance(0.6) ? -1 : rng.uniform(3, 20);
      excluded.push({ seriesUid: uid, xyz: centre, diameterMm: d });
      around(uid, centre, d < 0 ? 10 : d, Math.floor(rng.uniform(0, 3)));
    }
    const many = rng.chance(0.4) ? Math.floor(rng.uniform(100, 160)) : Math.floor(rng.uniform(0, 80));
    for (let m = 0; m < many; m++)
      candidates.push({ seriesUid: uid, xyz: point(), probability: Math.round(rng.next() ** 3 * 100) / 100 });
  }
  return { scans, nodules, excluded, candidates };
}

describe('froc: seeded random submissions against the NumPy reference of the official rules', () => {
  for (const seed of [1, 2, 3]) {
    it(`seed ${seed}: 30 scans, > 100 marks on some, excluded findings; curve, CPM and the bootstrap band agree`, () => {
      const s = randomSubmission(seed, 30);
      const perScan = s.scans.map((uid) => s.candidates.filter((x) => x.seriesUid === uid).length);
      expect(Math.max(...perScan)).toBeGreaterThan(100);
      const scans = [...s.scans, `${s.scans[0]}.nomarks`]; // and a listed scan with no marks
      const r = froc(s.candidates, s.nodules, scans, { excluded: s.excluded, bootstrap: { seed } });
      expect(r.overLimit).toBeGreaterThan(0);
      expect(r.excludedMarks).toBeGreaterThan(0);
      expect(r.detected).toBeLessThan(r.nodules);
      const draws = bootstrapDraws(scans.length, 1000, seed);
      const ref = reference({ scans, nodules: s.nodules, candidates: s.candidates, excluded: s.excluded, draws });
      expect([r.detected, r.falsePositives, r.excludedMarks, r.overLimit, r.duplicateHits]).toEqual([
        ref.detected,
        ref.fp,
        ref.excludedMarks,
        ref.overLimit,
        ref.duplicateHits,
      ]);
      expect(r.curve.map((p) => p.fpsPerScan)).toEqual(ref.fps);
      expect(r.curve.map((p) => p.sensitivity)).toEqual(ref.sens);
      r.sensitivities.forEach((x, i) => expect(x.sensitivity).toBeCloseTo(ref.sensitivities[i]!, 12));
      expect(r.cpm).toBeCloseTo(ref.cpm!, 12);
      const band = r.band!;
      expect(band.samples).toBe(1000);
      band.sensitivities.forEach((b, i) => {
        expect(b.mean).toBeCloseTo(ref.band!.mean[i], 12);
        expect(b.lower).toBeCloseTo(ref.band!.lower[i], 12);
        expect(b.upper).toBeCloseTo(ref.band!.upper[i], 12);
        expect(b.lower).toBeLessThanOrEqual(b.upper);
      });
      expect(
        [band.cpm.mean, band.cpm.lower, band.cpm.upper]
          .map((v, i) => v - ref.band!.cpm[i])
          .every((d) => Math.abs(d) < 1e-12),
      ).toBe(true);
      expect(band.cpm.lower).toBeLessThan(r.cpm);
      expect(band.cpm.upper).toBeGreaterThan(r.cpm);
    }, 60_000);
  }

  it('the band is reproducible from its seed and moves with it', () => {
    const s = randomSubmission(4, 20);
    const a = froc(s.candidates, s.nodules, s.scans, { bootstrap: { seed: 7 } });
    const b = froc(s.candidates, s.nodules, s.scans, { bootstrap: { seed: 7 } });
    const other = froc(s.candidates, s.nodules, s.scans, { bootstrap: { seed: 8 } });
    expect(a.band).toEqual(b.band);
    expect(other.band!.cpm).not.toEqual(a.band!.cpm);
  });
});
