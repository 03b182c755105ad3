/**
 * A run's checkpoint as stored in IndexedDB: the model's weights and the optimizer's slots
 * (tf.io's weight encoding, as Blobs), with the sampler and dropout-RNG states. The trainer
 * takes and restores whole checkpoints; the inspect and inference workers only need a model's
 * weights back, without importing the trainer.
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../data/rng.ts';
import type { TrainingSampler } from '../data/sampler.ts';
import type { LabOptimizer, NamedTensor } from '../model/optimizers.ts';
import type { CheckpointRecord, RunRecord, WeightSpec } from '../store/records.ts';

async function encode(named: NamedTensor[]): Promise<{ blob: Blob; specs: WeightSpec[] }> {
  const { data, specs } = await tf.io.encodeWeights(named);
  return { blob: new Blob([data]), specs: specs.map((s) => ({ name: s.name, shape: s.shape, dtype: s.dtype })) };
}

async function decode(blob: Blob, specs: WeightSpec[]): Promise<tf.NamedTensorMap> {
  return tf.io.decodeWeights(await blob.arrayBuffer(), specs);
}

export async function takeCheckpoint(
  run: RunRecord,
  model: tf.LayersModel,
  optimizer: LabOptimizer,
  sampler: TrainingSampler,
  dropoutRng: Rng,
): Promise<CheckpointRecord> {
  const weights = await encode(model.weights.map((w) => ({ name: w.originalName, tensor: w.read() })));
  const optWeights = await optimizer.getWeights();
  const opt = await encode(optWeights);
  // getWeights makes a fresh step-count scalar; the slots are the optimizer's own variables.
  tf.dispose(optWeights.filter((w) => !(w.tensor instanceof tf.Variable)).map((w) => w.tensor));
  return {
    runId: run.runId,
    epoch: run.epochsDone,
    samplesSeen: run.samplesSeen,
    weights: weights.blob,
    weightSpecs: weights.specs,
    optimizer: opt.blob,
    optimizerSpecs: opt.specs,
    state: { sampler: sampler.state(), dropout: dropoutRng.state() },
    createdAt: Date.now(),
  };
}

/** Write a checkpoint's weights into a model built from the run's config (also the inspect worker's). */
export async function restoreWeights(cp: CheckpointRecord, model: tf.LayersModel): Promise<void> {
  writeWeights(model, await cp.weights.arrayBuffer(), cp.weightSpecs, `checkpoint of epoch ${cp.epoch}`);
}

/** Write weights in tf.io's encoding (a checkpoint's, an MLflow model's tfjs files) into `model`; `shownAs` names them in errors. */
export function writeWeights(model: tf.LayersModel, data: ArrayBuffer, specs: WeightSpec[], shownAs: string): void {
  const weights = tf.io.decodeWeights(data, specs);
  try {
    for (const w of model.weights) {
      const t = weights[w.originalName];
      if (!t) throw new Error(`${shownAs} lacks weight ${w.originalName}`);
      if (t.shape.join(',') !== w.shape.join(','))
        throw new Error(
          `${shownAs}: weight ${w.originalName} is [${t.shape.join(',')}], the model's is [${w.shape.join(',')}]`,
        );
      w.write(t);
    }
  } finally {
    tf.dispose(Object.values(weights));
  }
}

export async function restoreCheckpoint(
  cp: CheckpointRecord,
  model: tf.LayersModel,
  optimizer: LabOptimizer,
  sampler: TrainingSampler,
  dropoutRng: Rng,
): Promise<void> {
  await restoreWeights(cp, model);
  const opt = await decode(cp.optimizer, cp.optimizerSpecs);
  await optimizer.setWeights(cp.optimizerSpecs.map((s) => ({ name: s.name, tensor: opt[s.name] })));
  tf.dispose(Object.values(opt)); // the optimizer's variables hold their own references
  const state = cp.state as {
    sampler: Parameters<TrainingSampler['restore']>[0];
    dropout: Parameters<Rng['restore']>[0];
  };
  sampler.restore(state.sampler);
  dropoutRng.restore(state.dropout);
}
