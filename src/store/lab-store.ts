/**
 * The lab's IndexedDB cache, as one API: `LabStore`. It and the modules behind it
 * (lab-db.ts, series-store.ts, run-store.ts, outbox-store.ts) are the only code that imports
 * Dexie or touches IndexedDB; record types live in records.ts for those who only need shapes.
 *
 * Contract:
 * - A series is written in one transaction: its record, its voxel chunks and the fingerprints
 *   of the files it came from, all or nothing. Writing a series again replaces it (no
 *   duplicates); other series are never touched.
 * - Voxels are int16 HU clamped to [-1000, 1000], stored in slabs of `CHUNK_SLICES` slices,
 *   each cut into x/y tiles encoded on their own, so a crop reads and decodes only the tiles
 *   it spans (series records without `tile` hold whole slabs, as older profiles wrote them).
 * - LUNA16 tables are stored per series, so re-dropping a CSV replaces its rows; a CSV already
 *   stored (same fingerprint, or same content digest) is not parsed or stored again.
 * - Slabs are stored compressed (the series record names the codec; records without one are
 *   raw, as older profiles wrote them, and read as such).
 * - A run's record is written with what must agree with it in one transaction: its checkpoint
 *   and the epoch's tracking items (`putCheckpoint`), or the items of a push (`queueRunTracking`).
 * - A full disk raises `QuotaError` with the bytes needed and free; a series that cannot fit
 *   is refused before its write; earlier series stay.
 * The database is named "luna-lab" — distinct from tfjs's own "tensorflowjs" model store.
 */
import type { CropSize } from '../data/crop.ts';
import type { Irc } from '../data/volume.ts';
import type { SlabEncoder } from '../data/slab-encoder.ts';
import type { SlabCodec } from '../data/slab-codec.ts';
import { DB_NAME, LabDb } from './lab-db.ts';
import * as outbox from './outbox-store.ts';
import * as runs from './run-store.ts';
import * as series from './series-store.ts';
import type {
  AnnotationsRecord,
  MalignancyRecord,
  CandidatesRecord,
  CheckpointRecord,
  DatasetSummary,
  OutboxItem,
  RunEval,
  RunRecord,
  SeriesRecord,
  SeriesWrite,
  TileLoader,
  TableFileRecord,
  TrackingRecord,
} from './records.ts';

export class LabStore {
  constructor(private readonly db: LabDb) {}

  /** The IndexedDB database's name. */
  get name(): string {
    return this.db.name;
  }

  close(): void {
    this.db.close();
  }

  /** Delete the whole database (tests and benchmarks clean up their own). */
  async delete(): Promise<void> {
    await this.db.delete();
  }

  // Series and their LUNA16 tables.
  getSeries(seriesUid: string): Promise<SeriesRecord | undefined> {
    return series.getSeries(this.db, seriesUid);
  }
  listSeries(): Promise<SeriesRecord[]> {
    return series.listSeries(this.db);
  }
  /** `encoder`: where its slabs are encoded (default: in this thread; ingest passes a worker pool);
   *  `codec`: how (default: STORED_CODEC). */
  putSeries(w: SeriesWrite, encoder?: SlabEncoder, codec?: SlabCodec): Promise<SeriesRecord> {
    return series.putSeries(this.db, w, encoder, codec);
  }
  deleteSeries(seriesUid: string): Promise<void> {
    return series.deleteSeries(this.db, seriesUid);
  }
  deleteSubset(subset: string): Promise<void> {
    return series.deleteSubset(this.db, subset);
  }
  /** Delete every cached scan and table; runs and their checkpoints are kept. */
  clearAll(): Promise<void> {
    return series.clearAll(this.db);
  }
  /** Fingerprints (`path|size|lastModified`) of every file a cached series came from. */
  knownFingerprints(): Promise<Set<string>> {
    return series.knownFingerprints(this.db);
  }
  /** The cached series these file fingerprints (`path|size|lastModified`) came from. */
  seriesOfFiles(fingerprints: readonly string[]): Promise<string[]> {
    return series.seriesOfFiles(this.db, fingerprints);
  }
  /** Content digests (sha-256) of the CSVs whose rows are cached, to the table each fills. */
  knownTableDigests(): Promise<Map<string, string>> {
    return series.knownTableDigests(this.db);
  }
  /** Remember a stored CSV (by fingerprint and digest); it replaces other contents of its table. */
  putTableFile(rec: TableFileRecord): Promise<void> {
    return series.putTableFile(this.db, rec);
  }
  putAnnotations(records: AnnotationsRecord[]): Promise<void> {
    return series.putAnnotations(this.db, records);
  }
  putCandidates(records: CandidatesRecord[]): Promise<void> {
    return series.putCandidates(this.db, records);
  }
  putMalignancy(records: MalignancyRecord[]): Promise<void> {
    return series.putMalignancy(this.db, records);
  }
  malignancyFor(seriesUids: readonly string[]): Promise<MalignancyRecord[]> {
    return series.malignancyFor(this.db, seriesUids);
  }
  annotationsFor(seriesUids: readonly string[]): Promise<AnnotationsRecord[]> {
    return series.annotationsFor(this.db, seriesUids);
  }
  candidatesFor(seriesUids: readonly string[]): Promise<CandidatesRecord[]> {
    return series.candidatesFor(this.db, seriesUids);
  }
  /** Everything the dataset panel shows, from the cache alone (no voxel reads). */
  datasetSummary(): Promise<DatasetSummary> {
    return series.datasetSummary(this.db);
  }

  // Voxels.
  /** The plain loader: one tile of a slab from IndexedDB. */
  tileLoader(): TileLoader {
    return series.tileLoader(this.db);
  }
  /** A crop of clamped HU around `center` (irc), cached in the crops table; see series-store.ts. */
  readCrop(seriesUid: string, center: Irc, size: CropSize, loadTile?: TileLoader): Promise<Int16Array> {
    return series.readCrop(this.db, seriesUid, center, size, loadTile);
  }
  /** All voxels of a cached series (the viewer and the CLI need whole volumes). */
  readVolume(seriesUid: string): Promise<{ record: SeriesRecord; voxels: Int16Array }> {
    return series.readVolume(this.db, seriesUid);
  }
  clearCrops(): Promise<void> {
    return series.clearCrops(this.db);
  }

  // Runs and checkpoints.
  getRun(runId: string): Promise<RunRecord | undefined> {
    return runs.getRun(this.db, runId);
  }
  /** Newest first. */
  listRuns(): Promise<RunRecord[]> {
    return runs.listRuns(this.db);
  }
  putRun(run: RunRecord): Promise<void> {
    return runs.putRun(this.db, run);
  }
  updateRun(runId: string, changes: Partial<RunRecord>): Promise<void> {
    return runs.updateRun(this.db, runId, changes);
  }
  /** The run and its checkpoint; its tracking items stay queued. */
  deleteRun(runId: string): Promise<void> {
    return runs.deleteRun(this.db, runId);
  }
  getCheckpoint(runId: string): Promise<CheckpointRecord | undefined> {
    return runs.getCheckpoint(this.db, runId);
  }
  /** The run's record, its checkpoint and the epoch's tracking items, in one transaction. */
  putCheckpoint(run: RunRecord, cp: CheckpointRecord, items: OutboxItem[] = []): Promise<void> {
    return runs.putCheckpoint(this.db, run, cp, items);
  }
  /** The run's record and its tracking items, in one transaction. */
  queueRunTracking(run: RunRecord, items: OutboxItem[]): Promise<void> {
    return runs.queueRunTracking(this.db, run, items);
  }

  /** The run's evaluation and its tracking items, in one transaction; false when the run is gone. */
  putRunEval(runId: string, result: RunEval, items: OutboxItem[] = []): Promise<boolean> {
    return runs.putRunEval(this.db, runId, result, items);
  }

  // The tracking outbox.
  enqueue(items: OutboxItem[]): Promise<void> {
    return outbox.enqueue(this.db, items);
  }
  /** Every queued item, oldest first. */
  listOutbox(): Promise<OutboxItem[]> {
    return outbox.listOutbox(this.db);
  }
  outboxCount(): Promise<number> {
    return outbox.outboxCount(this.db);
  }
  /** Each run's oldest queued item, oldest first. */
  outboxHeads(): Promise<OutboxItem[]> {
    return outbox.outboxHeads(this.db);
  }
  getOutboxItem(id: number): Promise<OutboxItem | undefined> {
    return outbox.getOutboxItem(this.db, id);
  }
  updateOutboxItem(id: number, changes: Partial<Omit<OutboxItem, 'id'>>): Promise<void> {
    return outbox.updateOutboxItem(this.db, id, changes);
  }
  deleteOutboxItem(id: number): Promise<void> {
    return outbox.deleteOutboxItem(this.db, id);
  }
  /** Where a run lives on its tracking server, once created there. */
  getTracking(runId: string): Promise<TrackingRecord | undefined> {
    return outbox.getTracking(this.db, runId);
  }
  putTracking(rec: TrackingRecord): Promise<void> {
    return outbox.putTracking(this.db, rec);
  }
}

/** A store over the database `name` (opened on first use). */
export function openLabStore(name: string = DB_NAME): LabStore {
  return new LabStore(new LabDb(name));
}

/** A store over an emptied database `name` (benchmarks and test pages start from nothing). */
export async function freshLabStore(name: string): Promise<LabStore> {
  const db = new LabDb(name);
  await db.delete();
  await db.open();
  return new LabStore(db);
}

let shared: LabStore | null = null;
/** The page's and workers' one connection. */
export function labStore(): LabStore {
  shared ??= openLabStore();
  return shared;
}
