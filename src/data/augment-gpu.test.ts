import { describe, expect, it } from 'vitest';
import { applyTransform, augmentCrop, augmentTransform, IDENTITY_AFFINE, type AugmentConfig } from './augment.ts';
import {
  addCounterNoise,
  augmentReference,
  counterNormal,
  counterUniform,
  gpuAugmentParams,
  kernelParams,
  lowbias32,
  PARAMS_PER_SAMPLE,
} from './augment-gpu.ts';
import { batchesOf, type BatchCropSource, type SampleRef } from './batches.ts';
import type { CandidateInfo } from './luna-csv.ts';
import { createRng } from './rng.ts';

const BOOK: AugmentConfig = { flip: true, offset: 0.1, scale: 0.2, rotate: true, noise: 25 };
const SHAPE = [6, 10, 12] as const;
const VOX = 6 * 10 * 12;
const crop = (k: number) => {
  const r = createRng(`gpu-crop${k}`);
  return Int16Array.from({ length: VOX }, () => Math.round(r.next() * 2000 - 1000));
};

describe('the GPU path parameters', () => {
  it('draw each transform exactly as augmentCrop does, and a null seed is the identity without noise', () => {
    const p = gpuAugmentParams(BOOK, [7, null, 123456]);
    expect(p.transforms[0]).toEqual(augmentTransform(BOOK, createRng(7)));
    expect(p.transforms[1]).toEqual(IDENTITY_AFFINE);
    expect(p.transforms[2]).toEqual(augmentTransform(BOOK, createRng(123456)));
    expect([...p.noiseSd]).toEqual([25, 0, 25]);
    expect(p.keys[0]).not.toBe(p.keys[2]);
    expect(gpuAugmentParams({ ...BOOK, noise: 0 }, [7]).noiseSd[0]).toBe(0);
  });

  it('without noise, the reference is augmentCrop bit for bit', () => {
    const cfg = { ...BOOK, noise: 0 };
    const seeds = [3, 99, null, 2024];
    const crops = new Int16Array(seeds.length * VOX);
    seeds.forEach((_, k) => crops.set(crop(k), k * VOX));
    const got = augmentReference(crops, SHAPE, gpuAugmentParams(cfg, seeds));
    seeds.forEach((s, k) => {
      const want = s === null ? Float32Array.from(crop(k)) : augmentCrop(crop(k), SHAPE, cfg, s);
      expect(got.subarray(k * VOX, (k + 1) * VOX)).toEqual(want);
    });
  });

  it('map output voxels to source voxels as applyTransform does (the kernel reads these)', () => {
    const p = gpuAugmentParams(BOOK, [5, 6]);
    const k = kernelParams(p, SHAPE);
    expect(k.length).toBe(2 * PARAMS_PER_SAMPLE);
    // Sample a point through both: a one-hot crop resampled by applyTransform peaks where the
    // kernel's affine map sends the output voxel, so compare the maps on voxel centres directly.
    const [D, H, W] = SHAPE;
    const t = p.transforms[0];
    for (const [i, r, c] of [
      [0, 0, 0],
      [2, 5, 7],
      [5, 9, 11],
    ]) {
      const pn = [(2 * c + 1) / W - 1, (2 * r + 1) / H - 1, (2 * i + 1) / D - 1];
      const sizes = [W, H, D];
      for (let a = 0; a < 3; a++) {
        const g = t[a][0] * pn[0] + t[a][1] * pn[1] + t[a][2] * pn[2] + t[a][3];
        const want = ((g + 1) * sizes[a] - 1) / 2;
        const got = k[a * 4 + 3] + k[a * 4] * c + k[a * 4 + 1] * r + k[a * 4 + 2] * i;
        expect(got).toBeCloseTo(want, 4);
      }
    }
    expect([...kernelParams(gpuAugmentParams(BOOK, [null]), SHAPE).subarray(0, 12)]).toEqual([
      1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0,
    ]);
    expect(k[12]).toBe(25);
    expect(k[13] + k[14] * 65536).toBe(p.keys[0]);
  });
});

describe('the counter-based noise', () => {
  it('is exact integer hashing: known values, a pure function of (key, counter)', () => {
    expect(lowbias32(0)).toBe(0);
    expect(lowbias32(1)).toBe(lowbias32(1));
    expect(lowbias32(1)).not.toBe(lowbias32(2));
    const u = counterUniform(0xdeadbeef, 12345);
    expect(u).toBeGreaterThanOrEqual(0);
    expect(u).toBeLessThan(1);
    expect(u * 16777216).toBe(Math.floor(u * 16777216)); // 24 bits: exact in f32
    expect(counterNormal(17, 3)).toBe(counterNormal(17, 3));
  });

  it('is N(0, 1): mean, variance, tails and no correlation between neighbours or keys', () => {
    const n = 200_000;
    let s = 0;
    let s2 = 0;
    let tail = 0;
    let cross = 0;
    let lag = 0;
    let prev = 0;
    for (let v = 0; v < n; v++) {
      const z = counterNormal(99, v);
      s += z;
      s2 += z * z;
      if (Math.abs(z) > 1.96) tail++;
      cross += z * counterNormal(100, v);
      if (v) lag += z * prev;
      prev = z;
    }
    expect(Math.abs(s / n)).toBeLessThan(0.01);
    expect(Math.abs(s2 / n - 1)).toBeLessThan(0.01);
    expect(Math.abs(tail / n - 0.05)).toBeLessThan(0.003);
    expect(Math.abs(cross / n)).toBeLessThan(0.01);
    expect(Math.abs(lag / n)).toBeLessThan(0.01);
  });

  it('adds sd · N(0, 1) per voxel, and nothing at sd 0', () => {
    const a = new Float32Array(1000).fill(10);
    addCounterNoise(a, 25, 5);
    expect(a[7]).toBeCloseTo(10 + 25 * counterNormal(5, 7), 3);
    expect([...addCounterNoise(new Float32Array(4).fill(3), 0, 5)]).toEqual([3, 3, 3, 3]);
  });
});

describe('batchesOf with augment.device = gpu', () => {
  const source: BatchCropSource = { crop: SHAPE, get: async (c: CandidateInfo) => crop(c.xyz[0]) };
  const samples: SampleRef[] = Array.from({ length: 5 }, (_, i) => ({
    candidate: { seriesUid: 's', xyz: [i, 0, 0], isNodule: false, diameterMm: 0 },
    label: 0,
    ...(i === 2 ? {} : { augmentSeed: 500 + i }),
  }));

  it('ships raw crops and the parameters; augmenting them gives the reference', async () => {
    const batches = [];
    for await (const b of batchesOf(samples, 3, source, { ...BOOK, device: 'gpu' })) batches.push(b);
    expect(batches.map((b) => b.n)).toEqual([3, 2]);
    const b = batches[0];
    expect(b.x.subarray(0, VOX)).toEqual(Float32Array.from(crop(0))); // not augmented yet
    expect(b.gpuAugment).toEqual(gpuAugmentParams(BOOK, [500, 501, null]));
    const x = augmentReference(b.x, SHAPE, b.gpuAugment!);
    const t = augmentTransform(BOOK, createRng(500));
    const want = applyTransform(crop(0), SHAPE, t);
    addCounterNoise(want, 25, b.gpuAugment!.keys[0]);
    expect(x.subarray(0, VOX)).toEqual(want);
  });

  it('leaves the cpu path and validation batches as they were', async () => {
    for await (const b of batchesOf(samples, 3, source, { ...BOOK, device: 'cpu' }))
      expect(b.gpuAugment).toBeUndefined();
    for await (const b of batchesOf(samples, 3, source, null)) expect(b.gpuAugment).toBeUndefined();
  });
});
