import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  addNoise,
  applyTransform,
  augmentCrop,
  augmentTransform,
  IDENTITY_AFFINE,
  isIdentityAffine,
  type Affine3x4,
  type AugmentConfig,
} from './augment.ts';
import { cropWindow, extractCrop, type CropSize } from './crop.ts';
import { xyzToIrc } from './geometry.ts';
import { createRng, type Rng } from './rng.ts';
import { generateScan } from './synthetic.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const PYTHON = join(ROOT, '.venv/bin/python');
const REFERENCE = join(ROOT, 'src/data/augment_reference.py');

const BOOK: AugmentConfig = { flip: true, offset: 0.1, scale: 0.2, rotate: true, noise: 25 };
const OFF: AugmentConfig = { flip: false, offset: 0, scale: 0, rotate: false, noise: 0 };

const tmp = mkdtempSync(join(tmpdir(), 'augment-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let specCount = 0;

interface ReferenceResult {
  torch: string;
  transforms?: number[][];
  unused?: number[];
}

/** Run src/data/augment_reference.py (PyTorch) on a spec; fails loudly without the venv. */
function runReference(spec: Record<string, unknown>): ReferenceResult {
  if (!existsSync(PYTHON)) {
    throw new Error(
      `${PYTHON} is missing: run .ci/setup-venv to create the Python venv (PyTorch) the parity tests use`,
    );
  }
  const specPath = join(tmp, `spec-${++specCount}.json`);
  writeFileSync(specPath, JSON.stringify(spec));
  const r = spawnSync(PYTHON, [REFERENCE, specPath], { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) {
    throw new Error(
      `augment_reference.py failed (status ${r.status}; run .ci/setup-venv if torch is missing):\n${r.stderr || r.error?.message}`,
    );
  }
  return JSON.parse(r.stdout) as ReferenceResult;
}

/** PyTorch's affine_grid + grid_sample of `crop` with each matrix, as float64 arrays. */
function torchResample(
  crop: Float32Array,
  shape: CropSize,
  mats: Affine3x4[],
  dtype: 'float32' | 'float64',
): Float64Array[] {
  const input = join(tmp, `in-${dtype}-${shape.join('x')}.f32`);
  const output = join(tmp, `out-${dtype}-${shape.join('x')}.f64`);
  writeFileSync(input, new Uint8Array(crop.buffer, crop.byteOffset, crop.byteLength));
  runReference({ resample: { shape, input, output, dtype, matrices: mats.map((m) => m.flat()) } });
  const buf = readFileSync(output);
  const all = new Float64Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  const n = shape[0] * shape[1] * shape[2];
  return mats.map((_, k) => all.subarray(k * n, (k + 1) * n));
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** An Rng whose next() replays fixed draws (for matching the book's draw order). */
function replay(draws: number[]): Rng & { used: () => number } {
  let k = 0;
  const base = createRng(0);
  return Object.assign(Object.create(base) as Rng, {
    next: () => {
      if (k >= draws.length) throw new Error('ran out of draws');
      return draws[k++];
    },
    used: () => k,
  });
}

function randomHuCrop(shape: CropSize, seed: number): Float32Array {
  const rng = createRng(seed);
  const out = new Float32Array(shape[0] * shape[1] * shape[2]);
  for (let i = 0; i < out.length; i++) out[i] = Math.round(rng.uniform(-1000, 1000)) + 0; // no -0
  return out;
}

/** A 32x48x48 crop around a nodule of a synthetic chest CT (lung, vessels, nodule, noise). */
function syntheticNoduleCrop(): Float32Array {
  const scan = generateScan({ size: 'small', seed: 'augment-parity', index: 0 });
  const nodule = scan.nodules[0];
  const g = { origin: scan.origin, spacing: scan.spacing, direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] as const };
  const irc = xyzToIrc(nodule.xyz, g);
  const win = cropWindow(irc, scan.shape, [32, 48, 48]);
  return Float32Array.from(extractCrop(scan.data, scan.shape, win));
}

/** Marked voxel helper: a zero crop with one voxel set. */
function marked(shape: CropSize, at: [number, number, number], v = 1000): Float32Array {
  const out = new Float32Array(shape[0] * shape[1] * shape[2]);
  out[(at[0] * shape[1] + at[1]) * shape[2] + at[2]] = v;
  return out;
}

function argmax(a: ArrayLike<number>, shape: CropSize): [number, number, number] {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
  const [, h, w] = shape;
  return [Math.floor(best / (h * w)), Math.floor(best / w) % h, best % w];
}

function at(a: ArrayLike<number>, shape: CropSize, i: number, r: number, c: number): number {
  return a[(i * shape[1] + r) * shape[2] + c];
}

describe('augmentTransform', () => {
  it("draws in the book's order and builds the book's matrix (PyTorch, the book's code verbatim)", () => {
    const configs: AugmentConfig[] = [
      BOOK,
      { ...BOOK, flip: false },
      { ...BOOK, rotate: false },
      { ...BOOK, offset: 0, scale: 0.35 },
      { ...OFF, flip: true },
      OFF,
    ];
    const cases: { draws: number[]; aug: AugmentConfig }[] = [];
    const rng = createRng('draws');
    for (const aug of configs) {
      for (let k = 0; k < 6; k++) cases.push({ draws: Array.from({ length: 10 }, () => rng.next()), aug });
    }
    const ours = cases.map(({ draws, aug }) => {
      const r = replay(draws);
      return { m: augmentTransform(aug, r), used: r.used() };
    });
    const ref = runReference({ transforms: cases });
    expect(ref.transforms).toHaveLength(cases.length);
    for (let k = 0; k < cases.length; k++) {
      // The book's float32 matrix vs our float64 one.
      expect(maxAbsDiff(ours[k].m.flat(), ref.transforms![k])).toBeLessThan(1e-6);
      expect(ours[k].used + ref.unused![k]).toBe(10); // same number of draws consumed
    }
    expect(ours[0].used).toBe(10); // 3 × (flip, offset, scale) + 1 angle
  });

  it('is the identity with everything off, and draws nothing', () => {
    const r = replay([]);
    expect(augmentTransform(OFF, r)).toEqual(IDENTITY_AFFINE);
    expect(r.used()).toBe(0);
    expect(isIdentityAffine(augmentTransform({ ...OFF, noise: 25 }, createRng(1)))).toBe(true);
  });
});

describe('applyTransform parity with PyTorch affine_grid + grid_sample', () => {
  const mats: Affine3x4[] = [
    IDENTITY_AFFINE,
    [
      [-1, 0, 0, 0],
      [0, -1, 0, 0],
      [0, 0, -1, 0],
    ],
    [
      [1, 0, 0, 0.1],
      [0, 1, 0, -0.07],
      [0, 0, 1, 0.033],
    ],
    [
      [1.2, 0, 0, 0],
      [0, 0.8, 0, 0],
      [0, 0, 1.13, 0],
    ],
    [
      [0, -1, 0, 0],
      [1, 0, 0, 0],
      [0, 0, 1, 0],
    ], // 90° about z
    [
      [1, 0, 0, 0.9],
      [0, -1, 0, -1.4],
      [0, 0, 1, 1.6],
    ], // far outside: border padding
    [
      [0.7, 0.4, 0.1, 0.05],
      [-0.3, 1.1, 0.2, -0.1],
      [0.15, -0.2, 0.9, 0.2],
    ], // general affine
  ];
  for (let seed = 1; mats.length < 7 + 12; seed++) mats.push(augmentTransform(BOOK, createRng(seed)));

  const crops: { name: string; shape: CropSize; data: Float32Array }[] = [
    { name: 'random HU 32x48x48', shape: [32, 48, 48], data: randomHuCrop([32, 48, 48], 1) },
    { name: 'random HU 7x9x11 (non-cubic)', shape: [7, 9, 11], data: randomHuCrop([7, 9, 11], 2) },
    { name: 'synthetic nodule crop 32x48x48', shape: [32, 48, 48], data: syntheticNoduleCrop() },
  ];

  for (const { name, shape, data } of crops) {
    it(`${name}: ≤ 1e-3 HU from PyTorch float64, float32 only by its own rounding`, () => {
      const ref32 = torchResample(data, shape, mats, 'float32');
      const ref64 = torchResample(data, shape, mats, 'float64');
      let worst32 = 0;
      let worst64 = 0;
      let torchOwn = 0;
      for (let k = 0; k < mats.length; k++) {
        const ours = applyTransform(data, shape, mats[k]);
        worst32 = Math.max(worst32, maxAbsDiff(ours, ref32[k]));
        worst64 = Math.max(worst64, maxAbsDiff(ours, ref64[k]));
        torchOwn = Math.max(torchOwn, maxAbsDiff(ref32[k], ref64[k]));
      }
      console.info(
        `parity ${name}: max |ours − torch float64| ${worst64.toExponential(2)} HU, ` +
          `|ours − torch float32| ${worst32.toExponential(2)} HU, |torch float32 − torch float64| ${torchOwn.toExponential(2)} HU`,
      );
      // Against PyTorch in float64 the only difference left is our float32 output rounding.
      expect(worst64).toBeLessThanOrEqual(1e-3);
      // PyTorch in float32 (the book's dtype) rounds its sampling coordinates to float32: with
      // neighbours ~2000 HU apart, ~3e-6 voxel is ~1e-2 HU. We keep float64 coordinates, so we
      // may differ from it by its own rounding error, and no more.
      expect(worst32).toBeLessThanOrEqual(torchOwn + 1e-3);
    });
  }

  it('takes int16 crops as they come from extractCrop', () => {
    const f = randomHuCrop([8, 10, 12], 5);
    const i16 = Int16Array.from(f);
    const m = augmentTransform(BOOK, createRng(3));
    expect(applyTransform(i16, [8, 10, 12], m)).toEqual(applyTransform(f, [8, 10, 12], m));
    expect(() => applyTransform(f, [8, 10, 13], m)).toThrow(/voxels/);
  });
});

describe('applyTransform geometry', () => {
  const shape: CropSize = [16, 20, 40];
  const [D, H, W] = shape;

  it('a flip moves a marked voxel to the mirrored place on that axis', () => {
    const src = marked(shape, [3, 5, 7]);
    expect(
      argmax(
        applyTransform(src, shape, [
          [-1, 0, 0, 0],
          [0, 1, 0, 0],
          [0, 0, 1, 0],
        ]),
        shape,
      ),
    ).toEqual([3, 5, W - 1 - 7]);
    expect(
      argmax(
        applyTransform(src, shape, [
          [1, 0, 0, 0],
          [0, -1, 0, 0],
          [0, 0, 1, 0],
        ]),
        shape,
      ),
    ).toEqual([3, H - 1 - 5, 7]);
    expect(
      argmax(
        applyTransform(src, shape, [
          [1, 0, 0, 0],
          [0, 1, 0, 0],
          [0, 0, -1, 0],
        ]),
        shape,
      ),
    ).toEqual([D - 1 - 3, 5, 7]);
    const flipped = applyTransform(src, shape, [
      [-1, 0, 0, 0],
      [0, 1, 0, 0],
      [0, 0, 1, 0],
    ]);
    expect(at(flipped, shape, 3, 5, W - 1 - 7)).toBe(1000); // exact, no blur
  });

  it('an offset of 0.1 shifts by 5% of the axis (sampling from +offset)', () => {
    const src = marked(shape, [8, 10, 20]);
    // x: 0.1 · 40 / 2 = 2 voxels; the output at c reads the input at c + 2.
    expect(
      argmax(
        applyTransform(src, shape, [
          [1, 0, 0, 0.1],
          [0, 1, 0, 0],
          [0, 0, 1, 0],
        ]),
        shape,
      ),
    ).toEqual([8, 10, 18]);
    // y: 0.2 · 20 / 2 = 2; z: -0.25 · 16 / 2 = -2.
    expect(
      argmax(
        applyTransform(src, shape, [
          [1, 0, 0, 0],
          [0, 1, 0, 0.2],
          [0, 0, 1, -0.25],
        ]),
        shape,
      ),
    ).toEqual([10, 8, 20]);
    // Half a voxel: the mark is shared equally by two neighbours.
    const half = applyTransform(src, shape, [
      [1, 0, 0, 0.025],
      [0, 1, 0, 0],
      [0, 0, 1, 0],
    ]);
    expect(at(half, shape, 8, 10, 19)).toBeCloseTo(500, 9);
    expect(at(half, shape, 8, 10, 20)).toBeCloseTo(500, 9);
  });

  it('scales about the centre by the diagonal factor', () => {
    // A ramp along x (value = column): output = (W-1)/2 + s·(c − (W-1)/2) for s < 1.
    const ramp = new Float32Array(D * H * W).map((_, k) => k % W);
    for (const s of [0.8, 0.5]) {
      const out = applyTransform(ramp, shape, [
        [s, 0, 0, 0],
        [0, 1, 0, 0],
        [0, 0, 1, 0],
      ]);
      for (const c of [0, 7, 19, 33, 39])
        expect(at(out, shape, 4, 4, c)).toBeCloseTo((W - 1) / 2 + s * (c - (W - 1) / 2), 4);
    }
  });

  it('a 90° rotation maps the axial (x/y) plane: output(r, c) = input(c, N−1−r)', () => {
    const sq: CropSize = [6, 24, 24];
    const N = 24;
    const m = augmentTransform({ ...OFF, rotate: true }, replay([0.25])); // angle = π/2
    expect(m[0][0]).toBeCloseTo(0, 12);
    expect(m[0][1]).toBeCloseTo(-1, 12);
    const src = marked(sq, [2, 3, 17]);
    const out = applyTransform(src, sq, m);
    expect(argmax(out, sq)).toEqual([2, N - 1 - 17, 3]);
    expect(at(out, sq, 2, N - 1 - 17, 3)).toBeCloseTo(1000, 6);
    // Every voxel, on random data.
    const data = randomHuCrop(sq, 8);
    const rot = applyTransform(data, sq, m);
    let worst = 0;
    for (let i = 0; i < 6; i++)
      for (let r = 0; r < N; r++)
        for (let c = 0; c < N; c++)
          worst = Math.max(worst, Math.abs(at(rot, sq, i, r, c) - at(data, sq, i, c, N - 1 - r)));
    expect(worst).toBeLessThan(1e-6);
  });

  it('border padding repeats the edge values', () => {
    const data = randomHuCrop(shape, 4);
    // Shift by 3/4 of the width to the right: columns past the edge read column W-1.
    const right = applyTransform(data, shape, [
      [1, 0, 0, 1.5],
      [0, 1, 0, 0],
      [0, 0, 1, 0],
    ]);
    const left = applyTransform(data, shape, [
      [1, 0, 0, -1.5],
      [0, 1, 0, 0],
      [0, 0, 1, 0],
    ]);
    for (let i = 0; i < D; i++) {
      for (let r = 0; r < H; r++) {
        for (let c = W / 4; c < W; c++) expect(at(right, shape, i, r, c)).toBe(at(data, shape, i, r, W - 1));
        for (let c = 0; c < (3 * W) / 4; c++) expect(at(left, shape, i, r, c)).toBe(at(data, shape, i, r, 0));
      }
    }
    // Shrinking (scale 3) samples far outside on every side: each output is an edge value.
    const big = applyTransform(data, shape, [
      [3, 0, 0, 0],
      [0, 3, 0, 0],
      [0, 0, 3, 0],
    ]);
    expect(at(big, shape, 0, 0, 0)).toBe(at(data, shape, 0, 0, 0));
    expect(at(big, shape, D - 1, H - 1, W - 1)).toBe(at(data, shape, D - 1, H - 1, W - 1));
  });
});

describe('noise and augmentCrop', () => {
  const shape: CropSize = [32, 48, 48];
  const flat = new Float32Array(32 * 48 * 48).fill(-700);

  it('adds Gaussian noise of the configured standard deviation, reproducibly for a seed', () => {
    const a = augmentCrop(flat, shape, { ...OFF, noise: 25 }, 42);
    const b = augmentCrop(flat, shape, { ...OFF, noise: 25 }, 42);
    const c = augmentCrop(flat, shape, { ...OFF, noise: 25 }, 43);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    let sum = 0;
    let sq = 0;
    let within = 0;
    for (const v of a) {
      const d = v + 700;
      sum += d;
      sq += d * d;
      if (Math.abs(d) <= 25) within++;
    }
    const mean = sum / a.length;
    const sd = Math.sqrt(sq / a.length - mean * mean);
    expect(Math.abs(mean)).toBeLessThan(0.5); // SE ≈ 0.09
    expect(Math.abs(sd - 25)).toBeLessThan(0.5); // SE ≈ 0.07
    expect(within / a.length).toBeCloseTo(0.6827, 2); // Gaussian, not uniform
    // The noise stream is its own: a flip (a no-op on a flat crop) leaves the noise unchanged.
    expect(augmentCrop(flat, shape, { ...OFF, flip: true, noise: 25 }, 42)).toEqual(a);
  });

  it('addNoise handles odd lengths and sd 0 is a no-op', () => {
    const odd = new Float32Array(7);
    addNoise(odd, 10, createRng(1));
    expect(odd.every((v) => v !== 0)).toBe(true);
    const z = new Float32Array(8).fill(3);
    addNoise(z, 0, createRng(1));
    expect([...z]).toEqual(new Array(8).fill(3));
  });

  it('with every augmentation off returns the crop unchanged, as a new float array', () => {
    const i16 = Int16Array.from(randomHuCrop(shape, 9));
    const out = augmentCrop(i16, shape, OFF, 5);
    expect(out).toBeInstanceOf(Float32Array);
    expect([...out]).toEqual([...i16]);
    const f = Float32Array.from(i16);
    const out2 = augmentCrop(f, shape, OFF, 5);
    expect(out2).not.toBe(f);
    expect(out2).toEqual(f);
  });

  it("is the book's pipeline: transform from the seed's stream, then noise; input untouched", () => {
    const crop = syntheticNoduleCrop();
    const copy = crop.slice();
    const a = augmentCrop(crop, shape, BOOK, 1234);
    expect(crop).toEqual(copy);
    expect(augmentCrop(crop, shape, BOOK, 1234)).toEqual(a);
    expect(augmentCrop(crop, shape, BOOK, 1235)).not.toEqual(a);
    const t = augmentTransform(BOOK, createRng(1234));
    const noNoise = applyTransform(crop, shape, t);
    expect(augmentCrop(crop, shape, { ...BOOK, noise: 0 }, 1234)).toEqual(noNoise);
    const expected = addNoise(noNoise.slice(), 25, createRng(1234).fork('noise'));
    expect(a).toEqual(expected);
  });

  it('takes a few ms per 32x48x48 crop (full book augmentation)', () => {
    const crop = Int16Array.from(syntheticNoduleCrop());
    for (let k = 0; k < 10; k++) augmentCrop(crop, shape, BOOK, k + 1); // warm up the JIT
    const n = 50;
    const t0 = performance.now();
    for (let k = 0; k < n; k++) augmentCrop(crop, shape, BOOK, 100 + k);
    const ms = (performance.now() - t0) / n;
    const t1 = performance.now();
    for (let k = 0; k < n; k++) applyTransform(crop, shape, augmentTransform(BOOK, createRng(k + 1)));
    const msResample = (performance.now() - t1) / n;
    console.info(`augmentCrop 32x48x48: ${ms.toFixed(2)} ms per crop (resampling alone ${msResample.toFixed(2)} ms)`);
    expect(ms).toBeLessThan(50); // generous: shared CI machines; the point is "not seconds"
  });
});
