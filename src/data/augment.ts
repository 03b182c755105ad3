/**
 * The book's training augmentation (p2ch12 `getCtAugmentedCandidate`) on one crop, in plain
 * TypeScript: a random 3D affine transform (flips, offset, scale, a rotation in the axial x/y
 * plane) applied like `F.affine_grid` + `F.grid_sample(mode='bilinear', padding_mode='border',
 * align_corners=False)`, then Gaussian noise.
 *
 * Promises:
 * - `augmentTransform` builds the 4x4 matrix exactly as the book does, drawing its random
 *   numbers in the book's order, so the same stream gives the same transform.
 * - `applyTransform` matches PyTorch's affine_grid + grid_sample (trilinear, border padding,
 *   align_corners=False) to float32 rounding (checked against PyTorch in augment.test.ts).
 * - `augmentCrop(crop, shape, cfg, seed)` is a pure function of its arguments: the same seed
 *   gives the same bytes, whatever else runs (which is what lets data workers augment crops in
 *   any order, src/data/augment-batch.ts); with every augmentation off it is the crop
 *   converted to float. `augmentCropInto` is the same into a given array.
 *
 * Layout: crops are [D, H, W] = [index, row, col], x (col) fastest, as everywhere in the lab.
 * In the matrix, as in torch's affine_grid, coordinate 0 is x (col, W), 1 is y (row, H) and
 * 2 is z (index, D); coordinates are normalised to [-1, 1] across each axis, so an offset of
 * 0.1 shifts by 5% of that axis' size.
 */
import type { LabConfig } from '../config/lab-config.ts';
import type { CropSize } from './crop.ts';
import type { Rng } from './rng.ts';
import { createRng } from './rng.ts';

/** The transform and noise settings (`device` only says where they run: batches.ts). */
export type AugmentConfig = Omit<LabConfig['augment'], 'device'>;

export type AffineRow = readonly [number, number, number, number];
/** The top three rows of the book's 4x4 `transform_t` (what affine_grid takes as theta). */
export type Affine3x4 = readonly [AffineRow, AffineRow, AffineRow];

export const IDENTITY_AFFINE: Affine3x4 = [
  [1, 0, 0, 0],
  [0, 1, 0, 0],
  [0, 0, 1, 0],
];

/** Crops the augmentation accepts: int16 HU as cut from a volume, or float. */
export type CropArray = Int16Array | Float32Array;

/**
 * The book's transform, draw for draw:
 * for i in 0..2 (x, y, z): flip (draw > 0.5 negates the diagonal), offset (T[i][3]), scale
 * (diagonal times 1 + scale·u); then, if rotating, one angle and T = T @ R_z(angle).
 * Switched-off parts draw nothing, as in the book (`if 'flip' in augmentation_dict`).
 * The book keeps the matrix in float32; we keep float64 (finer, and the parity test hands
 * PyTorch this very matrix).
 */
export function augmentTransform(cfg: AugmentConfig, rng: Rng): Affine3x4 {
  const t = [
    [1, 0, 0, 0],
    [0, 1, 0, 0],
    [0, 0, 1, 0],
    [0, 0, 0, 1],
  ];
  for (let i = 0; i < 3; i++) {
    if (cfg.flip && rng.next() > 0.5) t[i][i] *= -1;
    if (cfg.offset) t[i][3] = cfg.offset * (rng.next() * 2 - 1);
    if (cfg.scale) t[i][i] *= 1 + cfg.scale * (rng.next() * 2 - 1);
  }
  let m = t;
  if (cfg.rotate) {
    const angle = rng.next() * Math.PI * 2;
    const s = Math.sin(angle);
    const c = Math.cos(angle);
    const r = [
      [c, -s, 0, 0],
      [s, c, 0, 0],
      [0, 0, 1, 0],
      [0, 0, 0, 1],
    ];
    m = matmul4(t, r);
  }
  return [
    [m[0][0], m[0][1], m[0][2], m[0][3]],
    [m[1][0], m[1][1], m[1][2], m[1][3]],
    [m[2][0], m[2][1], m[2][2], m[2][3]],
  ];
}

function matmul4(a: number[][], b: number[][]): number[][] {
  const out = [0, 1, 2, 3].map(() => [0, 0, 0, 0]);
  for (let i = 0; i < 4; i++) {
    for (let j = 0; j < 4; j++) {
      let s = 0;
      for (let k = 0; k < 4; k++) s += a[i][k] * b[k][j];
      out[i][j] = s;
    }
  }
  return out;
}

export function isIdentityAffine(t: Affine3x4): boolean {
  for (let i = 0; i < 3; i++) for (let j = 0; j < 4; j++) if (t[i][j] !== IDENTITY_AFFINE[i][j]) return false;
  return true;
}

function checkShape(crop: ArrayLike<number>, shape: CropSize): void {
  const [d, h, w] = shape;
  if (![d, h, w].every((n) => Number.isInteger(n) && n >= 1)) {
    throw new RangeError(`crop shape must be three positive integers, got [${shape.join(', ')}]`);
  }
  if (crop.length !== d * h * w) {
    throw new RangeError(`crop has ${crop.length} voxels, shape [${shape.join(', ')}] needs ${d * h * w}`);
  }
}

/**
 * `grid_sample(x, affine_grid(t, size, align_corners=False), mode='bilinear',
 * padding_mode='border', align_corners=False)` for one single-channel [D, H, W] crop.
 *
 * For output voxel (i, r, c) the normalised coordinates are ((2c+1)/W − 1, (2r+1)/H − 1,
 * (2i+1)/D − 1); the source column is ix = ((gx + 1)·W − 1)/2 with gx = row 0 of `t` applied
 * to them (likewise iy, iz), clamped to [0, size − 1] (border padding), then sampled
 * trilinearly. Since ix is affine in (c, r, i), the per-column terms are precomputed once and
 * each voxel costs three additions per coordinate plus the eight-voxel blend.
 */
export function applyTransform(crop: CropArray, shape: CropSize, t: Affine3x4, out?: Float32Array): Float32Array {
  checkShape(crop, shape);
  const [D, H, W] = shape;
  const n = D * H * W;
  const dst = out ?? new Float32Array(n);
  if (dst.length !== n) throw new RangeError(`output has ${dst.length} voxels, expected ${n}`);
  // One float copy keeps the hot loop monomorphic (Float32Array reads only).
  const src = crop instanceof Float32Array ? crop : Float32Array.from(crop);

  // Source coordinate (in voxels) along axis a: k_a·(t[a]·p + 1) − 1/2, k_a = size_a / 2,
  // split into a part per output column, per output row and per output index.
  const sizes = [W, H, D];
  const colTerm = [new Float64Array(W), new Float64Array(W), new Float64Array(W)];
  const rowTerm = [new Float64Array(H), new Float64Array(H), new Float64Array(H)];
  const idxTerm = [new Float64Array(D), new Float64Array(D), new Float64Array(D)];
  for (let a = 0; a < 3; a++) {
    const k = sizes[a] / 2;
    const row = t[a];
    for (let c = 0; c < W; c++) colTerm[a][c] = k * row[0] * ((2 * c + 1) / W - 1);
    for (let r = 0; r < H; r++) rowTerm[a][r] = k * row[1] * ((2 * r + 1) / H - 1);
    for (let i = 0; i < D; i++) idxTerm[a][i] = k * row[2] * ((2 * i + 1) / D - 1) + k * (row[3] + 1) - 0.5;
  }
  const [cx, cy, cz] = colTerm;
  const xMax = W - 1;
  const yMax = H - 1;
  const zMax = D - 1;
  const plane = H * W;

  let o = 0;
  for (let i = 0; i < D; i++) {
    const bx0 = idxTerm[0][i];
    const by0 = idxTerm[1][i];
    const bz0 = idxTerm[2][i];
    for (let r = 0; r < H; r++) {
      const bx = bx0 + rowTerm[0][r];
      const by = by0 + rowTerm[1][r];
      const bz = bz0 + rowTerm[2][r];
      for (let c = 0; c < W; c++, o++) {
        // Border padding = clamp the coordinate (torch's clip_coordinates), then blend.
        let x = bx + cx[c];
        let y = by + cy[c];
        let z = bz + cz[c];
        x = x < 0 ? 0 : x > xMax ? xMax : x;
        y = y < 0 ? 0 : y > yMax ? yMax : y;
        z = z < 0 ? 0 : z > zMax ? zMax : z;
        const x0 = Math.floor(x);
        const y0 = Math.floor(y);
        const z0 = Math.floor(z);
        const fx = x - x0;
        const fy = y - y0;
        const fz = z - z0;
        // At the far edge the fraction is 0: reuse the edge voxel instead of reading past it.
        const dx = x0 < xMax ? 1 : 0;
        const dy = y0 < yMax ? W : 0;
        const dz = z0 < zMax ? plane : 0;
        const p = z0 * plane + y0 * W + x0;
        const v000 = src[p];
        const v001 = src[p + dx];
        const v010 = src[p + dy];
        const v011 = src[p + dy + dx];
        const v100 = src[p + dz];
        const v101 = src[p + dz + dx];
        const v110 = src[p + dz + dy];
        const v111 = src[p + dz + dy + dx];
        const a00 = v000 + fx * (v001 - v000);
        const a01 = v010 + fx * (v011 - v010);
        const a10 = v100 + fx * (v101 - v100);
        const a11 = v110 + fx * (v111 - v110);
        const b0 = a00 + fy * (a01 - a00);
        const b1 = a10 + fy * (a11 - a10);
        dst[o] = b0 + fz * (b1 - b0);
      }
    }
  }
  return dst;
}

/**
 * Add `sd · N(0, 1)` to every voxel, in place, voxels in storage order: Marsaglia's polar
 * method, both values of each pair used (no sin/cos; a third of the time of `rng.normal`).
 */
export function addNoise(data: Float32Array, sd: number, rng: Rng): Float32Array {
  const n = data.length;
  for (let k = 0; k < n; k += 2) {
    let u: number;
    let v: number;
    let s: number;
    do {
      u = 2 * rng.next() - 1;
      v = 2 * rng.next() - 1;
      s = u * u + v * v;
    } while (s >= 1 || s === 0);
    const f = sd * Math.sqrt((-2 * Math.log(s)) / s);
    data[k] += f * u;
    if (k + 1 < n) data[k + 1] += f * v;
  }
  return data;
}

/**
 * One training crop, augmented: the transform from `createRng(seed)`, the noise from that
 * stream's fork 'noise' (the book, too, draws them from two generators: Python's `random` and
 * torch's), so turning flips on or off never changes a seed's noise. Returns a new array.
 */
export function augmentCrop(crop: CropArray, shape: CropSize, cfg: AugmentConfig, seed: number): Float32Array {
  checkShape(crop, shape);
  return augmentCropInto(crop, shape, cfg, seed, new Float32Array(crop.length));
}

/**
 * `augmentCrop` written into `out` (a crop-sized array or a view into a batch), the same
 * operations in the same order, so the same bytes; a batch is filled without a copy per crop.
 */
export function augmentCropInto(
  crop: CropArray,
  shape: CropSize,
  cfg: AugmentConfig,
  seed: number,
  out: Float32Array,
): Float32Array {
  checkShape(crop, shape);
  if (out.length !== crop.length) throw new RangeError(`output has ${out.length} voxels, expected ${crop.length}`);
  const rng = createRng(seed);
  const t = augmentTransform(cfg, rng);
  // An exact identity resamples each voxel onto itself: skip the work, keep the values exact.
  if (isIdentityAffine(t)) out.set(crop);
  else applyTransform(crop, shape, t, out);
  if (cfg.noise > 0) addNoise(out, cfg.noise, rng.fork('noise'));
  return out;
}
