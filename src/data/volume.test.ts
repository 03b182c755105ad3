import { describe, expect, it } from 'vitest';
import { clampHu, clampHuWithStats, huStats } from './volume.ts';

describe('clampHuWithStats', () => {
  it('clamps int16 in place to [-1000, 1000] and measures the unclamped values', () => {
    const n = 200_000; // spans several internal blocks
    const data = new Int16Array(n);
    for (let i = 0; i < n; i++) data[i] = ((i * 7919) % 6001) - 3000;
    data[12345] = -32768;
    data[199_999] = 32767;
    const want = huStats(data);
    const copy = clampHu(data);
    const { voxels, hu } = clampHuWithStats(data, true);
    expect(voxels).toBe(data); // in place
    expect(hu).toEqual(want);
    expect(hu.min).toBe(-32768);
    expect(hu.max).toBe(32767);
    expect(voxels).toEqual(copy);
    expect(Math.min(...voxels.subarray(0, 50_000))).toBe(-1000);
  });

  it('rounds float volumes, maps NaN to air, and leaves the input alone without inPlace', () => {
    const data = new Float32Array([-2000.5, -999.5, 0.4, 999.6, 1e6, NaN]);
    const { voxels, hu } = clampHuWithStats(data);
    expect(Array.from(voxels)).toEqual([-1000, -999, 0, 1000, 1000, -1000]);
    expect(data[0]).toBe(-2000.5);
    expect(hu.min).toBe(-2000.5);
  });

  it('handles an empty volume', () => {
    expect(clampHuWithStats(new Int16Array(0)).hu.mean).toBeNaN();
  });
});
