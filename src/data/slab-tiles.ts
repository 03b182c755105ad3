/**
 * A slab of whole slices cut into x/y tiles, each encoded on its own, so that a crop decodes
 * only the tiles it spans (a 32×48×48 crop spans ~9 tiles of 16×64×64, 1.1 MiB, where whole
 * 16-slice slabs of 512×512 made it inflate 2–3 × 8 MiB). A whole slab is the layout with one
 * tile (rows = H, cols = W): profiles written before tiling read through the same code.
 * Tiles of a slab are numbered row-major (y, then x); edge tiles are short. Tile size chosen by
 * measurement (`npm run bench:feed`, BENCHMARKS.md "Data pipeline").
 *
 * Promises: `extractCropFromTiles` gives exactly `extractCrop` of the whole volume, for every
 * layout. Pure: runs in Node, workers and the page.
 */
import { HU_MIN, type Irc } from './volume.ts';
import type { CropWindow } from './crop.ts';

/** [rows, cols] of the x/y tiles new slabs are stored in. */
export const STORED_TILE: readonly [number, number] = [64, 64];

/** How a series' voxels are laid out in stored pieces. */
export interface TileGrid {
  readonly shape: Irc;
  /** Slices per slab. */
  readonly slices: number;
  readonly rows: number;
  readonly cols: number;
  /** Tiles along y and x of each slab. */
  readonly ny: number;
  readonly nx: number;
}

/** The grid of a volume: slabs of `slices` slices in tiles of `tile` = [rows, cols]
 *  (absent: one tile per slab, the layout before tiling). */
export function tileGrid(shape: Irc, slices: number, tile?: readonly [number, number]): TileGrid {
  const rows = Math.min(tile?.[0] ?? shape[1], shape[1]) || 1;
  const cols = Math.min(tile?.[1] ?? shape[2], shape[2]) || 1;
  return { shape, slices, rows, cols, ny: Math.ceil(shape[1] / rows), nx: Math.ceil(shape[2] / cols) };
}

export function tilesPerSlab(g: TileGrid): number {
  return g.ny * g.nx;
}

/** [slices, rows, cols] of tile `tile` of slab `slab` (edge tiles and the last slab are short). */
export function tileShape(g: TileGrid, slab: number, tile: number): Irc {
  const ty = Math.floor(tile / g.nx);
  const tx = tile % g.nx;
  return [
    Math.max(0, Math.min(g.slices, g.shape[0] - slab * g.slices)),
    Math.min(g.rows, g.shape[1] - ty * g.rows),
    Math.min(g.cols, g.shape[2] - tx * g.cols),
  ];
}

/** The voxels of each tile of one slab, in tile order; `slab` is the slab's voxels (whole slices). */
export function cutTiles(g: TileGrid, slabIndex: number, slab: Int16Array): Int16Array[] {
  const W = g.shape[2];
  const plane = g.shape[1] * W;
  const out: Int16Array[] = [];
  for (let t = 0; t < tilesPerSlab(g); t++) {
    const [d, h, w] = tileShape(g, slabIndex, t);
    if (g.nx === 1 && g.ny === 1) {
      out.push(slab.subarray(0, d * plane));
      continue;
    }
    const y0 = Math.floor(t / g.nx) * g.rows;
    const x0 = (t % g.nx) * g.cols;
    const v = new Int16Array(d * h * w);
    for (let z = 0; z < d; z++)
      for (let y = 0; y < h; y++) {
        const src = z * plane + (y0 + y) * W + x0;
        v.set(slab.subarray(src, src + w), (z * h + y) * w);
      }
    out.push(v);
  }
  return out;
}

/** Copy tile `tile` of slab `slab` into the whole volume `dst` (x fastest). */
export function placeTile(g: TileGrid, slab: number, tile: number, v: Int16Array, dst: Int16Array): void {
  const [d, h, w] = tileShape(g, slab, tile);
  const W = g.shape[2];
  const plane = g.shape[1] * W;
  const z0 = slab * g.slices;
  const y0 = Math.floor(tile / g.nx) * g.rows;
  const x0 = (tile % g.nx) * g.cols;
  if (w === W) {
    // Whole rows: one copy per slice (one per slab when the tile is the whole slab).
    for (let z = 0; z < d; z++) dst.set(v.subarray(z * h * w, (z + 1) * h * w), (z0 + z) * plane + y0 * W);
    return;
  }
  for (let z = 0; z < d; z++)
    for (let y = 0; y < h; y++) {
      const src = (z * h + y) * w;
      dst.set(v.subarray(src, src + w), (z0 + z) * plane + (y0 + y) * W + x0);
    }
}

/** The [slab, tile] pieces a crop window spans, inside the volume. */
export function tilesOfWindow(g: TileGrid, win: CropWindow): [number, number][] {
  const lo = (a: number) => Math.max(0, win.start[a]);
  const hi = (a: number) => Math.min(g.shape[a], win.start[a] + win.size[a]) - 1;
  const out: [number, number][] = [];
  for (let s = Math.floor(lo(0) / g.slices); s <= Math.floor(hi(0) / g.slices); s++)
    for (let ty = Math.floor(lo(1) / g.rows); ty <= Math.floor(hi(1) / g.rows); ty++)
      for (let tx = Math.floor(lo(2) / g.cols); tx <= Math.floor(hi(2) / g.cols); tx++) out.push([s, ty * g.nx + tx]);
  return out;
}

/** The crop `win` from the tiles it spans (`tileAt` gives a decoded tile of `tilesOfWindow`);
 *  voxels outside the volume are air, as `extractCrop`. */
export function extractCropFromTiles(
  g: TileGrid,
  win: CropWindow,
  tileAt: (slab: number, tile: number) => Int16Array,
): Int16Array {
  const [d, h, w] = win.size;
  const [si, sr, sc] = win.start;
  const out = new Int16Array(d * h * w);
  if (win.padded) out.fill(HU_MIN);
  for (const [slab, tile] of tilesOfWindow(g, win)) {
    const v = tileAt(slab, tile);
    const [td, th, tw] = tileShape(g, slab, tile);
    const z0 = slab * g.slices;
    const y0 = Math.floor(tile / g.nx) * g.rows;
    const x0 = (tile % g.nx) * g.cols;
    // The window's part inside this tile, in volume coordinates.
    const za = Math.max(z0, si);
    const zb = Math.min(z0 + td, si + d);
    const ya = Math.max(y0, sr);
    const yb = Math.min(y0 + th, sr + h);
    const xa = Math.max(x0, sc);
    const xb = Math.min(x0 + tw, sc + w);
    for (let z = za; z < zb; z++)
      for (let y = ya; y < yb; y++) {
        const src = ((z - z0) * th + (y - y0)) * tw - x0;
        out.set(v.subarray(src + xa, src + xb), ((z - si) * h + (y - sr)) * w + (xa - sc));
      }
  }
  return out;
}
