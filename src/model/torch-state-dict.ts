/**
 * The correspondence between a LunaModel's tfjs weights and the book's PyTorch `state_dict`,
 * both ways, so weights (and gradients) can be compared with PyTorch, exported to it and
 * imported from it.
 *
 * Promise: `exportTorchStateDict(model)` gives exactly the tensors that the book's
 * `LunaModel.state_dict()` holds, under the book's names and in its layouts (row-major
 * Float32Array), except the int64 `num_batches_tracked` buffers, which tfjs does not keep (they
 * only matter for momentum=None); `importTorchStateDict` is its inverse and accepts a dict that
 * has them. Layouts:
 *   - Conv3d kernel: tfjs [kd,kh,kw,cin,cout] ↔ torch [cout,cin,kd,kh,kw].
 *   - Linear weight: tfjs [F, out] ↔ torch [out, F], and the F axis is permuted as well: tfjs
 *     flattens channels-last [D,H,W,C] while torch flattens [C,D,H,W].
 *   - BatchNorm: gamma/beta/running_mean/running_var ↔ weight/bias/running_mean/running_var.
 * Names: tfjs layer 'tail_bn' ↔ 'tail_batchnorm', 'blockI_convJ' ↔ 'blockI.convJ' (the book's),
 * 'blockI_bnJ' ↔ 'blockI.batchnormJ' (the seed's BatchNorm variant; the book has none),
 * 'head' ↔ 'head_linear'. Pure tfjs: runs on any backend, no I/O.
 */
import * as tf from '@tensorflow/tfjs';

/** One state_dict tensor: torch shape, row-major float32 data. */
export interface TorchTensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/** PyTorch state_dict keys → tensors, in the module order PyTorch lists them. */
export type TorchStateDict = Record<string, TorchTensor>;

export interface TorchParam {
  /** state_dict key, e.g. 'block1.conv1.weight'. */
  readonly torchName: string;
  readonly layerName: string;
  /** Index into `layer.weights` / `layer.getWeights()`. */
  readonly weightIndex: number;
  /** The tfjs variable's name (unique per process): the key in tf.variableGrads results. */
  readonly variableName: string;
  readonly trainable: boolean;
  readonly tfjsShape: readonly number[];
  readonly torchShape: readonly number[];
  /** tfjs layout → torch layout (a new tensor; the caller disposes it). */
  toTorch(t: tf.Tensor): tf.Tensor;
  /** torch layout → tfjs layout (a new tensor; the caller disposes it). */
  fromTorch(t: tf.Tensor): tf.Tensor;
}

const TFJS_TO_TORCH = [4, 3, 0, 1, 2]; // [a,b,c,d,e] -> [e,d,a,b,c]
const TORCH_TO_TFJS = [2, 3, 4, 1, 0];

const BN_ROLES: Record<string, string> = {
  gamma: 'weight',
  beta: 'bias',
  running_mean: 'running_mean',
  running_var: 'running_var',
};
const DENSE_ROLES: Record<string, string> = { kernel: 'weight', bias: 'bias' };

/** The torch module name of a LunaModel layer, or null for layers without one. */
export function torchModuleName(layerName: string): string | null {
  if (layerName === 'tail_bn') return 'tail_batchnorm';
  if (layerName === 'head') return 'head_linear';
  let m = /^block(\d+)_conv(\d+)$/.exec(layerName);
  if (m) return `block${m[1]}.conv${m[2]}`;
  m = /^block(\d+)_bn(\d+)$/.exec(layerName);
  if (m) return `block${m[1]}.batchnorm${m[2]}`;
  return null;
}

function role(variableOriginalName: string): string {
  return variableOriginalName.slice(variableOriginalName.lastIndexOf('/') + 1);
}

const identity = (t: tf.Tensor): tf.Tensor => t.clone();

export function torchStateDictMapping(model: tf.LayersModel): TorchParam[] {
  const out: TorchParam[] = [];
  model.layers.forEach((layer, li) => {
    if (layer.weights.length === 0) return;
    const module = torchModuleName(layer.name);
    if (module === null)
      throw new Error(`layer '${layer.name}' (${layer.getClassName()}) has weights but no PyTorch counterpart`);
    const cls = layer.getClassName();
    layer.weights.forEach((w, weightIndex) => {
      const r = role(w.originalName);
      const tfjsShape = [...w.shape] as number[];
      let torchRole: string | undefined;
      let torchShape = tfjsShape;
      let toTorch = identity;
      let fromTorch = identity;
      if (cls === 'BatchNorm3d') {
        torchRole = BN_ROLES[r];
      } else if (cls === 'Conv3D') {
        torchRole = DENSE_ROLES[r];
        if (r === 'kernel') {
          torchShape = TFJS_TO_TORCH.map((a) => tfjsShape[a]);
          toTorch = (t) => tf.transpose(t, TFJS_TO_TORCH);
          fromTorch = (t) => tf.transpose(t, TORCH_TO_TFJS);
        }
      } else if (cls === 'Dense') {
        torchRole = DENSE_ROLES[r];
        if (r === 'kernel') {
          const [f, o] = tfjsShape;
          torchShape = [o, f];
          const dhwc = flattenedShape(model, li);
          if (dhwc === null) {
            toTorch = (t) => tf.transpose(t);
            fromTorch = (t) => tf.transpose(t);
          } else {
            const [d, h, wd, c] = dhwc;
            // Rows of the tfjs kernel run over (d,h,w,c); torch's columns over (c,d,h,w).
            toTorch = (t) =>
              tf.tidy(() => tf.reshape(tf.transpose(tf.reshape(t, [d, h, wd, c, o]), TFJS_TO_TORCH), [o, f]));
            fromTorch = (t) =>
              tf.tidy(() => tf.reshape(tf.transpose(tf.reshape(t, [o, c, d, h, wd]), TORCH_TO_TFJS), [f, o]));
          }
        }
      }
      if (torchRole === undefined)
        throw new Error(`no PyTorch name for weight '${w.originalName}' of ${cls} layer '${layer.name}'`);
      out.push({
        torchName: `${module}.${torchRole}`,
        layerName: layer.name,
        weightIndex,
        variableName: w.name,
        trainable: w.trainable,
        tfjsShape,
        torchShape,
        toTorch,
        fromTorch,
      });
    });
  });
  return out;
}

/** [D,H,W,C] when layer `li` is fed by a Flatten of a rank-5 tensor, else null. */
function flattenedShape(model: tf.LayersModel, li: number): [number, number, number, number] | null {
  const prev = model.layers[li - 1];
  if (!prev || prev.getClassName() !== 'Flatten') return null;
  const s = (prev.input as tf.SymbolicTensor).shape;
  if (s.length !== 5 || s.slice(1).some((v) => v == null)) return null;
  return [s[1]!, s[2]!, s[3]!, s[4]!];
}

function snapshot(t: tf.Tensor): TorchTensor {
  return { shape: [...t.shape], data: Float32Array.from(t.dataSync()) };
}

/** The model's weights as the book's `state_dict()` (minus num_batches_tracked). Synchronous read. */
export function exportTorchStateDict(model: tf.LayersModel): TorchStateDict {
  const out: TorchStateDict = {};
  for (const p of torchStateDictMapping(model)) {
    const w = model.getLayer(p.layerName).weights[p.weightIndex];
    const t = tf.tidy(() => p.toTorch(w.read()));
    out[p.torchName] = snapshot(t);
    t.dispose();
  }
  return out;
}

/** `exportTorchStateDict` with asynchronous reads: what WebGPU in a worker needs (its
 *  synchronous read path breaks the device there). */
export async function exportTorchStateDictAsync(model: tf.LayersModel): Promise<TorchStateDict> {
  const out: TorchStateDict = {};
  for (const p of torchStateDictMapping(model)) {
    const w = model.getLayer(p.layerName).weights[p.weightIndex];
    const t = tf.tidy(() => p.toTorch(w.read()));
    out[p.torchName] = { shape: [...t.shape], data: Float32Array.from(await t.data()) };
    t.dispose();
  }
  return out;
}

/**
 * Tensors keyed by tfjs variable name (e.g. `tf.variableGrads(...).grads`) in torch layout,
 * under state_dict names. Variables the model does not own are ignored.
 */
export function namedTensorsToTorch(model: tf.LayersModel, tensors: tf.NamedTensorMap): TorchStateDict {
  const out: TorchStateDict = {};
  for (const p of torchStateDictMapping(model)) {
    const g = tensors[p.variableName];
    if (g === undefined) continue;
    const t = tf.tidy(() => p.toTorch(g));
    out[p.torchName] = snapshot(t);
    t.dispose();
  }
  return out;
}

/**
 * Load a PyTorch state_dict (as the book's LunaModel names it) into the model. Every mapped
 * tensor must be present with the right shape; keys the model has no use for throw, except
 * `*.num_batches_tracked`. Nothing is written unless everything fits.
 */
export function importTorchStateDict(model: tf.LayersModel, dict: TorchStateDict): void {
  const mapping = torchStateDictMapping(model);
  const problems: string[] = [];
  for (const p of mapping) {
    const t = dict[p.torchName];
    if (t === undefined) problems.push(`missing ${p.torchName}`);
    else if (t.shape.length !== p.torchShape.length || t.shape.some((v, i) => v !== p.torchShape[i])) {
      problems.push(`${p.torchName}: expected [${p.torchShape.join(',')}], got [${t.shape.join(',')}]`);
    } else if (t.data.length !== p.torchShape.reduce((a, b) => a * b, 1)) {
      problems.push(`${p.torchName}: ${t.data.length} values for shape [${p.torchShape.join(',')}]`);
    }
  }
  const known = new Set(mapping.map((p) => p.torchName));
  for (const key of Object.keys(dict)) {
    if (!known.has(key) && !key.endsWith('.num_batches_tracked')) problems.push(`unexpected ${key}`);
  }
  if (problems.length) throw new Error(`state_dict does not fit the model: ${problems.join('; ')}`);
  for (const p of mapping) {
    const w = model.getLayer(p.layerName).weights[p.weightIndex];
    const src = dict[p.torchName];
    // Copy: the cpu backend would otherwise keep the caller's array as the weight's storage.
    tf.tidy(() => {
      w.write(p.fromTorch(tf.tensor(Float32Array.from(src.data), [...src.shape], 'float32')));
    });
  }
}
