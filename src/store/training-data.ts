/**
 * From the cache to training batches: the candidate list of the selected series (matched to
 * annotations the book's way), crops read from IndexedDB through an in-memory LRU, and
 * batches assembled ahead of the trainer (prefetch), augmented on data workers, so the GPU
 * does not wait on storage or on the augmentation.
 */
import type { LabConfig } from '../config/lab-config.ts';
import type { Annotation, Candidate, CandidateInfo } from '../data/luna-csv.ts';
import { chooseCandidateTable, selectCandidates } from '../data/candidate-selection.ts';
import { xyzToIrc } from '../data/geometry.ts';
import { packCrops } from '../data/augment-batch.ts';
import { inThreadPool, type AugmentPool } from '../data/augment-pool.ts';
import type { CropSize } from '../data/crop.ts';
import type { Batch } from '../model/trainable-model.ts';
import type { Irc } from '../data/volume.ts';
import type { SeriesRecord, SlabLoader } from './records.ts';
import type { LabStore } from './lab-store.ts';
import { toHex } from '../data/hex.ts';
import { compareData, describeMismatch, subsetDigests } from './data-selection.ts';

export interface CandidateSet {
  candidates: CandidateInfo[];
  series: Map<string, SeriesRecord>;
  /** sha-256 over the used series' uids and voxel digests: the data's identity. */
  dataDigest: string;
  warnings: string[];
}

export class TrainingDataError extends Error {
  override name = 'TrainingDataError';
}

/**
 * The candidates of the config's series. `table: 'preferred'` takes the preferred cached table
 * (candidate-selection.ts) instead of `config.data.candidates`: a model file to evaluate brings
 * no table choice of its own.
 */
export async function loadCandidateSet(db: LabStore, config: LabConfig, opts: { table?: 'configured' | 'preferred' } = {}): Promise<CandidateSet> {
  const all = await db.listSeries();
  // A URL that names its data by digest trains on exactly those subsets.
  const wanted = new Set(config.data.subsets.length ? config.data.subsets : config.data.digest.map((d) => d.split(':')[0]));
  const series = all.filter((s) => wanted.size === 0 || wanted.has(s.subset));
  if (config.data.digest.length) {
    // Exactly the data the URL names, or a message saying what is missing — never other data.
    const mismatch = compareData(config.data.digest, await subsetDigests(series));
    if (mismatch.length) throw new TrainingDataError(describeMismatch(mismatch));
  }
  if (!series.length) {
    const have = [...new Set(all.map((s) => s.subset))].sort();
    throw new TrainingDataError(
      all.length
        ? `No cached series in subsets ${[...wanted].join(', ')}; the cache holds ${have.join(', ')}`
        : 'No scans are cached: drop LUNA16 subsets (or load the synthetic demo) first',
    );
  }
  const uids = series.map((s) => s.seriesUid);
  const [candRecords, annRecords] = await Promise.all([
    db.candidatesFor(uids),
    db.annotationsFor(uids),
  ]);
  const source = chooseCandidateTable(
    opts.table === 'preferred' ? null : config.data.candidates,
    candRecords.map((r) => r.source),
  );
  const rows: Candidate[] = [];
  for (const r of candRecords) {
    if (r.source !== source) continue;
    for (const c of r.rows) rows.push({ seriesUid: r.seriesUid, xyz: [c.xyz[0], c.xyz[1], c.xyz[2]], isNodule: c.isNodule });
  }
  if (!rows.length) {
    const other = candRecords.find((r) => r.source !== source);
    throw new TrainingDataError(
      other
        ? `No ${source}.csv rows are cached for the selected series, but ${other.source}.csv is: choose it under data.candidates`
        : `No candidates are cached for the selected series: drop LUNA16's ${source}.csv with the scans`,
    );
  }
  const annotations: Annotation[] = annRecords.flatMap((r) =>
    r.rows.map((a) => ({ seriesUid: r.seriesUid, xyz: [a.xyz[0], a.xyz[1], a.xyz[2]] as [number, number, number], diameterMm: a.diameterMm })),
  );
  const byUid = new Map(series.map((s) => [s.seriesUid, s]));
  const { inside, warnings } = selectCandidates(rows, annotations, (uid) => byUid.get(uid));
  const digestInput = series
    .map((s) => `${s.seriesUid}:${s.digest}`)
    .sort()
    .join('\n');
  const hash = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(digestInput));
  return {
    candidates: inside,
    series: byUid,
    dataDigest: toHex(hash),
    warnings,
  };
}

/** A least-recently-used map of typed arrays, bounded in bytes. */
export class ByteLru<V extends { byteLength: number }> {
  private readonly map = new Map<string, V>();
  private bytes = 0;

  constructor(private readonly budgetBytes: number) {}

  get(key: string): V | undefined {
    const hit = this.map.get(key);
    if (hit) {
      this.map.delete(key);
      this.map.set(key, hit);
    }
    return hit;
  }

  set(key: string, value: V): void {
    const old = this.map.get(key);
    if (old) this.bytes -= old.byteLength;
    this.map.delete(key);
    this.map.set(key, value);
    this.bytes += value.byteLength;
    while (this.bytes > this.budgetBytes && this.map.size > 1) {
      const [k, v] = this.map.entries().next().value as [string, V];
      this.map.delete(k);
      this.bytes -= v.byteLength;
    }
  }
}

/** Crops of clamped HU by candidate, from IndexedDB, with the crops and the slabs they were
 *  cut from kept in memory up to byte budgets. Concurrent requests for the same crop or slab
 *  (a prefetched batch asks for many at once) share one read. */
export class CropProvider {
  private readonly crops: ByteLru<Int16Array>;
  private readonly slabs: ByteLru<Int16Array>;
  private readonly pending = new Map<string, Promise<Int16Array>>();
  private readonly loadSlab: SlabLoader;

  constructor(
    private readonly db: LabStore,
    private readonly series: Map<string, SeriesRecord>,
    readonly crop: readonly [number, number, number],
    budgetBytes = 512 << 20,
  ) {
    this.crops = new ByteLru(budgetBytes / 2);
    this.slabs = new ByteLru(budgetBytes / 2);
    const fromDb = db.slabLoader();
    this.loadSlab = (uid, chunk) => this.shared(`slab|${uid}|${chunk}`, this.slabs, () => fromDb(uid, chunk));
  }

  centerOf(c: CandidateInfo): Irc {
    const s = this.series.get(c.seriesUid);
    if (!s) throw new TrainingDataError(`series ${c.seriesUid} is not in the cache`);
    return xyzToIrc(c.xyz, s);
  }

  get(c: CandidateInfo): Promise<Int16Array> {
    const center = this.centerOf(c);
    return this.shared(`crop|${c.seriesUid}|${center.join(',')}`, this.crops, () =>
      this.db.readCrop(c.seriesUid, center, this.crop, this.loadSlab),
    );
  }

  private shared(key: string, lru: ByteLru<Int16Array>, load: () => Promise<Int16Array>): Promise<Int16Array> {
    const hit = lru.get(key);
    if (hit) return Promise.resolve(hit);
    let p = this.pending.get(key);
    if (!p) {
      p = load().then(
        (v) => {
          lru.set(key, v);
          this.pending.delete(key);
          return v;
        },
        (e: unknown) => {
          this.pending.delete(key);
          throw e;
        },
      );
      this.pending.set(key, p);
    }
    return p;
  }
}

export interface SampleRef {
  candidate: CandidateInfo;
  label: 0 | 1;
  /** Seed of this sample's augmentation; absent = not augmented (validation). */
  augmentSeed?: number;
}

/** What batchesOf needs of a crop source: the crop size and crops by candidate. */
export type BatchCropSource = Pick<CropProvider, 'crop' | 'get'>;

/** How long the consumer of batchesOf waited for its batches (added to as it goes). */
export interface BatchWait {
  /** Batches handed over. */
  batches: number;
  /** Seconds between the consumer asking for a batch and getting it, summed. */
  seconds: number;
}

export interface BatchOptions {
  /** Where augmentation runs; default: in this thread. Same batches whatever the pool. */
  pool?: AugmentPool;
  /** Batches built ahead of the consumer; default 2, or one per data worker plus one. */
  prefetch?: number;
  /** Filled with the consumer's wait for batches. */
  wait?: BatchWait;
}

/**
 * Batches of `batchSize` (the last may be smaller), built `prefetch` batches ahead of the
 * consumer: crop reads (IndexedDB, async) and augmentation (on the pool's data workers)
 * overlap the training step. Each sample is augmented from its own seed, so the batches are
 * the same bytes with any pool, and the same as `augmentCrop` sample by sample.
 */
export async function* batchesOf(
  samples: readonly SampleRef[],
  batchSize: number,
  provider: BatchCropSource,
  augment: LabConfig['augment'] | null,
  options: BatchOptions = {},
): AsyncGenerator<Batch> {
  const [d, h, w] = provider.crop;
  const shape: CropSize = [d, h, w];
  const vox = d * h * w;
  const pool = options.pool ?? inThreadPool();
  const prefetch = options.prefetch ?? Math.max(2, pool.size + 1);
  const build = async (from: number): Promise<Batch> => {
    const part = samples.slice(from, from + batchSize);
    const labels = Uint8Array.from(part, (s) => s.label);
    const crops = await Promise.all(part.map((s) => provider.get(s.candidate)));
    const seeds = part.map((s) => (augment && s.augmentSeed !== undefined ? s.augmentSeed : null));
    let x: Float32Array;
    if (augment && seeds.some((s) => s !== null)) {
      // The crops are the cache's own arrays: a packed copy is what travels (transferred).
      x = await pool.run({ shape, cfg: augment, crops: packCrops(crops, vox), seeds });
    } else {
      x = new Float32Array(part.length * vox);
      crops.forEach((c, i) => x.set(c, i * vox));
    }
    return {
      n: part.length,
      x,
      labels,
      refs: part.map((s) => ({ seriesUid: s.candidate.seriesUid, xyz: s.candidate.xyz, diameterMm: s.candidate.diameterMm })),
    };
  };
  const queue: Promise<Batch>[] = [];
  let next = 0;
  const fill = () => {
    while (queue.length < Math.max(1, prefetch) && next < samples.length) {
      const p = build(next);
      p.catch(() => undefined); // a consumer that stops early must not leave unhandled rejections
      queue.push(p);
      next += batchSize;
    }
  };
  fill();
  const wait = options.wait;
  while (queue.length) {
    // The generator runs only while its consumer awaits next(): from here to the yield is
    // the consumer's wait (the step that consumed the previous batch has returned).
    const asked = now();
    const batch = await queue.shift()!;
    fill();
    if (wait) {
      wait.batches++;
      wait.seconds += (now() - asked) / 1000;
    }
    yield batch;
  }
}

const now = () => (globalThis.performance ?? Date).now();
