import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it } from 'vitest';
import { CHUNK_SLICES, LabDb } from './lab-db.ts';
import { LabStore, freshLabStore } from './lab-store.ts';
import { toChunks } from './series-store.ts';
import { encodeSlab } from '../data/slab-codec.ts';
import { QuotaError } from './quota.ts';
import type { CheckpointRecord, OutboxItem, RunRecord, SeriesWrite } from './records.ts';
import { IDENTITY, type Irc } from '../data/volume.ts';
import { cropWindow, extractCrop } from '../data/crop.ts';
import { defaultConfig } from '../config/lab-config.ts';

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

/** Byte view for comparing large volumes (toEqual on them is slow). */
function bytesOf(v: Int16Array): Buffer {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

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

describe('LabStore: series, tables and voxels', () => {
  it('stores a series in slabs and reads it back whole', async () => {
    const db = freshDb();
    const store = new LabStore(db);
    const w = series('1.2.3', [CHUNK_SLICES * 2 + 3, 8, 9]);
    await store.putSeries(w);
    expect(await db.chunks.count()).toBe(3);
    const { record, voxels } = await store.readVolume('1.2.3');
    expect(record.byteLength).toBe(w.voxels.byteLength);
    expect(voxels).toEqual(w.voxels);
  });

  it('writing the same series again replaces it: no duplicates', async () => {
    const db = freshDb();
    const store = new LabStore(db);
    await store.putSeries(series('1.2.3', [40, 8, 8]));
    await store.putSeries(series('1.2.3', [20, 8, 8]));
    expect(await db.series.count()).toBe(1);
    expect(await db.chunks.count()).toBe(2);
    expect((await db.series.get('1.2.3'))!.shape).toEqual([20, 8, 8]);
    expect(await store.knownFingerprints()).toEqual(new Set(['subset0/1.2.3.mhd|1|0', 'subset0/1.2.3.raw|2|0']));
  });

  it('reads crops from the slabs they span, equal to a crop of the whole volume', async () => {
    const db = freshDb();
    const store = new LabStore(db);
    const shape: Irc = [50, 30, 30];
    const w = series('9.9', shape);
    await store.putSeries(w);
    for (const center of [
      [0, 0, 0],
      [17, 15, 15],
      [49, 29, 29],
      [31, 3, 28],
    ] as Irc[]) {
      const want = extractCrop(w.voxels, shape, cropWindow(center, shape, [12, 10, 10]));
      expect(await store.readCrop('9.9', center, [12, 10, 10])).toEqual(want);
    }
    expect(await db.crops.count()).toBe(4);
    // cached: the second read comes from the crops table
    expect(await store.readCrop('9.9', [17, 15, 15], [12, 10, 10])).toEqual(
      extractCrop(w.voxels, shape, cropWindow([17, 15, 15], shape, [12, 10, 10])),
    );
  });

  it('a failed write leaves earlier series intact and writes nothing of the new one', async () => {
    const db = freshDb();
    const store = new LabStore(db);
    await store.putSeries(series('good', [20, 8, 8]));
    const bad = series('bad', [20, 8, 8]);
    // A record IndexedDB cannot clone aborts the transaction midway.
    (bad.record as unknown as { hu: unknown }).hu = () => 0;
    await expect(store.putSeries(bad)).rejects.toThrow();
    expect(await db.series.toCollection().primaryKeys()).toEqual(['good']);
    expect(await db.chunks.where('seriesUid').equals('bad').count()).toBe(0);
    expect(await db.files.where('seriesUid').equals('bad').count()).toBe(0);
  });

  it('stores slabs compressed, and still reads the raw slabs of a profile written before', async () => {
    const db = freshDb();
    const store = new LabStore(db);
    const w = series('new', [20, 16, 16]);
    const rec = await store.putSeries(w);
    expect(rec.codec).toBe('shuffle-zstd');
    expect(rec.storedBytes).toBeLessThan(rec.byteLength);
    expect((await store.readVolume('new')).voxels).toEqual(w.voxels);
    // An older profile: no codec in the record, slabs as plain int16 blobs.
    const old = series('old', [20, 16, 16]);
    const { codec: _c, storedBytes: _s, ...plain } = { ...rec, seriesUid: 'old' };
    await db.series.put(plain);
    const slice = 16 * 16;
    await db.chunks.bulkPut([
      {
        seriesUid: 'old',
        chunk: 0,
        data: new Blob([encodeSlab(old.voxels.subarray(0, CHUNK_SLICES * slice), 'raw') as Uint8Array<ArrayBuffer>]),
      },
      {
        seriesUid: 'old',
        chunk: 1,
        data: new Blob([encodeSlab(old.voxels.subarray(CHUNK_SLICES * slice), 'raw') as Uint8Array<ArrayBuffer>]),
      },
    ]);
    expect((await store.readVolume('old')).voxels).toEqual(old.voxels);
    const crop = await store.readCrop('old', [10, 8, 8], [4, 4, 4]);
    expect(crop).toEqual(await store.readCrop('new', [10, 8, 8], [4, 4, 4]));
    expect((await store.datasetSummary()).storedBytes).toBe(rec.storedBytes! + rec.byteLength);
  });

  it('stores slabs as x/y tiles and reads crops from only the tiles they span; the older whole-slab layouts read the same', async () => {
    const db = freshDb();
    const store = new LabStore(db);
    // 3 slabs (the last short) of 3×3 tiles of 64×64, the edge ones short.
    const shape: Irc = [CHUNK_SLICES * 2 + 5, 150, 140];
    const w = series('tiled', shape);
    const rec = await store.putSeries(w);
    expect(rec.tile).toEqual([64, 64]);
    const chunks = await db.chunks.where('seriesUid').equals('tiled').sortBy('chunk');
    expect(chunks.map((c) => c.tileEnds?.length)).toEqual([9, 9, 9]);
    expect(chunks.reduce((n, c) => n + c.data.size, 0)).toBe(rec.storedBytes);
    expect(bytesOf((await store.readVolume('tiled')).voxels).equals(bytesOf(w.voxels))).toBe(true);

    // The layouts of profiles written before: whole slabs compressed (codec, no tile), and raw
    // (neither codec nor tile), same voxels under other uids; and tiles in deflate (the codec
    // before zstd).
    const { tile: _t, ...whole } = { ...rec, seriesUid: 'whole', codec: 'shuffle-deflate' as const };
    await db.series.put(whole);
    await db.chunks.bulkPut(toChunks('whole', w.voxels, shape, 'shuffle-deflate', null));
    await db.series.put({ ...rec, seriesUid: 'deflated', codec: 'shuffle-deflate' });
    await db.chunks.bulkPut(toChunks('deflated', w.voxels, shape, 'shuffle-deflate'));
    expect(bytesOf((await store.readVolume('deflated')).voxels).equals(bytesOf(w.voxels))).toBe(true);
    const { tile: _t2, codec: _c, storedBytes: _s, ...raw } = { ...rec, seriesUid: 'raw' };
    await db.series.put(raw);
    await db.chunks.bulkPut(toChunks('raw', w.voxels, shape, 'raw', null));
    expect(bytesOf((await store.readVolume('whole')).voxels).equals(bytesOf(w.voxels))).toBe(true);
    expect(bytesOf((await store.readVolume('raw')).voxels).equals(bytesOf(w.voxels))).toBe(true);

    const size = [32, 48, 48] as const;
    const reads: string[] = [];
    const get = db.chunks.get.bind(db.chunks);
    db.chunks.get = ((key: [string, number]) => {
      reads.push(key.join('|'));
      return get(key);
    }) as typeof db.chunks.get;
    const loader = store.tileLoader();
    const asked: string[] = [];
    const counting = (uid: string, chunk: number, tile: number) => {
      asked.push(`${uid}|${chunk}|${tile}`);
      return loader(uid, chunk, tile);
    };
    const perCrop: number[] = [];
    for (const center of [
      [0, 0, 0],
      [17, 70, 60],
      [36, 149, 139],
      [20, 10, 100],
    ] as Irc[]) {
      const want = extractCrop(w.voxels, shape, cropWindow(center, shape, size));
      asked.length = 0;
      expect(await store.readCrop('tiled', center, size, counting)).toEqual(want);
      perCrop.push(asked.length);
      for (const uid of ['whole', 'raw', 'deflated'])
        expect(await store.readCrop(uid, center, size, counting)).toEqual(want);
    }
    // E.g. [17, 70, 60]: z 1..32 (slabs 0–2) × y 46..93 (tile rows 0–1) × x 36..83 (tile cols 0–1).
    expect(perCrop).toEqual([2 * 1 * 1, 3 * 2 * 2, 3 * 2 * 2, 3 * 1 * 1]);
    // Each slab's Blob is read once, however many of its tiles the crops decode.
    expect(reads.sort()).toEqual(
      ['deflated', 'raw', 'tiled', 'whole'].flatMap((u) => [0, 1, 2].map((c) => `${u}|${c}`)),
    );
    // Whole slabs are read as their one tile.
    expect(asked.filter((k) => /^(whole|raw)\|/.test(k)).every((k) => k.endsWith('|0'))).toBe(true);
  });

  it('turns a quota failure into a QuotaError with the numbers', async () => {
    const db = freshDb();
    const store = new LabStore(db);
    await store.putSeries(series('keep', [4, 4, 4]));
    const orig = db.chunks.bulkPut.bind(db.chunks);
    db.chunks.bulkPut = (() =>
      Promise.reject(
        Object.assign(new Error('quota'), { name: 'QuotaExceededError' }),
      )) as unknown as typeof db.chunks.bulkPut;
    const err = await store.putSeries(series('big', [32, 64, 64])).catch((e: unknown) => e);
    db.chunks.bulkPut = orig;
    expect(err).toBeInstanceOf(QuotaError);
    // The bytes as stored: the encoded slabs, not the raw voxels.
    const stored = toChunks('big', series('big', [32, 64, 64]).voxels, [32, 64, 64]).reduce(
      (n, c) => n + c.data.size,
      0,
    );
    expect(stored).toBeLessThan(32 * 64 * 64 * 2);
    expect((err as QuotaError).neededBytes).toBe(stored);
    expect((err as QuotaError).message).toMatch(/needs [\d.]+ KiB, and the free space is unknown/);
    expect(await db.series.toCollection().primaryKeys()).toEqual(['keep']);
  });

  it('summarises subsets with candidate and annotation counts; deletes cleanly', async () => {
    const db = freshDb();
    const store = new LabStore(db);
    await store.putSeries(series('a', [4, 4, 4]));
    await store.putSeries(series('b', [4, 4, 4], 'subset1'));
    await store.putCandidates([
      {
        seriesUid: 'a',
        source: 'candidates',
        file: 'candidates.csv',
        rows: [
          { xyz: [0, 0, 0], isNodule: true },
          { xyz: [1, 1, 1], isNodule: false },
        ],
      },
      { seriesUid: 'zz', source: 'candidates', file: 'candidates.csv', rows: [{ xyz: [0, 0, 0], isNodule: false }] },
    ]);
    await store.putAnnotations([
      { seriesUid: 'a', file: 'annotations.csv', rows: [{ xyz: [0, 0, 0], diameterMm: 5 }] },
    ]);
    const s = await store.datasetSummary();
    expect(s.seriesCount).toBe(2);
    expect(s.subsets.map((g) => g.subset)).toEqual(['subset0', 'subset1']);
    expect(s.subsets[0].series[0]).toMatchObject({ seriesUid: 'a', candidates: 2, positives: 1, annotations: 1 });
    expect(s.tableSeries).toBe(2);
    await store.deleteSeries('a');
    expect(await db.chunks.where('seriesUid').equals('a').count()).toBe(0);
    expect((await store.datasetSummary()).seriesCount).toBe(1);
  });
});

function run(runId: string, createdAt: number): RunRecord {
  return {
    runId,
    name: runId,
    config: defaultConfig(),
    status: 'finished',
    createdAt,
    updatedAt: 0,
    backend: 'cpu',
    adapter: null,
    fellBackFrom: [],
    epochsDone: 1,
    samplesSeen: 8,
    history: [],
    predictions: [],
    dataDigest: '',
    labVersion: 'test',
    labUrl: '',
    trackingQueued: false,
    error: null,
    warnings: [],
  };
}

function item(runId: string, step: number): OutboxItem {
  return {
    runId,
    server: 'http://mlflow.test',
    payload: { kind: 'batch', metrics: [{ key: 'loss', value: 1, timestamp: 0, step }], params: [], tags: [] },
    createdAt: 0,
    attempts: 0,
    notBefore: 0,
    state: 'pending',
    lastError: null,
  };
}

function checkpoint(runId: string, epoch: number): CheckpointRecord {
  return {
    runId,
    epoch,
    samplesSeen: 8 * epoch,
    weights: new Blob([new Uint8Array([1, 2, 3])]),
    weightSpecs: [],
    optimizer: new Blob([new Uint8Array([4])]),
    optimizerSpecs: [],
    state: { epoch },
    createdAt: epoch,
  };
}

describe('LabStore: runs, checkpoints and the outbox', () => {
  it('lists runs newest first, updates and deletes a run with its checkpoint', async () => {
    const store = new LabStore(freshDb());
    await store.putRun(run('old', 1));
    await store.putRun(run('new', 2));
    expect((await store.listRuns()).map((r) => r.runId)).toEqual(['new', 'old']);
    await store.updateRun('old', { status: 'stopped' });
    expect((await store.getRun('old'))!.status).toBe('stopped');
    await store.putCheckpoint(run('old', 1), checkpoint('old', 1));
    expect((await store.getCheckpoint('old'))!.epoch).toBe(1);
    await store.deleteRun('old');
    expect(await store.getRun('old')).toBeUndefined();
    expect(await store.getCheckpoint('old')).toBeUndefined();
  });

  it('writes a checkpoint with the run and its tracking items, or nothing of them', async () => {
    const db = freshDb();
    const store = new LabStore(db);
    await store.putCheckpoint({ ...run('r', 1), epochsDone: 1 }, checkpoint('r', 1), [item('r', 1)]);
    expect((await store.getRun('r'))!.epochsDone).toBe(1);
    expect(await store.outboxCount()).toBe(1);
    // A checkpoint IndexedDB cannot clone aborts the transaction: the run and outbox stay as they were.
    const bad = { ...checkpoint('r', 2), state: () => 0 };
    await expect(store.putCheckpoint({ ...run('r', 1), epochsDone: 2 }, bad, [item('r', 2)])).rejects.toThrow();
    expect((await store.getRun('r'))!.epochsDone).toBe(1);
    expect((await store.getCheckpoint('r'))!.epoch).toBe(1);
    expect(await store.outboxCount()).toBe(1);
  });

  it('queues a push: the run record and its items together, or neither', async () => {
    const store = new LabStore(freshDb());
    await store.putRun(run('p', 1));
    await store.queueRunTracking({ ...run('p', 1), trackingQueued: true }, [item('p', 1), item('p', 2)]);
    expect((await store.getRun('p'))!.trackingQueued).toBe(true);
    expect(await store.outboxCount()).toBe(2);
    const unclonable = {
      ...item('q', 1),
      payload: { kind: 'status', status: 'FINISHED', endTime: (() => 0) as unknown as number },
    } as OutboxItem;
    await store.putRun(run('q', 2));
    await expect(store.queueRunTracking({ ...run('q', 2), trackingQueued: true }, [unclonable])).rejects.toThrow();
    expect((await store.getRun('q'))!.trackingQueued).toBe(false);
    expect(await store.outboxCount()).toBe(2);
  });

  it("keeps a run's evaluation with its tracking items, or neither; nothing for a deleted run", async () => {
    const store = new LabStore(freshDb());
    await store.putRun(run('e', 1));
    const ev = {
      at: 5,
      epoch: 1,
      scope: 'validation' as const,
      cpm: 0.5,
      sensitivities: [],
      cpmBand: null,
      scans: 2,
      nodules: 3,
      trainingScans: 0,
      warnings: [],
    };
    expect(await store.putRunEval('e', ev, [item('e', 1)])).toBe(true);
    expect((await store.getRun('e'))!.eval).toEqual(ev);
    expect(await store.outboxCount()).toBe(1);
    expect(await store.putRunEval('gone', ev, [item('gone', 1)])).toBe(false);
    expect(await store.outboxCount()).toBe(1);
    const unclonable = {
      ...item('e', 2),
      payload: { kind: 'status', status: 'FINISHED', endTime: (() => 0) as unknown as number },
    } as OutboxItem;
    await expect(store.putRunEval('e', { ...ev, cpm: 0.9 }, [unclonable])).rejects.toThrow();
    expect((await store.getRun('e'))!.eval!.cpm).toBe(0.5);
  });

  it("keeps the outbox in order: each run's head, updates, deletes, tracking records", async () => {
    const store = new LabStore(freshDb());
    await store.enqueue([item('a', 1), item('b', 1), item('a', 2)]);
    const all = await store.listOutbox();
    expect(all.map((i) => [i.runId, (i.payload as { metrics: { step: number }[] }).metrics[0].step])).toEqual([
      ['a', 1],
      ['b', 1],
      ['a', 2],
    ]);
    expect((await store.outboxHeads()).map((i) => i.id)).toEqual([all[0].id, all[1].id]);
    await store.updateOutboxItem(all[0].id!, { state: 'failed', lastError: 'refused' });
    expect((await store.getOutboxItem(all[0].id!))!).toMatchObject({ state: 'failed', lastError: 'refused' });
    await store.deleteOutboxItem(all[0].id!);
    expect((await store.outboxHeads()).map((i) => i.id)).toEqual([all[1].id, all[2].id]);
    await store.putTracking({ runId: 'a', server: 'http://mlflow.test', experimentId: '1', mlflowRunId: 'm' });
    expect((await store.getTracking('a'))!.mlflowRunId).toBe('m');
    expect(await store.getTracking('b')).toBeUndefined();
  });
});

describe('LabStore: per-series queries and lifecycle', () => {
  it('finds the tables of the series asked for, every candidate source, and clears crops', async () => {
    const db = freshDb();
    const store = new LabStore(db);
    await store.putSeries(series('a', [20, 8, 8]));
    await store.putCandidates([
      { seriesUid: 'a', source: 'candidates', file: 'candidates.csv', rows: [{ xyz: [0, 0, 0], isNodule: true }] },
      { seriesUid: 'a', source: 'candidates_V2', file: 'candidates_V2.csv', rows: [] },
      { seriesUid: 'b', source: 'candidates', file: 'candidates.csv', rows: [] },
    ]);
    await store.putAnnotations([
      { seriesUid: 'b', file: 'annotations.csv', rows: [{ xyz: [0, 0, 0], diameterMm: 5 }] },
    ]);
    expect((await store.candidatesFor(['a'])).map((r) => r.source).sort()).toEqual(['candidates', 'candidates_V2']);
    expect((await store.candidatesFor(['a', 'b'])).length).toBe(3);
    expect(await store.annotationsFor(['a'])).toEqual([]);
    expect((await store.annotationsFor(['a', 'b'])).map((r) => r.seriesUid)).toEqual(['b']);
    expect((await store.getSeries('a'))!.shape).toEqual([20, 8, 8]);
    expect((await store.listSeries()).map((s) => s.seriesUid)).toEqual(['a']);
    await store.readCrop('a', [10, 4, 4], [4, 4, 4]);
    expect(await db.crops.count()).toBe(1);
    await store.clearCrops();
    expect(await db.crops.count()).toBe(0);
  });

  it('a fresh store starts empty, whatever the database held', async () => {
    const first = await freshLabStore(`fresh-${n}`);
    await first.putRun(run('x', 1));
    first.close();
    const second = await freshLabStore(`fresh-${n}`);
    expect(await second.listRuns()).toEqual([]);
    expect(second.name).toBe(`fresh-${n}`);
    await second.delete();
  });
});
