/**
 * The text files of an MLflow model directory for the lab's ONNX export (`model.onnx`), as
 * `mlflow.onnx.save_model` writes them, so that MLflow (and anything that reads its format:
 * `mlflow.pyfunc.load_model`, `mlflow models serve`, the UI's signature panel) takes a run's
 * `model/` artifact for one of its own.
 *
 * Promise: `mlmodelFiles(opts)` returns `MLmodel`, `conda.yaml`, `python_env.yaml` and
 * `requirements.txt` (paths relative to the model directory; the caller adds `model.onnx`
 * beside them). MLmodel has the `onnx` flavor (CPUExecutionProvider) and the `python_function`
 * flavor (loader `mlflow.onnx`), the run id, creation time and a fresh model uuid, and the
 * tensor signature of `onnxSignature(crop)`: MLflow stores `inputs`/`outputs` as JSON strings
 * inside the YAML, written here exactly as Python's `json.dumps` writes them. Keys are sorted,
 * as PyYAML's `safe_dump` sorts them. With the same versions, every file parses to what
 * `mlflow.onnx.save_model` (MLflow 3.17) writes, except: `artifact_path` and `run_id` (which
 * MLflow adds when it logs a model to a run), `providers` (CPU only; MLflow's default lists CUDA
 * first) and the uuid/time. PyYAML folds long lines; these files do not (same YAML values).
 * Pure: no I/O; runs in the browser and Node.
 */
import { onnxSignature } from '../model/onnx-export.ts';
import type { TensorSpec } from '../model/trainable-model.ts';
import { randomHex } from '../data/hex.ts';
import { Document, Scalar, visit } from 'yaml';

/** The ONNX file the flavors point at, relative to the model directory. */
export const MLMODEL_ONNX_FILE = 'model.onnx';

/**
 * The versions the directory declares when the caller names none: the ones this project's
 * reference venv (.ci/requirements.txt) saved and loaded such a directory with.
 */
export const MLMODEL_DEFAULT_VERSIONS = {
  mlflow: '3.17.2',
  onnx: '1.23.2',
  onnxruntime: '1.32.0',
  numpy: '2.4.6',
  python: '3.11.7',
  pip: '23.2.1',
  setuptools: '84.2.1',
} as const;

export type MlmodelVersions = { -readonly [K in keyof typeof MLMODEL_DEFAULT_VERSIONS]: string };

export interface MlmodelOptions {
  crop: readonly [number, number, number];
  runId: string;
  createdUtc: Date;
  /** The artifact path the directory is logged under. Default 'model'. */
  artifactPath?: string;
  mlflowVersion?: string;
  onnxVersion?: string;
  /** Any other version the environment files pin (onnxruntime, numpy, python, pip, setuptools). */
  versions?: Partial<MlmodelVersions>;
  /** 32 hex digits; default: a fresh random one, as MLflow's `uuid4().hex`. */
  modelUuid?: string;
  /** Size of model.onnx in bytes, if known (MLflow records `model_size_bytes`). */
  modelSizeBytes?: number;
}

export interface MlmodelFile {
  path: string;
  contentType: string;
  data: string;
}

export function mlmodelFiles(opts: MlmodelOptions): MlmodelFile[] {
  const v: MlmodelVersions = { ...MLMODEL_DEFAULT_VERSIONS, ...opts.versions };
  if (opts.mlflowVersion !== undefined) v.mlflow = opts.mlflowVersion;
  if (opts.onnxVersion !== undefined) v.onnx = opts.onnxVersion;
  if (!(opts.createdUtc instanceof Date) || Number.isNaN(opts.createdUtc.getTime()))
    throw new TypeError('createdUtc must be a valid Date');
  const uuid = opts.modelUuid ?? randomHex(16);
  if (!/^[0-9a-f]{32}$/.test(uuid)) throw new RangeError(`modelUuid must be 32 lowercase hex digits, got '${uuid}'`);
  const sig = onnxSignature(opts.crop);
  // What mlflow.onnx's default pip requirements resolve to (mlflow, numpy, onnx, onnxruntime), pinned.
  const requirements = [`mlflow==${v.mlflow}`, `numpy==${v.numpy}`, `onnx==${v.onnx}`, `onnxruntime==${v.onnxruntime}`];

  const mlmodel: YamlMap = {
    artifact_path: opts.artifactPath ?? 'model',
    flavors: {
      onnx: {
        code: null,
        data: MLMODEL_ONNX_FILE,
        onnx_session_options: null,
        onnx_version: v.onnx,
        // MLflow's default lists CUDAExecutionProvider first; this model is meant for CPU hosts too.
        providers: ['CPUExecutionProvider'],
      },
      python_function: {
        data: MLMODEL_ONNX_FILE,
        env: { conda: 'conda.yaml', virtualenv: 'python_env.yaml' },
        loader_module: 'mlflow.onnx',
        python_version: v.python,
      },
    },
    is_signature_from_type_hint: false,
    mlflow_version: v.mlflow,
    model_id: null,
    model_uuid: uuid,
    prompts: null,
    run_id: opts.runId,
    signature: { inputs: signatureJson(sig.inputs), outputs: signatureJson(sig.outputs), params: null },
    type_hint_from_example: false,
    utc_time_created: pythonUtcTimestamp(opts.createdUtc),
  };
  if (opts.modelSizeBytes !== undefined) mlmodel['model_size_bytes'] = opts.modelSizeBytes;

  const conda: YamlMap = {
    channels: ['conda-forge'],
    dependencies: [`python=${v.python}`, `pip<=${v.pip}`, { pip: requirements }],
    name: 'mlflow-env',
  };
  // MLflow writes python_env.yaml in this order (not sorted).
  const pythonEnv: YamlMap = {
    python: v.python,
    build_dependencies: [`pip==${v.pip}`, `setuptools==${v.setuptools}`, 'wheel'],
    dependencies: ['-r requirements.txt'],
  };

  return [
    { path: 'MLmodel', contentType: 'text/yaml', data: yaml(mlmodel) },
    { path: 'conda.yaml', contentType: 'text/yaml', data: yaml(conda) },
    { path: 'python_env.yaml', contentType: 'text/yaml', data: yaml(pythonEnv, false) },
    // No final newline, as MLflow writes it.
    { path: 'requirements.txt', contentType: 'text/plain', data: requirements.join('\n') },
  ];
}

/**
 * MLflow's tensor-spec list as MLflow 3 `json.dumps` it:
 * `[{"name": "input", "type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 1, 32, 48, 48]}}]`.
 */
export function signatureJson(specs: readonly TensorSpec[]): string {
  const one = (s: TensorSpec) =>
    `{"name": ${JSON.stringify(s.name)}, "type": "tensor", "tensor-spec": {"dtype": ${JSON.stringify(s.dtype)}, "shape": [${s.shape.join(', ')}]}}`;
  return `[${specs.map(one).join(', ')}]`;
}

/** Python's `str(datetime.utcnow())`: 'YYYY-MM-DD HH:MM:SS.ffffff'. */
function pythonUtcTimestamp(d: Date): string {
  return `${d.toISOString().slice(0, 19).replace('T', ' ')}.${String(d.getUTCMilliseconds()).padStart(3, '0')}000`;
}

type YamlValue = string | number | boolean | null | YamlValue[] | YamlMap;
interface YamlMap {
  [key: string]: YamlValue;
}

/**
 * Block-style YAML as PyYAML's `safe_dump` writes it: keys sorted (unless `sortKeys` is false),
 * a map's list items at the key's own indent, long strings not folded (the same values). The
 * `yaml` library writes it; the one choice made here is which strings are quoted.
 */
function yaml(value: YamlMap, sortKeys = true): string {
  const doc = new Document(value, { sortMapEntries: sortKeys });
  visit(doc, {
    Scalar(_key, node) {
      if (typeof node.value === 'string' && !plainIsSame(node.value)) node.type = Scalar.QUOTE_SINGLE;
    },
  });
  return doc.toString({ indentSeq: false, lineWidth: 0 });
}

// Plain only for words of name characters (letters, digits, `_ . - / < =`, inner spaces) that start
// with a letter, `_` or `-letter` (`-r requirements.txt`), or for a dotted version; never for the
// words YAML 1.1 (PyYAML) reads as booleans or null. Anything else (digit-led: `1e5`, ids, times;
// quotes, colons, JSON) is single-quoted, so YAML 1.1 and 1.2 readers see the same string.
const PLAIN = /^(?:[A-Za-z_]|-[A-Za-z])(?:[A-Za-z0-9_.\-/<= ]*[A-Za-z0-9_.\-/<=])?$|^\d+(\.\d+){2,}$/;
const RESERVED = /^(true|false|yes|no|on|off|null|y|n)$/i;

function plainIsSame(v: string): boolean {
  return PLAIN.test(v) && !RESERVED.test(v);
}
