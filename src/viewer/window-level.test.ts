import { describe, expect, it } from 'vitest';
import { WINDOW_PRESETS, dragWindowLevel, greyOf, planeToRgba, windowLut } from './window-level.ts';

describe('window/level', () => {
  it('lung window: -1350 HU and below black, 150 and above white, -600 mid grey', () => {
    const wl = WINDOW_PRESETS.lung;
    expect(wl).toEqual({ window: 1500, level: -600 });
    expect(greyOf(-1000, wl)).toBe(60); // (−1000 + 1350) / 1500 · 255 = 59.5
    expect(greyOf(-600, wl)).toBe(128);
    expect(greyOf(150, wl)).toBe(255);
    expect(greyOf(1000, wl)).toBe(255);
  });

  it('mediastinal window: -125..225 HU', () => {
    const wl = WINDOW_PRESETS.mediastinal;
    expect(greyOf(-125, wl)).toBe(0);
    expect(greyOf(-600, wl)).toBe(0);
    expect(greyOf(50, wl)).toBe(128);
    expect(greyOf(225, wl)).toBe(255);
  });

  it('the table agrees with the formula and is monotonic', () => {
    const wl = { window: 400, level: 40 };
    const lut = windowLut(wl);
    expect(lut.length).toBe(2001);
    for (let hu = -1000; hu <= 1000; hu += 37) expect(lut[hu + 1000]).toBe(greyOf(hu, wl));
    for (let k = 1; k < lut.length; k++) expect(lut[k]).toBeGreaterThanOrEqual(lut[k - 1]);
  });

  it('planeToRgba writes opaque grey and clamps values outside the table', () => {
    const lut = windowLut(WINDOW_PRESETS.lung);
    const rgba = planeToRgba(Int16Array.from([-2048, -600, 3000]), lut);
    expect(Array.from(rgba)).toEqual([60, 60, 60, 255, 128, 128, 128, 255, 255, 255, 255, 255]);
  });

  it('dragging widens the window to the right and raises the level downwards, within bounds', () => {
    expect(dragWindowLevel({ window: 350, level: 50 }, 10, -5)).toEqual({ window: 390, level: 30 });
    expect(dragWindowLevel({ window: 10, level: 0 }, -100, 1000)).toEqual({ window: 1, level: 1000 });
  });
});
