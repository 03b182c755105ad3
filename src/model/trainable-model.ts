/**
 * The seed project's model interface, in TypeScript: what the trainer, the tracking sinks
 * and the exporters may rely on, whatever the model.
 */
import type * as tf from '@tensorflow/tfjs';
import type { GpuAugmentParams } from '../data/augment-gpu.ts';

export interface TensorSpec {
  name: string;
  dtype: 'float32' | 'int32';
  /** -1 for the batch dimension. */
  shape: number[];
}

/** Input and output tensor specs, as MLflow model signatures need them. */
export interface ModelSignature {
  inputs: TensorSpec[];
  outputs: TensorSpec[];
}

/** One batch as the trainer feeds it: crops [n, D, H, W] (x fastest), labels, and where
 *  each sample came from (for per-candidate predictions). */
export interface Batch {
  n: number;
  x: Float32Array;
  /** `augment.device = gpu`: `x` holds the raw crops and the step augments them on the device
   *  with these per-sample parameters (src/model/kernels/augment-affine.ts). */
  gpuAugment?: GpuAugmentParams;
  labels: Uint8Array;
  refs: CandidateRef[];
}

export interface CandidateRef {
  seriesUid: string;
  xyz: readonly [number, number, number];
  diameterMm: number;
}

/** Per-sample outcomes of an epoch, in sample order. */
export interface EpochSamples {
  labels: Uint8Array;
  probPos: Float32Array;
  loss: Float32Array;
  refs: CandidateRef[];
}

export interface EpochResult {
  training: Record<string, number>;
  /** Absent in epochs that skip validation (the book's validation cadence). */
  validation: Record<string, number> | null;
  /** Per-candidate validation outcomes. */
  validationSamples: EpochSamples | null;
  trainingSamplesSeen: number;
  seconds: number;
  samplesPerSecond: number;
}

export interface TrainableModel {
  fitEpoch(epoch: number, train: AsyncIterable<Batch>, validation: AsyncIterable<Batch> | null): Promise<EpochResult>;
  getModule(): tf.LayersModel;
  getSignature(): ModelSignature;
}
