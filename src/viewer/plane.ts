/**
 * Planes of a volume stored (index, row, col), x fastest, as the cache holds it.
 *
 * Promise: pure. A plane is described by the volume axis it holds fixed (`normal`) and the
 * axes that run along its display columns (`u`) and rows (`v`); each display pixel is one
 * voxel, and `pixelMm` gives the voxel's size along u and v so the viewer can draw it with
 * the right aspect. Coronal and sagittal planes are flipped vertically when the index axis
 * runs towards the head (+z), so the patient's head is at the top as radiologists expect.
 */
import type { Irc, Mat3, Vec3 } from '../data/volume.ts';

export type Plane = 'axial' | 'coronal' | 'sagittal';
export const PLANES: readonly Plane[] = ['axial', 'coronal', 'sagittal'];

export type Axis = 0 | 1 | 2;

/** Volume axes (0 index, 1 row, 2 col) of each plane. */
export const PLANE_AXES: Readonly<Record<Plane, { normal: Axis; u: Axis; v: Axis }>> = {
  axial: { normal: 0, u: 2, v: 1 },
  coronal: { normal: 1, u: 2, v: 0 },
  sagittal: { normal: 2, u: 1, v: 0 },
};

export interface PlaneGeometry {
  plane: Plane;
  normal: Axis;
  u: Axis;
  v: Axis;
  /** Display size in voxels. */
  width: number;
  height: number;
  /** Voxel size along u and v, mm. */
  pixelMm: readonly [number, number];
  /** Display row 0 is the last voxel along v. */
  flipV: boolean;
  /** Slices along the normal. */
  depth: number;
}

/** mm per voxel along an (index, row, col) axis; spacing is (x, y, z) = (col, row, index). */
export function axisMm(spacing: Vec3, axis: Axis): number {
  return spacing[2 - axis];
}

export function planeGeometry(plane: Plane, shape: Irc, spacing: Vec3, direction: Mat3): PlaneGeometry {
  const { normal, u, v } = PLANE_AXES[plane];
  // direction[8]: how the index axis maps onto world z.
  const flipV = v === 0 && direction[8] > 0;
  return {
    plane,
    normal,
    u,
    v,
    width: shape[u],
    height: shape[v],
    pixelMm: [axisMm(spacing, u), axisMm(spacing, v)],
    flipV,
    depth: shape[normal],
  };
}

/** The plane at slice `k` along its normal, in display order (row-major, width × height),
 *  into `out` (e.g. a Float32Array for a gradient volume) or a new Int16Array. */
export function extractPlane<T extends Int16Array | Float32Array = Int16Array>(
  voxels: ArrayLike<number>,
  shape: Irc,
  g: PlaneGeometry,
  k: number,
  out?: T,
): T {
  if (!Number.isInteger(k) || k < 0 || k >= g.depth) {
    throw new RangeError(`${g.plane} slice ${k} lies outside the volume (0..${g.depth - 1})`);
  }
  if (out && out.length !== g.width * g.height)
    throw new RangeError(`output holds ${out.length} values, the plane ${g.width * g.height}`);
  const strides = [shape[1] * shape[2], shape[2], 1];
  out ??= new Int16Array(g.width * g.height) as T;
  const base = k * strides[g.normal];
  const su = strides[g.u];
  const sv = strides[g.v];
  for (let y = 0; y < g.height; y++) {
    const vv = g.flipV ? g.height - 1 - y : y;
    const row = base + vv * sv;
    const o = y * g.width;
    for (let x = 0; x < g.width; x++) out[o + x] = voxels[row + x * su];
  }
  return out;
}

/** Voxel value at integer (index, row, col), or null outside the volume. */
export function voxelAt(voxels: ArrayLike<number>, shape: Irc, irc: Irc): number | null {
  const [i, r, c] = irc;
  if (i < 0 || r < 0 || c < 0 || i >= shape[0] || r >= shape[1] || c >= shape[2]) return null;
  return voxels[(i * shape[1] + r) * shape[2] + c];
}
