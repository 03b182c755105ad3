import { describe, expect, it } from 'vitest';
import { cropWindow, extractCrop, type CropSize } from './crop.ts';
import { decodeSlab, encodeSlab } from './slab-codec.ts';
import { cutTiles, extractCropFromTiles, placeTile, tileGrid, tilesOfWindow, tilesPerSlab } from './slab-tiles.ts';
import type { Irc } from './volume.ts';

function volume(shape: Irc): Int16Array {
  const v = new Int16Array(shape[0] * shape[1] * shape[2]);
  let x = 99;
  for (let i = 0; i < v.length; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    v[i] = (x % 2001) - 1000;
  }
  return v;
}

/** Every tile of every slab, encoded and decoded as the store does. */
function tiled(shape: Irc, slices: number, tile?: [number, number]) {
  const g = tileGrid(shape, slices, tile);
  const v = volume(shape);
  const plane = shape[1] * shape[2];
  const tiles = new Map<string, Int16Array>();
  for (let s = 0; s * slices < shape[0]; s++) {
    const slab = v.subarray(s * slices * plane, Math.min(shape[0], (s + 1) * slices) * plane);
    cutTiles(g, s, slab).forEach((t, k) => {
      tiles.set(`${s}|${k}`, decodeSlab(encodeSlab(t, 'shuffle-deflate'), 'shuffle-deflate', t.length));
    });
  }
  return { g, v, tiles };
}

describe('slab tiles', () => {
  // Odd shapes: short edge tiles, a short last slab, a one-tile layout (the old whole slabs).
  const layouts: [string, Irc, [number, number] | undefined][] = [
    ['whole slabs', [37, 40, 52], undefined],
    ['16×16 tiles', [37, 40, 52], [16, 16]],
    ['tiles larger than the volume', [37, 40, 52], [64, 64]],
    ['8×12 tiles', [20, 33, 29], [8, 12]],
  ];
  const sizes: CropSize[] = [
    [32, 48, 48],
    [4, 7, 9],
    [8, 16, 16],
  ];

  it.each(layouts)('%s: crops equal crops of the whole volume, everywhere', (_, shape, tile) => {
    const { g, v, tiles } = tiled(shape, 16, tile);
    for (const size of sizes)
      for (const center of [
        [0, 0, 0],
        [shape[0] - 1, shape[1] - 1, shape[2] - 1],
        [18, 17, 21],
        [5, 30, 3],
      ] as Irc[]) {
        const c: Irc = [Math.min(center[0], shape[0] - 1), Math.min(center[1], shape[1] - 1), center[2]];
        const win = cropWindow(c, shape, size);
        const seen: string[] = [];
        const crop = extractCropFromTiles(g, win, (s, t) => {
          seen.push(`${s}|${t}`);
          return tiles.get(`${s}|${t}`)!;
        });
        expect(crop).toEqual(extractCrop(v, shape, win));
        expect(seen.length).toBe(tilesOfWindow(g, win).length);
      }
  });

  it.each(layouts)('%s: placing every tile rebuilds the volume', (_, shape, tile) => {
    const { g, v, tiles } = tiled(shape, 16, tile);
    const out = new Int16Array(v.length);
    for (const [k, t] of tiles) {
      const [s, i] = k.split('|').map(Number);
      placeTile(g, s, i, t, out);
    }
    expect(out).toEqual(v);
  });

  it('a crop reads only the tiles it spans', () => {
    const g = tileGrid([300, 512, 512], 16, [64, 64]);
    expect(tilesPerSlab(g)).toBe(64);
    expect(tilesPerSlab(tileGrid([300, 512, 512], 16))).toBe(1);
    // Aligned inside one tile per slab: 2 slabs × 1 tile.
    const win = cropWindow([32, 96, 96], [300, 512, 512], [32, 48, 48]);
    expect(tilesOfWindow(g, win)).toEqual([
      [1, 9],
      [2, 9],
    ]);
  });
});
