/**
 * ONNX export of a LunaModel (and its variants), for inference anywhere: onnxruntime-web on the
 * page, onnxruntime in Python, MLflow's `onnx` flavor.
 *
 * Promise: `exportOnnx(model, crop)` is a serialized ONNX ModelProto (default opset 17) that
 * computes what the tfjs model computes in INFERENCE mode, in PyTorch's layout, as the book's
 * model returns it: input `input` float32 [N, 1, D, H, W] (NCDHW, N the symbolic 'batch'),
 * outputs `logits` [N, 2] and `probabilities` [N, 2] (softmax over axis 1). Layers map one to one:
 * BatchNorm3d → BatchNormalization (running statistics, the layer's eps), Conv3D → Conv (pads
 * from 'same'/'valid', bias when the layer has one), ReLU → Relu, MaxPooling3D → MaxPool,
 * Dropout/Dropout3d → nothing (identity at inference), Flatten → Flatten (NCDHW, so PyTorch's
 * order), Dense → Gemm (transB=1). Every weight is taken from `exportTorchStateDict`, i.e. in the
 * book's `state_dict` layout: the Gemm weight IS `head_linear.weight`, the conv weights are
 * `blockI.convJ.weight`, and the initializers carry those names. Any other layer (or a fused
 * activation) throws rather than export something that computes differently. Initializers are
 * float32 raw_data, little-endian. Pure: runs in the browser and Node; no I/O.
 */
import * as tf from '@tensorflow/tfjs';
import onnxProto from 'onnx-proto';
import type { onnx as Onnx } from 'onnx-proto';
import type { ModelSignature } from './trainable-model.ts';
import { exportTorchStateDict, torchModuleName, type TorchStateDict, type TorchTensor } from './torch-state-dict.ts';

// onnx-proto is CommonJS (module.exports = { onnx }): only its default import works under Node ESM.
const { onnx } = onnxProto;

export const onnxInputName = 'input';
export const onnxLogitsName = 'logits';
export const onnxProbabilitiesName = 'probabilities';
export const onnxOutputNames = [onnxLogitsName, onnxProbabilitiesName] as const;
/** The symbolic batch dimension of the input and outputs. */
export const onnxBatchDim = 'batch';
export const DEFAULT_OPSET = 17;

export interface OnnxExportOptions {
  /** Default opset version (ai.onnx domain), 13..21. Default 17: onnxruntime-web 1.30 and Python onnxruntime run it. */
  opset?: number;
  producerVersion?: string;
  /** The weights, read beforehand (`exportTorchStateDictAsync`): on WebGPU in a worker a
   *  synchronous GPU read fails, so async callers pass them in. */
  stateDict?: TorchStateDict;
}

/**
 * The IR version that came with each opset (onnx's VERSION_TABLE): the oldest IR a runtime must
 * read for the opset. The ops used here have had the same semantics since opset 13/15.
 */
const IR_VERSION_FOR_OPSET: Record<number, number> = { 13: 7, 14: 7, 15: 8, 16: 8, 17: 8, 18: 8, 19: 9, 20: 9, 21: 10 };

/** MLflow tensor-spec signature of the exported model (-1: any batch size). */
export function onnxSignature(crop: readonly [number, number, number]): ModelSignature {
  return {
    inputs: [{ name: onnxInputName, dtype: 'float32', shape: [-1, 1, crop[0], crop[1], crop[2]] }],
    outputs: [
      { name: onnxLogitsName, dtype: 'float32', shape: [-1, 2] },
      { name: onnxProbabilitiesName, dtype: 'float32', shape: [-1, 2] },
    ],
  };
}

export function exportOnnx(
  model: tf.LayersModel,
  crop: readonly [number, number, number],
  opts: OnnxExportOptions = {},
): Uint8Array {
  const opset = opts.opset ?? DEFAULT_OPSET;
  const irVersion = IR_VERSION_FOR_OPSET[opset];
  if (irVersion === undefined) throw new RangeError(`ONNX opset ${opset} is not supported here (13..21)`);
  checkInputShape(model, crop);

  const sd = opts.stateDict ?? exportTorchStateDict(model);
  const nodes: Onnx.INodeProto[] = [];
  const initializers: Onnx.ITensorProto[] = [];
  let x = onnxInputName;
  let outUnits = -1;
  const node = (
    opType: string,
    layerName: string,
    inputs: string[],
    attributes: Onnx.IAttributeProto[] = [],
    output = layerName,
  ): void => {
    nodes.push({ opType, name: layerName, input: inputs, output: [output], attribute: attributes, domain: '' });
    x = output;
  };
  const weight = (layer: tf.layers.Layer, role: string): string => {
    const key = `${torchModuleName(layer.name)}.${role}`;
    const t = sd[key];
    if (t === undefined) throw new Error(`no state_dict tensor '${key}' for layer '${layer.name}'`);
    initializers.push(initializer(key, t));
    return key;
  };

  for (const layer of model.layers) {
    const cls = layer.getClassName();
    const cfg = layer.getConfig();
    if (cls === 'BatchNorm3d') {
      const eps = (layer as unknown as { epsilon: number }).epsilon;
      node(
        'BatchNormalization',
        layer.name,
        [x, ...['weight', 'bias', 'running_mean', 'running_var'].map((r) => weight(layer, r))],
        [
          floatAttr('epsilon', eps),
          // PyTorch's momentum is the weight of the new batch, ONNX's that of the running value; unused at inference.
          floatAttr('momentum', 0.9),
        ],
      );
    } else if (cls === 'Conv3D') {
      // LunaModel's blocks fuse the ReLU into the conv (activation 'relu'): exported as Conv + Relu.
      const relu = cfg['activation'] === 'relu';
      if (!relu) noActivation(layer, cfg);
      const k = triple(cfg['kernelSize'], 'kernelSize', layer);
      const strides = triple(cfg['strides'], 'strides', layer);
      const dilation = triple(cfg['dilationRate'] ?? 1, 'dilationRate', layer);
      if (dilation.some((d) => d !== 1))
        throw new Error(`Conv3D '${layer.name}': dilation ${dilation} is not exported`);
      const pads = convPads(cfg['padding'], k, strides, layer);
      const inputs = [x, weight(layer, 'weight')];
      if (cfg['useBias'] === true) inputs.push(weight(layer, 'bias'));
      node('Conv', layer.name, inputs, [
        intsAttr('kernel_shape', k),
        intsAttr('strides', strides),
        intsAttr('pads', pads),
        intsAttr('dilations', dilation),
      ]);
      if (relu) node('Relu', `${layer.name}_relu`, [x]);
    } else if (cls === 'ReLU') {
      if (cfg['maxValue'] != null) throw new Error(`ReLU '${layer.name}': maxValue is not exported`);
      node('Relu', layer.name, [x]);
    } else if (cls === 'MaxPooling3D') {
      const k = triple(cfg['poolSize'], 'poolSize', layer);
      const strides = triple(cfg['strides'] ?? cfg['poolSize'], 'strides', layer);
      if (cfg['padding'] !== 'valid')
        throw new Error(`MaxPooling3D '${layer.name}': padding '${String(cfg['padding'])}' is not exported`);
      node('MaxPool', layer.name, [x], [intsAttr('kernel_shape', k), intsAttr('strides', strides)]);
    } else if (cls === 'LunaDropout' || cls === 'LunaDropout3d') {
      // Identity at inference: no node.
    } else if (cls === 'Flatten') {
      // ONNX tensors here are NCDHW, so this flattens in PyTorch's order (C slowest), matching head_linear.weight.
      node('Flatten', layer.name, [x], [intAttr('axis', 1)]);
    } else if (cls === 'Dense') {
      noActivation(layer, cfg);
      outUnits = cfg['units'] as number;
      const inputs = [x, weight(layer, 'weight')];
      if (cfg['useBias'] === true) inputs.push(weight(layer, 'bias'));
      node('Gemm', layer.name, inputs, [intAttr('transB', 1)], onnxLogitsName);
    } else {
      throw new Error(`cannot export layer '${layer.name}' (${cls}) to ONNX`);
    }
  }
  if (x !== onnxLogitsName) throw new Error(`the model must end in its Dense head, ends in '${x}'`);
  if (outUnits !== 2) throw new Error(`expected a 2-class head, got ${outUnits} units`);
  node('Softmax', 'softmax', [x], [intAttr('axis', 1)], onnxProbabilitiesName);

  const [d, h, w] = crop;
  const message = onnx.ModelProto.create({
    irVersion,
    opsetImport: [{ domain: '', version: opset }],
    producerName: 'luna-lab',
    producerVersion: opts.producerVersion ?? '',
    docString: 'LunaModel (Deep Learning with PyTorch, ch. 11) exported from Luna Lab (tfjs), inference mode',
    graph: {
      name: model.name || 'luna_model',
      node: nodes,
      initializer: initializers,
      input: [tensorValueInfo(onnxInputName, [onnxBatchDim, 1, d, h, w])],
      output: [
        tensorValueInfo(onnxLogitsName, [onnxBatchDim, 2]),
        tensorValueInfo(onnxProbabilitiesName, [onnxBatchDim, 2]),
      ],
    },
  });
  return onnx.ModelProto.encode(message).finish();
}

function checkInputShape(model: tf.LayersModel, crop: readonly [number, number, number]): void {
  const s = model.inputs[0]?.shape;
  const want = [crop[0], crop[1], crop[2], 1];
  if (model.inputs.length !== 1 || s === undefined || s.length !== 5 || want.some((v, i) => s[i + 1] !== v)) {
    throw new Error(
      `model input [${(s ?? []).map((v) => v ?? 'N').join(',')}] does not fit crop [${crop.join(',')}] (expected [N,${want.join(',')}])`,
    );
  }
}

function noActivation(layer: tf.layers.Layer, cfg: tf.serialization.ConfigDict): void {
  const a = cfg['activation'];
  if (a != null && a !== 'linear')
    throw new Error(`layer '${layer.name}': fused activation '${String(a)}' is not exported`);
}

function triple(v: unknown, what: string, layer: tf.layers.Layer): number[] {
  const arr = typeof v === 'number' ? [v, v, v] : Array.isArray(v) ? (v as number[]) : [];
  if (arr.length !== 3 || arr.some((n) => !Number.isInteger(n) || n < 1))
    throw new Error(`layer '${layer.name}': unexpected ${what} ${JSON.stringify(v)}`);
  return arr;
}

/** ONNX pads [begin_d, begin_h, begin_w, end_d, end_h, end_w] for a tfjs padding mode. */
function convPads(padding: unknown, k: number[], strides: number[], layer: tf.layers.Layer): number[] {
  if (padding === 'valid') return [0, 0, 0, 0, 0, 0];
  // 'same' with stride 1 and an odd kernel pads (k-1)/2 on both sides, as PyTorch's padding=k//2.
  if (padding === 'same' && strides.every((s) => s === 1) && k.every((n) => n % 2 === 1)) {
    const p = k.map((n) => (n - 1) / 2);
    return [...p, ...p];
  }
  throw new Error(
    `Conv3D '${layer.name}': padding '${String(padding)}' with kernel ${k} and strides ${strides} is not exported`,
  );
}

function floatAttr(name: string, f: number): Onnx.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.FLOAT, f };
}

function intAttr(name: string, i: number): Onnx.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.INT, i };
}

function intsAttr(name: string, ints: number[]): Onnx.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.INTS, ints };
}

function initializer(name: string, t: TorchTensor): Onnx.ITensorProto {
  const raw = new Uint8Array(t.data.length * 4);
  const view = new DataView(raw.buffer);
  // Explicitly little-endian, whatever the host's byte order (ONNX raw_data is always LE).
  for (let i = 0; i < t.data.length; i++) view.setFloat32(i * 4, t.data[i], true);
  return { name, dims: [...t.shape], dataType: onnx.TensorProto.DataType.FLOAT, rawData: raw };
}

function tensorValueInfo(name: string, dims: (number | string)[]): Onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: dims.map((v) => (typeof v === 'string' ? { dimParam: v } : { dimValue: v })) },
      },
    },
  };
}
