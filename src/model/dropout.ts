/**
 * Seeded dropout layers with PyTorch semantics: `Dropout` (element-wise, `nn.Dropout`) and
 * `Dropout3d` (whole channels per sample, `nn.Dropout3d`: mask [N,1,1,1,C] on channels-last
 * [N,D,H,W,C]). Active only when `call` gets `training: true`; kept values are scaled by
 * 1/(1-p), so evaluation is the identity. p = 1 zeroes everything, as PyTorch does.
 *
 * Design: a run must replay bit for bit from its seed, so the masks may not come from
 * Math.random (tf.layers.dropout uses unseeded tfjs randomness). Each training call draws one
 * integer seed in [1, 2^31-1) from a generator of src/data/rng.ts (never 0: tfjs treats seed 0
 * as "no seed" in some ops) and makes the mask with
 * `tf.randomUniform(shape, 0, 1, 'float32', seed)`, which tfjs computes in JS with a seeded
 * alea generator and uploads, so the mask is identical on every backend. The generator is the
 * layer's own if `layer.setRng(rng)` gave it one, else the stream shared by all dropout layers:
 * the run's, kept in the run settings (run-settings.ts; the trainer's RunScope installs it, and
 * `setDropoutRng(rng)` sets it outside a run). One stream per run, its state in the checkpoint:
 * layers draw from it in forward order, so a resumed run draws the same seeds.
 * A training call with neither throws rather than fall back to unseeded randomness. No
 * generator lives in the layer config: a saved model carries weights, not a run's position.
 * Registered for (de)serialization in `register.ts` (as 'LunaDropout' / 'LunaDropout3d').
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../data/rng.ts';
import { runSettings, updateRunSettings } from './run-settings.ts';

type LayerArgs = NonNullable<ConstructorParameters<typeof tf.layers.Layer>[0]>;

export interface SeededDropoutArgs extends LayerArgs {
  /** Probability of zeroing an element (or a channel), 0 ≤ rate ≤ 1. */
  rate: number;
}

const SEED_LIMIT = 2 ** 31 - 1;

/** The stream every dropout layer without its own draws its mask seeds from (null: none). */
export function setDropoutRng(rng: Rng | null): void {
  updateRunSettings({ dropoutRng: rng });
}

export function getDropoutRng(): Rng | null {
  return runSettings().dropoutRng;
}

abstract class SeededDropout extends tf.layers.Layer {
  readonly rate: number;
  private rng: Rng | null = null;

  constructor(args: SeededDropoutArgs) {
    super(args);
    if (!(args.rate >= 0 && args.rate <= 1)) throw new RangeError(`dropout rate must lie in [0, 1], got ${args.rate}`);
    this.rate = args.rate;
  }

  /** Give this layer its own generator (null: back to the shared one). */
  setRng(rng: Rng | null): void {
    this.rng = rng;
  }

  /** The generator the next training call draws from, or null if there is none. */
  getRng(): Rng | null {
    return this.rng ?? runSettings().dropoutRng;
  }

  /** Shape of the keep mask for an input of `shape`. */
  protected abstract maskShape(shape: readonly number[]): number[];

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return inputShape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    // Layer.apply clones an output that is its input, so returning x is safe.
    if (kwargs?.['training'] !== true || this.rate === 0) return x;
    const rng = this.getRng();
    if (rng === null) {
      throw new Error(
        `${this.getClassName()} '${this.name}' has no random stream: call setDropoutRng(rng) (or layer.setRng) before training`,
      );
    }
    const seed = rng.int(1, SEED_LIMIT);
    const shape = this.maskShape(x.shape);
    return tf.tidy(() => {
      if (this.rate === 1) return tf.zerosLike(x);
      // PyTorch: noise = bernoulli(1-p) / (1-p), then input * noise.
      const keep = tf.cast(tf.greaterEqual(tf.randomUniform(shape, 0, 1, 'float32', seed), this.rate), 'float32');
      return tf.mul(x, tf.mul(keep, 1 / (1 - this.rate)));
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), rate: this.rate };
  }
}

/** nn.Dropout: each element zeroed with probability `rate`. */
export class Dropout extends SeededDropout {
  static className = 'LunaDropout';

  protected maskShape(shape: readonly number[]): number[] {
    return [...shape];
  }
}

/** nn.Dropout3d on [N,D,H,W,C]: each (sample, channel) zeroed with probability `rate`. */
export class Dropout3d extends SeededDropout {
  static className = 'LunaDropout3d';

  protected maskShape(shape: readonly number[]): number[] {
    if (shape.length !== 5) throw new Error(`Dropout3d '${this.name}' expects [N,D,H,W,C], got [${shape.join(',')}]`);
    return [shape[0], 1, 1, 1, shape[4]];
  }
}
