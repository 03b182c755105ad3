/**
 * The book's LunaModel (and the seed's variants) as a tfjs LayersModel, channels-last.
 *
 * Promise: `buildLunaModel(cfg.model, cfg.crop, seed)` is the network of *Deep Learning with
 * PyTorch* ch. 11: input [N, D, H, W, 1] (D,H,W = crop: index, row, col) → BatchNorm3d(1)
 * ('tail_bn') → `blocks` LunaBlocks of width, 2·width, 4·width, … channels, each
 * [Conv3d k3 'same' (+ BatchNorm3d with `blockNorm`, the conv then without bias) + ReLU] ×2
 * (without blockNorm conv + bias + ReLU are one Conv3dRelu layer 'block{b}_conv{j}': a fused op),
 * MaxPool3d 2 (+ Dropout / Dropout3d with `dropout`) → flatten → Dense(2) 'head' → LOGITS [N,2]
 * (`probabilities` applies the softmax). The defaults (4 blocks, width 8, crop 32,48,48) have
 * 222,220 trainable parameters, as the book's. Weights are initialised exactly as the book's
 * `_init_weights` (kaiming_normal fan_out/relu on every Conv3d and Linear weight; bias ~
 * normal(-1/√fan_out, 1/√fan_out), the book's `normal_(bias, -bound, bound)` quirk) with every
 * number drawn from our seeded RNG in PyTorch's layout, one stream per tensor
 * (`createRng(seed).fork('init').fork(<state_dict key>)`): same seed, same weights, bit for bit,
 * on any backend. No tfjs random initialiser is ever used. The seed is used for nothing else:
 * dropout masks come from the stream installed with `setDropoutRng` (dropout.ts). Layers are
 * named so that torch-state-dict.ts maps them to the book's `state_dict`
 * ('block1_conv1' ↔ 'block1.conv1'). Training mode is `model.apply(x, { training: true })`.
 */
import * as tf from '@tensorflow/tfjs';
import type { LabConfig } from '../config/lab-config.ts';
import { createRng } from '../data/rng.ts';
import { BatchNorm3d } from './batch-norm-3d.ts';
import { Conv3dRelu } from './conv3d-relu.ts';
import { Dropout, Dropout3d } from './dropout.ts';
import { torchStateDictMapping, type TorchStateDict } from './torch-state-dict.ts';
import './register.ts';

export {
  exportTorchStateDict,
  importTorchStateDict,
  namedTensorsToTorch,
  torchModuleName,
  torchStateDictMapping,
} from './torch-state-dict.ts';
export type { TorchParam, TorchStateDict, TorchTensor } from './torch-state-dict.ts';

/** [index, row, col] crop size. */
export type CropShape = readonly [number, number, number];

export type LunaModelConfig = LabConfig['model'];

export function buildLunaModel(model: LunaModelConfig, crop: CropShape, seed: number): tf.LayersModel {
  checkModelConfig(model, crop);
  const [d, h, w] = crop;
  const layers: tf.layers.Layer[] = [new BatchNorm3d({ name: 'tail_bn', inputShape: [d, h, w, 1] })];
  for (let b = 1; b <= model.blocks; b++) {
    const channels = model.width * 2 ** (b - 1);
    for (const j of [1, 2]) {
      if (!model.blockNorm) {
        // Conv + bias + ReLU in one pass (same name and weights; a Conv3D with activation relu).
        layers.push(
          new Conv3dRelu({
            name: `block${b}_conv${j}`,
            filters: channels,
            kernelSize: 3,
            padding: 'same',
            kernelInitializer: 'zeros',
            biasInitializer: 'zeros',
          }),
        );
        continue;
      }
      layers.push(
        tf.layers.conv3d({
          name: `block${b}_conv${j}`,
          filters: channels,
          kernelSize: 3,
          padding: 'same',
          useBias: !model.blockNorm,
          // Placeholders: the real values come from initLunaWeights (seeded), never Math.random.
          kernelInitializer: 'zeros',
          biasInitializer: 'zeros',
        }),
      );
      if (model.blockNorm) layers.push(new BatchNorm3d({ name: `block${b}_bn${j}` }));
      layers.push(tf.layers.reLU({ name: `block${b}_relu${j}` }));
    }
    layers.push(tf.layers.maxPooling3d({ name: `block${b}_pool`, poolSize: 2, strides: 2 }));
    if (model.dropout === 'dropout') layers.push(new Dropout({ name: `block${b}_dropout`, rate: model.dropoutRate }));
    if (model.dropout === 'dropout3d')
      layers.push(new Dropout3d({ name: `block${b}_dropout`, rate: model.dropoutRate }));
  }
  layers.push(tf.layers.flatten({ name: 'flatten' }));
  layers.push(tf.layers.dense({ name: 'head', units: 2, kernelInitializer: 'zeros', biasInitializer: 'zeros' }));
  const net = tf.sequential({ name: 'luna_model', layers });
  initLunaWeights(net, seed);
  return net;
}

function checkModelConfig(model: LunaModelConfig, crop: CropShape): void {
  if (!Number.isInteger(model.blocks) || model.blocks < 1)
    throw new RangeError(`model.blocks must be an integer ≥ 1, got ${model.blocks}`);
  if (!Number.isInteger(model.width) || model.width < 1)
    throw new RangeError(`model.width must be an integer ≥ 1, got ${model.width}`);
  const div = 2 ** model.blocks;
  if (crop.length !== 3 || crop.some((v) => !Number.isInteger(v) || v < div || v % div !== 0)) {
    throw new RangeError(
      `crop [${crop.join(',')}] does not fit ${model.blocks} blocks: each size must be a positive multiple of 2^${model.blocks} = ${div}`,
    );
  }
}

/**
 * The book's `_init_weights`, drawn from `seed`, as a (partial) state_dict: the weight and bias
 * of every Conv3d and Linear. BatchNorm weights keep their constant init (1, 0, 0, 1).
 */
export function bookInitStateDict(model: tf.LayersModel, seed: number): TorchStateDict {
  const init = createRng(seed).fork('init');
  const out: TorchStateDict = {};
  const mapping = torchStateDictMapping(model);
  const weightShapes = new Map(mapping.map((p) => [p.torchName, p.torchShape]));
  for (const p of mapping) {
    const cls = model.getLayer(p.layerName).getClassName();
    if (cls !== 'Conv3D' && cls !== 'Dense') continue;
    // PyTorch's _calculate_fan_in_and_fan_out: fan_out = size(0) · receptive field.
    const ws = weightShapes.get(p.torchName.replace(/\.bias$/, '.weight'))!;
    const fanOut = ws.slice(2).reduce((a, b) => a * b, ws[0]);
    const n = p.torchShape.reduce((a, b) => a * b, 1);
    const rng = init.fork(p.torchName);
    const data = new Float32Array(n);
    if (p.torchName.endsWith('.weight')) {
      const std = Math.SQRT2 / Math.sqrt(fanOut); // kaiming_normal_: gain(relu)=√2 / √fan
      for (let i = 0; i < n; i++) data[i] = rng.normal(0, std);
    } else {
      const bound = 1 / Math.sqrt(fanOut);
      for (let i = 0; i < n; i++) data[i] = rng.normal(-bound, bound);
    }
    out[p.torchName] = { shape: p.torchShape, data };
  }
  return out;
}

/** (Re)initialise the model's Conv3d and Dense weights as the book does, from `seed`. */
export function initLunaWeights(model: tf.LayersModel, seed: number): void {
  const dict = bookInitStateDict(model, seed);
  for (const p of torchStateDictMapping(model)) {
    const src = dict[p.torchName];
    if (src === undefined) continue;
    const w = model.getLayer(p.layerName).weights[p.weightIndex];
    tf.tidy(() => {
      w.write(p.fromTorch(tf.tensor(src.data, [...src.shape], 'float32')));
    });
  }
}

/** Class probabilities [N,2] from the model's logits (column 1 = nodule). */
export function probabilities(logits: tf.Tensor): tf.Tensor2D {
  if (logits.rank !== 2) throw new Error(`expected logits [N,2], got [${logits.shape.join(',')}]`);
  return tf.softmax(logits as tf.Tensor2D);
}

/** Throws unless `x` is a batch the model for `crop` accepts: [N, D, H, W, 1]. */
export function checkInput(x: tf.Tensor, crop: CropShape): void {
  const want = [crop[0], crop[1], crop[2], 1];
  const s = x.shape;
  if (s.length !== 5 || s[0] < 1 || want.some((v, i) => s[i + 1] !== v)) {
    throw new Error(`expected [N,${want.join(',')}], got [${s.join(',')}]`);
  }
  if (x.dtype !== 'float32') throw new Error(`expected a float32 batch, got ${x.dtype}`);
}

/** The model's dropout layers (e.g. to give one its own stream with `setRng`). */
export function dropoutLayers(model: tf.LayersModel): (Dropout | Dropout3d)[] {
  return model.layers.filter((l): l is Dropout | Dropout3d => l instanceof Dropout || l instanceof Dropout3d);
}

export function trainableParamCount(model: tf.LayersModel): number {
  return model.trainableWeights.reduce((n, w) => n + w.shape.reduce((a: number, b) => a * (b ?? 0), 1), 0);
}

/** tfjs's layer table (layers, output shapes, parameter counts) as one string. */
export function modelSummary(model: tf.LayersModel): string {
  const lines: string[] = [];
  model.summary(undefined, undefined, (line?: unknown) => lines.push(String(line ?? '')));
  return lines.join('\n');
}
