import { describe, expect, it } from 'vitest';
import { heatRgba, probColor } from './colormap.ts';

describe('probColor', () => {
  it('runs blue → yellow → red', () => {
    expect(probColor(0)).toEqual([40, 110, 255]);
    expect(probColor(0.5)).toEqual([255, 220, 0]);
    expect(probColor(1)).toEqual([255, 20, 0]);
    expect(probColor(0.25)).toEqual([148, 165, 128]);
  });

  it('clamps, and NaN is shown as the positive end (as the metrics count it)', () => {
    expect(probColor(-1)).toEqual(probColor(0));
    expect(probColor(2)).toEqual(probColor(1));
    expect(probColor(Number.NaN)).toEqual(probColor(1));
  });

  it('red grows and blue falls with the probability', () => {
    for (let p = 0.05; p <= 1; p += 0.05) {
      expect(probColor(p)[0]).toBeGreaterThanOrEqual(probColor(p - 0.05)[0]);
      expect(probColor(p)[2]).toBeLessThanOrEqual(probColor(p - 0.05)[2]);
    }
  });
});

describe('heatRgba', () => {
  it('zero is transparent, the maximum is opaque white, magnitude not sign counts', () => {
    const out = heatRgba(Float32Array.from([0, 2, -2, 1]), 2);
    expect(Array.from(out.subarray(0, 4))).toEqual([0, 0, 0, 0]);
    expect(Array.from(out.subarray(4, 8))).toEqual([255, 255, 255, 255]);
    expect(Array.from(out.subarray(8, 12))).toEqual([255, 255, 255, 255]);
    expect(out[15]).toBe(191);
  });
});
