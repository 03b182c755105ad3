/**
 * What an ONNX model must look like to classify the lab's crops, read from the model's own
 * graph (onnx-proto) before any runtime is started, so a wrong file fails fast and says why.
 *
 * Promise: `readClassifierSignature(bytes, source)` returns the one float32 input of shape
 * [N, 1, D, H, W] (N symbolic or a fixed batch; D, H, W fixed: the crop the model expects) and
 * the output that carries p(nodule): an output of shape [N, 2] that is a Softmax's result (or
 * is named `probabilities`) is used as is; otherwise the one [N, 2] output (or the one named
 * `logits`) is taken as logits and gets a softmax. The lab's exporter (src/model/onnx-export.ts)
 * writes `input` → `logits`, `probabilities`; a PyTorch export of the book's LunaModel has the
 * same two outputs under other names; one with only logits works too. Anything else throws
 * `OnnxSignatureError` naming the file, the input or output, and its shape. Pure.
 */
import onnxProto from 'onnx-proto';
import type { onnx as Onnx } from 'onnx-proto';

// onnx-proto is CommonJS: only its default import works under Node ESM.
const { onnx } = onnxProto;

export interface ClassifierSignature {
  input: string;
  /** [D, H, W] = [index, row, col] of the crops the model takes. */
  crop: [number, number, number];
  /** The fixed batch size, or null when the batch dimension is symbolic. */
  batch: number | null;
  /** The output used, and whether it holds probabilities or logits (softmax applied here). */
  output: string;
  outputKind: 'probabilities' | 'logits';
  /** Every output, for messages and the UI. */
  outputs: string[];
  producer: string;
}

export class OnnxSignatureError extends Error {
  override name = 'OnnxSignatureError';
}

type Dim = number | string;

function dimsOf(v: Onnx.IValueInfoProto): Dim[] | null {
  const dims = v.type?.tensorType?.shape?.dim;
  if (!dims) return null;
  return dims.map((d) =>
    d.dimParam ? d.dimParam : d.dimValue != null && Number(d.dimValue) > 0 ? Number(d.dimValue) : '?',
  );
}

const FLOAT = 1; // TensorProto.DataType.FLOAT

function describe(v: Onnx.IValueInfoProto): string {
  const dims = dimsOf(v);
  const elem = v.type?.tensorType?.elemType;
  const type =
    elem == null
      ? 'not a tensor'
      : elem === FLOAT
        ? 'float32'
        : `element type ${onnx.TensorProto.DataType[elem] ?? elem}`;
  return `'${v.name}' ${dims ? `[${dims.join(',')}]` : '(no shape)'} ${type}`;
}

export function readClassifierSignature(bytes: Uint8Array, source = 'the model'): ClassifierSignature {
  let model: Onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new OnnxSignatureError(`${source} is not an ONNX model (${e instanceof Error ? e.message : String(e)})`);
  }
  const graph = model.graph;
  if (!graph || !graph.node?.length) throw new OnnxSignatureError(`${source} is not an ONNX model: it has no graph`);
  const initializers = new Set((graph.initializer ?? []).map((t) => t.name));
  const inputs = (graph.input ?? []).filter((v) => !initializers.has(v.name ?? ''));
  const want =
    'expected one float32 input [N,1,D,H,W]: N crops of clamped HU, (index,row,col) = (D,H,W), e.g. [N,1,32,48,48]';
  if (inputs.length !== 1) {
    throw new OnnxSignatureError(
      `${source} has ${inputs.length} inputs (${inputs.map(describe).join(', ') || 'none'}); ${want}`,
    );
  }
  const input = inputs[0];
  const dims = dimsOf(input);
  const okInput =
    input.type?.tensorType?.elemType === FLOAT &&
    dims !== null &&
    dims.length === 5 &&
    dims[1] === 1 &&
    dims.slice(2).every((d) => typeof d === 'number' && d > 0);
  if (!okInput) throw new OnnxSignatureError(`${source}: input ${describe(input)} does not fit; ${want}`);
  const batch = typeof dims![0] === 'number' ? (dims![0] as number) : null;

  const outputs = graph.output ?? [];
  const producers = new Map<string, string>();
  for (const n of graph.node) for (const o of n.output ?? []) producers.set(o, n.opType ?? '');
  const pairs = outputs.filter((v) => {
    const d = dimsOf(v);
    return (
      v.type?.tensorType?.elemType === FLOAT &&
      d !== null &&
      d.length === 2 &&
      d[1] === 2 &&
      (batch === null || d[0] === batch || typeof d[0] === 'string')
    );
  });
  const outWant = `expected an output [N,2] (logits, or probabilities from a Softmax) of float32; it has ${outputs.map(describe).join(', ') || 'no outputs'}`;
  if (!pairs.length) throw new OnnxSignatureError(`${source}: no output fits; ${outWant}`);
  const probs = pairs.filter((v) => v.name === 'probabilities' || producers.get(v.name ?? '') === 'Softmax');
  let output: Onnx.IValueInfoProto;
  let outputKind: ClassifierSignature['outputKind'];
  if (probs.length >= 1) {
    output = probs.find((v) => v.name === 'probabilities') ?? probs[0];
    outputKind = 'probabilities';
  } else {
    const named = pairs.find((v) => v.name === 'logits');
    if (!named && pairs.length > 1) {
      throw new OnnxSignatureError(
        `${source}: outputs ${pairs.map(describe).join(', ')} are all [N,2] and none is a Softmax's or named 'logits'/'probabilities': which one is p(nodule)?`,
      );
    }
    output = named ?? pairs[0];
    outputKind = 'logits';
  }
  return {
    input: input.name ?? '',
    crop: [dims![2] as number, dims![3] as number, dims![4] as number],
    batch,
    output: output.name ?? '',
    outputKind,
    outputs: outputs.map((v) => v.name ?? ''),
    producer: [model.producerName, model.producerVersion].filter(Boolean).join(' '),
  };
}

/** p(class 1) of [N, 2] values: column 1 of probabilities, or softmax of logits (stable). */
export function positiveProbabilities(
  values: ArrayLike<number>,
  n: number,
  kind: ClassifierSignature['outputKind'],
): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const a = values[2 * i];
    const b = values[2 * i + 1];
    if (kind === 'probabilities') out[i] = b;
    else {
      // softmax([a, b])[1] = 1 / (1 + e^(a-b)), in double, then rounded once.
      out[i] = 1 / (1 + Math.exp(a - b));
    }
  }
  return out;
}
