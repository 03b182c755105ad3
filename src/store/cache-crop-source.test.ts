/**
 * The two crop sources agree: a series written to the cache (fake IndexedDB) and the same
 * volume in memory give the same geometry and the same crops, borders and slab seams
 * included, so evaluate() scores identically from either.
 */
import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it } from 'vitest';
import { CHUNK_SLICES } from './lab-db.ts';
import { openLabStore, type LabStore } from './lab-store.ts';
import type { SeriesRecord } from './records.ts';
import { CacheCropSource } from './cache-crop-source.ts';
import { VolumeCropSource } from '../data/crop-source.ts';
import { clampHu, IDENTITY, type Irc, type Volume } from '../data/volume.ts';
import { evaluate } from '../eval/evaluate.ts';

const dbs: LabStore[] = [];
afterEach(async () => {
  for (const db of dbs.splice(0)) await db.delete();
});

async function cached(v: Volume): Promise<{ db: LabStore; records: Map<string, SeriesRecord> }> {
  const db = openLabStore(`crop-source-${dbs.length}-${Date.now()}`);
  dbs.push(db);
  const record = await db.putSeries({
    record: {
      seriesUid: v.seriesUid,
      subset: 'subset0',
      format: v.format,
      shape: v.shape,
      spacing: v.spacing,
      origin: v.origin,
      direction: v.direction,
      hu: { min: -1000, max: 1000, mean: 0 },
      files: [],
      warnings: [],
      digest: 'x',
    },
    voxels: clampHu(v.data),
    fingerprints: [],
  });
  return { db, records: new Map([[v.seriesUid, record]]) };
}

const shape: Irc = [CHUNK_SLICES * 2 + 5, 14, 17];
const data = new Float32Array(shape[0] * shape[1] * shape[2]).map((_, i) => ((i * 37) % 2601) - 1300);
const v: Volume = {
  seriesUid: '1.2.3',
  format: 'metaimage',
  shape,
  spacing: [0.7, 0.7, 1.5],
  origin: [-5, -4, 10],
  direction: IDENTITY,
  data,
  files: [],
  warnings: [],
};

describe('CacheCropSource', () => {
  it('gives the geometry and crops the in-memory source gives', async () => {
    const { db, records } = await cached(v);
    const cache = new CacheCropSource(db, records);
    const memory = new VolumeCropSource([v]);
    expect(await cache.series(v.seriesUid)).toEqual(await memory.series(v.seriesUid));
    const centers: Irc[] = [
      [0, 0, 0],
      [CHUNK_SLICES - 1, 7, 8],
      [CHUNK_SLICES, 13, 16],
      [shape[0] - 1, 3, 2],
      [20, 7, 9],
    ];
    const crops = await Promise.all(centers.map((c) => cache.crop(v.seriesUid, c, [10, 8, 8])));
    for (let k = 0; k < centers.length; k++)
      expect(crops[k]).toEqual(await memory.crop(v.seriesUid, centers[k], [10, 8, 8]));
    await expect(cache.series('nope')).rejects.toThrow(/series nope is not in the cache/);
    await expect(cache.crop('nope', [0, 0, 0], [2, 2, 2])).rejects.toThrow(/series nope/);
  });

  it('makes evaluate() give the same predictions and FROC as the in-memory source', async () => {
    const { db, records } = await cached(v);
    const candidates = Array.from({ length: 25 }, (_, k) => ({
      seriesUid: v.seriesUid,
      xyz: [-5 + (k % 5) * 2.3, -4 + k * 0.35, 10 + k * 2] as [number, number, number],
      isNodule: k % 7 === 0,
    }));
    const annotations = [{ seriesUid: v.seriesUid, xyz: candidates[7].xyz, diameterMm: 4 }];
    const classify = async (x: Float32Array, n: number) =>
      Array.from({ length: n }, (_, i) => (x[i * 640 + 17] + 1000) / 2000);
    const job = { series: [v.seriesUid], candidates, annotations, classify, crop: [8, 8, 10] as const, batch: 4 };
    const fromCache = await evaluate({ ...job, source: new CacheCropSource(db, records) });
    const fromMemory = await evaluate({ ...job, source: new VolumeCropSource([v]) });
    expect(fromCache.predictions).toEqual(fromMemory.predictions);
    expect(fromCache.froc).toEqual(fromMemory.froc);
    expect(fromCache.predictions.length).toBeGreaterThan(10);
    expect(fromCache.predictions.length + fromCache.outside).toBe(25);
  });
});
