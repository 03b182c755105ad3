/**
 * The records the lab keeps in its IndexedDB cache, as types only: importing this module
 * never loads the database. Everything outside `src/store` that needs a record's shape but not
 * the records themselves imports it from here (`import type`); reading and writing them goes
 * through `LabStore` (lab-store.ts).
 */
import type { Irc, Mat3, Vec3, VolumeFormat, HuStats } from '../data/volume.ts';
import type { LabConfig } from '../config/lab-config.ts';
import type { PhaseCurves } from '../model/curves.ts';
import type { SlabCodec } from '../data/slab-codec.ts';

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
  /** How the slabs are encoded (src/data/slab-codec.ts); absent: 'raw', as written before
   *  slabs were compressed, and read as such. */
  codec?: SlabCodec;
  /** Bytes of the encoded slabs on disk (absent: byteLength, raw). */
  storedBytes?: number;
  /** [rows, cols] of the x/y tiles each slab is cut into, each tile encoded on its own so a
   *  crop decodes only the tiles it spans (src/data/slab-tiles.ts); absent: whole slabs, as
   *  written before tiling, and read as such. */
  tile?: [number, number];
  addedAt: number;
}

export interface ChunkRecord {
  seriesUid: string;
  chunk: number;
  /** The slab's int16 voxels, encoded with its series' `codec`. A Blob, not an ArrayBuffer:
   *  Chromium hands blobs to its storage by reference, so writing a 60 MB scan costs a third
   *  (see BENCHMARKS.md). */
  data: Blob;
  /** With a tiled series: where each tile's encoding ends in `data` (bytes, tile order), so a
   *  tile is read as a slice of the blob. Absent: `data` is the whole slab. */
  tileEnds?: number[];
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

/** `annotations_with_malignancy.csv` rows of one series (the book's p2ch14 nodules). */
export interface MalignancyRow {
  xyz: Vec3;
  diameterMm: number;
  malignant: boolean;
}

export interface MalignancyRecord {
  seriesUid: string;
  file: string;
  rows: MalignancyRow[];
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

/** A LUNA16 CSV whose rows are cached: found again by its fingerprint, or its content's digest
 *  under another name or mtime, so it is not parsed and stored again. */
export interface TableFileRecord {
  /** `path|size|lastModified` of a file with this content. */
  fingerprint: string;
  /** sha-256 (hex) of the file's bytes. */
  digest: string;
  /** "annotations", "malignancy", "candidates" or "candidates_V2": a newer table of the same name replaces it. */
  table: string;
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
  /** The phase's PR curve and histogram data, for TensorBoard (points of labs before it lack it). */
  curves?: PhaseCurves;
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
  /** The only series the run may use, when its start named them (a headless run trains on
   *  its `--data`'s series, not on whatever else the cache holds under the same subsets). */
  series?: string[];
  /** The last LUNA16 evaluation (FROC) of the run's model, when one was made. */
  eval?: RunEval;
}

/** A FROC evaluation of a run's model, as kept with the run (the curve and marks are not kept). */
export interface RunEval {
  /** ms since the epoch. */
  at: number;
  /** The checkpoint's epoch that was evaluated. */
  epoch: number;
  /** 'validation': the run's validation series; 'all': every cached scan. */
  scope: 'validation' | 'all';
  cpm: number;
  /** At LUNA16's seven FP rates, in order. */
  sensitivities: { fpsPerScan: number; sensitivity: number }[];
  /** The bootstrap band of the CPM, when computed. */
  cpmBand: { lower: number; upper: number; confidence: number } | null;
  scans: number;
  nodules: number;
  /** Scored scans that also gave the run training candidates (0: held out). */
  trainingScans: number;
  warnings: string[];
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
  | {
      kind: 'batch';
      metrics: { key: string; value: number; timestamp: number; step: number }[];
      params: { key: string; value: string }[];
      tags: { key: string; value: string }[];
    }
  | {
      kind: 'inputs';
      datasets: {
        name: string;
        digest: string;
        sourceType: string;
        source: string;
        tags?: { key: string; value: string }[];
      }[];
    }
  | { kind: 'artifact'; path: string; contentType: string; data: Blob }
  | { kind: 'status'; status: 'RUNNING' | 'FINISHED' | 'FAILED' | 'KILLED'; endTime?: number }
  /** Register the run's `model/` artifact in the Model Registry under `name` (after the artifacts). */
  | { kind: 'register'; name: string };

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

export interface SeriesWrite {
  record: Omit<SeriesRecord, 'chunkSlices' | 'byteLength' | 'addedAt' | 'codec' | 'storedBytes' | 'tile'>;
  /** Clamped int16 voxels, x fastest. */
  voxels: Int16Array;
  fingerprints: string[];
}

export interface SeriesSummary {
  seriesUid: string;
  subset: string;
  format: VolumeFormat;
  shape: Irc;
  byteLength: number;
  /** Bytes of its encoded slabs on disk. */
  storedBytes: number;
  warnings: string[];
  annotations: number;
  candidates: number;
  positives: number;
}

export interface DatasetSummary {
  subsets: { subset: string; series: SeriesSummary[] }[];
  seriesCount: number;
  voxelBytes: number;
  /** Bytes of the encoded slabs on disk. */
  storedBytes: number;
  /** Series named in cached CSVs; most LUNA16 series will not be dropped. */
  tableSeries: number;
}

/** Loads one decoded tile of a slab of a series (tile 0 of a whole-slab series is the whole
 *  slab); callers may cache and share loads across crops. */
export type TileLoader = (seriesUid: string, chunk: number, tile: number) => Promise<Int16Array>;
