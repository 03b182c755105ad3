/**
 * One batch's augmentation as plain data: the crops packed in one array, a seed per crop, the
 * augmentation config; out comes the batch's float input. The data workers run this (in a
 * worker), and so do Node tests and the CLI (in-thread); both give the same bytes.
 *
 * Promises:
 * - `augmentBatch(job)` is a pure function of `job`: crop k is `augmentCrop(crops[k], shape,
 *   cfg, seeds[k])` (the sampler draws each sample's seed on the training thread, in order),
 *   or the crop converted to float where its seed is null. So a batch does not depend on
 *   which worker made it, how many there are, or in which order they finish.
 * - A job is structured-clone and transfer friendly: one typed array of crops (its buffer can
 *   be handed over without a copy), numbers and a small config.
 */
import type { AugmentConfig, CropArray } from './augment.ts';
import { augmentCropInto } from './augment.ts';
import type { CropSize } from './crop.ts';

export interface AugmentJob {
  /** [D, H, W] of every crop. */
  readonly shape: CropSize;
  readonly cfg: AugmentConfig;
  /** `seeds.length` crops packed [n, D, H, W], x fastest. */
  readonly crops: CropArray;
  /** Each crop's augmentation seed; null = not augmented (copied as float). */
  readonly seeds: readonly (number | null)[];
}

/** The job's crops augmented into one [n, D, H, W] float array (a new one unless `out` is given). */
export function augmentBatch(job: AugmentJob, out?: Float32Array): Float32Array {
  const { shape, cfg, crops, seeds } = job;
  const vox = shape[0] * shape[1] * shape[2];
  if (crops.length !== seeds.length * vox) {
    throw new RangeError(
      `augment job: crops hold ${crops.length} voxels, ${seeds.length} crops of [${shape.join(', ')}] need ${seeds.length * vox}`,
    );
  }
  const x = out ?? new Float32Array(crops.length);
  if (x.length !== crops.length)
    throw new RangeError(`augment job: output has ${x.length} voxels, expected ${crops.length}`);
  for (let k = 0; k < seeds.length; k++) {
    const crop = crops.subarray(k * vox, (k + 1) * vox);
    const dst = x.subarray(k * vox, (k + 1) * vox);
    const seed = seeds[k];
    if (seed === null) dst.set(crop);
    else augmentCropInto(crop, shape, cfg, seed, dst);
  }
  return x;
}

/** Crops of one shape packed into one new Int16Array (what a job carries to a worker). */
export function packCrops(crops: readonly Int16Array[], vox: number): Int16Array {
  const packed = new Int16Array(crops.length * vox);
  crops.forEach((c, k) => {
    if (c.length !== vox) throw new RangeError(`crop ${k} has ${c.length} voxels, expected ${vox}`);
    packed.set(c, k * vox);
  });
  return packed;
}
