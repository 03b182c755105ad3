/**
 * The book's augmentation split for the GPU path (`augment.device = gpu`): the CPU draws each
 * sample's transform exactly as `augmentCrop` does (augment.ts, same seed, same draws), and the
 * resampling and the noise run on the GPU inside the training step
 * (src/model/kernels/augment-affine.ts). This module is the plain-data half: the per-sample
 * parameters a batch carries, the noise generator, and the same operations in TypeScript (the
 * reference the kernel is tested against, and the path on backends without WebGPU).
 *
 * Why a counter-based noise generator: the CPU path's noise (Marsaglia's polar method on one
 * sequential stream, with rejections) cannot run per voxel in parallel. Here voxel v of a sample
 * with key k gets N(0, 1) from Box–Muller on two 24-bit uniforms hashed from (k, 2v) and
 * (k, 2v + 1) with integer-exact 32-bit arithmetic, so TypeScript and WGSL draw the same
 * uniforms and differ only by float rounding. Consequence: a gpu run's noise differs from a cpu
 * run's of the same seed (same transforms, another noise stream); both are N(0, sd²) per voxel.
 *
 * Promises:
 * - `gpuAugmentParams` is a pure function of (cfg, seeds): sample k's transform is
 *   `augmentTransform(cfg, createRng(seeds[k]))`, its noise key a draw of that stream's fork
 *   'noise' (as augmentCrop's noise); a null seed is the identity without noise.
 * - `augmentReference(crops, shape, p)` = applyTransform + `addCounterNoise` per sample (an exact
 *   identity copies the crop, as augmentCrop does): the kernel matches it within 1e-4 of the
 *   HU scale (src/gpu-bench/augment-dawn.test.ts).
 */
import type { AugmentConfig, Affine3x4, CropArray } from './augment.ts';
import { applyTransform, augmentTransform, IDENTITY_AFFINE, isIdentityAffine } from './augment.ts';
import type { CropSize } from './crop.ts';
import { createRng } from './rng.ts';

/** What a batch carries for the GPU path: one transform, noise sd and noise key per sample. */
export interface GpuAugmentParams {
  readonly transforms: readonly Affine3x4[];
  /** HU standard deviation per sample (0: no noise). */
  readonly noiseSd: Float32Array;
  /** 32-bit noise key per sample. */
  readonly keys: Uint32Array;
}

/** Floats per sample in the kernel's parameter buffer (layout: see `kernelParams`). */
export const PARAMS_PER_SAMPLE = 16;

export function gpuAugmentParams(cfg: AugmentConfig, seeds: readonly (number | null)[]): GpuAugmentParams {
  const n = seeds.length;
  const transforms: Affine3x4[] = [];
  const noiseSd = new Float32Array(n);
  const keys = new Uint32Array(n);
  seeds.forEach((seed, k) => {
    if (seed === null) {
      transforms.push(IDENTITY_AFFINE);
      return;
    }
    const rng = createRng(seed);
    transforms.push(augmentTransform(cfg, rng));
    if (cfg.noise > 0) {
      noiseSd[k] = cfg.noise;
      keys[k] = rng.fork('noise').int(0, 2 ** 32) >>> 0;
    }
  });
  return { transforms, noiseSd, keys };
}

/** Wellons' lowbias32 integer hash (a bijection on 32 bits); WGSL has the same in the kernel. */
export function lowbias32(x: number): number {
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x = (x ^ (x >>> 15)) >>> 0;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

/** The 24-bit uniform of counter `c` under `key`, in [0, 1): exact in f32 and f64 alike. */
export function counterUniform(key: number, c: number): number {
  return (lowbias32((key ^ lowbias32(c >>> 0)) >>> 0) >>> 8) / 16777216;
}

/** N(0, 1) for voxel `v` of the sample with `key` (Box–Muller, u1 in (0, 1] so log is finite). */
export function counterNormal(key: number, v: number): number {
  const u1 = 1 - counterUniform(key, 2 * v);
  const u2 = counterUniform(key, 2 * v + 1);
  // cos(2πu) as −cos(π(2u − 1)): the kernel's form (WGSL bounds cos's error on [−π, π]).
  return -Math.sqrt(-2 * Math.log(u1)) * Math.cos(Math.PI * (2 * u2 - 1));
}

/** Add `sd · counterNormal(key, v)` to voxel v, in place. */
export function addCounterNoise(data: Float32Array, sd: number, key: number): Float32Array {
  if (sd > 0) for (let v = 0; v < data.length; v++) data[v] += sd * counterNormal(key, v);
  return data;
}

/**
 * The per-sample float buffer of the kernel: the transform in voxel units (source x, y, z of
 * output voxel (i, r, c) = A·(c, r, i) + b, rows [a_c, a_r, a_i, b] for x, y, z), then noise sd,
 * key's low and high 16 bits (exact as floats), 0. Computed in f64 and rounded once, so the
 * shader's f32 arithmetic starts from the best f32 values (applyTransform's maths: augment.ts).
 */
export function kernelParams(p: GpuAugmentParams, shape: CropSize): Float32Array {
  const [D, H, W] = shape;
  const sizes = [W, H, D];
  const out = new Float32Array(p.transforms.length * PARAMS_PER_SAMPLE);
  p.transforms.forEach((t, k) => {
    const o = k * PARAMS_PER_SAMPLE;
    for (let a = 0; a < 3; a++) {
      const half = sizes[a] / 2;
      const row = t[a];
      // normalised p_j = (2/S_j)·n_j + (1/S_j − 1); source = half·(row·p + row[3] + 1) − 1/2.
      let b = half * (row[3] + 1) - 0.5;
      for (let j = 0; j < 3; j++) {
        out[o + a * 4 + j] = (half * row[j] * 2) / sizes[j];
        b += half * row[j] * (1 / sizes[j] - 1);
      }
      out[o + a * 4 + 3] = b;
    }
    out[o + 12] = p.noiseSd[k];
    out[o + 13] = p.keys[k] & 0xffff;
    out[o + 14] = p.keys[k] >>> 16;
  });
  return out;
}

/** The GPU path's operations in TypeScript: `n` crops [n, D, H, W] in, the augmented floats out. */
export function augmentReference(
  crops: CropArray,
  shape: CropSize,
  p: GpuAugmentParams,
  out?: Float32Array,
): Float32Array {
  const vox = shape[0] * shape[1] * shape[2];
  const n = p.transforms.length;
  if (crops.length !== n * vox)
    throw new RangeError(
      `gpu augment: crops hold ${crops.length} voxels, ${n} crops of [${shape.join(', ')}] need ${n * vox}`,
    );
  const x = out ?? new Float32Array(crops.length);
  for (let k = 0; k < n; k++) {
    const src = crops.subarray(k * vox, (k + 1) * vox);
    const dst = x.subarray(k * vox, (k + 1) * vox);
    const t = p.transforms[k];
    if (isIdentityAffine(t)) dst.set(src);
    else applyTransform(src, shape, t, dst);
    addCounterNoise(dst, p.noiseSd[k], p.keys[k]);
  }
  return x;
}
