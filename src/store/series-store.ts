/**
 * Series, their voxel slabs, crops and LUNA16 tables in the cache (functions over the Dexie
 * schema; callers use them through `LabStore`).
 */
import type { Irc } from '../data/volume.ts';
import type { CropSize } from '../data/crop.ts';
import { cropWindow, extractCropFromSlices } from '../data/crop.ts';
import { preferredTable } from '../data/candidate-selection.ts';
import { decodeSlab, encodeSlab, STORED_CODEC, type SlabCodec } from '../data/slab-codec.ts';
import type { SlabEncoder } from '../data/slab-encoder.ts';
import { CHUNK_SLICES, type LabDb } from './lab-db.ts';
import { guardQuota, isQuotaError, quotaErrorFor, refuseIfNoRoom } from './quota.ts';
import type {
  AnnotationsRecord,
  CandidatesRecord,
  ChunkRecord,
  DatasetSummary,
  MalignancyRecord,
  SeriesRecord,
  SeriesSummary,
  SeriesWrite,
  SlabLoader,
  TableFileRecord,
} from './records.ts';

/** Split voxels into slabs of `CHUNK_SLICES` slices, each encoded with `codec` into its own Blob. */
export function toChunks(
  seriesUid: string,
  voxels: Int16Array,
  shape: Irc,
  codec: SlabCodec = STORED_CODEC,
): ChunkRecord[] {
  const slice = shape[1] * shape[2];
  const out: ChunkRecord[] = [];
  for (let z = 0, c = 0; z < shape[0]; z += CHUNK_SLICES, c++) {
    const view = voxels.subarray(z * slice, Math.min(shape[0], z + CHUNK_SLICES) * slice);
    out.push({ seriesUid, chunk: c, data: new Blob([encodeSlab(view, codec) as Uint8Array<ArrayBuffer>]) });
  }
  return out;
}

/** `toChunks`, with the slabs encoded by `encoder` (all at once, so a pool encodes them in
 *  parallel): the same records, byte for byte. */
export async function encodeChunks(
  seriesUid: string,
  voxels: Int16Array,
  shape: Irc,
  encoder: SlabEncoder,
  codec: SlabCodec = STORED_CODEC,
): Promise<ChunkRecord[]> {
  const slice = shape[1] * shape[2];
  const jobs: Promise<ChunkRecord>[] = [];
  for (let z = 0, c = 0; z < shape[0]; z += CHUNK_SLICES, c++) {
    const view = voxels.subarray(z * slice, Math.min(shape[0], z + CHUNK_SLICES) * slice);
    const chunk = c;
    jobs.push(
      encoder
        .encode(view, codec)
        .then((bytes) => ({ seriesUid, chunk, data: new Blob([bytes as Uint8Array<ArrayBuffer>]) })),
    );
  }
  return Promise.all(jobs);
}

/** Voxels in slab `c.chunk` of `s` (its last slab may be short). */
function slabVoxelCount(s: SeriesRecord, chunk: number): number {
  const slices = Math.min(s.chunkSlices, s.shape[0] - chunk * s.chunkSlices);
  return Math.max(0, slices) * s.shape[1] * s.shape[2];
}

async function chunkVoxels(s: SeriesRecord, c: ChunkRecord): Promise<Int16Array> {
  return decodeSlab(
    new Uint8Array(await c.data.arrayBuffer()),
    s.codec ?? 'raw',
    slabVoxelCount(s, c.chunk),
    `series ${s.seriesUid} slab ${c.chunk}`,
  );
}

export async function getSeries(db: LabDb, seriesUid: string): Promise<SeriesRecord | undefined> {
  return db.series.get(seriesUid);
}

export async function listSeries(db: LabDb): Promise<SeriesRecord[]> {
  return db.series.toArray();
}

/** `encoder`: where the slabs are encoded (default: in this thread). */
export async function putSeries(db: LabDb, w: SeriesWrite, encoder?: SlabEncoder): Promise<SeriesRecord> {
  const uid = w.record.seriesUid;
  const chunks = encoder
    ? await encodeChunks(uid, w.voxels, w.record.shape, encoder, STORED_CODEC)
    : toChunks(uid, w.voxels, w.record.shape, STORED_CODEC);
  const record: SeriesRecord = {
    ...w.record,
    byteLength: w.voxels.byteLength,
    chunkSlices: CHUNK_SLICES,
    codec: STORED_CODEC,
    storedBytes: chunks.reduce((n, c) => n + c.data.size, 0),
    addedAt: Date.now(),
  };
  // Refused before writing when the encoded slabs cannot fit (less what a replaced copy frees).
  const old = await db.series.get(uid);
  await refuseIfNoRoom(`series ${uid}`, record.storedBytes! - (old ? storedBytesOf(old) : 0));
  try {
    await db.transaction('rw', [db.series, db.chunks, db.files, db.crops], async () => {
      await db.chunks.where('seriesUid').equals(uid).delete();
      await db.crops.where('seriesUid').equals(uid).delete();
      await db.files.where('seriesUid').equals(uid).delete();
      await db.chunks.bulkPut(chunks);
      await db.files.bulkPut(w.fingerprints.map((fingerprint) => ({ fingerprint, seriesUid: uid })));
      await db.series.put(record);
    });
  } catch (e) {
    if (isQuotaError(e)) throw await quotaErrorFor(`series ${uid}`, record.storedBytes!);
    throw e;
  }
  return record;
}

export async function putAnnotations(db: LabDb, records: AnnotationsRecord[]): Promise<void> {
  await guardQuota(`annotations (${records.length} series)`, approxJsonBytes(records), () =>
    db.transaction('rw', db.annotations, () => db.annotations.bulkPut(records)),
  );
}

export async function putMalignancy(db: LabDb, records: MalignancyRecord[]): Promise<void> {
  await guardQuota(`malignancy labels (${records.length} series)`, approxJsonBytes(records), () =>
    db.transaction('rw', db.malignancy, () => db.malignancy.bulkPut(records)),
  );
}

/** The malignancy tables of these series (one record per series that has any). */
export async function malignancyFor(db: LabDb, seriesUids: readonly string[]): Promise<MalignancyRecord[]> {
  return db.malignancy.where('seriesUid').anyOf(seriesUids).toArray();
}

export async function putCandidates(db: LabDb, records: CandidatesRecord[]): Promise<void> {
  await guardQuota(`candidates (${records.length} series)`, approxJsonBytes(records), () =>
    db.transaction('rw', db.candidates, () => db.candidates.bulkPut(records)),
  );
}

/** The annotation tables of these series (one record per series that has any). */
export async function annotationsFor(db: LabDb, seriesUids: readonly string[]): Promise<AnnotationsRecord[]> {
  return db.annotations.where('seriesUid').anyOf(seriesUids).toArray();
}

/** The candidate tables of these series, every source ("candidates", "candidates_V2") cached. */
export async function candidatesFor(db: LabDb, seriesUids: readonly string[]): Promise<CandidatesRecord[]> {
  return db.candidates.where('seriesUid').anyOf(seriesUids).toArray();
}

/** Bytes a series' slabs take on disk. */
export function storedBytesOf(s: SeriesRecord): number {
  return s.storedBytes ?? s.byteLength;
}

function approxJsonBytes(records: { rows: unknown[] }[]): number {
  return records.reduce((n, r) => n + r.rows.length * 48, 0);
}

export async function knownFingerprints(db: LabDb): Promise<Set<string>> {
  const [files, tables] = await Promise.all([
    db.files.toCollection().primaryKeys(),
    db.tableFiles.toCollection().primaryKeys(),
  ]);
  return new Set([...files, ...tables]);
}

/** The cached series these file fingerprints came from, each once, in first-seen order. */
export async function seriesOfFiles(db: LabDb, fingerprints: readonly string[]): Promise<string[]> {
  const recs = await db.files.bulkGet([...fingerprints]);
  return [...new Set(recs.flatMap((r) => (r ? [r.seriesUid] : [])))];
}

/** Content digests of the CSVs whose rows the cache holds, to the table each fills. */
export async function knownTableDigests(db: LabDb): Promise<Map<string, string>> {
  return new Map((await db.tableFiles.toArray()).map((t) => [t.digest, t.table]));
}

/** Remember a CSV whose rows are stored; other contents of the same table are forgotten
 *  (their rows were replaced, so they would be read again). */
export async function putTableFile(db: LabDb, rec: TableFileRecord): Promise<void> {
  await db.transaction('rw', db.tableFiles, async () => {
    await db.tableFiles
      .where('table')
      .equals(rec.table)
      .filter((t) => t.digest !== rec.digest)
      .delete();
    await db.tableFiles.put(rec);
  });
}

export async function deleteSeries(db: LabDb, seriesUid: string): Promise<void> {
  await db.transaction('rw', [db.series, db.chunks, db.files, db.crops], async () => {
    await db.chunks.where('seriesUid').equals(seriesUid).delete();
    await db.crops.where('seriesUid').equals(seriesUid).delete();
    await db.files.where('seriesUid').equals(seriesUid).delete();
    await db.series.delete(seriesUid);
  });
}

export async function deleteSubset(db: LabDb, subset: string): Promise<void> {
  const uids = await db.series.where('subset').equals(subset).primaryKeys();
  for (const uid of uids) await deleteSeries(db, uid);
}

/** Delete every cached scan and table; runs and their checkpoints are kept. */
export async function clearAll(db: LabDb): Promise<void> {
  const data = [db.series, db.chunks, db.annotations, db.malignancy, db.candidates, db.files, db.crops, db.tableFiles];
  await db.transaction('rw', data, async () => {
    for (const t of data) await t.clear();
  });
}

/** Everything the dataset panel shows, from the cache alone (no voxel reads). */
export async function datasetSummary(db: LabDb): Promise<DatasetSummary> {
  const [series, annotations, candidates] = await Promise.all([
    db.series.toArray(),
    db.annotations.toArray(),
    db.candidates.toArray(),
  ]);
  const ann = new Map(annotations.map((a) => [a.seriesUid, a.rows.length]));
  const cand = new Map<string, { n: number; pos: number; source: string }>();
  for (const c of candidates) {
    // One table per series, the preferred of those cached (candidate-selection.ts).
    const prev = cand.get(c.seriesUid);
    if (prev && preferredTable([prev.source, c.source], (t) => t) === prev.source) continue;
    cand.set(c.seriesUid, { n: c.rows.length, pos: c.rows.filter((r) => r.isNodule).length, source: c.source });
  }
  const groups = new Map<string, SeriesSummary[]>();
  for (const s of series) {
    const list = groups.get(s.subset) ?? [];
    list.push({
      seriesUid: s.seriesUid,
      subset: s.subset,
      format: s.format,
      shape: s.shape,
      byteLength: s.byteLength,
      storedBytes: storedBytesOf(s),
      warnings: s.warnings,
      annotations: ann.get(s.seriesUid) ?? 0,
      candidates: cand.get(s.seriesUid)?.n ?? 0,
      positives: cand.get(s.seriesUid)?.pos ?? 0,
    });
    groups.set(s.subset, list);
  }
  const tableUids = new Set([...ann.keys(), ...cand.keys()]);
  return {
    subsets: [...groups.entries()]
      .sort(([a], [b]) => a.localeCompare(b, undefined, { numeric: true }))
      .map(([subset, list]) => ({ subset, series: list.sort((a, b) => a.seriesUid.localeCompare(b.seriesUid)) })),
    seriesCount: series.length,
    voxelBytes: series.reduce((n, s) => n + s.byteLength, 0),
    storedBytes: series.reduce((n, s) => n + storedBytesOf(s), 0),
    tableSeries: tableUids.size,
  };
}

/** The plain loader: one slab from IndexedDB, decoded (series records are read once). */
export function slabLoader(db: LabDb): SlabLoader {
  const records = new Map<string, Promise<SeriesRecord | undefined>>();
  return async (seriesUid, chunk) => {
    let rp = records.get(seriesUid);
    if (!rp) records.set(seriesUid, (rp = db.series.get(seriesUid)));
    const [s, rec] = await Promise.all([rp, db.chunks.get([seriesUid, chunk])]);
    if (!s) {
      records.delete(seriesUid);
      throw new Error(`series ${seriesUid} is not in the cache`);
    }
    if (!rec) throw new Error(`series ${seriesUid}: slab ${chunk} is missing from the cache; drop the scan again`);
    return chunkVoxels(s, rec);
  };
}

/** A crop of clamped HU around `center` (irc), shifted inside the volume as the book does.
 *  Reads only the slabs the crop spans (through `loadSlab`, which may cache), and caches the
 *  crop in the `crops` table for the training side. */
export async function readCrop(
  db: LabDb,
  seriesUid: string,
  center: Irc,
  size: CropSize,
  loadSlab: SlabLoader = slabLoader(db),
): Promise<Int16Array> {
  const key = `${seriesUid}|${size.join(',')}|${center.join(',')}`;
  const cached = await db.crops.get(key);
  if (cached) return new Int16Array(cached.data);
  const s = await db.series.get(seriesUid);
  if (!s) throw new Error(`series ${seriesUid} is not in the cache`);
  const win = cropWindow(center, s.shape, size);
  const c0 = Math.floor(Math.max(0, win.start[0]) / s.chunkSlices);
  const c1 = Math.floor((Math.min(s.shape[0], win.start[0] + size[0]) - 1) / s.chunkSlices);
  const slabs = new Map<number, Int16Array>();
  await Promise.all(
    Array.from({ length: c1 - c0 + 1 }, async (_, k) => {
      slabs.set(c0 + k, await loadSlab(seriesUid, c0 + k));
    }),
  );
  const slice = s.shape[1] * s.shape[2];
  const crop = extractCropFromSlices(
    (z) => ({ data: slabs.get(Math.floor(z / s.chunkSlices))!, offset: (z % s.chunkSlices) * slice }),
    s.shape,
    win,
  );
  await db.crops.put({ key, seriesUid, data: crop.buffer as ArrayBuffer });
  return crop;
}

/** Forget every cached crop (they are cut again from the slabs on the next read). */
export async function clearCrops(db: LabDb): Promise<void> {
  await db.crops.clear();
}

/** All voxels of a cached series (the viewer and the CLI need whole volumes). */
export async function readVolume(db: LabDb, seriesUid: string): Promise<{ record: SeriesRecord; voxels: Int16Array }> {
  const record = await db.series.get(seriesUid);
  if (!record) throw new Error(`series ${seriesUid} is not in the cache`);
  const chunks = await db.chunks.where('seriesUid').equals(seriesUid).sortBy('chunk');
  const voxels = new Int16Array(record.byteLength / 2);
  const slice = record.shape[1] * record.shape[2];
  for (const ch of chunks) voxels.set(await chunkVoxels(record, ch), ch.chunk * record.chunkSlices * slice);
  return { record, voxels };
}
