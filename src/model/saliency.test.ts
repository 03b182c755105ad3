import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { createRng } from '../data/rng.ts';
import { buildLunaModel, probabilities, type LunaModelConfig } from './luna-model.ts';
import { saliency } from './saliency.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const TINY: LunaModelConfig = { blocks: 1, width: 2, blockNorm: false, dropout: 'dropout3d', dropoutRate: 0.5 };
const CROP = [4, 6, 6] as const;

function input(seed: number): Float32Array {
  const rng = createRng(seed).fork('saliency-test');
  return Float32Array.from({ length: 4 * 6 * 6 }, () => rng.normal(0, 1));
}

describe('saliency', () => {
  it("p is the model's softmax class 1, and the gradient matches finite differences", async () => {
    const model = buildLunaModel(TINY, CROP, 5);
    const x = input(1);
    const before = tf.memory().numTensors;
    const s = await saliency(model, x, CROP);
    expect(tf.memory().numTensors).toBe(before);

    const p = tf.tidy(
      () =>
        probabilities(model.apply(tf.tensor5d(x, [1, ...CROP, 1]), { training: false }) as tf.Tensor).arraySync()[0][1],
    );
    expect(s.prob).toBeCloseTo(p, 6);
    expect(s.gradient.length).toBe(x.length);
    expect(s.maxAbs).toBeGreaterThan(0);
    expect(s.maxAbs).toBe(Math.max(...Array.from(s.gradient, Math.abs)));

    const probAt = (v: Float32Array) =>
      tf.tidy(
        () =>
          (
            probabilities(
              model.apply(tf.tensor5d(v, [1, ...CROP, 1]), { training: false }) as tf.Tensor,
            ).arraySync() as number[][]
          )[0][1],
      );
    const eps = 1e-2;
    // The voxels the prediction depends on most, where the finite difference is well above float noise.
    const order = Array.from(s.gradient.keys()).sort((a, b) => Math.abs(s.gradient[b]) - Math.abs(s.gradient[a]));
    for (const k of order.slice(0, 5)) {
      const up = Float32Array.from(x);
      const down = Float32Array.from(x);
      up[k] += eps;
      down[k] -= eps;
      const fd = (probAt(up) - probAt(down)) / (2 * eps);
      expect(Math.abs(fd - s.gradient[k])).toBeLessThan(0.02 * s.maxAbs + 1e-5);
    }
    model.dispose();
  });

  it('is deterministic (dropout stays off) and refuses a crop of the wrong size', async () => {
    const model = buildLunaModel(TINY, CROP, 5);
    const a = await saliency(model, input(2), CROP);
    const b = await saliency(model, input(2), CROP);
    expect(Array.from(b.gradient)).toEqual(Array.from(a.gradient));
    await expect(saliency(model, new Float32Array(10), CROP)).rejects.toThrow(/expected 4×6×6 = 144/);
    model.dispose();
  });
});
