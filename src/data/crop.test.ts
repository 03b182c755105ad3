import { describe, expect, it } from 'vitest';
import { cropWindow, extractCrop } from './crop.ts';
import type { Irc } from './volume.ts';

function ramp(shape: Irc): Int16Array {
  // value encodes the voxel: i*10000 + r*100 + c (small shapes only)
  const out = new Int16Array(shape[0] * shape[1] * shape[2]);
  for (let i = 0; i < shape[0]; i++)
    for (let r = 0; r < shape[1]; r++)
      for (let c = 0; c < shape[2]; c++) out[(i * shape[1] + r) * shape[2] + c] = i * 1000 + r * 30 + c;
  return out;
}

describe('cropWindow (book getRawCandidate)', () => {
  it('centres the window: start = round(c - w/2)', () => {
    const w = cropWindow([50, 100, 100], [120, 512, 512], [32, 48, 48]);
    expect(w.start).toEqual([34, 76, 76]);
    expect(w.shifted).toBe(false);
    expect(w.padded).toBe(false);
  });

  it('shifts inside the volume at both borders, never pads', () => {
    const lo = cropWindow([3, 2, 1], [120, 512, 512], [32, 48, 48]);
    expect(lo.start).toEqual([0, 0, 0]);
    expect(lo.shifted).toBe(true);
    const hi = cropWindow([119, 511, 510], [120, 512, 512], [32, 48, 48]);
    expect(hi.start).toEqual([88, 464, 464]);
    expect(hi.shifted).toBe(true);
  });

  it('pads with air only when the volume is shorter than the crop', () => {
    const w = cropWindow([8, 20, 20], [16, 40, 40], [32, 48, 48]);
    expect(w.padded).toBe(true);
    expect(w.start[0]).toBe(-8);
  });

  it('refuses a centre outside the volume, naming the axis', () => {
    expect(() => cropWindow([120, 0, 0], [120, 512, 512])).toThrow(/index=120/);
    expect(() => cropWindow([0, -1, 0], [120, 512, 512])).toThrow(/row=-1/);
  });
});

describe('extractCrop', () => {
  it('copies exactly the window, x fastest', () => {
    const shape: Irc = [10, 12, 14];
    const vol = ramp(shape);
    const win = cropWindow([9, 0, 7], shape, [4, 4, 6]);
    expect(win.start).toEqual([6, 0, 4]);
    const crop = extractCrop(vol, shape, win);
    expect(crop.length).toBe(4 * 4 * 6);
    expect(crop[0]).toBe(6 * 1000 + 0 * 30 + 4);
    expect(crop[crop.length - 1]).toBe(9 * 1000 + 3 * 30 + 9);
    // the same from a generic array-like (the slow path)
    expect(extractCrop(Array.from(vol), shape, win)).toEqual(crop);
  });

  it('fills the padded part with -1000 HU', () => {
    const shape: Irc = [2, 4, 4];
    const crop = extractCrop(ramp(shape), shape, cropWindow([1, 2, 2], shape, [4, 4, 4]));
    expect(crop.slice(0, 16).every((v) => v === -1000)).toBe(true);
    expect(crop[16]).toBe(0);
    expect(crop.slice(48).every((v) => v === -1000)).toBe(true);
  });
});
