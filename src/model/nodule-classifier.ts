/**
 * `NoduleClassificationModel`: the seed project's classifier around a LunaModel — one
 * epoch of training (`doTraining`), one of validation (`doValidation`), the per-sample
 * loss (`computeBatchLoss`) and the seed's metrics (`logMetrics`, step = training samples
 * seen). Backend-agnostic: it only uses tfjs ops, so cpu, webgl and webgpu run the same code.
 *
 * Promises: no tensor outlives a step (numTensors is flat from step to step); metrics use
 * the seed's names; hooks can pause or stop between steps (a hook that throws stops the
 * epoch with that error).
 */
import * as tf from '@tensorflow/tfjs';
import type { LabConfig } from '../config/lab-config.ts';
import type {
  Batch,
  CandidateRef,
  EpochResult,
  EpochSamples,
  ModelSignature,
  TrainableModel,
} from './trainable-model.ts';
import { computeBatchLoss } from './loss.ts';
import { augmentOnDevice } from './kernels/augment-affine.ts';
import { classificationMetrics } from './metrics.ts';
import { phaseCurves, type PhaseCurves } from './curves.ts';
import { malignancyMetrics } from './roc.ts';
import { stepLr, type LabOptimizer } from './optimizers.ts';

export type Phase = 'training' | 'validating';

export interface StepInfo {
  phase: Phase;
  epoch: number;
  /** Batches done in this phase of the epoch. */
  batches: number;
  /** Samples done in this phase of the epoch. */
  samples: number;
  /** Training samples seen since the run began (the metrics' step). */
  samplesSeen: number;
  /** Mean loss of the batch just done. */
  batchLoss: number;
  stepSeconds: number;
}

export interface ClassifierHooks {
  /** After every batch; may await (pause) or throw (stop). */
  onStep?: (info: StepInfo) => void | Promise<void>;
  /** Once per phase per epoch, with the seed's metric names and the phase's PR/histogram data. */
  onMetrics?: (
    epoch: number,
    step: number,
    values: Record<string, number>,
    curves: PhaseCurves,
  ) => void | Promise<void>;
  /** Called before each training step, so stochastic layers can draw from the run's RNG. */
  beforeTrainingStep?: () => void;
}

export interface ClassifierOptions {
  config: LabConfig;
  model: tf.LayersModel;
  optimizer: LabOptimizer;
  /** Training samples already seen (a resumed run continues the count). */
  samplesSeen?: number;
  hooks?: ClassifierHooks;
}

const now = () => (globalThis.performance ?? Date).now();

export class NoduleClassificationModel implements TrainableModel {
  readonly config: LabConfig;
  private readonly model: tf.LayersModel;
  private readonly optimizer: LabOptimizer;
  private readonly hooks: ClassifierHooks;
  samplesSeen: number;

  constructor(o: ClassifierOptions) {
    this.config = o.config;
    this.model = o.model;
    this.optimizer = o.optimizer;
    this.samplesSeen = o.samplesSeen ?? 0;
    this.hooks = o.hooks ?? {};
  }

  getModule(): tf.LayersModel {
    return this.model;
  }

  getSignature(): ModelSignature {
    const [d, h, w] = this.config.crop;
    return {
      inputs: [{ name: 'input', dtype: 'float32', shape: [-1, d, h, w, 1] }],
      outputs: [{ name: 'probabilities', dtype: 'float32', shape: [-1, 2] }],
    };
  }

  /** `epoch` is 1-based, as the book counts; `validation` null skips validating this epoch. */
  async fitEpoch(
    epoch: number,
    train: AsyncIterable<Batch>,
    validation: AsyncIterable<Batch> | null,
  ): Promise<EpochResult> {
    const t0 = now();
    const lr = stepLr(this.config.scheduler, this.config.optimizer.lr, epoch - 1);
    this.optimizer.setLearningRate(lr);
    const trained = await this.doTraining(epoch, train);
    const trainSeconds = (now() - t0) / 1000;
    const training = await this.logMetrics(epoch, 'training', trained);
    const validated = validation ? await this.doValidation(epoch, validation) : null;
    const validationMetrics = validated ? await this.logMetrics(epoch, 'validating', validated) : null;
    const seconds = (now() - t0) / 1000;
    return {
      training,
      validation: validationMetrics,
      validationSamples: validated,
      trainingSamplesSeen: this.samplesSeen,
      seconds,
      samplesPerSecond: trained.labels.length / Math.max(trainSeconds, 1e-9),
    };
  }

  async doTraining(epoch: number, batches: AsyncIterable<Batch>): Promise<EpochSamples> {
    const acc = new SampleAccumulator();
    let n = 0;
    for await (const batch of batches) {
      const t = now();
      this.hooks.beforeTrainingStep?.();
      const { x, labels } = this.toTensors(batch);
      let perSample: tf.Tensor1D | null = null;
      let probPos: tf.Tensor1D | null = null;
      const cost = this.optimizer.minimize(() => {
        const r = this.computeBatchLoss(x, labels, true);
        perSample = tf.keep(r.perSample);
        probPos = tf.keep(r.probPos);
        return r.mean;
      }, true);
      tf.dispose([x, labels]);
      const [lossData, probData, meanData] = await Promise.all([perSample!.data(), probPos!.data(), cost!.data()]);
      tf.dispose([perSample!, probPos!, cost!]);
      if (!Number.isFinite(meanData[0])) {
        throw new Error(
          `training loss became ${meanData[0]} at epoch ${epoch}, batch ${Math.round(n / batch.n) + 1}: lower the learning rate`,
        );
      }
      acc.add(batch, probData as Float32Array, lossData as Float32Array);
      n += batch.n;
      this.samplesSeen += batch.n;
      await this.stepDone('training', epoch, acc.batches, n, meanData[0], t);
    }
    return acc.result();
  }

  async doValidation(epoch: number, batches: AsyncIterable<Batch>): Promise<EpochSamples> {
    const acc = new SampleAccumulator();
    let n = 0;
    for await (const batch of batches) {
      const t = now();
      const { perSample, probPos, mean } = tf.tidy(() => {
        const { x, labels } = this.toTensors(batch);
        return this.computeBatchLoss(x, labels, false);
      });
      const [lossData, probData, meanData] = await Promise.all([perSample.data(), probPos.data(), mean.data()]);
      tf.dispose([perSample, probPos, mean]);
      acc.add(batch, probData as Float32Array, lossData as Float32Array);
      n += batch.n;
      await this.stepDone('validating', epoch, acc.batches, n, meanData[0], t);
    }
    return acc.result();
  }

  private stepDone(phase: Phase, epoch: number, batches: number, samples: number, batchLoss: number, t0: number) {
    return this.hooks.onStep?.({
      phase,
      epoch,
      batches,
      samples,
      samplesSeen: this.samplesSeen,
      batchLoss,
      stepSeconds: (now() - t0) / 1000,
    });
  }

  /** Per-sample cross-entropy of a batch, its mean (what is minimised), and p(nodule). */
  computeBatchLoss(
    x: tf.Tensor5D,
    labels: tf.Tensor1D,
    training: boolean,
  ): { mean: tf.Scalar; perSample: tf.Tensor1D; probPos: tf.Tensor1D } {
    return tf.tidy(() => {
      const logits = this.model.apply(x, { training }) as tf.Tensor2D;
      const perSample = computeBatchLoss(logits, labels);
      const probPos = tf.softmax(logits).slice([0, 1], [-1, 1]).reshape([-1]) as tf.Tensor1D;
      return { mean: perSample.mean() as tf.Scalar, perSample, probPos };
    });
  }

  /** The seed's metrics for one phase, sent to the hooks with step = samples seen. */
  async logMetrics(epoch: number, mode: Phase, s: EpochSamples): Promise<Record<string, number>> {
    const values = classificationMetrics(mode, s.labels, s.probPos, s.loss);
    if (this.config.task === 'malignancy') {
      Object.assign(
        values,
        malignancyMetrics(
          mode,
          s.labels,
          s.probPos,
          Float64Array.from(s.refs, (r) => r.diameterMm),
        ),
      );
    }
    await this.hooks.onMetrics?.(epoch, this.samplesSeen, values, phaseCurves(mode, s.labels, s.probPos));
    return values;
  }

  private toTensors(batch: Batch): { x: tf.Tensor5D; labels: tf.Tensor1D } {
    const [d, h, w] = this.config.crop;
    if (batch.x.length !== batch.n * d * h * w) {
      throw new Error(`batch of ${batch.n} crops holds ${batch.x.length} values, expected ${batch.n}×${d}×${h}×${w}`);
    }
    return {
      x: batch.gpuAugment
        ? augmentOnDevice(batch.x, [d, h, w], batch.gpuAugment)
        : tf.tensor5d(batch.x, [batch.n, d, h, w, 1]),
      labels: tf.tensor1d(Array.from(batch.labels), 'int32'),
    };
  }
}

/** Collects per-sample outcomes of a phase into flat arrays. */
class SampleAccumulator {
  private labels: number[] = [];
  private prob: number[] = [];
  private loss: number[] = [];
  private refs: CandidateRef[] = [];
  batches = 0;

  add(batch: Batch, prob: Float32Array, loss: Float32Array) {
    for (let i = 0; i < batch.n; i++) {
      this.labels.push(batch.labels[i]);
      this.prob.push(prob[i]);
      this.loss.push(loss[i]);
      this.refs.push(batch.refs[i]);
    }
    this.batches++;
  }

  result(): EpochSamples {
    return {
      labels: Uint8Array.from(this.labels),
      probPos: Float32Array.from(this.prob),
      loss: Float32Array.from(this.loss),
      refs: this.refs,
    };
  }
}
