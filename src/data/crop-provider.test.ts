import { describe, expect, it } from 'vitest';
import { CropProvider } from './crop-provider.ts';
import { VolumeCropSource, type CropSource } from './crop-source.ts';
import { xyzToIrc } from './geometry.ts';
import { IDENTITY, type Volume } from './volume.ts';
import { cropWindow, extractCrop } from './crop.ts';
import { clampHu } from './volume.ts';

const shape = [12, 10, 9] as const;
const data = new Float32Array(12 * 10 * 9).map((_, i) => ((i * 53) % 2400) - 1200);
const v: Volume = {
  seriesUid: 'S',
  format: 'metaimage',
  shape: [...shape],
  spacing: [0.8, 0.9, 1.5],
  origin: [-3, -2, 4],
  direction: IDENTITY,
  data,
  files: [],
  warnings: [],
};

describe('CropProvider', () => {
  it('crops a candidate at its voxel from any crop source, one read per crop however many ask', async () => {
    const memory = new VolumeCropSource([v]);
    let reads = 0;
    const counting: CropSource = {
      series: (u) => memory.series(u),
      crop: (u, c, s) => (reads++, memory.crop(u, c, s)),
    };
    const provider = new CropProvider(counting, new Map([['S', v]]), [4, 6, 6]);
    const c = { seriesUid: 'S', xyz: [-1, 1.5, 10] as [number, number, number], isNodule: false, diameterMm: 0 };
    const [a, b] = await Promise.all([provider.get(c), provider.get(c)]);
    expect(a).toBe(b);
    expect(await provider.get(c)).toBe(a);
    expect(reads).toBe(1);
    const center = xyzToIrc(c.xyz, v);
    expect(provider.centerOf(c)).toEqual(center);
    expect(a).toEqual(extractCrop(clampHu(data), v.shape, cropWindow(center, v.shape, [4, 6, 6])));
  });

  it('names a series it has no geometry for', () => {
    const provider = new CropProvider(new VolumeCropSource([v]), new Map(), [4, 6, 6]);
    expect(() => provider.centerOf({ seriesUid: 'X', xyz: [0, 0, 0], isNodule: false, diameterMm: 0 })).toThrow(
      /series X is not in the cache/,
    );
  });

  it('does not keep a failed read', async () => {
    let fail = true;
    const memory = new VolumeCropSource([v]);
    const flaky: CropSource = {
      series: (u) => memory.series(u),
      crop: (u, c, s) => (fail ? Promise.reject(new Error('busy')) : memory.crop(u, c, s)),
    };
    const provider = new CropProvider(flaky, new Map([['S', v]]), [4, 6, 6]);
    const c = { seriesUid: 'S', xyz: [0, 0, 6] as [number, number, number], isNodule: false, diameterMm: 0 };
    await expect(provider.get(c)).rejects.toThrow('busy');
    fail = false;
    expect((await provider.get(c)).length).toBe(4 * 6 * 6);
  });
});
