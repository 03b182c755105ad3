/**
 * Training and validation batches from samples: crops by candidate (a `CropProvider` over any
 * crop source), augmented on a pool of data workers (or in this thread), built ahead of the
 * consumer so that neither storage nor augmentation holds up the training step. With
 * `augment.device = gpu` a batch carries the raw crops and each sample's parameters instead
 * (augment-gpu.ts), and the training step augments them on the device.
 */
import type { LabConfig } from '../config/lab-config.ts';
import type { Batch } from '../model/trainable-model.ts';
import type { AugmentConfig } from './augment.ts';
import { packCrops } from './augment-batch.ts';
import { inThreadPool, type AugmentPool } from './augment-pool.ts';
import { gpuAugmentParams, type GpuAugmentParams } from './augment-gpu.ts';
import type { CropSize } from './crop.ts';
import type { CropProvider } from './crop-provider.ts';
import type { CandidateInfo } from './luna-csv.ts';

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
  /** Device absent: cpu. */
  augment: (AugmentConfig & Partial<Pick<LabConfig['augment'], 'device'>>) | null,
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
    let gpuAugment: GpuAugmentParams | undefined;
    if (augment?.device === 'gpu' && seeds.some((s) => s !== null)) {
      // The step augments on the device: raw crops travel, with each sample's drawn transform.
      x = new Float32Array(part.length * vox);
      crops.forEach((c, i) => x.set(c, i * vox));
      gpuAugment = gpuAugmentParams(augment, seeds);
    } else if (augment && seeds.some((s) => s !== null)) {
      // The crops are the cache's own arrays: a packed copy is what travels (transferred).
      x = await pool.run({ shape, cfg: augment, crops: packCrops(crops, vox), seeds });
    } else {
      x = new Float32Array(part.length * vox);
      crops.forEach((c, i) => x.set(c, i * vox));
    }
    return {
      n: part.length,
      x,
      ...(gpuAugment ? { gpuAugment } : {}),
      labels,
      refs: part.map((s) => ({
        seriesUid: s.candidate.seriesUid,
        xyz: s.candidate.xyz,
        diameterMm: s.candidate.diameterMm,
      })),
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
