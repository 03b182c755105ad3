/**
 * Window/level: clamped HU (the cache's [-1000, 1000]) to 8-bit grey.
 *
 * Promise: pure. `grey = 255 · (HU − (level − window/2)) / window`, clamped to [0, 255] and
 * rounded; a lookup table over the whole HU range makes a 512×512 slice a table read per voxel.
 */
import { HU_MAX, HU_MIN } from '../data/volume.ts';

export interface WindowLevel {
  /** Width of the HU range mapped onto black..white (≥ 1). */
  readonly window: number;
  /** HU at the middle grey. */
  readonly level: number;
}

export const WINDOW_PRESETS = {
  lung: { window: 1500, level: -600 },
  mediastinal: { window: 350, level: 50 },
} as const satisfies Record<string, WindowLevel>;

export type WindowPreset = keyof typeof WINDOW_PRESETS;

export function greyOf(hu: number, wl: WindowLevel): number {
  const w = Math.max(1, wl.window);
  const g = (255 * (hu - (wl.level - w / 2))) / w;
  return g <= 0 ? 0 : g >= 255 ? 255 : Math.round(g);
}

/** grey = lut[hu − HU_MIN] for every HU in [HU_MIN, HU_MAX]. */
export function windowLut(wl: WindowLevel): Uint8Array {
  const lut = new Uint8Array(HU_MAX - HU_MIN + 1);
  for (let hu = HU_MIN; hu <= HU_MAX; hu++) lut[hu - HU_MIN] = greyOf(hu, wl);
  return lut;
}

/** Grey RGBA pixels of a plane through the table (values outside the range are clamped). */
export function planeToRgba(
  plane: ArrayLike<number>,
  lut: Uint8Array,
  out = new Uint8ClampedArray(plane.length * 4),
): Uint8ClampedArray {
  const last = lut.length - 1;
  for (let p = 0, o = 0; p < plane.length; p++, o += 4) {
    let k = plane[p] - HU_MIN;
    k = k < 0 ? 0 : k > last ? last : k;
    const g = lut[k];
    out[o] = g;
    out[o + 1] = g;
    out[o + 2] = g;
    out[o + 3] = 255;
  }
  return out;
}

/** Free window/level by dragging: right widens the window, down raises the level
 *  (`huPerPx` HU per pixel of drag). */
export function dragWindowLevel(start: WindowLevel, dx: number, dy: number, huPerPx = 4): WindowLevel {
  return {
    window: Math.min(4000, Math.max(1, Math.round(start.window + dx * huPerPx))),
    level: Math.min(HU_MAX, Math.max(HU_MIN, Math.round(start.level + dy * huPerPx))),
  };
}
