/**
 * The Dexie schema of the lab's IndexedDB cache: its tables, keys and versions. Private to
 * `src/store`: the rest of the lab reads and writes through `LabStore` (lab-store.ts), whose
 * header states the cache's contract.
 * The database is named "luna-lab" — distinct from tfjs's own "tensorflowjs" model store.
 */
import Dexie, { type Table } from 'dexie';
import type {
  AnnotationsRecord,
  CandidatesRecord,
  CheckpointRecord,
  ChunkRecord,
  CropRecord,
  FileRecord,
  MalignancyRecord,
  OutboxItem,
  TableFileRecord,
  RunRecord,
  SeriesRecord,
  TrackingRecord,
} from './records.ts';

export const DB_NAME = 'luna-lab';
/** Voxels are stored in slabs of this many slices (each cut into x/y tiles), so a crop reads
 *  only the slabs and tiles it spans. */
export const CHUNK_SLICES = 16;

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
  malignancy!: Table<MalignancyRecord, string>;
  tableFiles!: Table<TableFileRecord, string>;

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
    // annotations_with_malignancy.csv, beside annotations.csv (which keeps the nodule task's rows).
    this.version(4).stores({
      malignancy: 'seriesUid',
    });
    // Slabs became compressed without a schema change: a series record names its codec. They
    // became tiled without one too (same chunks key): a series record's `tile` says so.
    this.version(5).stores({
      tableFiles: 'fingerprint, digest, table',
    });
  }
}
