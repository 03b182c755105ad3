import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { createRng } from '../data/rng.ts';
import {
  createOptimizer,
  stepLr,
  TorchAdamW,
  TorchSgd,
  type LabOptimizer,
  type OptimizerConfig,
} from './optimizers.ts';
import './register.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const BASE: OptimizerConfig = { name: 'sgd', lr: 0.1, momentum: 0.9, weightDecay: 0.01, beta1: 0.9, beta2: 0.999 };

/** Apply `grads` (one array per step) to a fresh variable starting at `start`; values after each step. */
function run(opt: LabOptimizer, start: number[], grads: number[][]): number[][] {
  const p = tf.variable(tf.tensor1d(start));
  const out: number[][] = [];
  for (const g of grads) {
    tf.tidy(() => opt.applyGradients({ [p.name]: tf.tensor1d(g) }));
    out.push(Array.from(p.dataSync()));
  }
  p.dispose();
  return out;
}

function expectClose(got: number[][], want: number[][], digits = 6): void {
  expect(got.length).toBe(want.length);
  got.forEach((row, i) => row.forEach((v, j) => expect(v).toBeCloseTo(want[i][j], digits)));
}

describe('TorchSgd (torch.optim.SGD)', () => {
  it('folds weight decay into the gradient and starts the buffer at the first gradient (hand-computed)', () => {
    // p = [1, 2], lr 0.1, μ 0.9, wd 0.01
    // step 1: g' = [0.5, -1] + 0.01·p = [0.51, -0.98]; buf = g'; p = [0.949, 2.098]
    // step 2: g' = [0.1, 0.2] + 0.01·p = [0.10949, 0.22098]; buf = 0.9·buf + g' = [0.56849, -0.66102];
    //         p = [0.892151, 2.164102]
    const got = run(
      createOptimizer(BASE),
      [1, 2],
      [
        [0.5, -1],
        [0.1, 0.2],
      ],
    );
    expectClose(got, [
      [0.949, 2.098],
      [0.892151, 2.164102],
    ]);
  });

  it('momentum 0 is plain SGD, no state kept', async () => {
    const opt = createOptimizer({ ...BASE, momentum: 0, weightDecay: 0 });
    expectClose(run(opt, [1], [[2], [2]]), [[0.8], [0.6]]);
    expect((await opt.getWeights()).map((w) => w.name)).toEqual(['iter']);
  });
});

describe('TorchAdamW (torch.optim.AdamW)', () => {
  it('decays the weights first, then Adam with bias correction (hand-computed first step)', () => {
    // p = [1, -2], g = [0.5, 0.25], lr 0.1, wd 0.1: p·(1 − 0.01) = [0.99, -1.98];
    // m = 0.1·g, v = 0.001·g², m̂ = g, √v̂ = |g|: p −= 0.1·g/(|g| + 1e-8) → [0.89, -2.08]
    const opt = createOptimizer({ ...BASE, name: 'adamw', weightDecay: 0.1 });
    expectClose(run(opt, [1, -2], [[0.5, 0.25]]), [[0.89, -2.08]]);
  });

  it('follows the AdamW formulas over several steps (double-precision reference)', () => {
    const lr = 0.01;
    const [b1, b2, wd, eps] = [0.8, 0.99, 0.05, 1e-8];
    const grads = [
      [0.3, -0.2, 0],
      [0.1, 0.4, 1e-9],
      [-0.5, 0.1, 2],
    ];
    let p = [0.5, -1, 3];
    let m = [0, 0, 0];
    let v = [0, 0, 0];
    const want: number[][] = [];
    grads.forEach((g, s) => {
      const t = s + 1;
      p = p.map((x) => x * (1 - lr * wd));
      m = m.map((x, i) => b1 * x + (1 - b1) * g[i]);
      v = v.map((x, i) => b2 * x + (1 - b2) * g[i] * g[i]);
      p = p.map((x, i) => x - (lr / (1 - b1 ** t)) * (m[i] / (Math.sqrt(v[i]) / Math.sqrt(1 - b2 ** t) + eps)));
      want.push([...p]);
    });
    const opt = createOptimizer({ ...BASE, name: 'adamw', lr, beta1: b1, beta2: b2, weightDecay: wd });
    expectClose(run(opt, [0.5, -1, 3], grads), want, 5);
  });
});

describe('optimizer state', () => {
  for (const name of ['sgd', 'adamw'] as const) {
    it(`${name}: a restored optimizer (weights encoded as a checkpoint does) continues bit for bit`, async () => {
      const cfg: OptimizerConfig = { ...BASE, name, lr: 0.01 };
      const rng = createRng(`opt-${name}`);
      const shapes = [[3, 4], [5]];
      const start = shapes.map((s) => Float32Array.from({ length: s.reduce((a, b) => a * b, 1) }, () => rng.normal()));
      const grads = [0, 1, 2, 3].map(() =>
        shapes.map((s) => Float32Array.from({ length: s.reduce((a, b) => a * b, 1) }, () => rng.normal())),
      );
      const step = (opt: LabOptimizer, ps: tf.Variable[], k: number) =>
        tf.tidy(() =>
          opt.applyGradients(ps.map((p, i) => ({ name: p.name, tensor: tf.tensor(grads[k][i], shapes[i]) }))),
        );

      // Uninterrupted: 4 steps.
      const a = createOptimizer(cfg);
      const pa = start.map((d, i) => tf.variable(tf.tensor(d, shapes[i])));
      for (let k = 0; k < 4; k++) step(a, pa, k);

      // Interrupted after 2 steps: checkpoint, then a fresh optimizer and fresh variables.
      const b = createOptimizer(cfg);
      const pb = start.map((d, i) => tf.variable(tf.tensor(d, shapes[i])));
      for (let k = 0; k < 2; k++) step(b, pb, k);
      const { data, specs } = await tf.io.encodeWeights(await b.getWeights());
      const saved = pb.map((p) => Float32Array.from(p.dataSync()));
      b.dispose();
      const before = tf.memory().numTensors;
      const c = createOptimizer(cfg);
      const decoded = tf.io.decodeWeights(data, specs);
      await c.setWeights(specs.map((s) => ({ name: s.name, tensor: decoded[s.name] })));
      tf.dispose(Object.values(decoded));
      expect(c.iterations).toBe(2);
      const pc = saved.map((d, i) => tf.tidy(() => tf.variable(tf.tensor(d, shapes[i]))));
      for (let k = 2; k < 4; k++) step(c, pc, k);

      pa.forEach((p, i) => expect(Array.from(pc[i].dataSync())).toEqual(Array.from(p.dataSync())));
      // Restoring and stepping leak nothing.
      c.dispose();
      tf.dispose(pc);
      expect(tf.memory().numTensors).toBe(before);
      const names = specs.map((s) => s.name.replace(/^.*\//, ''));
      expect(names).toEqual(
        name === 'sgd'
          ? ['iter', 'momentum_buffer', 'momentum_buffer']
          : ['iter', 'exp_avg', 'exp_avg_sq', 'exp_avg', 'exp_avg_sq'],
      );
      tf.dispose([...pa, ...pb]);
      a.dispose();
    });
  }

  it('throws when gradients come in another order than the state was made in', () => {
    const opt = createOptimizer(BASE);
    const a = tf.variable(tf.zeros([2]));
    const b = tf.variable(tf.zeros([3]));
    opt.applyGradients([
      { name: a.name, tensor: tf.ones([2]) },
      { name: b.name, tensor: tf.ones([3]) },
    ]);
    expect(() =>
      opt.applyGradients([
        { name: b.name, tensor: tf.ones([3]) },
        { name: a.name, tensor: tf.ones([2]) },
      ]),
    ).toThrow(/same order every step/);
  });

  it('setLearningRate changes the next step; configs round-trip through the registered classes', () => {
    const opt = createOptimizer({ ...BASE, momentum: 0, weightDecay: 0 });
    expect(opt).toBeInstanceOf(TorchSgd);
    opt.setLearningRate(0.5);
    expectClose(run(opt, [1], [[1]]), [[0.5]]);
    expect(() => opt.setLearningRate(Number.NaN)).toThrow(/learning rate/);
    const adamw = createOptimizer({ ...BASE, name: 'adamw' });
    expect(adamw).toBeInstanceOf(TorchAdamW);
    const revived = tf.serialization.SerializationMap.getMap().classNameMap['TorchAdamW'];
    expect(revived).toBeDefined();
    const copy = TorchAdamW.fromConfig(TorchAdamW, adamw.getConfig()) as TorchAdamW;
    expect(copy.getConfig()).toEqual(adamw.getConfig());
  });
});

describe('stepLr (torch StepLR)', () => {
  const step = { name: 'step' as const, stepSize: 3, gamma: 0.1 };

  it('counts epochs as torch last_epoch (scheduler steps taken, from 0)', () => {
    expect([0, 1, 2].map((e) => stepLr(step, 1e-3, e))).toEqual([1e-3, 1e-3, 1e-3]);
    expect([3, 4, 5].map((e) => stepLr(step, 1e-3, e))).toEqual([1e-3 * 0.1, 1e-3 * 0.1, 1e-3 * 0.1]);
    // Repeated multiplication, as torch (1e-3·0.1·0.1, which is not 1e-3·0.01 in doubles).
    expect(stepLr(step, 1e-3, 6)).toBe(1e-3 * 0.1 * 0.1);
    expect(stepLr({ ...step, name: 'none' }, 0.02, 100)).toBe(0.02);
    expect(() => stepLr(step, 1e-3, -1)).toThrow(/from 0|0, 1/);
    expect(() => stepLr(step, 1e-3, 1.5)).toThrow();
  });
});
