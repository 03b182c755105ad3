import { describe, expect, it } from 'vitest';
import type { Geometry } from '../data/geometry.ts';
import type { Irc, Vec3 } from '../data/volume.ts';
import { planeGeometry } from './plane.ts';
import { ViewTransform } from './view-transform.ts';
import { markersOnSlice, nearest, sliceOf } from './markers.ts';

const LIDC: Geometry = {
  origin: [-166, -171.699997, -132.5],
  spacing: [0.703125, 0.703125, 2.5],
  direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
};
const SHAPE: Irc = [16, 512, 512];
const NODULE = { xyz: [56.208, 86.343, -115.868] as Vec3, diameterMm: 23.35 };

describe('markersOnSlice', () => {
  const t = new ViewTransform(
    planeGeometry('axial', SHAPE, LIDC.spacing, LIDC.direction),
    { canvasWidth: 512, canvasHeight: 512, zoom: 1, panX: 0, panY: 0 },
    LIDC,
  );

  it('marks a nodule on every axial slice its sphere crosses, at its full diameter', () => {
    // Centre at index 6.65, radius 11.675 mm = 4.67 slices: slices 2..11.
    const slices = Array.from({ length: 16 }, (_, k) => k).filter(
      (k) => markersOnSlice([NODULE], t, k, LIDC.spacing).length,
    );
    expect(slices).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    const [m] = markersOnSlice([NODULE], t, 7, LIDC.spacing);
    expect(m.central).toBe(true);
    expect(m.r).toBeCloseTo((23.35 / 2) * t.scale, 9);
    expect(m.x).toBeCloseTo((316.03 + 0.5) * 0.703125 * t.scale, 1);
    expect(markersOnSlice([NODULE], t, 6, LIDC.spacing)[0].central).toBe(false);
  });

  it('a point candidate (diameter 0) is marked on its nearest slice only', () => {
    const cand = { xyz: NODULE.xyz, diameterMm: 0 };
    const slices = Array.from({ length: 16 }, (_, k) => k).filter(
      (k) => markersOnSlice([cand], t, k, LIDC.spacing).length,
    );
    expect(slices).toEqual([7]);
  });
});

describe('sliceOf and nearest', () => {
  it('sliceOf gives the voxel of a world point, clamped into the volume', () => {
    expect(sliceOf(NODULE.xyz, LIDC, SHAPE)).toEqual([7, 367, 316]);
    expect(sliceOf([0, 0, 500], LIDC, SHAPE)[0]).toBe(15);
  });

  it('nearest finds the closest item in mm', () => {
    const items = [{ xyz: [0, 0, 0] as Vec3 }, { xyz: [3, 4, 0] as Vec3 }];
    expect(nearest(items, [3, 4, 1])).toEqual({ item: items[1], distanceMm: 1 });
    expect(nearest([], [0, 0, 0])).toBeNull();
  });
});
