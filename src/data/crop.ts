/**
 * Fixed-size crops around a candidate, as the book's `Ct.getRawCandidate`: the window is
 * centred on the candidate's voxel and shifted back inside the volume at borders, never
 * padded. Only when the volume is smaller than the crop along an axis (a partial series) is
 * the rest filled with air (-1000 HU), and the crop says so.
 */
import { HU_MIN, type Irc } from './volume.ts';
import { roundHalfEven } from './geometry.ts';

/** [index, row, col] crop size; the book's is (32, 48, 48). */
export type CropSize = readonly [number, number, number];
export const DEFAULT_CROP: CropSize = [32, 48, 48];

export interface CropWindow {
  /** First voxel of the window along each axis (may be < 0 only when `padded`). */
  readonly start: Irc;
  readonly size: CropSize;
  /** The window was shifted to stay inside the volume. */
  readonly shifted: boolean;
  /** The volume is smaller than the crop along some axis; the excess is air. */
  readonly padded: boolean;
}

export function cropWindow(center: Irc, shape: Irc, size: CropSize = DEFAULT_CROP): CropWindow {
  const start: number[] = [];
  let shifted = false;
  let padded = false;
  for (let axis = 0; axis < 3; axis++) {
    const c = center[axis];
    const n = shape[axis];
    const w = size[axis];
    if (!(c >= 0 && c < n)) {
      throw new RangeError(`crop centre ${axisName(axis)}=${c} lies outside the volume (size ${n} along that axis)`);
    }
    let s = roundHalfEven(c - w / 2);
    if (w > n) {
      // Centre the too-short volume inside the crop.
      s = -Math.floor((w - n) / 2);
      padded = true;
    } else if (s < 0) {
      s = 0;
      shifted = true;
    } else if (s + w > n) {
      s = n - w;
      shifted = true;
    }
    start.push(s);
  }
  return { start: [start[0], start[1], start[2]], size, shifted, padded };
}

function axisName(axis: number): string {
  return ['index', 'row', 'col'][axis];
}

/** Where slice `z` of a volume lives: an array and the offset of the slice's first voxel. */
export type SliceSource = (z: number) => { data: ArrayLike<number>; offset: number };

/** Copy a crop out of an x-fastest volume; voxels outside the volume become air. */
export function extractCrop(data: ArrayLike<number>, shape: Irc, win: CropWindow): Int16Array {
  const slice = shape[1] * shape[2];
  return extractCropFromSlices((z) => ({ data, offset: z * slice }), shape, win);
}

/** The same, reading each slice from wherever it is stored (e.g. the cache's slabs), so a
 *  crop never needs the whole volume assembled. */
export function extractCropFromSlices(sliceAt: SliceSource, shape: Irc, win: CropWindow): Int16Array {
  const [d, h, w] = win.size;
  const [, H, W] = shape;
  const out = new Int16Array(d * h * w);
  if (win.padded) out.fill(HU_MIN);
  const [si, sr, sc] = win.start;
  const c0 = Math.max(0, sc);
  const c1 = Math.min(W, sc + w);
  for (let i = 0; i < d; i++) {
    const zi = si + i;
    if (zi < 0 || zi >= shape[0]) continue;
    const { data, offset } = sliceAt(zi);
    for (let r = 0; r < h; r++) {
      const yr = sr + r;
      if (yr < 0 || yr >= H) continue;
      const src = offset + yr * W;
      const dst = (i * h + r) * w + (c0 - sc);
      if (data instanceof Int16Array) {
        out.set(data.subarray(src + c0, src + c1), dst);
      } else {
        for (let c = c0; c < c1; c++) out[dst + c - c0] = data[src + c];
      }
    }
  }
  return out;
}
