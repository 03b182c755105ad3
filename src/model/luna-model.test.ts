import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../config/lab-config.ts';
import { createRng } from '../data/rng.ts';
import { BatchNorm3d } from './batch-norm-3d.ts';
import { computeBatchLoss } from './loss.ts';
import { createOptimizer } from './optimizers.ts';
import { Dropout, Dropout3d, setDropoutRng } from './dropout.ts';
import {
  bookInitStateDict,
  buildLunaModel,
  checkInput,
  dropoutLayers,
  exportTorchStateDict,
  modelSummary,
  probabilities,
  trainableParamCount,
  type LunaModelConfig,
} from './luna-model.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

afterEach(() => setDropoutRng(null));

const DEFAULT = defaultConfig();
const TINY: LunaModelConfig = { blocks: 2, width: 2, blockNorm: false, dropout: 'none', dropoutRate: 0.2 };
const TINY_CROP = [4, 8, 8] as const;

function weightsOf(model: tf.LayersModel): Float32Array[] {
  return model.getWeights().map((w) => Float32Array.from(w.dataSync()));
}

describe('buildLunaModel', () => {
  it('is the book LunaModel with the defaults: 222,220 trainable parameters, logits [N,2]', () => {
    const model = buildLunaModel(DEFAULT.model, DEFAULT.crop, 1);
    expect(trainableParamCount(model)).toBe(222_220);
    expect(model.inputs[0].shape).toEqual([null, 32, 48, 48, 1]);
    expect(model.outputs[0].shape).toEqual([null, 2]);
    expect(model.layers.map((l) => l.name)).toEqual([
      'tail_bn',
      // conv + bias + ReLU are one layer (a Conv3D with activation relu) without blockNorm
      ...[1, 2, 3, 4].flatMap((b) => [`block${b}_conv1`, `block${b}_conv2`, `block${b}_pool`]),
      'flatten',
      'head',
    ]);
    expect(model.getLayer('flatten').outputShape).toEqual([null, 1152]);
    expect(model.getLayer('tail_bn')).toBeInstanceOf(BatchNorm3d);
    model.dispose();
  });

  it('same seed ⇒ the same weights bit for bit; another seed ⇒ other weights', () => {
    const a = weightsOf(buildLunaModel(TINY, TINY_CROP, 42));
    const b = weightsOf(buildLunaModel(TINY, TINY_CROP, 42));
    const c = buildLunaModel(TINY, TINY_CROP, 43);
    expect(b).toEqual(a);
    const kernel = c.getLayer('block1_conv1').getWeights()[0].dataSync();
    expect(a.some((w) => w.length === kernel.length && w.every((v, i) => v === kernel[i]))).toBe(false);
  });

  it("initialises as the book's _init_weights: kaiming normal (fan_out, relu), bias ~ N(-1/√fan_out, 1/√fan_out)", () => {
    const model = buildLunaModel(DEFAULT.model, DEFAULT.crop, 7);
    const sd = exportTorchStateDict(model);
    const stats = (a: Float32Array) => {
      const mean = a.reduce((s, v) => s + v, 0) / a.length;
      return { mean, sd: Math.sqrt(a.reduce((s, v) => s + (v - mean) ** 2, 0) / a.length) };
    };
    // Large tensors: sample statistics are close to the distribution's.
    const w = stats(sd['block4.conv2.weight'].data); // 64·64·27 values, fan_out 64·27
    expect(w.mean).toBeCloseTo(0, 3);
    expect(w.sd / Math.sqrt(2 / (64 * 27))).toBeCloseTo(1, 1);
    const head = stats(sd['head_linear.weight'].data); // fan_out = out_features = 2: std 1
    expect(head.sd).toBeGreaterThan(0.95);
    expect(head.sd).toBeLessThan(1.05);
    // The bias formula, exactly: the first draws of the bias's own stream.
    const bound = 1 / Math.sqrt(8 * 27);
    const rng = createRng(7).fork('init').fork('block1.conv1.bias');
    expect(Array.from(sd['block1.conv1.bias'].data)).toEqual(
      Array.from({ length: 8 }, () => Math.fround(rng.normal(-bound, bound))),
    );
    // BatchNorm keeps PyTorch's constant init.
    expect(Array.from(sd['tail_batchnorm.weight'].data)).toEqual([1]);
    expect(Array.from(sd['tail_batchnorm.running_var'].data)).toEqual([1]);
    model.dispose();
  });

  it('draws every number in PyTorch layout from one stream per state_dict tensor', () => {
    const model = buildLunaModel(TINY, TINY_CROP, 5);
    const init = bookInitStateDict(model, 5);
    expect(Object.keys(init)).toEqual([
      'block1.conv1.weight',
      'block1.conv1.bias',
      'block1.conv2.weight',
      'block1.conv2.bias',
      'block2.conv1.weight',
      'block2.conv1.bias',
      'block2.conv2.weight',
      'block2.conv2.bias',
      'head_linear.weight',
      'head_linear.bias',
    ]);
    const rng = createRng(5).fork('init').fork('block1.conv1.weight');
    const std = Math.SQRT2 / Math.sqrt(2 * 27);
    expect(init['block1.conv1.weight'].shape).toEqual([2, 1, 3, 3, 3]);
    expect(Array.from(init['block1.conv1.weight'].data)).toEqual(
      Array.from({ length: 54 }, () => Math.fround(rng.normal(0, std))),
    );
    const sd = exportTorchStateDict(model);
    for (const [k, t] of Object.entries(init)) expect(sd[k].data).toEqual(t.data);
    model.dispose();
  });

  it('blockNorm: BatchNorm3d after each conv, before the ReLU; convs without bias', () => {
    const model = buildLunaModel({ ...DEFAULT.model, blockNorm: true }, DEFAULT.crop, 1);
    const names = model.layers.map((l) => l.name);
    expect(names.slice(0, 8)).toEqual([
      'tail_bn',
      'block1_conv1',
      'block1_bn1',
      'block1_relu1',
      'block1_conv2',
      'block1_bn2',
      'block1_relu2',
      'block1_pool',
    ]);
    expect(model.getLayer('block1_conv1').weights.map((w) => w.originalName.split('/').pop())).toEqual(['kernel']);
    // 222,220 − 240 conv biases + 2·240 BatchNorm gamma/beta.
    expect(trainableParamCount(model)).toBe(222_460);
    model.dispose();
  });

  it('dropout variants: one layer after each pool, active only when training', () => {
    for (const [kind, cls] of [
      ['dropout', Dropout],
      ['dropout3d', Dropout3d],
    ] as const) {
      const model = buildLunaModel({ ...TINY, dropout: kind, dropoutRate: 0.5 }, TINY_CROP, 1);
      const layers = dropoutLayers(model);
      expect(layers.map((l) => l.name)).toEqual(['block1_dropout', 'block2_dropout']);
      layers.forEach((l) => expect(l).toBeInstanceOf(cls));
      expect(model.layers[model.layers.indexOf(model.getLayer('block1_pool')) + 1].name).toBe('block1_dropout');
      const x = tf.randomUniform([2, ...TINY_CROP, 1], -1000, 1000, 'float32', 3);
      const evalA = (model.apply(x) as tf.Tensor).dataSync();
      const evalB = (model.apply(x, { training: false }) as tf.Tensor).dataSync();
      expect(Array.from(evalB)).toEqual(Array.from(evalA));
      setDropoutRng(createRng(1));
      const train = (model.apply(x, { training: true }) as tf.Tensor).dataSync();
      expect(Array.from(train)).not.toEqual(Array.from(evalA));
      model.dispose();
    }
  });

  it('trains (minimize with BatchNorm, dropout, AdamW) without leaking tensors', () => {
    const model = buildLunaModel({ ...TINY, blockNorm: true, dropout: 'dropout3d', dropoutRate: 0.3 }, TINY_CROP, 2);
    const opt = createOptimizer({ ...DEFAULT.optimizer, name: 'adamw' });
    setDropoutRng(createRng(2));
    const x = tf.randomUniform([2, ...TINY_CROP, 1], -1000, 1000, 'float32', 5);
    const labels = tf.tensor1d([1, 0], 'int32');
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const step = () =>
      opt.minimize(
        () => tf.mean(computeBatchLoss(model.apply(x, { training: true }) as tf.Tensor, labels)) as tf.Scalar,
        false,
        vars,
      );
    step(); // creates the optimizer state
    const live = tf.memory().numTensors;
    const mean0 = Array.from(model.getLayer('tail_bn').getWeights()[2].dataSync());
    step();
    step();
    expect(tf.memory().numTensors).toBe(live);
    expect(Array.from(model.getLayer('tail_bn').getWeights()[2].dataSync())).not.toEqual(mean0);
    opt.dispose();
    model.dispose();
  });

  it('refuses crops the blocks cannot halve, and bad block counts', () => {
    expect(() => buildLunaModel(DEFAULT.model, [30, 48, 48], 1)).toThrow(/crop \[30,48,48\].*multiple of 2\^4 = 16/);
    expect(() => buildLunaModel({ ...TINY, blocks: 0 }, TINY_CROP, 1)).toThrow(/blocks/);
  });

  it('loads and saves with its custom layers (blockNorm + dropout3d) and predicts the same', async () => {
    const model = buildLunaModel({ ...TINY, blockNorm: true, dropout: 'dropout3d' }, TINY_CROP, 9);
    let saved: tf.io.ModelArtifacts | null = null;
    await model.save(
      tf.io.withSaveHandler(async (a) => {
        saved = a;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    const loaded = await tf.loadLayersModel(tf.io.fromMemory(saved!));
    const x = tf.randomUniform([2, ...TINY_CROP, 1], -1000, 1000, 'float32', 4);
    expect(Array.from((loaded.predict(x) as tf.Tensor).dataSync())).toEqual(
      Array.from((model.predict(x) as tf.Tensor).dataSync()),
    );
    expect(exportTorchStateDict(loaded)).toEqual(exportTorchStateDict(model));
  });
});

describe('checkInput', () => {
  it('accepts [N, D, H, W, 1] float32 and names both shapes otherwise', () => {
    expect(() => checkInput(tf.zeros([4, 32, 48, 48, 1]), [32, 48, 48])).not.toThrow();
    expect(() => checkInput(tf.zeros([4, 32, 48, 48]), [32, 48, 48])).toThrow(
      'expected [N,32,48,48,1], got [4,32,48,48]',
    );
    expect(() => checkInput(tf.zeros([1, 32, 48, 47, 1]), [32, 48, 48])).toThrow(
      'expected [N,32,48,48,1], got [1,32,48,47,1]',
    );
    expect(() => checkInput(tf.zeros([1, 4, 8, 8, 1], 'int32'), [4, 8, 8])).toThrow(/float32/);
  });
});

describe('probabilities and modelSummary', () => {
  it('softmax over the two classes', () => {
    const p = probabilities(
      tf.tensor2d([
        [0, 0],
        [1000, -1000],
        [0, Math.log(3)],
      ]),
    ).arraySync();
    expect(p[0]).toEqual([0.5, 0.5]);
    expect(p[1]).toEqual([1, 0]);
    expect(p[2][1]).toBeCloseTo(0.75, 6);
    expect(() => probabilities(tf.zeros([2, 2, 1]))).toThrow(/\[N,2\]/);
  });

  it('summarises layers, shapes and parameter counts', () => {
    const text = modelSummary(buildLunaModel(DEFAULT.model, DEFAULT.crop, 1));
    expect(text).toMatch(/tail_bn \(BatchNorm3d\)/);
    expect(text).toMatch(/head \(Dense\)\s+\[\[null,1152\]\]\s+\[null,2\]\s+2306/);
    expect(text).toMatch(/Trainable params: 222220/);
  });
});
