import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { createRng } from '../data/rng.ts';
import { buildLunaModel, type LunaModelConfig } from './luna-model.ts';
import {
  exportTorchStateDict,
  importTorchStateDict,
  namedTensorsToTorch,
  torchModuleName,
  torchStateDictMapping,
} from './torch-state-dict.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

// One block: input [N,2,4,4,1] → pool [N,1,2,2,2] → flatten 8 → head.
const SMALL: LunaModelConfig = { blocks: 1, width: 2, blockNorm: false, dropout: 'none', dropoutRate: 0 };
const CROP = [2, 4, 4] as const;

function input(seed: number): tf.Tensor5D {
  const rng = createRng(seed);
  const data = Float32Array.from({ length: 2 * 2 * 4 * 4 }, () => rng.normal(0, 1));
  return tf.tensor5d(data, [2, 2, 4, 4, 1]);
}

describe('PyTorch state_dict mapping', () => {
  it("names the book's modules", () => {
    expect(torchModuleName('tail_bn')).toBe('tail_batchnorm');
    expect(torchModuleName('block3_conv2')).toBe('block3.conv2');
    expect(torchModuleName('block2_bn1')).toBe('block2.batchnorm1');
    expect(torchModuleName('head')).toBe('head_linear');
    expect(torchModuleName('block1_pool')).toBeNull();
    const model = buildLunaModel({ ...SMALL, blockNorm: true }, CROP, 1);
    expect(torchStateDictMapping(model).map((p) => `${p.torchName}:${p.trainable ? 'p' : 'b'}`)).toEqual([
      'tail_batchnorm.weight:p',
      'tail_batchnorm.bias:p',
      'tail_batchnorm.running_mean:b',
      'tail_batchnorm.running_var:b',
      'block1.conv1.weight:p',
      'block1.batchnorm1.weight:p',
      'block1.batchnorm1.bias:p',
      'block1.batchnorm1.running_mean:b',
      'block1.batchnorm1.running_var:b',
      'block1.conv2.weight:p',
      'block1.batchnorm2.weight:p',
      'block1.batchnorm2.bias:p',
      'block1.batchnorm2.running_mean:b',
      'block1.batchnorm2.running_var:b',
      'head_linear.weight:p',
      'head_linear.bias:p',
    ]);
  });

  it('conv kernels are torch [cout,cin,kd,kh,kw]: a voxel of conv1 recomputed from the torch weights', () => {
    const model = buildLunaModel(SMALL, CROP, 3);
    const sd = exportTorchStateDict(model);
    const w = sd['block1.conv1.weight'];
    expect(w.shape).toEqual([2, 1, 3, 3, 3]);
    const x = input(1);
    const bnOut = tf
      .model({ inputs: model.inputs, outputs: model.getLayer('tail_bn').output as tf.SymbolicTensor })
      .predict(x) as tf.Tensor;
    const convOut = tf
      .model({ inputs: model.inputs, outputs: model.getLayer('block1_conv1').output as tf.SymbolicTensor })
      .predict(x) as tf.Tensor;
    const a = bnOut.arraySync() as number[][][][][];
    const y = convOut.arraySync() as number[][][][][];
    const [n, d, h, wd] = [1, 1, 2, 1]; // a voxel; 'same' padding is zeros outside
    for (let co = 0; co < 2; co++) {
      let s = sd['block1.conv1.bias'].data[co];
      for (let kd = 0; kd < 3; kd++)
        for (let kh = 0; kh < 3; kh++)
          for (let kw = 0; kw < 3; kw++) {
            const [zd, zh, zw] = [d + kd - 1, h + kh - 1, wd + kw - 1];
            if (zd < 0 || zd >= 2 || zh < 0 || zh >= 4 || zw < 0 || zw >= 4) continue;
            s += w.data[((co * 1 + 0) * 3 + kd) * 9 + kh * 3 + kw] * a[n][zd][zh][zw][0];
          }
      expect(y[n][d][h][wd][co]).toBeCloseTo(Math.max(0, s), 5); // block1_conv1 is conv + bias + ReLU
    }
  });

  it("the Linear weight takes torch's NCDHW flattening: logits recomputed from the torch weights", () => {
    const model = buildLunaModel(SMALL, CROP, 4);
    const sd = exportTorchStateDict(model);
    expect(sd['head_linear.weight'].shape).toEqual([2, 8]);
    const x = input(2);
    const pooled = (
      tf
        .model({ inputs: model.inputs, outputs: model.getLayer('block1_pool').output as tf.SymbolicTensor })
        .predict(x) as tf.Tensor
    ).arraySync() as number[][][][][]; // [N,1,2,2,2]
    const logits = (model.predict(x) as tf.Tensor).arraySync() as number[][];
    for (let n = 0; n < 2; n++) {
      // torch: y.view(N, -1) of [N, C, D, H, W]
      const feat: number[] = [];
      for (let c = 0; c < 2; c++)
        for (let d = 0; d < 1; d++)
          for (let h = 0; h < 2; h++) for (let w = 0; w < 2; w++) feat.push(pooled[n][d][h][w][c]);
      for (let o = 0; o < 2; o++) {
        const want = feat.reduce(
          (s, v, i) => s + v * sd['head_linear.weight'].data[o * 8 + i],
          sd['head_linear.bias'].data[o],
        );
        expect(logits[n][o]).toBeCloseTo(want, 4);
      }
    }
  });

  it('export then import reproduces every weight exactly; the caller keeps its arrays', () => {
    const a = buildLunaModel({ ...SMALL, blockNorm: true }, CROP, 1);
    const b = buildLunaModel({ ...SMALL, blockNorm: true }, CROP, 2);
    const sd = exportTorchStateDict(a);
    expect(exportTorchStateDict(b)).not.toEqual(sd);
    importTorchStateDict(b, {
      ...sd,
      'tail_batchnorm.num_batches_tracked': { shape: [], data: new Float32Array([3]) },
    });
    expect(exportTorchStateDict(b)).toEqual(sd);
    sd['head_linear.bias'].data[0] = 1234; // must not reach the model
    expect(exportTorchStateDict(b)['head_linear.bias'].data[0]).not.toBe(1234);
  });

  it('import refuses a dict that does not fit, naming every problem, and writes nothing', () => {
    const model = buildLunaModel(SMALL, CROP, 1);
    const before = exportTorchStateDict(model);
    const sd = exportTorchStateDict(buildLunaModel(SMALL, CROP, 2));
    delete (sd as Record<string, unknown>)['head_linear.bias'];
    sd['block1.conv1.weight'] = { shape: [2, 1, 3, 3], data: new Float32Array(18) };
    sd['block9.conv1.weight'] = { shape: [1], data: new Float32Array(1) };
    expect(() => importTorchStateDict(model, sd)).toThrow(
      'state_dict does not fit the model: block1.conv1.weight: expected [2,1,3,3,3], got [2,1,3,3]; missing head_linear.bias; unexpected block9.conv1.weight',
    );
    expect(exportTorchStateDict(model)).toEqual(before);
  });

  it('maps gradients keyed by tfjs variable names to torch names and layouts', () => {
    const model = buildLunaModel(SMALL, CROP, 5);
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    // d sum(W ⊙ c) / dW = c; with c a constant copy of W, each gradient is the weight itself.
    const consts = vars.map((v) => tf.tensor(v.dataSync(), v.shape));
    const { value, grads } = tf.variableGrads(
      () => tf.addN(vars.map((v, i) => tf.sum(tf.mul(v, consts[i])))) as tf.Scalar,
      vars,
    );
    const g = namedTensorsToTorch(model, grads);
    const sd = exportTorchStateDict(model);
    for (const k of Object.keys(g)) expect(g[k]).toEqual(sd[k]);
    expect(Object.keys(g)).toHaveLength(vars.length);
    tf.dispose([value, ...consts, ...Object.values(grads)]);
  });
});
