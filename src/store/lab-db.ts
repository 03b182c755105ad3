/**
 * The lab's IndexedDB cache (Dexie). Nothing else in the lab touches IndexedDB.
 *
 * Contract:
 * - A series is written in one transaction: its record, its voxel chunks and the fingerprints
 *   of the files it came from, all or nothing. Writing a series again replaces it (no
 *   duplicates); other series are never touched.
 * - Voxels are int16 HU clamped to [-1000, 1000], stored in slabs of `CHUNK_SLICES` slices so
 *   a crop reads only the slabs it spans.
 * - LUNA16 tables are stored per series, so re-dropping a CSV replaces its rows.
 * - A full disk raises `QuotaError` with the bytes needed and free; earlier series stay.
 * The database is named "luna-lab" — distinct from tfjs's own "tensorflowjs" model store.
 */
import Dexie, { type Table } from 'dexie';
import type { Irc, Mat3, Vec3, VolumeFormat, HuStats } from '../data/volume.ts';
import type { CropSize } from '../data/crop.ts';
import type { LabConfig } from '../config/lab-config.ts';
import { cropWindow, extractCropFromSlices } from '../data/crop.ts';
import { preferredTable } from '../data/candidate-selection.ts';

export const DB_NAME = 'luna-lab';
export const CHUNK_SLICES = 16;

export interface SeriesRecord {
  seriesUid: string;
  /** "subset0".. for LUNA16, else the folder it was dropped in; "" when none. */
  subset: string;
  format: VolumeFormat;
  shape: Irc;
  spacing: Vec3;
  origin: Vec3;
  direction: Mat3;
  /** HU statistics before clamping. */
  hu: HuStats;
  files: string[];
  warnings: string[];
  /** Bytes of clamped int16 voxels. */
  byteLength: number;
  /** sha-256 (hex) of the clamped voxels and geometry: the data's identity in lab URLs. */
  digest: string;
  chunkSlices: number;
  addedAt: number;
}

export interface ChunkRecord {
  seriesUid: string;
  chunk: number;
  /** int16 voxels of the slab. A Blob, not an ArrayBuffer: Chromium hands blobs to its
   *  storage by reference, so writing a 60 MB scan costs a third (see BENCHMARKS.md). */
  data: Blob;
}

export interface AnnotationRow {
  xyz: Vec3;
  diameterMm: number;
}

export interface CandidateRow {
  xyz: Vec3;
  isNodule: boolean;
}

export interface AnnotationsRecord {
  seriesUid: string;
  file: string;
  rows: AnnotationRow[];
}

export interface CandidatesRecord {
  seriesUid: string;
  /** "candidates" or "candidates_V2": both tables may be cached side by side. */
  source: string;
  file: string;
  rows: CandidateRow[];
}

export interface FileRecord {
  /** `path|size|lastModified` */
  fingerprint: string;
  seriesUid: string;
}

export interface CropRecord {
  key: string;
  seriesUid: string;
  data: ArrayBuffer;
}

export type RunStatus = 'running' | 'paused' | 'finished' | 'stopped' | 'failed' | 'interrupted';

/** The seed's metrics of one phase of one epoch; step = training samples seen. */
export interface MetricPoint {
  epoch: number;
  step: number;
  values: Record<string, number>;
}

export interface PredictionRow {
  seriesUid: string;
  xyz: Vec3;
  diameterMm: number;
  label: 0 | 1;
  prob: number;
  loss: number;
}

export interface RunRecord {
  runId: string;
  name: string;
  config: LabConfig;
  status: RunStatus;
  createdAt: number;
  updatedAt: number;
  /** tfjs backend in use, the WebGPU adapter, and backends that failed before it. */
  backend: string | null;
  adapter: string | null;
  fellBackFrom: string[];
  epochsDone: number;
  samplesSeen: number;
  history: MetricPoint[];
  /** Validation predictions of the latest epoch, per candidate. */
  predictions: PredictionRow[];
  dataDigest: string;
  labVersion: string;
  /** The lab URL that reproduces the run. */
  labUrl: string;
  /** The run's start (experiment, run, params, inputs) is in the tracking outbox. */
  trackingQueued: boolean;
  error: string | null;
  warnings: string[];
  /** Extra MLflow tags given at the start (a sweep's parent run, the headless CLI's host). */
  tags?: { key: string; value: string }[];
}

/** Everything needed to continue a run exactly where an epoch ended. */
export interface CheckpointRecord {
  runId: string;
  epoch: number;
  samplesSeen: number;
  /** tf.io.encodeWeights of the model's weights (trainable and running statistics). */
  weights: Blob;
  weightSpecs: WeightSpec[];
  optimizer: Blob;
  optimizerSpecs: WeightSpec[];
  /** Sampler and RNG states, plain JSON. */
  state: unknown;
  createdAt: number;
}

export interface WeightSpec {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32' | 'bool' | 'string' | 'complex64';
}

/** One delivery to the tracking server, kept until the server has it. */
export type OutboxPayload =
  | { kind: 'start'; experiment: string; runName: string; startTime: number; tags: { key: string; value: string }[] }
  | { kind: 'batch'; metrics: { key: string; value: number; timestamp: number; step: number }[]; params: { key: string; value: string }[]; tags: { key: string; value: string }[] }
  | { kind: 'inputs'; datasets: { name: string; digest: string; sourceType: string; source: string; tags?: { key: string; value: string }[] }[] }
  | { kind: 'artifact'; path: string; contentType: string; data: Blob }
  | { kind: 'status'; status: 'RUNNING' | 'FINISHED' | 'FAILED' | 'KILLED'; endTime?: number };

export interface OutboxItem {
  id?: number;
  /** The lab's run id. */
  runId: string;
  /** Tracking server URI the item goes to. */
  server: string;
  payload: OutboxPayload;
  createdAt: number;
  attempts: number;
  /** ms since the epoch before which no retry is made. */
  notBefore: number;
  /** 'failed': the server refused it (4xx); it waits for the user to retry or discard. */
  state: 'pending' | 'failed';
  lastError: string | null;
}

/** Where a lab run lives on a tracking server, once created there. */
export interface TrackingRecord {
  runId: string;
  server: string;
  experimentId: string;
  mlflowRunId: string;
}

export class QuotaError extends Error {
  override name = 'QuotaError';
  constructor(
    readonly what: string,
    readonly neededBytes: number,
    readonly freeBytes: number | null,
  ) {
    super(
      `Not enough browser storage for ${what}: it needs ${formatBytes(neededBytes)}, ` +
        (freeBytes === null ? 'and the free space is unknown' : `only ${formatBytes(freeBytes)} is free`) +
        '. Earlier series are kept; delete cached series or free disk space, then drop it again.',
    );
  }
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`;
}

export class LabDb extends Dexie {
  series!: Table<SeriesRecord, string>;
  chunks!: Table<ChunkRecord, [string, number]>;
  annotations!: Table<AnnotationsRecord, string>;
  candidates!: Table<CandidatesRecord, [string, string]>;
  files!: Table<FileRecord, string>;
  crops!: Table<CropRecord, string>;
  runs!: Table<RunRecord, string>;
  checkpoints!: Table<CheckpointRecord, string>;
  outbox!: Table<OutboxItem, number>;
  tracking!: Table<TrackingRecord, string>;

  constructor(name = DB_NAME) {
    super(name);
    this.version(1).stores({
      series: 'seriesUid, subset',
      chunks: '[seriesUid+chunk], seriesUid',
      annotations: 'seriesUid',
      candidates: '[seriesUid+source], seriesUid',
      files: 'fingerprint, seriesUid',
      crops: 'key, seriesUid',
    });
    this.version(2).stores({
      runs: 'runId, status, createdAt',
      checkpoints: 'runId',
    });
    this.version(3).stores({
      outbox: '++id, runId, state',
      tracking: 'runId',
    });
  }
}

let shared: LabDb | null = null;
/** The page's and workers' one connection. */
export function labDb(): LabDb {
  shared ??= new LabDb();
  return shared;
}

export interface SeriesWrite {
  record: Omit<SeriesRecord, 'chunkSlices' | 'byteLength' | 'addedAt'>;
  /** Clamped int16 voxels, x fastest. */
  voxels: Int16Array;
  fingerprints: string[];
}

/** Split voxels into slabs of `CHUNK_SLICES` slices, each its own Blob. */
export function toChunks(seriesUid: string, voxels: Int16Array, shape: Irc): ChunkRecord[] {
  const slice = shape[1] * shape[2];
  const out: ChunkRecord[] = [];
  for (let z = 0, c = 0; z < shape[0]; z += CHUNK_SLICES, c++) {
    const view = voxels.subarray(z * slice, Math.min(shape[0], z + CHUNK_SLICES) * slice);
    out.push({ seriesUid, chunk: c, data: new Blob([view as Int16Array<ArrayBuffer>]) });
  }
  return out;
}

async function chunkVoxels(c: ChunkRecord): Promise<Int16Array> {
  return new Int16Array(await c.data.arrayBuffer());
}

export async function putSeries(db: LabDb, w: SeriesWrite): Promise<SeriesRecord> {
  const uid = w.record.seriesUid;
  const record: SeriesRecord = {
    ...w.record,
    byteLength: w.voxels.byteLength,
    chunkSlices: CHUNK_SLICES,
    addedAt: Date.now(),
  };
  const chunks = toChunks(uid, w.voxels, record.shape);
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
    if (isQuotaError(e)) throw new QuotaError(`series ${uid}`, record.byteLength, await freeBytes());
    throw e;
  }
  return record;
}

export async function putAnnotations(db: LabDb, records: AnnotationsRecord[]): Promise<void> {
  await guardQuota(`annotations (${records.length} series)`, approxJsonBytes(records), () =>
    db.transaction('rw', db.annotations, () => db.annotations.bulkPut(records)),
  );
}

export async function putCandidates(db: LabDb, records: CandidatesRecord[]): Promise<void> {
  await guardQuota(`candidates (${records.length} series)`, approxJsonBytes(records), () =>
    db.transaction('rw', db.candidates, () => db.candidates.bulkPut(records)),
  );
}

async function guardQuota(what: string, bytes: number, write: () => Promise<unknown>): Promise<void> {
  try {
    await write();
  } catch (e) {
    if (isQuotaError(e)) throw new QuotaError(what, bytes, await freeBytes());
    throw e;
  }
}

function approxJsonBytes(records: { rows: unknown[] }[]): number {
  return records.reduce((n, r) => n + r.rows.length * 48, 0);
}

export function isQuotaError(e: unknown): boolean {
  if (!(e instanceof Error) && !(typeof e === 'object' && e !== null)) return false;
  const err = e as { name?: string; inner?: unknown };
  return err.name === 'QuotaExceededError' || (err.inner !== undefined && isQuotaError(err.inner));
}

export async function freeBytes(): Promise<number | null> {
  const est = await storageEstimate();
  return est && est.quota !== undefined && est.usage !== undefined ? est.quota - est.usage : null;
}

export async function storageEstimate(): Promise<StorageEstimate | null> {
  const storage = (globalThis.navigator as Navigator | undefined)?.storage;
  return storage?.estimate ? storage.estimate() : null;
}

export async function knownFingerprints(db: LabDb): Promise<Set<string>> {
  return new Set(await db.files.toCollection().primaryKeys());
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
  const data = [db.series, db.chunks, db.annotations, db.candidates, db.files, db.crops];
  await db.transaction('rw', data, async () => {
    for (const t of data) await t.clear();
  });
}

export async function putRun(db: LabDb, run: RunRecord): Promise<void> {
  await guardQuota(`run ${run.name}`, 64 << 10, () => db.runs.put({ ...run, updatedAt: Date.now() }));
}

export async function updateRun(db: LabDb, runId: string, changes: Partial<RunRecord>): Promise<void> {
  await db.runs.update(runId, { ...changes, updatedAt: Date.now() });
}

/** The run's record, its checkpoint and the tracking items of the epoch, written together:
 *  a checkpoint never disagrees with the history it follows, and the tracking server gets
 *  exactly the points the run holds. */
export async function putCheckpoint(db: LabDb, run: RunRecord, cp: CheckpointRecord, outbox: OutboxItem[] = []): Promise<void> {
  await guardQuota(`a checkpoint of run ${run.name}`, cp.weights.size + cp.optimizer.size, () =>
    db.transaction('rw', [db.runs, db.checkpoints, db.outbox], async () => {
      await db.checkpoints.put(cp);
      await db.runs.put({ ...run, updatedAt: Date.now() });
      if (outbox.length) await db.outbox.bulkAdd(outbox);
    }),
  );
}

export async function enqueue(db: LabDb, items: OutboxItem[]): Promise<void> {
  if (items.length) await guardQuota(`${items.length} tracking items`, 4096 * items.length, () => db.outbox.bulkAdd(items));
}

export async function listRuns(db: LabDb): Promise<RunRecord[]> {
  return db.runs.orderBy('createdAt').reverse().toArray();
}

export async function deleteRun(db: LabDb, runId: string): Promise<void> {
  await db.transaction('rw', [db.runs, db.checkpoints], async () => {
    await db.checkpoints.delete(runId);
    await db.runs.delete(runId);
  });
}

export interface SeriesSummary {
  seriesUid: string;
  subset: string;
  format: VolumeFormat;
  shape: Irc;
  byteLength: number;
  warnings: string[];
  annotations: number;
  candidates: number;
  positives: number;
}

export interface DatasetSummary {
  subsets: { subset: string; series: SeriesSummary[] }[];
  seriesCount: number;
  voxelBytes: number;
  /** Series named in cached CSVs; most LUNA16 series will not be dropped. */
  tableSeries: number;
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
    tableSeries: tableUids.size,
  };
}

/** Loads one decoded slab of a series; callers may cache and share loads across crops. */
export type SlabLoader = (seriesUid: string, chunk: number) => Promise<Int16Array>;

/** The plain loader: one slab from IndexedDB. */
export function slabLoader(db: LabDb): SlabLoader {
  return async (seriesUid, chunk) => {
    const rec = await db.chunks.get([seriesUid, chunk]);
    if (!rec) throw new Error(`series ${seriesUid}: slab ${chunk} is missing from the cache; drop the scan again`);
    return chunkVoxels(rec);
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

/** All voxels of a cached series (the viewer and the CLI need whole volumes). */
export async function readVolume(db: LabDb, seriesUid: string): Promise<{ record: SeriesRecord; voxels: Int16Array }> {
  const record = await db.series.get(seriesUid);
  if (!record) throw new Error(`series ${seriesUid} is not in the cache`);
  const chunks = await db.chunks.where('seriesUid').equals(seriesUid).sortBy('chunk');
  const voxels = new Int16Array(record.byteLength / 2);
  const slice = record.shape[1] * record.shape[2];
  for (const ch of chunks) voxels.set(await chunkVoxels(ch), ch.chunk * record.chunkSlices * slice);
  return { record, voxels };
}
