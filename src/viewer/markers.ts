/**
 * What the viewer marks on a slice: annotated nodules and scored candidates. Pure.
 *
 * Promise: a nodule (a sphere of its diameter) is marked on every slice its sphere crosses,
 * as a circle of its full diameter, `central` on the slice nearest its centre; a candidate is
 * marked on the slices within its radius (at least the slice nearest its centre).
 */
import type { Geometry } from '../data/geometry.ts';
import type { Vec3 } from '../data/volume.ts';
import type { ViewTransform } from './view-transform.ts';
import { xyzToIrcFloat } from './view-transform.ts';
import { axisMm } from './plane.ts';

export interface MarkerSource {
  xyz: Vec3;
  diameterMm: number;
}

export interface SliceMarker<T extends MarkerSource> {
  item: T;
  /** Canvas centre and radius (px). */
  x: number;
  y: number;
  r: number;
  /** This is the slice nearest the marker's centre. */
  central: boolean;
}

/** Markers of `items` on slice `slice` of the transform's plane. */
export function markersOnSlice<T extends MarkerSource>(
  items: readonly T[],
  t: ViewTransform,
  slice: number,
  spacing: Vec3,
): SliceMarker<T>[] {
  const normalMm = axisMm(spacing, t.plane.normal);
  const out: SliceMarker<T>[] = [];
  for (const item of items) {
    const c = t.xyzToCanvas(item.xyz);
    const dMm = Math.abs(c.depth - slice) * normalMm;
    const central = Math.round(c.depth) === slice;
    if (!central && dMm > item.diameterMm / 2) continue;
    out.push({ item, x: c.x, y: c.y, r: t.mmToCanvas(item.diameterMm / 2), central });
  }
  return out;
}

/** Slice index (along each axis) nearest a world point, clamped into the volume. */
export function sliceOf(xyz: Vec3, g: Geometry, shape: readonly [number, number, number]): [number, number, number] {
  const irc = xyzToIrcFloat(xyz, g);
  return [0, 1, 2].map((a) => Math.min(shape[a] - 1, Math.max(0, Math.round(irc[a])))) as [number, number, number];
}

/** The item nearest a world point (Euclidean mm), with its distance. */
export function nearest<T extends { xyz: Vec3 }>(
  items: readonly T[],
  xyz: Vec3,
): { item: T; distanceMm: number } | null {
  let best: T | null = null;
  let bestD = Infinity;
  for (const it of items) {
    const d = Math.hypot(it.xyz[0] - xyz[0], it.xyz[1] - xyz[1], it.xyz[2] - xyz[2]);
    if (d < bestD) {
      bestD = d;
      best = it;
    }
  }
  return best ? { item: best, distanceMm: bestD } : null;
}
