/**
 * The onnxruntime-web classifier (wasm, in Node) judged against the two models it must agree
 * with, on REAL crops of LIDC-IDRI-0001 (and variants of them), within 1e-4 in p(nodule):
 * - the lab's tfjs LunaModel on the tfjs cpu backend, through the lab's own ONNX export;
 * - the book's LunaModel in PyTorch (CPU torch in .venv), exported to ONNX by torch itself
 *   (`torch.onnx.export`, legacy exporter): once as is (logits + softmax outputs, dynamic
 *   batch, torch's output names) and once as a logits-only model with a fixed batch of 1.
 * And wrong models are refused with the input/output and shape named. A missing venv FAILS.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-web';
import onnxProto from 'onnx-proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadLidcCrops } from '../model/lidc-crops.test-helper.ts';
import { readTensors, writeTensors } from '../model/tensor-exchange.test-helper.ts';
import { buildLunaModel, probabilities, type CropShape } from '../model/luna-model.ts';
import { exportOnnx } from '../model/onnx-export.ts';
import { OnnxClassifier } from './onnx-classifier.ts';
import { OnnxSignatureError, readClassifierSignature } from './onnx-signature.ts';

const { onnx } = onnxProto;
const PYTHON = path.join(process.cwd(), '.venv/bin/python');
const SCRIPT = path.join(process.cwd(), 'src/inference/torch_onnx_reference.py');
const TOL = 1e-4;
const CROP: CropShape = [32, 48, 48];
const N = 5;

/** Five crops: the nodule, the lung, the nodule mirrored, the lung brightened, and the two mixed. */
function crops(): Float32Array {
  const { data } = loadLidcCrops(CROP);
  const vox = CROP[0] * CROP[1] * CROP[2];
  const x = new Float32Array(N * vox);
  x.set(data.subarray(0, 2 * vox));
  for (let i = 0; i < vox; i++) {
    x[2 * vox + i] = data[vox - 1 - i];
    x[3 * vox + i] = Math.min(1000, data[vox + i] + 150);
    x[4 * vox + i] = i % 2 ? data[i] : data[vox + i];
  }
  return x;
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Rescale the Dense head so the logit difference spans ~[-2, 2] on `x`: an untrained net is
 *  otherwise saturated or flat, and agreement would say little. */
function spreadHead(model: tf.LayersModel, x: Float32Array): void {
  const head = model.getLayer('head');
  const [k, b] = head.getWeights();
  const logits = tf.tidy(() => (model.predict(tf.tensor5d(x, [N, ...CROP, 1])) as tf.Tensor).arraySync() as number[][]);
  const bias = b.arraySync() as number[];
  const g = logits.map((l) => l[1] - l[0] - (bias[1] - bias[0]));
  const mean = g.reduce((a, v) => a + v, 0) / N;
  const sd = Math.sqrt(g.reduce((a, v) => a + (v - mean) ** 2, 0) / (N - 1));
  const s = 2 / sd;
  head.setWeights([tf.mul(k, s), tf.tensor1d([0, -s * mean])]);
}

const measured: Record<string, string> = {};
let x: Float32Array;

beforeAll(() => {
  ort.env.wasm.numThreads = 1; // no worker threads inside the test process
  x = crops();
});

afterAll(() => {
  console.log(
    `onnx classifier, measured:\n${Object.entries(measured)
      .map(([k, v]) => `  ${k}: ${v}`)
      .join('\n')}`,
  );
});

describe('OnnxClassifier vs the lab tfjs model (cpu backend), through the lab ONNX export', () => {
  it('gives the same p(nodule) within 1e-4, in batches of 2', async () => {
    await tf.setBackend('cpu');
    const model = buildLunaModel(
      { blocks: 4, width: 8, blockNorm: false, dropout: 'dropout3d', dropoutRate: 0.2 },
      CROP,
      99,
    );
    model
      .getLayer('tail_bn')
      .setWeights([tf.tensor1d([1.25]), tf.tensor1d([-0.1]), tf.tensor1d([-600]), tf.tensor1d([160000])]);
    spreadHead(model, x);
    const probs = tf.tidy(() => probabilities(model.predict(tf.tensor5d(x, [N, ...CROP, 1])) as tf.Tensor));
    const p = Float32Array.from({ length: N }, (_, i) => probs.dataSync()[2 * i + 1]);
    probs.dispose();
    const bytes = exportOnnx(model, CROP);
    model.dispose();

    const clf = await OnnxClassifier.open(bytes, { source: 'lab.onnx', maxBatch: 2 });
    try {
      expect(clf.provider).toBe('wasm');
      expect(clf.signature).toMatchObject({
        input: 'input',
        crop: CROP,
        batch: null,
        output: 'probabilities',
        outputKind: 'probabilities',
      });
      const q = await clf.predict(x, N);
      const d = maxDiff(p, q);
      measured['tfjs cpu vs onnxruntime-web wasm, p(nodule)'] =
        `${d.toExponential(2)} over [${Array.from(p, (v) => v.toFixed(4)).join(', ')}]`;
      expect(d).toBeLessThanOrEqual(TOL);
      expect(Math.max(...p) - Math.min(...p)).toBeGreaterThan(1e-3); // not a constant: the check means something
    } finally {
      await clf.release();
    }
  }, 300_000);
});

describe('OnnxClassifier vs PyTorch, on ONNX models exported by torch', () => {
  let dir: string;
  let torchProbs: Float32Array;
  beforeAll(() => {
    if (!fs.existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: run \`bash .ci/setup-venv\``);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'luna-torch-onnx-'));
    writeTensors(dir, { x: { shape: [N, 1, ...CROP], data: x } }, {});
    const py = spawnSync(PYTHON, [SCRIPT, dir], { encoding: 'utf8', timeout: 300_000 });
    if (py.status !== 0)
      throw new Error(
        `torch_onnx_reference.py failed (${py.status}): ${py.stderr.trim().split('\n').slice(-20).join('\n')}`,
      );
    const t = readTensors(path.join(dir, 'out')).tensors['torch/probs'];
    expect(t.shape).toEqual([N, 2]);
    torchProbs = Float32Array.from({ length: N }, (_, i) => t.data[2 * i + 1]);
  }, 300_000);
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("the book's module as torch exports it (logits + softmax, dynamic batch): the Softmax output is used", async () => {
    const bytes = fs.readFileSync(path.join(dir, 'book.onnx'));
    const clf = await OnnxClassifier.open(bytes, { source: 'book.onnx', maxBatch: 4 });
    try {
      expect(clf.signature).toMatchObject({ input: 'x', crop: CROP, batch: null, outputKind: 'probabilities' });
      expect(clf.signature.outputs).toHaveLength(2);
      const d = maxDiff(torchProbs, await clf.predict(x, N));
      measured['torch vs onnxruntime-web, book export'] =
        `${d.toExponential(2)} over [${Array.from(torchProbs, (v) => v.toFixed(4)).join(', ')}]`;
      expect(d).toBeLessThanOrEqual(TOL);
      expect(Math.max(...torchProbs) - Math.min(...torchProbs)).toBeGreaterThan(1e-3);
    } finally {
      await clf.release();
    }
  }, 120_000);

  it('a logits-only export with a fixed batch of 1: softmax applied here, crops fed one by one', async () => {
    const bytes = fs.readFileSync(path.join(dir, 'logits.onnx'));
    const clf = await OnnxClassifier.open(bytes, { source: 'logits.onnx' });
    try {
      expect(clf.signature).toMatchObject({ input: 'crops', output: 'scores', batch: 1, outputKind: 'logits' });
      const d = maxDiff(torchProbs, await clf.predict(x, N));
      measured['torch vs onnxruntime-web, logits-only batch-1 export'] = d.toExponential(2);
      expect(d).toBeLessThanOrEqual(TOL);
    } finally {
      await clf.release();
    }
  }, 120_000);
});

describe('readClassifierSignature refuses models that do not fit, naming what is wrong', () => {
  const small = (): Uint8Array => {
    const m = buildLunaModel({ blocks: 1, width: 2, blockNorm: false, dropout: 'none', dropoutRate: 0 }, [2, 4, 4], 1);
    const b = exportOnnx(m, [2, 4, 4]);
    m.dispose();
    return b;
  };
  const edit = (bytes: Uint8Array, f: (g: ReturnType<typeof onnx.ModelProto.decode>) => void): Uint8Array => {
    const m = onnx.ModelProto.decode(bytes);
    f(m);
    return onnx.ModelProto.encode(m).finish();
  };

  it('reads the lab export', () => {
    expect(readClassifierSignature(small(), 'm.onnx')).toMatchObject({
      input: 'input',
      crop: [2, 4, 4],
      output: 'probabilities',
      outputKind: 'probabilities',
      outputs: ['logits', 'probabilities'],
    });
  });

  it('not ONNX at all', () => {
    expect(() => readClassifierSignature(new TextEncoder().encode('seriesuid,coordX\n'), 'notes.csv')).toThrow(
      OnnxSignatureError,
    );
    expect(() => readClassifierSignature(new Uint8Array(), 'empty.onnx')).toThrow(/empty\.onnx is not an ONNX model/);
  });

  it('an input of the wrong rank or channels', () => {
    const rank4 = edit(small(), (m) => m.graph!.input![0].type!.tensorType!.shape!.dim!.splice(1, 1));
    expect(() => readClassifierSignature(rank4, 'r4.onnx')).toThrow(
      /r4\.onnx: input 'input' \[batch,2,4,4\] float32 does not fit; expected one float32 input \[N,1,D,H,W\]/,
    );
    const rgb = edit(small(), (m) => (m.graph!.input![0].type!.tensorType!.shape!.dim![1] = { dimValue: 3 }));
    expect(() => readClassifierSignature(rgb, 'rgb.onnx')).toThrow(/input 'input' \[batch,3,2,4,4\]/);
  });

  it('no [N,2] output, or two that cannot be told apart', () => {
    const three = edit(small(), (m) => {
      for (const o of m.graph!.output!) o.type!.tensorType!.shape!.dim![1] = { dimValue: 3 };
    });
    expect(() => readClassifierSignature(three, 'c3.onnx')).toThrow(
      /c3\.onnx: no output fits; expected an output \[N,2\].*'logits' \[batch,3\] float32/,
    );
    const twins = edit(small(), (m) => {
      m.graph!.node = m.graph!.node!.filter((n) => n.opType !== 'Softmax');
      m.graph!.node.push({ opType: 'Relu', input: ['logits'], output: ['other'], name: 'r' });
      m.graph!.output = [
        { ...m.graph!.output![0], name: 'a' },
        { ...m.graph!.output![1], name: 'other' },
      ];
      m.graph!.node.find((n) => n.opType === 'Gemm')!.output = ['a'];
      m.graph!.node[m.graph!.node.length - 1].input = ['a'];
    });
    expect(() => readClassifierSignature(twins, 'twins.onnx')).toThrow(/which one is p\(nodule\)/);
  });
});
