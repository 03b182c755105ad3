/**
 * Augmented crops/s of the two paths on this machine (issue 12 item 3): the CPU path
 * (augmentBatch, what one data worker runs, here in one thread) and the GPU path (the raw
 * batch uploaded and augmented by the kernel, as the training step does; timed to the end of
 * the GPU work by reading back one value). The book's settings, LunaModel crops (32×48×48).
 */
import * as tf from '@tensorflow/tfjs';
import { augmentBatch } from '../data/augment-batch.ts';
import type { AugmentConfig } from '../data/augment.ts';
import { gpuAugmentParams } from '../data/augment-gpu.ts';
import type { CropSize } from '../data/crop.ts';
import { createRng } from '../data/rng.ts';
import { augmentOnDevice } from '../model/kernels/augment-affine.ts';

export interface AugmentTiming {
  path: 'cpu (1 thread)' | 'gpu kernel';
  batch: number;
  batches: number;
  seconds: number;
  cropsPerSecond: number;
}

const BOOK: AugmentConfig = { flip: true, offset: 0.1, scale: 0.2, rotate: true, noise: 25 };
const CROP: CropSize = [32, 48, 48];

function rawCrops(n: number): Int16Array {
  const r = createRng('augment-bench');
  return Int16Array.from({ length: n * CROP[0] * CROP[1] * CROP[2] }, () => Math.round(r.next() * 2000 - 1000));
}

/** Each path runs whole batches (one untimed first) until `budgetSeconds` or `maxBatches`. */
export async function measureAugment(
  batch: number,
  budgetSeconds: number,
  maxBatches: number,
): Promise<AugmentTiming[]> {
  const crops = rawCrops(batch);
  const asFloat = Float32Array.from(crops);
  let seed = 1;
  const seeds = () => Array.from({ length: batch }, () => seed++);
  const time = async (path: AugmentTiming['path'], run: () => Promise<void>): Promise<AugmentTiming> => {
    await run();
    let n = 0;
    const t = performance.now();
    while (n < maxBatches && (performance.now() - t) / 1000 < budgetSeconds) {
      await run();
      n++;
    }
    const seconds = (performance.now() - t) / 1000;
    return { path, batch, batches: n, seconds, cropsPerSecond: (n * batch) / seconds };
  };
  const cpu = await time('cpu (1 thread)', async () => {
    augmentBatch({ shape: CROP, cfg: BOOK, crops, seeds: seeds() });
  });
  const gpu = await time('gpu kernel', async () => {
    const x = augmentOnDevice(asFloat, CROP, gpuAugmentParams(BOOK, seeds()));
    const one = tf.tidy(() => x.reshape([-1]).slice(0, 1));
    await one.data();
    tf.dispose([x, one]);
  });
  return [cpu, gpu];
}
