import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it } from 'vitest';
import {
  LabDb,
  putSeries,
  readCrop,
  readVolume,
  datasetSummary,
  deleteSeries,
  knownFingerprints,
  putCandidates,
  putAnnotations,
  QuotaError,
  CHUNK_SLICES,
  type SeriesWrite,
} from './lab-db.ts';
import { IDENTITY, type Irc } from '../data/volume.ts';
import { cropWindow, extractCrop } from '../data/crop.ts';

let n = 0;
const dbs: LabDb[] = [];
function freshDb(): LabDb {
  const db = new LabDb(`test-${n++}`);
  dbs.push(db);
  return db;
}
afterEach(async () => {
  for (const db of dbs.splice(0)) await db.delete();
});

function series(uid: string, shape: Irc, subset = 'subset0'): SeriesWrite {
  const voxels = new Int16Array(shape[0] * shape[1] * shape[2]);
  for (let i = 0; i < voxels.length; i++) voxels[i] = (i % 2001) - 1000;
  return {
    record: {
      seriesUid: uid,
      subset,
      format: 'metaimage',
      shape,
      spacing: [1, 1, 2],
      origin: [0, 0, 0],
      direction: IDENTITY,
      hu: { min: -1000, max: 1000, mean: 0 },
      files: [`${uid}.mhd`, `${uid}.raw`],
      warnings: [],
      digest: 'x',
    },
    voxels,
    fingerprints: [`${subset}/${uid}.mhd|1|0`, `${subset}/${uid}.raw|2|0`],
  };
}

describe('lab-db', () => {
  it('stores a series in slabs and reads it back whole', async () => {
    const db = freshDb();
    const w = series('1.2.3', [CHUNK_SLICES * 2 + 3, 8, 9]);
    await putSeries(db, w);
    expect(await db.chunks.count()).toBe(3);
    const { record, voxels } = await readVolume(db, '1.2.3');
    expect(record.byteLength).toBe(w.voxels.byteLength);
    expect(voxels).toEqual(w.voxels);
  });

  it('writing the same series again replaces it: no duplicates', async () => {
    const db = freshDb();
    await putSeries(db, series('1.2.3', [40, 8, 8]));
    await putSeries(db, series('1.2.3', [20, 8, 8]));
    expect(await db.series.count()).toBe(1);
    expect(await db.chunks.count()).toBe(2);
    expect((await db.series.get('1.2.3'))!.shape).toEqual([20, 8, 8]);
    expect(await knownFingerprints(db)).toEqual(new Set(['subset0/1.2.3.mhd|1|0', 'subset0/1.2.3.raw|2|0']));
  });

  it('reads crops from the slabs they span, equal to a crop of the whole volume', async () => {
    const db = freshDb();
    const shape: Irc = [50, 30, 30];
    const w = series('9.9', shape);
    await putSeries(db, w);
    for (const center of [[0, 0, 0], [17, 15, 15], [49, 29, 29], [31, 3, 28]] as Irc[]) {
      const want = extractCrop(w.voxels, shape, cropWindow(center, shape, [12, 10, 10]));
      expect(await readCrop(db, '9.9', center, [12, 10, 10])).toEqual(want);
    }
    expect(await db.crops.count()).toBe(4);
    // cached: the second read comes from the crops table
    expect(await readCrop(db, '9.9', [17, 15, 15], [12, 10, 10])).toEqual(
      extractCrop(w.voxels, shape, cropWindow([17, 15, 15], shape, [12, 10, 10])),
    );
  });

  it('a failed write leaves earlier series intact and writes nothing of the new one', async () => {
    const db = freshDb();
    await putSeries(db, series('good', [20, 8, 8]));
    const bad = series('bad', [20, 8, 8]);
    // A record IndexedDB cannot clone aborts the transaction midway.
    (bad.record as unknown as { hu: unknown }).hu = () => 0;
    await expect(putSeries(db, bad)).rejects.toThrow();
    expect(await db.series.toCollection().primaryKeys()).toEqual(['good']);
    expect(await db.chunks.where('seriesUid').equals('bad').count()).toBe(0);
    expect(await db.files.where('seriesUid').equals('bad').count()).toBe(0);
  });

  it('turns a quota failure into a QuotaError with the numbers', async () => {
    const db = freshDb();
    await putSeries(db, series('keep', [4, 4, 4]));
    const orig = db.chunks.bulkPut.bind(db.chunks);
    db.chunks.bulkPut = (() => Promise.reject(Object.assign(new Error('quota'), { name: 'QuotaExceededError' }))) as unknown as typeof db.chunks.bulkPut;
    const err = await putSeries(db, series('big', [32, 64, 64])).catch((e: unknown) => e);
    db.chunks.bulkPut = orig;
    expect(err).toBeInstanceOf(QuotaError);
    expect((err as QuotaError).neededBytes).toBe(32 * 64 * 64 * 2);
    expect((err as QuotaError).message).toMatch(/needs 256.0 KiB, and the free space is unknown/);
    expect(await db.series.toCollection().primaryKeys()).toEqual(['keep']);
  });

  it('summarises subsets with candidate and annotation counts; deletes cleanly', async () => {
    const db = freshDb();
    await putSeries(db, series('a', [4, 4, 4]));
    await putSeries(db, series('b', [4, 4, 4], 'subset1'));
    await putCandidates(db, [
      { seriesUid: 'a', source: 'candidates', file: 'candidates.csv', rows: [{ xyz: [0, 0, 0], isNodule: true }, { xyz: [1, 1, 1], isNodule: false }] },
      { seriesUid: 'zz', source: 'candidates', file: 'candidates.csv', rows: [{ xyz: [0, 0, 0], isNodule: false }] },
    ]);
    await putAnnotations(db, [{ seriesUid: 'a', file: 'annotations.csv', rows: [{ xyz: [0, 0, 0], diameterMm: 5 }] }]);
    const s = await datasetSummary(db);
    expect(s.seriesCount).toBe(2);
    expect(s.subsets.map((g) => g.subset)).toEqual(['subset0', 'subset1']);
    expect(s.subsets[0].series[0]).toMatchObject({ seriesUid: 'a', candidates: 2, positives: 1, annotations: 1 });
    expect(s.tableSeries).toBe(2);
    await deleteSeries(db, 'a');
    expect(await db.chunks.where('seriesUid').equals('a').count()).toBe(0);
    expect((await datasetSummary(db)).seriesCount).toBe(1);
  });
});
