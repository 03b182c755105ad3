/**
 * The GPU path's augmentation kernel (src/model/kernels/augment-affine.ts) in Node on Dawn
 * against the CPU augmentation of src/data/augment.ts: the same transforms (drawn from the same
 * seeds) resampled on the device within 1e-4 of max |reference| (the HU scale, ~1000), with and
 * without noise, on several seeds, shapes and settings, border padding included. Skips with the
 * reason where Dawn or a Vulkan ICD is missing (see kernels-dawn.test.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, test } from 'vitest';
import { defaultIcd, installDawn, releaseDawn } from './dawn.ts';
import { selectBackend } from '../model/backend.ts';
import { augmentCrop, type AugmentConfig } from '../data/augment.ts';
import { augmentReference, gpuAugmentParams } from '../data/augment-gpu.ts';
import type { CropSize } from '../data/crop.ts';
import { createRng } from '../data/rng.ts';
import { augmentOnDevice } from '../model/kernels/augment-affine.ts';
import { injectShaderFault } from '../model/kernels/program-util.ts';
import { GpuErrorGuard } from '../model/kernels/gpu-errors.ts';

if (!process.env.VK_ICD_FILENAMES) {
  const icd = defaultIcd();
  if (icd) process.env.VK_ICD_FILENAMES = icd;
}
const dawn = await installDawn();
const skip = dawn.available ? '' : ` — skipped: ${dawn.reason}`;
const TOL = 1e-4;

const BOOK: AugmentConfig = { flip: true, offset: 0.1, scale: 0.2, rotate: true, noise: 25 };

/** A smooth blob plus speckle, clamped like the cache's HU: gradients and edges to resample. */
function crops(n: number, [D, H, W]: CropSize, seed: number): Int16Array {
  const r = createRng(seed).fork('crops');
  const out = new Int16Array(n * D * H * W);
  let o = 0;
  for (let k = 0; k < n; k++)
    for (let i = 0; i < D; i++)
      for (let y = 0; y < H; y++)
        for (let x = 0; x < W; x++, o++) {
          const d2 = ((i - D / 2) / D) ** 2 + ((y - H / 3) / H) ** 2 + ((x - W / 2) / W) ** 2;
          const v = 1800 * Math.exp(-12 * d2) - 900 + 300 * (r.next() - 0.5);
          out[o] = Math.max(-1000, Math.min(1000, Math.round(v)));
        }
  return out;
}

async function onDevice(raw: Int16Array, shape: CropSize, cfg: AugmentConfig, seeds: (number | null)[]) {
  const t = augmentOnDevice(Float32Array.from(raw), shape, gpuAugmentParams(cfg, seeds));
  const got = (await t.data()) as Float32Array;
  t.dispose();
  return got;
}

function rel(got: Float32Array, want: Float32Array): { err: number; max: number } {
  let err = 0;
  let max = 0;
  for (let i = 0; i < want.length; i++) {
    err = Math.max(err, Math.abs(got[i] - want[i]));
    max = Math.max(max, Math.abs(want[i]));
  }
  return { err: err / max, max };
}

const CASES: { name: string; shape: CropSize; cfg: AugmentConfig }[] = [
  { name: "the book's settings", shape: [8, 12, 12], cfg: BOOK },
  {
    name: 'odd shape, heavy offset and scale (border padding)',
    shape: [5, 9, 13],
    cfg: { ...BOOK, offset: 1, scale: 0.9 },
  },
  { name: 'flips only (exact voxel moves)', shape: [6, 8, 10], cfg: { ...BOOK, offset: 0, scale: 0, rotate: false } },
  { name: 'LunaModel crop', shape: [32, 48, 48], cfg: BOOK },
];

describe.skipIf(!dawn.available)(`GPU augmentation kernel in Node on Dawn${skip}`, () => {
  beforeAll(async () => {
    // backend.ts imports tfjs-backend-webgpu only now, after Dawn put navigator.gpu in place.
    const d = await selectBackend('webgpu', []);
    expect(d.backend).toBe('webgpu');
    return () => releaseDawn();
  });

  for (const c of CASES) {
    test(`${c.name}: the kernel's resampling matches augment.ts within ${TOL}`, async () => {
      const seeds = [1, 42, 7777, null, 123_456_789];
      const n = seeds.length;
      const vox = c.shape[0] * c.shape[1] * c.shape[2];
      const raw = crops(n, c.shape, vox);
      const cfg = { ...c.cfg, noise: 0 };
      const got = await onDevice(raw, c.shape, cfg, seeds);
      seeds.forEach((s, k) => {
        const crop = raw.subarray(k * vox, (k + 1) * vox);
        const want = s === null ? Float32Array.from(crop) : augmentCrop(crop, c.shape, cfg, s);
        const r = rel(got.subarray(k * vox, (k + 1) * vox), want);
        expect(r.max, `sample ${k}`).toBeGreaterThan(500);
        expect(r.err, `sample ${k} (seed ${s})`).toBeLessThan(TOL);
        if (s === null) expect(r.err, 'identity copies exactly').toBe(0);
      });
    }, 120_000);

    test(`${c.name}: with noise, the kernel matches the TypeScript reference within ${TOL}`, async () => {
      const seeds = [3, null, 99, 2 ** 31 - 5];
      const vox = c.shape[0] * c.shape[1] * c.shape[2];
      const raw = crops(seeds.length, c.shape, vox + 1);
      const got = await onDevice(raw, c.shape, c.cfg, seeds);
      const want = augmentReference(raw, c.shape, gpuAugmentParams(c.cfg, seeds));
      expect(rel(got, want).err).toBeLessThan(TOL);
      // The noise is there: the result differs from the noise-free resampling by ~sd.
      const clean = augmentReference(raw, c.shape, gpuAugmentParams({ ...c.cfg, noise: 0 }, seeds));
      let s2 = 0;
      for (let i = 0; i < vox; i++) s2 += (got[i] - clean[i]) ** 2;
      expect(Math.sqrt(s2 / vox)).toBeGreaterThan(0.8 * c.cfg.noise);
      expect(Math.sqrt(s2 / vox)).toBeLessThan(1.2 * c.cfg.noise);
    }, 120_000);
  }

  test('a broken shader fails loudly under the GPU guard instead of yielding zeros', async () => {
    const guard = GpuErrorGuard.forCurrentBackend()!;
    injectShaderFault('AugmentAffineProgram');
    try {
      guard.begin();
      await onDevice(crops(1, [4, 4, 4], 1), [4, 4, 4], BOOK, [5]);
      await expect(guard.check()).rejects.toThrow(/WebGPU/);
    } finally {
      injectShaderFault(null);
      await guard.dispose();
    }
    expect(tf.getBackend()).toBe('webgpu');
  }, 120_000);
});

test('without dawn.node or a Vulkan ICD the reason is given, never a throw', () => {
  if (dawn.available) expect(dawn.description).not.toBe('');
  else expect(dawn.reason).toMatch(/dawn\.node|Vulkan|adapter/);
});
