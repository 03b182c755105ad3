import * as tf from '@tensorflow/tfjs';
import { beforeAll, expect, test } from 'vitest';
import { resolveConfigOrThrow } from '../config/lab-config.ts';
import { augmentReference, gpuAugmentParams } from '../data/augment-gpu.ts';
import { createRng } from '../data/rng.ts';
import { setDropoutRng } from './dropout.ts';
import { buildLunaModel } from './luna-model.ts';
import { NoduleClassificationModel } from './nodule-classifier.ts';
import { createOptimizer } from './optimizers.ts';
import type { Batch } from './trainable-model.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const config = resolveConfigOrThrow({
  crop: [8, 16, 16],
  model: { blocks: 2, width: 4 },
  backend: 'cpu',
  augment: { device: 'gpu' },
});
const VOX = 8 * 16 * 16;

async function trainOn(batch: Batch): Promise<Float32Array> {
  const classifier = new NoduleClassificationModel({
    config,
    model: buildLunaModel(config.model, config.crop, 5),
    optimizer: createOptimizer(config.optimizer),
    hooks: { beforeTrainingStep: () => setDropoutRng(createRng(1)) },
  });
  async function* twice() {
    yield batch;
    yield batch;
  }
  const r = await classifier.doTraining(1, twice());
  classifier.getModule().dispose();
  return Float32Array.from(r.loss);
}

test('a batch with GPU augmentation parameters trains as the same batch augmented beforehand', async () => {
  const rng = createRng('step');
  const n = 4;
  const raw = Float32Array.from({ length: n * VOX }, () => Math.round(rng.next() * 2000 - 1000));
  const p = gpuAugmentParams(config.augment, [11, 12, null, 14]);
  const base = {
    n,
    labels: Uint8Array.from([0, 1, 0, 1]),
    refs: Array.from({ length: n }, () => ({ seriesUid: 's', xyz: [0, 0, 0] as const, diameterMm: 0 })),
  };
  const onStep = await trainOn({ ...base, x: raw, gpuAugment: p });
  const before = await trainOn({ ...base, x: augmentReference(raw, config.crop, p) });
  const unaugmented = await trainOn({ ...base, x: raw });
  expect(onStep).toEqual(before);
  expect(onStep).not.toEqual(unaugmented);
});
