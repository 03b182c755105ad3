import { describe, expect, it } from 'vitest';
import { IDENTITY, type Irc } from '../data/volume.ts';
import { extractPlane, planeGeometry, voxelAt } from './plane.ts';

// A 3×4×5 volume whose voxel value encodes its own (i, r, c): 100i + 10r + c.
const SHAPE: Irc = [3, 4, 5];
const VOL = Int16Array.from({ length: 60 }, (_, p) => {
  const i = Math.floor(p / 20);
  const r = Math.floor((p % 20) / 5);
  const c = p % 5;
  return 100 * i + 10 * r + c;
});
const SPACING = [0.7, 0.8, 2.5] as const; // x (col), y (row), z (index)

describe('planeGeometry', () => {
  it('gives each plane its size and the mm of its pixels (spacing is x, y, z)', () => {
    const ax = planeGeometry('axial', SHAPE, SPACING, IDENTITY);
    expect([ax.width, ax.height, ax.depth, ...ax.pixelMm, ax.flipV]).toEqual([5, 4, 3, 0.7, 0.8, false]);
    const co = planeGeometry('coronal', SHAPE, SPACING, IDENTITY);
    expect([co.width, co.height, co.depth, ...co.pixelMm, co.flipV]).toEqual([5, 3, 4, 0.7, 2.5, true]);
    const sa = planeGeometry('sagittal', SHAPE, SPACING, IDENTITY);
    expect([sa.width, sa.height, sa.depth, ...sa.pixelMm, sa.flipV]).toEqual([4, 3, 5, 0.8, 2.5, true]);
  });

  it('does not flip when the index axis runs towards the feet', () => {
    const down = [1, 0, 0, 0, 1, 0, 0, 0, -1] as const;
    expect(planeGeometry('coronal', SHAPE, SPACING, down).flipV).toBe(false);
  });
});

describe('extractPlane', () => {
  it('axial slice i: rows are r, columns are c', () => {
    const g = planeGeometry('axial', SHAPE, SPACING, IDENTITY);
    const p = extractPlane(VOL, SHAPE, g, 2);
    expect(Array.from(p.subarray(0, 5))).toEqual([200, 201, 202, 203, 204]);
    expect(p[3 * 5 + 4]).toBe(234);
  });

  it('coronal slice r: columns are c, the highest index on top', () => {
    const g = planeGeometry('coronal', SHAPE, SPACING, IDENTITY);
    const p = extractPlane(VOL, SHAPE, g, 1);
    expect(Array.from(p.subarray(0, 5))).toEqual([210, 211, 212, 213, 214]);
    expect(Array.from(p.subarray(10, 15))).toEqual([10, 11, 12, 13, 14]);
  });

  it('sagittal slice c: columns are r, the highest index on top', () => {
    const g = planeGeometry('sagittal', SHAPE, SPACING, IDENTITY);
    const p = extractPlane(VOL, SHAPE, g, 3);
    expect(Array.from(p)).toEqual([203, 213, 223, 233, 103, 113, 123, 133, 3, 13, 23, 33]);
  });

  it('writes into a given array (a Float32 gradient volume)', () => {
    const g = planeGeometry('axial', SHAPE, SPACING, IDENTITY);
    const out = extractPlane(
      Float32Array.from(VOL, (v) => v / 2),
      SHAPE,
      g,
      1,
      new Float32Array(20),
    );
    expect(out).toBeInstanceOf(Float32Array);
    expect(out[7]).toBe(56);
    expect(() => extractPlane(VOL, SHAPE, g, 1, new Float32Array(3))).toThrow(/output holds 3 values, the plane 20/);
  });

  it('refuses slices outside the volume', () => {
    const g = planeGeometry('axial', SHAPE, SPACING, IDENTITY);
    expect(() => extractPlane(VOL, SHAPE, g, 3)).toThrow(/axial slice 3 lies outside the volume \(0..2\)/);
  });

  it('voxelAt reads (i, r, c) and is null outside', () => {
    expect(voxelAt(VOL, SHAPE, [2, 3, 4])).toBe(234);
    expect(voxelAt(VOL, SHAPE, [3, 0, 0])).toBeNull();
    expect(voxelAt(VOL, SHAPE, [0, -1, 0])).toBeNull();
  });
});
