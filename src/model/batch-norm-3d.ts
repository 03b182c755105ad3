/**
 * BatchNorm3d: PyTorch's `nn.BatchNorm3d` as a tfjs-layers Layer, for channels-last rank-5
 * tensors [N, D, H, W, C] (`tf.layers.batchNormalization` refuses rank 5).
 *
 * Promise: PyTorch's numbers, not Keras's. With `training: true` (the `call` kwarg, so
 * `model.apply(x, { training: true })` reaches it) the output is normalised with the batch mean
 * and the BIASED batch variance over N, D, H, W, and the running statistics move by
 * `running = (1 - momentum)·running + momentum·batch` using the UNBIASED variance (n/(n-1)),
 * momentum 0.1 (Keras's momentum is the other way round: 0.99 keeps the old value). Otherwise
 * the running statistics are used (also in training when the layer is frozen, `trainable` false,
 * so a frozen BatchNorm's weights do not move at all). eps 1e-5. gamma (1) and beta (0) are trainable;
 * running_mean (0) and running_var (1) are non-trainable weights, so they are saved, loaded and
 * mapped to PyTorch's `state_dict` with the rest. Registered for (de)serialization in
 * `register.ts`.
 */
import * as tf from '@tensorflow/tfjs';

type LayerArgs = NonNullable<ConstructorParameters<typeof tf.layers.Layer>[0]>;

export interface BatchNorm3dArgs extends LayerArgs {
  /** PyTorch's momentum: weight of the new batch statistic. Default 0.1. */
  momentum?: number;
  /** Added to the variance. Default 1e-5. */
  epsilon?: number;
}

export class BatchNorm3d extends tf.layers.Layer {
  static className = 'BatchNorm3d';
  readonly momentum: number;
  readonly epsilon: number;
  private gamma: tf.LayerVariable | null = null;
  private beta: tf.LayerVariable | null = null;
  private runningMean: tf.LayerVariable | null = null;
  private runningVar: tf.LayerVariable | null = null;

  constructor(args: BatchNorm3dArgs = {}) {
    super(args);
    this.momentum = args.momentum ?? 0.1;
    this.epsilon = args.epsilon ?? 1e-5;
    if (!(this.momentum >= 0 && this.momentum <= 1))
      throw new RangeError(`BatchNorm3d momentum must lie in [0, 1], got ${this.momentum}`);
    if (!(this.epsilon > 0)) throw new RangeError(`BatchNorm3d epsilon must be > 0, got ${this.epsilon}`);
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    const c = shape[4];
    if (shape.length !== 5 || c == null) {
      throw new Error(
        `BatchNorm3d '${this.name}' expects [N,D,H,W,C] with known C, got [${shape.map((d) => d ?? 'N').join(',')}]`,
      );
    }
    // Deterministic initialisers only (ones/zeros): nothing here may touch Math.random.
    this.gamma = this.addWeight('gamma', [c], 'float32', tf.initializers.ones(), undefined, true);
    this.beta = this.addWeight('beta', [c], 'float32', tf.initializers.zeros(), undefined, true);
    this.runningMean = this.addWeight('running_mean', [c], 'float32', tf.initializers.zeros(), undefined, false);
    this.runningVar = this.addWeight('running_var', [c], 'float32', tf.initializers.ones(), undefined, false);
    this.inputSpec = [new tf.InputSpec({ ndim: 5, axes: { [-1]: c } })];
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return inputShape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      if (x.rank !== 5) throw new Error(`BatchNorm3d '${this.name}' expects [N,D,H,W,C], got [${x.shape.join(',')}]`);
      const c = x.shape[4] as number;
      // [1,1,1,1,C], never [C]: tfjs-webgpu's broadcast add of a rank-1 bias to rank 5 is buggy for C < 128.
      const bshape = [1, 1, 1, 1, c];
      const gamma = tf.reshape(this.gamma!.read(), bshape);
      const beta = tf.reshape(this.beta!.read(), bshape);
      let mean: tf.Tensor;
      let variance: tf.Tensor;
      // A frozen BatchNorm (fine-tuning, src/train/finetune.ts) keeps its statistics: it normalises as in inference.
      if (kwargs?.['training'] === true && this.trainable) {
        const n = x.size / c;
        if (n <= 1)
          throw new Error(
            `BatchNorm3d '${this.name}': expected more than 1 value per channel when training, got [${x.shape.join(',')}]`,
          );
        ({ mean, variance } = tf.moments(x, [0, 1, 2, 3], true));
        this.updateRunningStats(mean, variance, n, c);
      } else {
        mean = tf.reshape(this.runningMean!.read(), bshape);
        variance = tf.reshape(this.runningVar!.read(), bshape);
      }
      const invStd = tf.rsqrt(tf.add(variance, this.epsilon));
      return tf.add(tf.mul(tf.mul(tf.sub(x, mean), invStd), gamma), beta);
    });
  }

  /**
   * Side effect of a training call. Variable.assign only swaps the variable's data, so the
   * surrounding tidy (and a gradient tape, if any) can dispose the temporaries; the statistics
   * are not differentiated (the tape has no path from them to the loss).
   */
  private updateRunningStats(mean: tf.Tensor, variance: tf.Tensor, n: number, c: number): void {
    const m = this.momentum;
    const batchMean = tf.reshape(mean, [c]);
    const unbiased = tf.mul(tf.reshape(variance, [c]), n / (n - 1));
    this.runningMean!.write(tf.add(tf.mul(batchMean, m), tf.mul(this.runningMean!.read(), 1 - m)));
    this.runningVar!.write(tf.add(tf.mul(unbiased, m), tf.mul(this.runningVar!.read(), 1 - m)));
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), momentum: this.momentum, epsilon: this.epsilon };
  }
}
