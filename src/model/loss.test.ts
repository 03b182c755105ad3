import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { computeBatchLoss } from './loss.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('computeBatchLoss (CrossEntropyLoss, reduction none)', () => {
  it('is −log softmax[label] per sample (hand-computed)', () => {
    // [1, 2] with label 1: log(1 + e^(1−2)); [3, −1] with label 0: log(1 + e^(−1−3))
    const loss = computeBatchLoss(
      tf.tensor2d([
        [1, 2],
        [3, -1],
      ]),
      tf.tensor1d([1, 0], 'int32'),
    );
    expect(loss.shape).toEqual([2]);
    const [a, b] = loss.dataSync();
    expect(a).toBeCloseTo(Math.log1p(Math.exp(-1)), 6);
    expect(b).toBeCloseTo(Math.log1p(Math.exp(-4)), 6);
  });

  it('is finite for huge logits (log-softmax, not log of softmax)', () => {
    const loss = computeBatchLoss(
      tf.tensor2d([
        [1000, -1000],
        [1000, -1000],
        [-1e30, 1e30],
      ]),
      [1, 0, 1],
    ).dataSync();
    expect(loss[0]).toBeCloseTo(2000, 3);
    expect(loss[1]).toBeCloseTo(0, 6);
    expect(loss[2]).toBeCloseTo(0, 6);
  });

  it('has the gradient softmax − onehot (per sample)', () => {
    const logits = tf.variable(
      tf.tensor2d([
        [0.5, -0.5],
        [2, 1],
      ]),
    );
    const { grads, value } = tf.variableGrads(() => tf.sum(computeBatchLoss(logits, [0, 1])) as tf.Scalar, [logits]);
    const p = tf.softmax(logits).arraySync() as number[][];
    const g = grads[logits.name].arraySync() as number[][];
    expect(g[0][0]).toBeCloseTo(p[0][0] - 1, 6);
    expect(g[0][1]).toBeCloseTo(p[0][1], 6);
    expect(g[1][1]).toBeCloseTo(p[1][1] - 1, 6);
    tf.dispose([logits, value, ...Object.values(grads)]);
  });

  it('checks shapes and label values it can see', () => {
    expect(() => computeBatchLoss(tf.zeros([2]), [0, 1])).toThrow(/\[N,K\]/);
    expect(() => computeBatchLoss(tf.zeros([2, 2]), tf.tensor1d([0, 1, 1], 'int32'))).toThrow(/labels \[2\]/);
    expect(() => computeBatchLoss(tf.zeros([2, 2]), [0, 2])).toThrow(/label 2/);
  });
});
