/**
 * PyTorch's SGD (with momentum) and AdamW as tf.Optimizers, and PyTorch's StepLR.
 *
 * Promise: one `applyGradients` is one PyTorch `optimizer.step()` (single-tensor code path,
 * float32, the same operations in the same order), so a tfjs run follows the book's and the
 * seed's update rules, not tfjs's (tf.train.momentum folds the learning rate into the buffer;
 * tf.train.adam has no decoupled weight decay and puts eps inside the bias correction):
 *   SGD:   g' = g + wd·p;  buf = g' on a variable's first step, else buf = μ·buf + g';
 *          p = p − lr·buf   (μ = 0: p = p − lr·g').
 *   AdamW: p = p·(1 − lr·wd);  m = m + (1−β1)·(g − m) (torch.lerp);  v = β2·v + (1−β2)·g·g;
 *          p = p − (lr/(1−β1^t)) · m / (√v / √(1−β2^t) + eps), eps = 1e-8.
 * The whole state (step count, momentum buffers / exp_avg / exp_avg_sq) comes out of
 * `getWeights()` and goes back with `setWeights()`, so a restored optimizer continues bit for
 * bit on the same backend. State is positional, as in tfjs's own optimizers: pass the gradients
 * in the same order every step (model.trainableWeights order; `minimize` does).
 * `setLearningRate` is the scheduler's hook; `stepLr` is StepLR.
 */
import * as tf from '@tensorflow/tfjs';
import type { LabConfig } from '../config/lab-config.ts';

export type OptimizerConfig = LabConfig['optimizer'];
/** tfjs-core's NamedTensor (not re-exported by @tensorflow/tfjs). */
export interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}
export type SchedulerConfig = LabConfig['scheduler'];

interface Slot {
  /** The parameter's variable name when the slot was made (for getWeights names). */
  param: string;
  vars: tf.Variable[];
}

abstract class TorchOptimizer extends tf.Optimizer {
  protected lr: number;
  protected readonly cfg: OptimizerConfig;
  private slots: (Slot | undefined)[] = [];

  constructor(cfg: OptimizerConfig) {
    super();
    checkLr(cfg.lr);
    this.cfg = { ...cfg };
    this.lr = cfg.lr;
  }

  get learningRate(): number {
    return this.lr;
  }

  /** The lr of the next steps (PyTorch: `group['lr'] = lr`). */
  setLearningRate(lr: number): void {
    checkLr(lr);
    this.lr = lr;
  }

  /** Names of the per-parameter state tensors, PyTorch's (`momentum_buffer`, `exp_avg`, …). */
  protected abstract readonly slotNames: readonly string[];

  /**
   * One parameter's step. `state` is null on the parameter's first step: return the state
   * tensors to keep (they become variables), or null to keep none yet.
   */
  protected abstract step(p: tf.Variable, g: tf.Tensor, state: tf.Variable[] | null, t: number): tf.Tensor[] | null;

  override applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    const entries: [string, tf.Tensor | undefined][] = Array.isArray(variableGradients)
      ? variableGradients.map((e) => [e.name, e.tensor])
      : Object.entries(variableGradients);
    const t = this.iterations + 1;
    entries.forEach(([name, grad], i) => {
      if (grad == null) return;
      const p = tf.engine().registeredVariables[name];
      if (p === undefined) throw new Error(`${this.getClassName()}: no variable named '${name}'`);
      const slot = this.slots[i];
      if (slot && slot.vars.some((v) => !sameShape(v.shape, p.shape))) {
        throw new Error(
          `${this.getClassName()}: state #${i} ('${slot.param}', [${slot.vars[0].shape.join(',')}]) does not fit '${name}' [${p.shape.join(',')}]: gradients must come in the same order every step`,
        );
      }
      const fresh = tf.tidy(() => {
        const state = this.step(p, grad, slot ? slot.vars : null, t);
        // A variable holds its own reference to the data (tfjs data is immutable, so nothing
        // is copied): the tidy may dispose the tensors it was made from.
        return state ? state.map((s) => s.variable(false)) : [];
      });
      if (fresh.length) this.slots[i] = { param: name, vars: fresh };
      else if (slot) slot.param = name; // the current name (a restored slot has the saved one)
    });
    this.incrementIterations();
  }

  /** [step count, then each parameter's state tensors, named '<variable>/<slot>']. */
  override async getWeights(): Promise<NamedTensor[]> {
    const out: NamedTensor[] = [await this.saveIterations()];
    this.slots.forEach((slot, i) => {
      if (!slot) throw new Error(`${this.getClassName()}: parameter #${i} has no state (it never had a gradient)`);
      slot.vars.forEach((v, k) => out.push({ name: `${slot.param}/${this.slotNames[k]}`, tensor: v }));
    });
    return out;
  }

  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    const rest = await this.extractIterations(weightValues);
    const k = this.slotNames.length;
    if (rest.length % k !== 0)
      throw new Error(`${this.getClassName()}.setWeights: ${rest.length} state tensors is not a multiple of ${k}`);
    this.disposeSlots();
    for (let i = 0; i < rest.length / k; i++) {
      const group = rest.slice(i * k, (i + 1) * k);
      const param = group[0].name.slice(0, group[0].name.lastIndexOf('/'));
      group.forEach((g, j) => {
        if (!g.name.endsWith(`/${this.slotNames[j]}`))
          throw new Error(`${this.getClassName()}.setWeights: expected '…/${this.slotNames[j]}', got '${g.name}'`);
      });
      // A variable takes its own reference to the data: the caller may dispose what it passed.
      this.slots[i] = { param, vars: group.map((g) => tf.variable(g.tensor, false)) };
    }
  }

  private disposeSlots(): void {
    for (const s of this.slots) s?.vars.forEach((v) => v.dispose());
    this.slots = [];
  }

  override dispose(): void {
    this.disposeSlots();
    super.dispose();
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...this.cfg, lr: this.lr };
  }
}

function checkLr(lr: number): void {
  if (!(Number.isFinite(lr) && lr >= 0)) throw new RangeError(`learning rate must be a finite number ≥ 0, got ${lr}`);
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** torch.optim.SGD(lr, momentum, weight_decay), dampening 0, no Nesterov. */
export class TorchSgd extends TorchOptimizer {
  static className = 'TorchSgd';
  protected readonly slotNames = ['momentum_buffer'] as const;

  protected step(p: tf.Variable, grad: tf.Tensor, state: tf.Variable[] | null, _t: number): tf.Tensor[] | null {
    const { momentum: mu, weightDecay: wd } = this.cfg;
    const g = wd !== 0 ? tf.add(grad, tf.mul(p, wd)) : grad;
    let d = g;
    let fresh: tf.Tensor[] | null = null;
    if (mu !== 0) {
      if (state === null) {
        fresh = [g]; // PyTorch: buf = grad.clone() on the first step
      } else {
        const buf = tf.add(tf.mul(state[0], mu), g);
        state[0].assign(buf);
        d = buf;
      }
    }
    p.assign(tf.add(p, tf.mul(d, -this.lr)));
    return fresh;
  }
}

/** torch.optim.AdamW(lr, betas, eps=1e-8, weight_decay), amsgrad off. */
export class TorchAdamW extends TorchOptimizer {
  static className = 'TorchAdamW';
  static readonly eps = 1e-8;
  protected readonly slotNames = ['exp_avg', 'exp_avg_sq'] as const;

  protected step(p: tf.Variable, grad: tf.Tensor, state: tf.Variable[] | null, t: number): tf.Tensor[] | null {
    const { beta1: b1, beta2: b2, weightDecay: wd } = this.cfg;
    const lr = this.lr;
    if (wd !== 0) p.assign(tf.mul(p, 1 - lr * wd));
    const m0 = state ? state[0] : tf.zerosLike(p);
    const v0 = state ? state[1] : tf.zerosLike(p);
    // exp_avg.lerp_(grad, 1-β1): for weights < 0.5 torch computes self + w·(end − self).
    const m = tf.add(m0, tf.mul(tf.sub(grad, m0), 1 - b1));
    // exp_avg_sq.mul_(β2).addcmul_(grad, grad, value=1-β2): two roundings, value·g first.
    const v = tf.add(tf.mul(v0, b2), tf.mul(tf.mul(grad, 1 - b2), grad));
    // Scalars in double (Python floats), as torch; each becomes float32 where it meets a tensor.
    const bc1 = 1 - b1 ** t;
    const bc2Sqrt = (1 - b2 ** t) ** 0.5;
    const denom = tf.add(tf.div(tf.sqrt(v), bc2Sqrt), TorchAdamW.eps);
    p.assign(tf.add(p, tf.mul(tf.div(m, denom), -(lr / bc1))));
    if (state) {
      state[0].assign(m);
      state[1].assign(v);
      return null;
    }
    return [m, v];
  }
}

export type LabOptimizer = TorchSgd | TorchAdamW;

export function createOptimizer(cfg: OptimizerConfig): LabOptimizer {
  switch (cfg.name) {
    case 'sgd':
      return new TorchSgd(cfg);
    case 'adamw':
      return new TorchAdamW(cfg);
  }
}

/**
 * torch's StepLR: the learning rate after `epoch` calls of `scheduler.step()`, i.e. PyTorch's
 * `last_epoch`, counted from 0. The book's loops call `scheduler.step()` at the end of each
 * epoch, so 1-based epoch e trains with `stepLr(cfg, base, e - 1)`:
 * base·γ^floor(epoch/step_size). Computed as torch does, one multiplication by γ per decay (not
 * γ^k), so the doubles agree. 'none' keeps baseLr.
 */
export function stepLr(cfg: SchedulerConfig, baseLr: number, epoch: number): number {
  if (!Number.isInteger(epoch) || epoch < 0)
    throw new RangeError(`stepLr: epoch is the number of scheduler steps taken (0, 1, …), got ${epoch}`);
  if (cfg.name === 'none') return baseLr;
  let lr = baseLr;
  const decays = Math.floor(epoch / cfg.stepSize);
  for (let k = 0; k < decays; k++) lr *= cfg.gamma;
  return lr;
}
