/**
 * The ONNX export judged by its consumers: the exported graph must compute what tfjs computes
 * (inference mode) when onnxruntime runs it in Python, pass `onnx.checker` (with strict shape
 * inference), and — written as an MLflow model directory with `mlflow.onnx`'s files — load with
 * `mlflow.pyfunc.load_model` and predict the same numbers, with the signature MLflow reads back.
 * onnxruntime-web (wasm, in Node), the runtime of the lab's inspector, must agree as well.
 * Inputs are two REAL crops of LIDC-IDRI-0001 (a nodule and lung elsewhere): tfjs gets them as
 * [N, D, H, W, 1], onnxruntime as [N, 1, D, H, W]. Tolerance: 1e-4 absolute on logits and
 * probabilities (float32 sums in a different order on each side).
 *
 * Models: the book's (4 blocks, width 8, 32×48×48) with trained-like input BatchNorm statistics,
 * and a variant (2 blocks, width 4, BatchNorm in the blocks, Dropout3d, 16×24×24) whose block
 * BatchNorms carry non-trivial statistics too, so every weight mapping is exercised.
 * The Python side is src/model/onnx_reference.py in the project's .venv (.ci/setup-venv): a
 * missing venv or module FAILS here, never skips.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import onnxProto from 'onnx-proto';
import * as ortWeb from 'onnxruntime-web';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRng } from '../data/rng.ts';
import { mlmodelFiles, MLMODEL_ONNX_FILE, type MlmodelVersions } from '../tracking/mlmodel.ts';
import { loadLidcCrops } from './lidc-crops.test-helper.ts';
import { readTensors, writeTensors, type Tensors } from './tensor-exchange.test-helper.ts';
import {
  buildLunaModel,
  exportTorchStateDict,
  probabilities,
  type CropShape,
  type LunaModelConfig,
} from './luna-model.ts';
import { exportOnnx, onnxInputName, onnxOutputNames, onnxSignature } from './onnx-export.ts';

const { onnx } = onnxProto;

const ROOT = process.cwd();
const PYTHON = path.join(ROOT, '.venv/bin/python');
const SCRIPT = path.join(ROOT, 'src/model/onnx_reference.py');
const SETUP =
  'run `bash .ci/setup-venv` (installs onnx, onnxruntime and mlflow from .ci/requirements.txt into .venv) and re-run the tests';
const TOL = 1e-4;
const RUN_ID = '0123456789abcdef0123456789abcdef';
const CREATED = new Date(Date.UTC(2026, 10, 26, 21, 5, 7, 89));

const BOOK: LunaModelConfig = { blocks: 4, width: 8, blockNorm: false, dropout: 'none', dropoutRate: 0 };
const VARIANT: LunaModelConfig = { blocks: 2, width: 4, blockNorm: true, dropout: 'dropout3d', dropoutRate: 0.2 };

interface PyReport {
  onnx_version: string;
  onnxruntime_version: string;
  python_version: string;
  checker: string;
  ir_version: number;
  opset: Record<string, number>;
  ops: string[];
  initializers: Record<string, number[]>;
  session: {
    providers: string[];
    inputs: { name: string; shape: (number | string)[]; type: string }[];
    outputs: { name: string; shape: (number | string)[]; type: string }[];
  };
  mlflow_version?: string;
  /** How the lab's MLflow files differ from mlflow.onnx.save_model's (parsed; volatile keys aside). */
  mlmodel_vs_save_model?: string[];
  mlmodel?: {
    flavors: string[];
    onnx_flavor: Record<string, unknown>;
    pyfunc_flavor: Record<string, unknown>;
    run_id: string;
    artifact_path: string;
    utc_time_created: string;
    model_uuid: string;
    mlflow_version: string;
    signature: { inputs: SpecJson[]; outputs: SpecJson[] };
  };
}

interface SpecJson {
  name: string;
  dtype: string;
  shape: number[];
}

interface CaseResult {
  tfjs: { logits: Float32Array; probabilities: Float32Array };
  /** The same ONNX model in onnxruntime-web (wasm), the runtime the lab's inspector uses. */
  web: { logits: Float32Array; probabilities: Float32Array };
  py: Tensors;
  report: PyReport;
  onnxBytes: Uint8Array;
  stateDict: ReturnType<typeof exportTorchStateDict>;
}

function lastLines(s: string, n = 15): string {
  return s.trim().split('\n').slice(-n).join('\n');
}

const VERSIONS_PY = `
import importlib.metadata as md, json, platform
import numpy, onnx, onnxruntime, mlflow.pyfunc
print(json.dumps({"mlflow": mlflow.__version__, "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__,
  "numpy": numpy.__version__, "python": platform.python_version(), "pip": md.version("pip"), "setuptools": md.version("setuptools")}))
`;

/**
 * Throws (a failure, never a skip) unless the venv has what onnx_reference.py imports; returns
 * the venv's versions, which the MLflow files then declare (so they can be compared with what
 * mlflow.onnx.save_model writes in the same venv).
 */
function checkVenv(): MlmodelVersions {
  if (!fs.existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: ${SETUP}`);
  const r = spawnSync(PYTHON, ['-c', VERSIONS_PY], { encoding: 'utf8', timeout: 180_000 });
  if (r.status !== 0)
    throw new Error(`${PYTHON} lacks a module the ONNX reference needs (${lastLines(r.stderr ?? '', 2)}): ${SETUP}`);
  return JSON.parse(lastLines(r.stdout, 1)) as MlmodelVersions;
}

function readOut(dir: string): { tensors: Tensors; report: PyReport } {
  const { tensors, manifest } = readTensors<{ report: PyReport }>(dir);
  return { tensors, report: manifest.report };
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Trained-like BatchNorm statistics: eval-mode outputs neither saturated nor the identity. */
function setBatchNormStats(model: tf.LayersModel, seed: number): void {
  // The input tail: CT HU (mean ≈ -600, sd ≈ 400), as parity.test.ts sets it.
  model
    .getLayer('tail_bn')
    .setWeights([tf.tensor1d([1.25]), tf.tensor1d([-0.1]), tf.tensor1d([-600]), tf.tensor1d([160000])]);
  const rng = createRng(seed).fork('onnx-export-test-bn');
  for (const layer of model.layers) {
    if (layer.getClassName() !== 'BatchNorm3d' || layer.name === 'tail_bn') continue;
    const c = layer.weights[0].shape[0]!;
    const fill = (f: () => number) => tf.tensor1d(Float32Array.from({ length: c }, f));
    layer.setWeights([
      fill(() => 1 + rng.normal(0, 0.2)),
      fill(() => rng.normal(0, 0.1)),
      fill(() => rng.normal(0, 0.1)),
      fill(() => rng.uniform(0.5, 2)),
    ]);
  }
}

const workDirs: string[] = [];

async function runOrtWeb(bytes: Uint8Array, data: Float32Array, crop: CropShape): Promise<CaseResult['web']> {
  ortWeb.env.wasm.numThreads = 1; // no worker threads inside the test process
  const session = await ortWeb.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
  try {
    const out = await session.run({ [onnxInputName]: new ortWeb.Tensor('float32', data, [2, 1, ...crop]) });
    const get = (name: string) => Float32Array.from(out[name].data as Float32Array);
    return { logits: get('logits'), probabilities: get('probabilities') };
  } finally {
    await session.release();
  }
}

async function runCase(cfg: LunaModelConfig, crop: CropShape, seed: number, withMlflow: boolean): Promise<CaseResult> {
  const versions = checkVenv();
  await tf.setBackend('cpu');
  const model = buildLunaModel(cfg, crop, seed);
  setBatchNormStats(model, seed);
  const { data } = loadLidcCrops(crop);
  const x = tf.tensor5d(data, [2, crop[0], crop[1], crop[2], 1]);
  const logitsT = model.predict(x) as tf.Tensor;
  const probsT = probabilities(logitsT);
  const tfjs = { logits: Float32Array.from(logitsT.dataSync()), probabilities: Float32Array.from(probsT.dataSync()) };
  tf.dispose([x, logitsT, probsT]);

  const onnxBytes = exportOnnx(model, crop, { producerVersion: 'test' });
  const stateDict = exportTorchStateDict(model);
  model.dispose();

  const web = await runOrtWeb(onnxBytes, data, crop);

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'luna-onnx-'));
  workDirs.push(dir);
  fs.writeFileSync(path.join(dir, 'model.onnx'), onnxBytes);
  const extra: Record<string, unknown> = { onnx: 'model.onnx' };
  if (withMlflow) {
    const modelDir = path.join(dir, 'mlflow_model');
    fs.mkdirSync(modelDir);
    fs.writeFileSync(path.join(modelDir, MLMODEL_ONNX_FILE), onnxBytes);
    for (const f of mlmodelFiles({
      crop,
      runId: RUN_ID,
      createdUtc: CREATED,
      modelSizeBytes: onnxBytes.length,
      versions,
    })) {
      fs.writeFileSync(path.join(modelDir, f.path), f.data);
    }
    extra['mlflow_dir'] = 'mlflow_model';
  }
  writeTensors(dir, { x: { shape: [2, 1, ...crop], data } }, extra);
  const py = spawnSync(PYTHON, [SCRIPT, dir], { encoding: 'utf8', timeout: 300_000 });
  if (py.status !== 0)
    throw new Error(
      `onnx_reference.py failed (status ${py.status}, ${py.error?.message ?? ''}):\n${lastLines(py.stderr ?? '', 40)}`,
    );
  const out = readOut(path.join(dir, 'out'));
  return { tfjs, web, py: out.tensors, report: out.report, onnxBytes, stateDict };
}

const measured: Record<string, number | string> = {};

afterAll(() => {
  for (const d of workDirs) fs.rmSync(d, { recursive: true, force: true });
  console.log(
    `onnx export, measured:\n${Object.entries(measured)
      .map(([k, v]) => `  ${k}: ${typeof v === 'number' ? v.toExponential(2) : v}`)
      .join('\n')}`,
  );
});

describe('the Python ONNX reference', () => {
  // A failure, never a skip: without it the export is not checked against its consumers.
  it('is installed (.venv with onnx, onnxruntime, mlflow from .ci/setup-venv)', () => {
    checkVenv();
  }, 180_000);
});

describe('exportOnnx: the book LunaModel (real LIDC-IDRI-0001 crops)', () => {
  const crop: CropShape = [32, 48, 48];
  let r: CaseResult;
  beforeAll(async () => {
    r = await runCase(BOOK, crop, 1234, true);
  }, 600_000);

  it('passes onnx.checker (full check) with the expected graph, opset 17', () => {
    expect(r.report.checker).toBe('ok');
    expect(r.report.opset).toEqual({ 'ai.onnx': 17 });
    expect(r.report.ir_version).toBe(8);
    const block = ['Conv', 'Relu', 'Conv', 'Relu', 'MaxPool'];
    expect(r.report.ops).toEqual([
      'BatchNormalization',
      ...block,
      ...block,
      ...block,
      ...block,
      'Flatten',
      'Gemm',
      'Softmax',
    ]);
    expect(r.report.initializers['head_linear.weight']).toEqual([2, 1152]);
    expect(r.report.initializers['block1.conv1.weight']).toEqual([8, 1, 3, 3, 3]);
    measured['versions'] =
      `onnx ${r.report.onnx_version}, onnxruntime ${r.report.onnxruntime_version}, mlflow ${r.report.mlflow_version}, python ${r.report.python_version}`;
  });

  it('has input [batch,1,D,H,W] and outputs logits/probabilities [batch,2] in onnxruntime', () => {
    expect(r.report.session.providers).toContain('CPUExecutionProvider');
    expect(r.report.session.inputs).toEqual([
      { name: onnxInputName, shape: ['batch', 1, 32, 48, 48], type: 'tensor(float)' },
    ]);
    expect(r.report.session.outputs).toEqual(
      onnxOutputNames.map((name) => ({ name, shape: ['batch', 2], type: 'tensor(float)' })),
    );
  });

  it('onnxruntime agrees with tfjs predict within 1e-4 (logits and probabilities)', () => {
    const dl = maxDiff(r.tfjs.logits, r.py['ort/logits'].data);
    const dp = maxDiff(r.tfjs.probabilities, r.py['ort/probabilities'].data);
    measured['book: tfjs vs onnxruntime, logits'] = dl;
    measured['book: tfjs vs onnxruntime, probabilities'] = dp;
    measured['book: tfjs probabilities [nodule crop; lung crop]'] = Array.from(r.tfjs.probabilities, (p) =>
      p.toPrecision(4),
    ).join(' ');
    expect(r.py['ort/probabilities'].shape).toEqual([2, 2]);
    expect(dl).toBeLessThanOrEqual(TOL);
    expect(dp).toBeLessThanOrEqual(TOL);
    // Not saturated: the comparison means something.
    expect(Math.min(...r.tfjs.probabilities)).toBeGreaterThan(1e-6);
  });

  it('onnxruntime-web (wasm) agrees with tfjs within 1e-4', () => {
    const dl = maxDiff(r.tfjs.logits, r.web.logits);
    const dp = maxDiff(r.tfjs.probabilities, r.web.probabilities);
    measured['book: tfjs vs onnxruntime-web, logits'] = dl;
    measured['book: tfjs vs onnxruntime-web, probabilities'] = dp;
    expect(dl).toBeLessThanOrEqual(TOL);
    expect(dp).toBeLessThanOrEqual(TOL);
  });

  it('mlflow.pyfunc.load_model(dir).predict agrees with tfjs within 1e-4', () => {
    const dl = maxDiff(r.tfjs.logits, r.py['pyfunc/logits'].data);
    const dp = maxDiff(r.tfjs.probabilities, r.py['pyfunc/probabilities'].data);
    measured['book: tfjs vs mlflow pyfunc, logits'] = dl;
    measured['book: tfjs vs mlflow pyfunc, probabilities'] = dp;
    expect(dl).toBeLessThanOrEqual(TOL);
    expect(dp).toBeLessThanOrEqual(TOL);
  });

  it('MLflow reads the MLmodel back: flavors, run, signature', () => {
    const m = r.report.mlmodel!;
    expect(m.flavors).toEqual(['onnx', 'python_function']);
    expect(m.onnx_flavor).toMatchObject({ data: 'model.onnx', providers: ['CPUExecutionProvider'], code: null });
    expect(m.pyfunc_flavor).toMatchObject({
      loader_module: 'mlflow.onnx',
      data: 'model.onnx',
      env: { conda: 'conda.yaml', virtualenv: 'python_env.yaml' },
    });
    expect(m.run_id).toBe(RUN_ID);
    expect(m.artifact_path).toBe('model');
    expect(m.utc_time_created).toBe('2026-11-26 21:05:07.089000');
    expect(m.model_uuid).toMatch(/^[0-9a-f]{32}$/);
    const sig = onnxSignature(crop);
    expect(m.signature.inputs).toEqual(sig.inputs);
    expect(m.signature.outputs).toEqual(sig.outputs);
  });

  it('writes the files mlflow.onnx.save_model writes for the same model (MLmodel, conda.yaml, python_env.yaml, requirements.txt)', () => {
    expect(r.report.mlmodel_vs_save_model).toEqual([]);
  });
});

describe('exportOnnx: a variant (2 blocks, width 4, block BatchNorm, Dropout3d, 16×24×24)', () => {
  const crop: CropShape = [16, 24, 24];
  let r: CaseResult;
  beforeAll(async () => {
    r = await runCase(VARIANT, crop, 77, false);
  }, 600_000);

  it('passes onnx.checker; dropout leaves no node, block BatchNorms do, convs have no bias', () => {
    expect(r.report.checker).toBe('ok');
    const block = ['Conv', 'BatchNormalization', 'Relu', 'Conv', 'BatchNormalization', 'Relu', 'MaxPool'];
    expect(r.report.ops).toEqual(['BatchNormalization', ...block, ...block, 'Flatten', 'Gemm', 'Softmax']);
    expect(Object.keys(r.report.initializers)).not.toContain('block1.conv1.bias');
    expect(r.report.initializers['block2.batchnorm2.running_var']).toEqual([8]);
    expect(r.report.initializers['head_linear.weight']).toEqual([2, 8 * 4 * 6 * 6]);
    expect(r.report.session.inputs[0].shape).toEqual(['batch', 1, 16, 24, 24]);
  });

  it('onnxruntime agrees with tfjs predict within 1e-4 (logits and probabilities)', () => {
    const dl = maxDiff(r.tfjs.logits, r.py['ort/logits'].data);
    const dp = maxDiff(r.tfjs.probabilities, r.py['ort/probabilities'].data);
    measured['variant: tfjs vs onnxruntime, logits'] = dl;
    measured['variant: tfjs vs onnxruntime, probabilities'] = dp;
    expect(dl).toBeLessThanOrEqual(TOL);
    expect(dp).toBeLessThanOrEqual(TOL);
    expect(Math.min(...r.tfjs.probabilities)).toBeGreaterThan(1e-6);
    const wl = maxDiff(r.tfjs.logits, r.web.logits);
    const wp = maxDiff(r.tfjs.probabilities, r.web.probabilities);
    measured['variant: tfjs vs onnxruntime-web, logits'] = wl;
    measured['variant: tfjs vs onnxruntime-web, probabilities'] = wp;
    expect(wl).toBeLessThanOrEqual(TOL);
    expect(wp).toBeLessThanOrEqual(TOL);
  });

  it('stores the weights as the PyTorch state_dict: raw little-endian float32 under the book names', () => {
    const model = onnx.ModelProto.decode(r.onnxBytes);
    const inits = new Map(model.graph!.initializer!.map((t) => [t.name!, t]));
    expect([...inits.keys()].sort()).toEqual(Object.keys(r.stateDict).sort());
    for (const [name, t] of Object.entries(r.stateDict)) {
      const init = inits.get(name)!;
      expect(init.dataType).toBe(onnx.TensorProto.DataType.FLOAT);
      expect(init.dims!.map(Number)).toEqual([...t.shape]);
      const raw = init.rawData!;
      const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
      const got = Float32Array.from({ length: t.data.length }, (_, i) => view.getFloat32(i * 4, true));
      expect(got, name).toEqual(t.data);
    }
  });
});

describe('exportOnnx refuses what it cannot export faithfully', () => {
  it('rejects an unsupported opset, a wrong crop and unknown layers', () => {
    const model = buildLunaModel({ ...BOOK, blocks: 1, width: 2 }, [2, 2, 2], 1);
    expect(() => exportOnnx(model, [2, 2, 2], { opset: 11 })).toThrow(/opset 11/);
    expect(() => exportOnnx(model, [4, 4, 4])).toThrow(/does not fit crop/);
    const bytes = exportOnnx(model, [2, 2, 2], { opset: 13 });
    const decoded = onnx.ModelProto.decode(bytes);
    expect(decoded.opsetImport.map((o) => Number(o.version))).toEqual([13]);
    expect(Number(decoded.irVersion)).toBe(7);
    model.dispose();

    // ReLU fused into a Conv3D exports as Conv + Relu (LunaModel's blocks); other activations do not.
    const odd = tf.sequential({
      layers: [
        tf.layers.conv3d({
          inputShape: [2, 2, 2, 1],
          filters: 1,
          kernelSize: 1,
          name: 'block1_conv1',
          activation: 'tanh',
        }),
      ],
    });
    expect(() => exportOnnx(odd, [2, 2, 2])).toThrow(/fused activation 'tanh'/);
    odd.dispose();
  });
});
