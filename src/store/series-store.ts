/**
 * Series, their voxel slabs, crops and LUNA16 tables in the cache (functions over the Dexie
 * schema; callers use them through `LabStore`).
 */
import type { Irc } from '../data/volume.ts';
import type { CropSize } from '../data/crop.ts';
import { cropWindow } from '../data/crop.ts';
import { SharedLoads } from '../data/byte-lru.ts';
import { preferredTable } from '../data/candidate-selection.ts';
import { decodeSlab, encodeSlab, loadSlabCodecs, STORED_CODEC, type SlabCodec } from '../data/slab-codec.ts';
import {
  cutTiles,
  extractCropFromTiles,
  placeTile,
  STORED_TILE,
  tileGrid,
  tileShape,
  tilesOfWindow,
  type TileGrid,
} from '../data/slab-tiles.ts';
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
  TileLoader,
  TableFileRecord,
} from './records.ts';

/** Slab `c` of `CHUNK_SLICES` slices as the pieces stored for it: the slab whole (`tile` null,
 *  the layout before tiling: a view into `voxels`) or its x/y tiles (copies), each encoded on its own. */
function slabPiece(voxels: Int16Array, grid: TileGrid, tiled: boolean, c: number): Int16Array[] {
  const slice = grid.shape[1] * grid.shape[2];
  const z = c * CHUNK_SLICES;
  const view = voxels.subarray(z * slice, Math.min(grid.shape[0], z + CHUNK_SLICES) * slice);
  return tiled ? cutTiles(grid, c, view) : [view];
}

function slabCount(shape: Irc): number {
  return Math.ceil(shape[0] / CHUNK_SLICES);
}

/** A slab's record: its encoded pieces end to end in one Blob, with where each tile ends. */
function chunkRecord(seriesUid: string, chunk: number, parts: Uint8Array[], tiled: boolean): ChunkRecord {
  const data = new Blob(parts as Uint8Array<ArrayBuffer>[]);
  if (!tiled) return { seriesUid, chunk, data };
  let end = 0;
  return { seriesUid, chunk, data, tileEnds: parts.map((p) => (end += p.byteLength)) };
}

/** Split voxels into slabs of `CHUNK_SLICES` slices, one Blob each; with `tile` (null: whole
 *  slabs, the layout before tiling), each slab is cut into x/y tiles encoded on their own and
 *  laid end to end in its Blob (`tileEnds`). */
export function toChunks(
  seriesUid: string,
  voxels: Int16Array,
  shape: Irc,
  codec: SlabCodec = STORED_CODEC,
  tile: readonly [number, number] | null = STORED_TILE,
): ChunkRecord[] {
  const grid = tileGrid(shape, CHUNK_SLICES, tile ?? undefined);
  return Array.from({ length: slabCount(shape) }, (_, c) =>
    chunkRecord(
      seriesUid,
      c,
      slabPiece(voxels, grid, !!tile, c).map((v) => encodeSlab(v, codec)),
      !!tile,
    ),
  );
}

/** `toChunks`, with the pieces encoded by `encoder`: the same records, byte for byte. Slabs are
 *  cut and sent a few at a time (enough to keep every encode worker busy), each tile handed
 *  over, not copied again: cutting the whole scan up front held it twice more while it encoded. */
export async function encodeChunks(
  seriesUid: string,
  voxels: Int16Array,
  shape: Irc,
  encoder: SlabEncoder,
  codec: SlabCodec = STORED_CODEC,
  tile: readonly [number, number] | null = STORED_TILE,
): Promise<ChunkRecord[]> {
  const grid = tileGrid(shape, CHUNK_SLICES, tile ?? undefined);
  const slabs = slabCount(shape);
  const out: ChunkRecord[] = [];
  let next = 0;
  const lane = async () => {
    while (next < slabs) {
      const c = next++;
      const pieces = slabPiece(voxels, grid, !!tile, c);
      // A tile cut from the volume is the encoder's to keep; a view of the volume is not.
      const parts = pieces.map((v) => encoder.encode(v, codec, v.buffer !== voxels.buffer));
      out[c] = chunkRecord(seriesUid, c, await Promise.all(parts), !!tile);
    }
  };
  await Promise.all(Array.from({ length: Math.min(slabs, Math.max(2, 2 * encoder.size)) }, lane));
  return out;
}

/** How a series' voxels are laid out in its slabs (one tile per slab when not tiled). */
function gridOf(s: SeriesRecord): TileGrid {
  return tileGrid(s.shape, s.chunkSlices, s.tile);
}

/** A slab's encoded bytes, read whole, and where each tile ends in them. */
interface EncodedSlab {
  byteLength: number;
  bytes: Uint8Array;
  ends: number[];
}

/** The encoded bytes of tile `tile` of a slab (the whole slab when it is not tiled). */
function tileBytes(s: SeriesRecord, chunk: number, e: EncodedSlab, tile: number): Uint8Array {
  if (!(tile >= 0 && tile < e.ends.length))
    throw new Error(`series ${s.seriesUid} slab ${chunk}: has no tile ${tile}; drop the scan again`);
  return e.bytes.subarray(tile === 0 ? 0 : e.ends[tile - 1], e.ends[tile]);
}

function decodeTile(s: SeriesRecord, chunk: number, tile: number, bytes: Uint8Array): Int16Array {
  const [d, h, w] = tileShape(gridOf(s), chunk, tile);
  return decodeSlab(
    bytes,
    s.codec ?? 'raw',
    d * h * w,
    `series ${s.seriesUid} slab ${chunk}${s.tile ? ` tile ${tile}` : ''}`,
  );
}

export async function getSeries(db: LabDb, seriesUid: string): Promise<SeriesRecord | undefined> {
  return db.series.get(seriesUid);
}

export async function listSeries(db: LabDb): Promise<SeriesRecord[]> {
  return db.series.toArray();
}

/** `encoder`: where the slabs are encoded (default: in this thread); `codec`: how. */
export async function putSeries(
  db: LabDb,
  w: SeriesWrite,
  encoder?: SlabEncoder,
  codec: SlabCodec = STORED_CODEC,
): Promise<SeriesRecord> {
  const uid = w.record.seriesUid;
  await loadSlabCodecs();
  const chunks = encoder
    ? await encodeChunks(uid, w.voxels, w.record.shape, encoder, codec)
    : toChunks(uid, w.voxels, w.record.shape, codec);
  const record: SeriesRecord = {
    ...w.record,
    byteLength: w.voxels.byteLength,
    chunkSlices: CHUNK_SLICES,
    codec,
    tile: [STORED_TILE[0], STORED_TILE[1]],
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

/** The plain loader: one tile of a slab from IndexedDB, decoded. A slab's encoded bytes are
 *  read whole (one Blob read, as before tiling: per-tile Blob slices cost a storage round trip
 *  each) and kept, up to `encodedBudgetBytes`, for the other tiles of it that crops ask for;
 *  only the tiles asked for are decoded. Series records are read once. */
export function tileLoader(db: LabDb, encodedBudgetBytes = 64 << 20): TileLoader {
  const records = new Map<string, Promise<SeriesRecord | undefined>>();
  const slabs = new SharedLoads<EncodedSlab>(encodedBudgetBytes);
  return async (seriesUid, chunk, tile) => {
    let rp = records.get(seriesUid);
    if (!rp) records.set(seriesUid, (rp = db.series.get(seriesUid)));
    const s = await rp;
    if (!s) {
      records.delete(seriesUid);
      throw new Error(`series ${seriesUid} is not in the cache`);
    }
    await loadSlabCodecs();
    const e = await slabs.get(`${seriesUid}|${chunk}`, async () => {
      const rec = await db.chunks.get([seriesUid, chunk]);
      if (!rec) throw new Error(`series ${seriesUid}: slab ${chunk} is missing from the cache; drop the scan again`);
      const bytes = new Uint8Array(await rec.data.arrayBuffer());
      return { byteLength: bytes.byteLength, bytes, ends: rec.tileEnds ?? [bytes.byteLength] };
    });
    return decodeTile(s, chunk, tile, tileBytes(s, chunk, e, tile));
  };
}

/** A crop of clamped HU around `center` (irc), shifted inside the volume as the book does.
 *  Decodes only the tiles the crop spans (through `loadTile`, which may cache), and caches the
 *  crop in the `crops` table for the training side. */
export async function readCrop(
  db: LabDb,
  seriesUid: string,
  center: Irc,
  size: CropSize,
  loadTile: TileLoader = tileLoader(db),
): Promise<Int16Array> {
  const key = `${seriesUid}|${size.join(',')}|${center.join(',')}`;
  const cached = await db.crops.get(key);
  if (cached) return new Int16Array(cached.data);
  const s = await db.series.get(seriesUid);
  if (!s) throw new Error(`series ${seriesUid} is not in the cache`);
  const grid = gridOf(s);
  const win = cropWindow(center, s.shape, size);
  const tiles = new Map<string, Int16Array>();
  await Promise.all(
    tilesOfWindow(grid, win).map(async ([c, t]) => {
      tiles.set(`${c}|${t}`, await loadTile(seriesUid, c, t));
    }),
  );
  const crop = extractCropFromTiles(grid, win, (c, t) => tiles.get(`${c}|${t}`)!);
  await db.crops.put({ key, seriesUid, data: crop.buffer as ArrayBuffer });
  return crop;
}

/** Forget every cached crop (they are cut again from the slabs on the next read). */
export async function clearCrops(db: LabDb): Promise<void> {
  await db.crops.clear();
}

/** All voxels of a cached series (the viewer and the CLI need whole volumes): each slab's Blob
 *  read once, its tiles decoded into place. */
export async function readVolume(db: LabDb, seriesUid: string): Promise<{ record: SeriesRecord; voxels: Int16Array }> {
  const record = await db.series.get(seriesUid);
  if (!record) throw new Error(`series ${seriesUid} is not in the cache`);
  await loadSlabCodecs();
  const chunks = await db.chunks.where('seriesUid').equals(seriesUid).sortBy('chunk');
  const voxels = new Int16Array(record.byteLength / 2);
  const grid = gridOf(record);
  for (const ch of chunks) {
    const bytes = new Uint8Array(await ch.data.arrayBuffer());
    const ends = ch.tileEnds ?? [bytes.byteLength];
    ends.forEach((end, t) => {
      const tile = decodeTile(record, ch.chunk, t, bytes.subarray(t === 0 ? 0 : ends[t - 1], end));
      placeTile(grid, ch.chunk, t, tile, voxels);
    });
  }
  return { record, voxels };
}
