/**
 * The one evaluation job over in-memory volumes and a fake classifier: its FROC is exactly
 * froc.ts's on its own predictions, each probability is the classifier's on the crop
 * src/data/crop.ts cuts, and neither depends on the batch size or on whether the scans come
 * as a list or a stream. Candidates outside their scan are left out with the shared warning.
 */
import { describe, expect, it } from 'vitest';
import { cropWindow, extractCrop, type CropSize } from '../data/crop.ts';
import { VolumeCropSource } from '../data/crop-source.ts';
import { outsideWarning } from '../data/candidate-selection.ts';
import { xyzToIrc } from '../data/geometry.ts';
import { createRng } from '../data/rng.ts';
import { clampHu, IDENTITY, type Volume } from '../data/volume.ts';
import { evaluate, EVAL_BATCH, type EvalCandidate, type EvaluateProgress } from './evaluate.ts';
import { froc, type Nodule } from './froc.ts';

const CROP: CropSize = [4, 6, 6];
const VOX = CROP[0] * CROP[1] * CROP[2];

/** A noisy scan (HU beyond the clamp range too) with bright balls at its nodules. */
function volume(seriesUid: string, seed: number, nodules: readonly Nodule[]): Volume {
  const shape = [12, 20, 24] as const;
  const rng = createRng(seed);
  const data = new Float32Array(shape[0] * shape[1] * shape[2]);
  for (let i = 0; i < data.length; i++) data[i] = -1200 + 1400 * rng.next();
  const v: Volume = {
    seriesUid,
    format: 'metaimage',
    shape,
    spacing: [0.8, 0.8, 2],
    origin: [-10, -8, 4],
    direction: IDENTITY,
    data,
    files: [],
    warnings: [],
  };
  for (const n of nodules.filter((m) => m.seriesUid === seriesUid)) {
    const [ci, cr, cc] = xyzToIrc(n.xyz, v);
    for (let i = ci - 1; i <= ci + 1; i++)
      for (let r = cr - 2; r <= cr + 2; r++)
        for (let c = cc - 2; c <= cc + 2; c++) data[(i * shape[1] + r) * shape[2] + c] = 1500;
  }
  return v;
}

/** p(nodule) from a crop's mean HU: deterministic, varied, higher on the bright balls. */
function pOf(crop: ArrayLike<number>, from = 0): number {
  let s = 0;
  for (let i = 0; i < VOX; i++) s += crop[from + i];
  return 1 / (1 + Math.exp(-(s / VOX + 300) / 60));
}

const fakeClassifier = (calls: number[]) => async (x: Float32Array, n: number) => {
  calls.push(n);
  expect(x.length).toBe(n * VOX);
  return Array.from({ length: n }, (_, i) => pOf(x, i * VOX));
};

const nodules: Nodule[] = [
  { seriesUid: 'A', xyz: [0, 0, 12], diameterMm: 6 },
  { seriesUid: 'A', xyz: [5, 4, 20], diameterMm: 5 },
  { seriesUid: 'B', xyz: [-2, 2, 10], diameterMm: 8 },
  { seriesUid: 'C', xyz: [0, 0, 12], diameterMm: 6 }, // a scan not evaluated
];
const volumes = [volume('A', 1, nodules), volume('B', 2, nodules), volume('C', 3, nodules)];

function candidates(): EvalCandidate[] {
  const rng = createRng(9);
  const out: EvalCandidate[] = [];
  for (const n of nodules.slice(0, 3))
    out.push({ seriesUid: n.seriesUid, xyz: [n.xyz[0] + 0.5, n.xyz[1], n.xyz[2]], isNodule: true });
  for (let k = 0; k < 37; k++) {
    const uid = ['A', 'B'][k % 2];
    out.push({
      seriesUid: uid,
      xyz: [-9 + 17 * rng.next(), -7 + 14 * rng.next(), 5 + 20 * rng.next()],
      isNodule: false,
    });
  }
  out.push({ seriesUid: 'A', xyz: [100, 0, 10], isNodule: false }); // outside A
  out.push({ seriesUid: 'B', xyz: [0, 0, -40], isNodule: false }); // outside B
  out.push({ seriesUid: 'C', xyz: [0, 0, 12], isNodule: true }); // C is not listed
  return out;
}

describe('evaluate', () => {
  it("gives froc.ts's FROC of its own predictions, each the classifier's p on crop.ts's crop", async () => {
    const list = candidates();
    const calls: number[] = [];
    const progress: EvaluateProgress[] = [];
    const r = await evaluate({
      source: new VolumeCropSource(volumes),
      series: ['A', 'B'],
      candidates: list,
      annotations: nodules,
      classify: fakeClassifier(calls),
      crop: CROP,
      progress: (p) => progress.push(p),
    });
    expect(r.scans).toEqual(['A', 'B']);
    expect(r.outside).toBe(2);
    expect(r.warnings).toEqual([outsideWarning(2)]);
    // In the caller's order, the outside ones and C's left out.
    const kept = list.slice(0, 40);
    expect(r.predictions.map((p) => [p.seriesUid, p.xyz, p.isNodule])).toEqual(
      kept.map((c) => [c.seriesUid, c.xyz, c.isNodule]),
    );
    for (const p of r.predictions) {
      const v = volumes.find((w) => w.seriesUid === p.seriesUid)!;
      const crop = extractCrop(clampHu(v.data), v.shape, cropWindow(xyzToIrc(p.xyz, v), v.shape, CROP));
      expect(p.probability).toBe(pOf(crop));
    }
    expect(r.froc).toEqual(froc(r.predictions, nodules, ['A', 'B']));
    expect(r.froc).toMatchObject({ scans: 2, nodules: 3, candidates: 40, detected: 3 });
    expect(r.froc.cpm).toBeGreaterThan(0);
    const spread =
      Math.max(...r.predictions.map((p) => p.probability)) - Math.min(...r.predictions.map((p) => p.probability));
    expect(spread).toBeGreaterThan(0.1);
    // Batches of EVAL_BATCH within a scan: A has 21 inside, B 19.
    expect(EVAL_BATCH).toBe(16);
    expect(calls).toEqual([16, 5, 16, 3]);
    expect(progress.map((p) => [p.seriesUid, p.seriesDone, p.seriesTotal, p.done, p.total])).toEqual([
      ['A', 16, 21, 16, 42],
      ['A', 21, 21, 21, 42],
      ['B', 16, 19, 37, 42],
      ['B', 19, 19, 40, 42],
    ]);
    expect(r.scoreSeconds).toBeGreaterThan(0);
  });

  it('does not depend on the batch size or on the scans coming as a stream', async () => {
    const list = candidates();
    const base = await evaluate({
      source: new VolumeCropSource(volumes),
      series: ['A', 'B'],
      candidates: list,
      annotations: nodules,
      classify: fakeClassifier([]),
      crop: CROP,
    });
    for (const batch of [1, 3, 64]) {
      // A stream holding one volume at a time, as the CLI reads a folder.
      const source = new VolumeCropSource();
      async function* stream() {
        for (const v of volumes.slice(0, 2)) {
          source.clear();
          source.add(v);
          yield v.seriesUid;
        }
      }
      const calls: number[] = [];
      const progress: EvaluateProgress[] = [];
      const r = await evaluate({
        source,
        series: stream(),
        candidates: list,
        annotations: nodules,
        classify: fakeClassifier(calls),
        crop: CROP,
        batch,
        progress: (p) => progress.push(p),
      });
      expect(r.predictions).toEqual(base.predictions);
      expect(r.froc).toEqual(base.froc);
      expect(Math.max(...calls)).toBeLessThanOrEqual(batch);
      expect(progress.every((p) => p.total === null)).toBe(true);
    }
  });

  it('reports a scan without candidates once, and rejects a scan the source lacks', async () => {
    const progress: EvaluateProgress[] = [];
    const only = candidates().filter((c) => c.seriesUid === 'A');
    const r = await evaluate({
      source: new VolumeCropSource(volumes),
      series: ['A', 'B', 'A'],
      candidates: only,
      annotations: nodules,
      classify: fakeClassifier([]),
      crop: CROP,
      progress: (p) => progress.push(p),
    });
    expect(r.scans).toEqual(['A', 'B']);
    expect(progress.filter((p) => p.seriesUid === 'B')).toEqual([
      { done: 21, total: 22, seriesUid: 'B', seriesDone: 0, seriesTotal: 0 },
    ]);
    // B counts as a scan (its nodule missed, its false positives per scan halved), as froc.ts counts it.
    expect(r.froc).toEqual(froc(r.predictions, nodules, ['A', 'B']));
    expect(r.froc).toMatchObject({ scans: 2, nodules: 3, candidates: 21 });

    await expect(
      evaluate({
        source: new VolumeCropSource(volumes.slice(0, 1)),
        series: ['A', 'B'],
        candidates: only,
        annotations: nodules,
        classify: fakeClassifier([]),
        crop: CROP,
      }),
    ).rejects.toThrow(/series B is not loaded/);
  });

  it('divides by the scan list: a listed scan never scored (failed to load) counts with no marks; excluded findings reach froc', async () => {
    const list = candidates();
    const excluded = [{ seriesUid: 'A', xyz: list[0].xyz, diameterMm: -1 }];
    const r = await evaluate({
      source: new VolumeCropSource(volumes),
      series: ['A'],
      scanList: ['A', 'B', 'FAILED'],
      candidates: list,
      annotations: nodules,
      froc: { excluded, bootstrap: false },
      classify: fakeClassifier([]),
      crop: CROP,
    });
    expect(r.scans).toEqual(['A']);
    expect(r.unscored).toEqual(['B', 'FAILED']);
    expect(r.froc).toEqual(froc(r.predictions, nodules, ['A', 'B', 'FAILED'], { excluded, bootstrap: false }));
    expect(r.froc.scans).toBe(3);
    expect(r.froc.band).toBeNull();
  });
});
