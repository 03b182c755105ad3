import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createRng } from '../data/rng.ts';
import { Dropout, Dropout3d, getDropoutRng, setDropoutRng } from './dropout.ts';
import './register.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

afterEach(() => {
  setDropoutRng(null);
  vi.restoreAllMocks();
});

const SEED_LIMIT = 2 ** 31 - 1;

describe('Dropout (element-wise)', () => {
  it('is the identity unless training', () => {
    const layer = new Dropout({ name: 'd_eval', rate: 0.5 });
    const x = tf.range(1, 25).reshape([2, 3, 4]);
    for (const kwargs of [{}, { training: false }]) {
      expect(Array.from((layer.apply(x, kwargs) as tf.Tensor).dataSync())).toEqual(Array.from(x.dataSync()));
    }
  });

  it('refuses to train without a random stream instead of using unseeded randomness', () => {
    const layer = new Dropout({ name: 'd_norng', rate: 0.5 });
    expect(() => layer.apply(tf.ones([4]), { training: true })).toThrow(/no random stream.*setDropoutRng/);
  });

  it('draws one seed per call from the stream and masks as tf.randomUniform(seed) >= p, scaled by 1/(1-p)', () => {
    const layer = new Dropout({ name: 'd_exact', rate: 0.3 });
    setDropoutRng(createRng(11));
    const twin = createRng(11);
    const x = tf.range(1, 61).reshape([3, 4, 5]);
    const random = vi.spyOn(Math, 'random');
    for (let call = 0; call < 2; call++) {
      const y = (layer.apply(x, { training: true }) as tf.Tensor).dataSync();
      const u = tf.randomUniform([3, 4, 5], 0, 1, 'float32', twin.int(1, SEED_LIMIT)).dataSync();
      const scale = Math.fround(1 / 0.7);
      for (let i = 0; i < u.length; i++) {
        expect(y[i]).toBe(u[i] >= 0.3 ? Math.fround((i + 1) * scale) : 0);
      }
    }
    expect(random).not.toHaveBeenCalled();
  });

  it('drops about p of the elements; same stream, same masks; calls differ', () => {
    const layer = new Dropout({ name: 'd_rate', rate: 0.2 });
    const x = tf.ones([20000]);
    const run = (seed: number) => {
      setDropoutRng(createRng(seed));
      return [0, 1].map(() => Array.from((layer.apply(x, { training: true }) as tf.Tensor).dataSync()));
    };
    const [a1, a2] = run(5);
    const [b1] = run(5);
    expect(b1).toEqual(a1);
    expect(a2).not.toEqual(a1);
    const dropped = a1.filter((v) => v === 0).length / a1.length;
    expect(dropped).toBeGreaterThan(0.18);
    expect(dropped).toBeLessThan(0.22);
    expect(new Set(a1)).toEqual(new Set([0, Math.fround(1 / 0.8)]));
  });

  it('a layer given its own stream ignores the shared one', () => {
    const own = new Dropout({ name: 'd_own', rate: 0.5 });
    const shared = createRng(1);
    setDropoutRng(shared);
    own.setRng(createRng(2));
    const before = shared.state();
    own.apply(tf.ones([10]), { training: true });
    expect(shared.state()).toEqual(before);
    own.setRng(null);
    expect(own.getRng()).toBe(getDropoutRng());
  });

  it('p = 0 is the identity and p = 1 zeroes everything (PyTorch)', () => {
    setDropoutRng(createRng(3));
    const x = tf.range(1, 9);
    expect(Array.from((new Dropout({ rate: 0 }).apply(x, { training: true }) as tf.Tensor).dataSync())).toEqual(
      Array.from(x.dataSync()),
    );
    expect(Array.from((new Dropout({ rate: 1 }).apply(x, { training: true }) as tf.Tensor).dataSync())).toEqual(
      new Array(8).fill(0),
    );
    expect(() => new Dropout({ rate: 1.5 })).toThrow(/rate/);
  });

  it('the gradient is the scaled mask', () => {
    const layer = new Dropout({ name: 'd_grad', rate: 0.5 });
    setDropoutRng(createRng(4));
    const x = tf.variable(tf.ones([50]));
    let y: tf.Tensor | null = null;
    const { grads, value } = tf.variableGrads(() => {
      y = tf.keep(layer.apply(x, { training: true }) as tf.Tensor);
      return tf.sum(y) as tf.Scalar;
    }, [x]);
    expect(Array.from(grads[x.name].dataSync())).toEqual(Array.from(y!.dataSync()));
    tf.dispose([x, y!, value, ...Object.values(grads)]);
  });
});

describe('Dropout3d (whole channels)', () => {
  it('zeroes whole (sample, channel) volumes with mask [N,1,1,1,C]', () => {
    const layer = new Dropout3d({ name: 'd3', rate: 0.5 });
    setDropoutRng(createRng(8));
    const [n, d, h, w, c] = [4, 2, 3, 2, 16];
    const y = (layer.apply(tf.ones([n, d, h, w, c]), { training: true }) as tf.Tensor).arraySync() as number[][][][][];
    const kept = new Set<string>();
    let zeroed = 0;
    for (let s = 0; s < n; s++) {
      for (let k = 0; k < c; k++) {
        const values = new Set<number>();
        for (let i = 0; i < d; i++)
          for (let j = 0; j < h; j++) for (let l = 0; l < w; l++) values.add(y[s][i][j][l][k]);
        expect(values.size).toBe(1);
        const v = [...values][0];
        expect([0, 2]).toContain(v);
        if (v === 0) zeroed++;
        else kept.add(`${s}/${k}`);
      }
    }
    expect(zeroed).toBeGreaterThan(10);
    expect(kept.size).toBeGreaterThan(10);
  });

  it('needs rank 5 when training, and saves/loads under its registered name', async () => {
    setDropoutRng(createRng(9));
    expect(() => new Dropout3d({ name: 'd3_bad', rate: 0.5 }).apply(tf.ones([2, 3, 4]), { training: true })).toThrow(
      /expects \[N,D,H,W,C\]/,
    );
    const model = tf.sequential({
      layers: [
        new Dropout3d({ name: 'd3_io', rate: 0.25, inputShape: [2, 2, 2, 3] }),
        new Dropout({ name: 'd_io', rate: 0.1 }),
      ],
    });
    let saved: tf.io.ModelArtifacts | null = null;
    await model.save(
      tf.io.withSaveHandler(async (a) => {
        saved = a;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    const loaded = await tf.loadLayersModel(tf.io.fromMemory(saved!));
    expect(loaded.getLayer('d3_io')).toBeInstanceOf(Dropout3d);
    expect((loaded.getLayer('d3_io') as Dropout3d).rate).toBe(0.25);
    expect(loaded.getLayer('d_io')).toBeInstanceOf(Dropout);
  });
});
