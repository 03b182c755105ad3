import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { createRng } from '../data/rng.ts';
import { BatchNorm3d } from './batch-norm-3d.ts';
import './register.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const SHAPE = [2, 3, 2, 2, 3]; // N, D, H, W, C

function randomData(seed: number): Float32Array {
  const rng = createRng(seed);
  const out = new Float32Array(SHAPE.reduce((a, b) => a * b, 1));
  // Per-channel offsets and scales, so the channels are normalised separately.
  for (let i = 0; i < out.length; i++) out[i] = rng.normal(10 * (i % 3) - 5, 1 + (i % 3));
  return out;
}

/** Channel statistics over N,D,H,W in double precision. */
function channelStats(data: Float32Array, c: number): { mean: number[]; biased: number[]; unbiased: number[] } {
  const n = data.length / c;
  const mean = Array.from({ length: c }, (_, k) => {
    let s = 0;
    for (let i = k; i < data.length; i += c) s += data[i];
    return s / n;
  });
  const ss = mean.map((m, k) => {
    let s = 0;
    for (let i = k; i < data.length; i += c) s += (data[i] - m) ** 2;
    return s;
  });
  return { mean, biased: ss.map((s) => s / n), unbiased: ss.map((s) => s / (n - 1)) };
}

function built(): BatchNorm3d {
  const layer = new BatchNorm3d({ name: 'bn' });
  layer.build([null, 3, 2, 2, 3]);
  return layer;
}

describe('BatchNorm3d', () => {
  it('starts as PyTorch does: gamma 1, beta 0 trainable; running mean 0, var 1 not', () => {
    const layer = built();
    expect(layer.trainableWeights.map((w) => w.originalName.split('/').pop())).toEqual(['gamma', 'beta']);
    expect(layer.nonTrainableWeights.map((w) => w.originalName.split('/').pop())).toEqual([
      'running_mean',
      'running_var',
    ]);
    expect(layer.getWeights().map((w) => Array.from(w.dataSync()))).toEqual([
      [1, 1, 1],
      [0, 0, 0],
      [0, 0, 0],
      [1, 1, 1],
    ]);
  });

  it('training: normalises with the batch mean and biased variance over N,D,H,W', () => {
    const layer = built();
    layer.setWeights([tf.tensor1d([1, 2, 0.5]), tf.tensor1d([0, 1, -1]), tf.zeros([3]), tf.ones([3])]);
    const data = randomData(1);
    const x = tf.tensor(data, SHAPE);
    const y = (layer.apply(x, { training: true }) as tf.Tensor).dataSync();
    const { mean, biased } = channelStats(data, 3);
    const gamma = [1, 2, 0.5];
    const beta = [0, 1, -1];
    let worst = 0;
    for (let i = 0; i < data.length; i++) {
      const k = i % 3;
      const want = ((data[i] - mean[k]) / Math.sqrt(biased[k] + 1e-5)) * gamma[k] + beta[k];
      worst = Math.max(worst, Math.abs(y[i] - want));
    }
    expect(worst).toBeLessThan(2e-5);
  });

  it('training: running stats move by momentum 0.1 with the UNBIASED variance', () => {
    const layer = built();
    layer.setWeights([tf.ones([3]), tf.zeros([3]), tf.tensor1d([1, 2, 3]), tf.tensor1d([4, 5, 6])]);
    const data = randomData(2);
    layer.apply(tf.tensor(data, SHAPE), { training: true });
    const { mean, unbiased } = channelStats(data, 3);
    const [, , rm, rv] = layer.getWeights().map((w) => Array.from(w.dataSync()));
    [1, 2, 3].forEach((r, k) => expect(rm[k]).toBeCloseTo(0.9 * r + 0.1 * mean[k], 5));
    [4, 5, 6].forEach((r, k) => expect(rv[k]).toBeCloseTo(0.9 * r + 0.1 * unbiased[k], 4));
  });

  it('eval (training false or absent): uses the running stats and leaves them alone', () => {
    const layer = built();
    layer.setWeights([
      tf.tensor1d([2, 2, 2]),
      tf.tensor1d([1, 1, 1]),
      tf.tensor1d([1, -1, 0]),
      tf.tensor1d([4, 1, 0.25]),
    ]);
    const x = tf.ones(SHAPE);
    const rm = [1, -1, 0];
    const rv = [4, 1, 0.25];
    for (const kwargs of [{}, { training: false }]) {
      const y = (layer.apply(x, kwargs) as tf.Tensor).dataSync();
      for (let k = 0; k < 3; k++) expect(y[k]).toBeCloseTo((2 * (1 - rm[k])) / Math.sqrt(rv[k] + 1e-5) + 1, 5);
    }
    expect(Array.from(layer.getWeights()[2].dataSync())).toEqual([1, -1, 0]);
  });

  it('model.apply(x, {training: true}) reaches the layer inside a model; predict does not', () => {
    const model = tf.sequential({ layers: [new BatchNorm3d({ name: 'bn_in_model', inputShape: [3, 2, 2, 3] })] });
    const x = tf.tensor(randomData(3), SHAPE);
    model.predict(x);
    expect(Array.from(model.getLayer('bn_in_model').getWeights()[2].dataSync())).toEqual([0, 0, 0]);
    model.apply(x, { training: true });
    expect(Array.from(model.getLayer('bn_in_model').getWeights()[2].dataSync()).every((v) => v !== 0)).toBe(true);
  });

  it('trains under tf.variableGrads: gradients reach gamma and beta, the stats update sticks, nothing leaks', () => {
    const model = tf.sequential({ layers: [new BatchNorm3d({ name: 'bn_grad', inputShape: [3, 2, 2, 3] })] });
    const x = tf.tensor(randomData(4), SHAPE);
    const before = tf.memory().numTensors;
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const { value, grads } = tf.variableGrads(
      () => tf.sum(model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar,
      vars,
    );
    // d sum(y) / d beta = values per channel; d / d gamma = sum of x̂ = 0.
    expect(Array.from(grads[vars[1].name].dataSync())).toEqual([24, 24, 24]);
    for (const g of grads[vars[0].name].dataSync()) expect(Math.abs(g)).toBeLessThan(1e-4);
    const rm = model.getLayer('bn_grad').getWeights()[2].dataSync();
    expect(Array.from(rm).every((v) => v !== 0)).toBe(true);
    tf.dispose([value, ...Object.values(grads)]);
    // The old running-stat tensors were released when the variables were reassigned.
    expect(tf.memory().numTensors).toBe(before);
  });

  it('refuses what PyTorch refuses: rank ≠ 5, one value per channel in training', () => {
    const layer = new BatchNorm3d({ name: 'bn_bad' });
    expect(() => layer.apply(tf.zeros([2, 3, 3, 1]))).toThrow(/expects \[N,D,H,W,C\]|expected ndim=5/);
    const one = built();
    expect(() => one.apply(tf.zeros([1, 1, 1, 1, 3]), { training: true })).toThrow(/more than 1 value per channel/);
    expect(() => new BatchNorm3d({ momentum: 2 })).toThrow(/momentum/);
  });

  it('saves and loads (registered class), running stats included', async () => {
    const model = tf.sequential({
      layers: [new BatchNorm3d({ name: 'bn_io', inputShape: [3, 2, 2, 3], momentum: 0.2, epsilon: 1e-3 })],
    });
    const x = tf.tensor(randomData(5), SHAPE);
    model.apply(x, { training: true });
    let saved: tf.io.ModelArtifacts | null = null;
    await model.save(
      tf.io.withSaveHandler(async (a) => {
        saved = a;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    const loaded = await tf.loadLayersModel(tf.io.fromMemory(saved!));
    const bn = loaded.getLayer('bn_io') as BatchNorm3d;
    expect(bn).toBeInstanceOf(BatchNorm3d);
    expect([bn.momentum, bn.epsilon]).toEqual([0.2, 1e-3]);
    expect(Array.from((loaded.predict(x) as tf.Tensor).dataSync())).toEqual(
      Array.from((model.predict(x) as tf.Tensor).dataSync()),
    );
  });
});
