/**
 * The inference worker: runs an ONNX classifier (a run's exported model, or a user's .onnx) in
 * onnxruntime-web over the candidates of the cached series and evaluates them as LUNA16 does
 * (FROC, CPM). Its comlink API is `InferenceApi`; progress reaches the page through a listener.
 *
 * Crops are the training side's own (`CropProvider`: clamped HU from the slabs in IndexedDB,
 * the book's window), laid out as the tfjs model gets them — so a run's ONNX model sees exactly
 * what its tfjs original saw. The WebGPU execution provider is tried first when asked, then
 * WASM; the outcome says which ran and why any fallback happened. For a run, a few crops can
 * be checked against the tfjs model itself (tfjs cpu backend).
 */
import * as Comlink from 'comlink';
import '../src/inference/ort-web-env.ts';
import * as tf from '@tensorflow/tfjs';
import { defaultConfig, type LabConfig } from '../src/config/lab-config.ts';
import { labStore } from '../src/store/lab-store.ts';
import { CropProvider, loadCandidateSet } from '../src/store/training-data.ts';
import { splitCandidates } from '../src/data/sampler.ts';
import type { CandidateInfo } from '../src/data/luna-csv.ts';
import { froc, type FrocResult, type Nodule } from '../src/eval/froc.ts';
import { OnnxClassifier, type PreferredProvider, type UsedProvider } from '../src/inference/onnx-classifier.ts';
import { runOnnx } from '../src/inference/run-onnx.ts';
import { describeAdapter, type GpuAdapterInfoLike } from '../src/model/backend.ts';

export type ModelSource = { kind: 'run'; runId: string } | { kind: 'file'; name: string; bytes: Uint8Array };

export interface EvalRequest {
  model: ModelSource;
  preferred: PreferredProvider;
  /** 'validation': the run's validation split only (runs only); 'all': every cached candidate. */
  scope: 'all' | 'validation';
  /** Crops to score with the run's tfjs model as well, for the agreement figure (runs only). */
  tfjsCheck?: number;
  /** Crops per ORT run (default 16). */
  batch?: number;
}

export interface EvalProgress {
  phase: 'model' | 'data' | 'scoring' | 'checking';
  done: number;
  total: number;
}

export interface CandidatePrediction {
  seriesUid: string;
  xyz: readonly [number, number, number];
  /** candidates.csv's class. */
  isNodule: boolean;
  probability: number;
}

export interface EvalOutcome {
  /** "RUN NAME (epoch E)" or the file name. */
  source: string;
  provider: UsedProvider;
  fallbackReason: string;
  /** The WebGPU adapter, when WebGPU ran. */
  adapter: string | null;
  crop: [number, number, number];
  output: string;
  scope: EvalRequest['scope'];
  froc: FrocResult;
  predictions: CandidatePrediction[];
  seconds: number;
  cropsPerSecond: number;
  tfjsCheck: { crops: number; maxAbsDiff: number; backend: string } | null;
  warnings: string[];
}

export interface InferenceListener {
  progress(p: EvalProgress): void;
}

export interface InferenceApi {
  setListener(listener: InferenceListener): void;
  evaluate(req: EvalRequest): Promise<EvalOutcome>;
}

let listener: InferenceListener | null = null;

async function webGpuAdapter(): Promise<string | null> {
  const gpu = (navigator as { gpu?: { requestAdapter(): Promise<{ info?: GpuAdapterInfoLike } | null> } }).gpu;
  const adapter = await gpu?.requestAdapter().catch(() => null);
  return adapter ? describeAdapter(adapter.info ?? {}) : null;
}

async function evaluate(req: EvalRequest): Promise<EvalOutcome> {
  const t0 = performance.now();
  const db = labStore();
  const warnings: string[] = [];
  listener?.progress({ phase: 'model', done: 0, total: 1 });

  let bytes: Uint8Array;
  let source: string;
  let config: LabConfig = defaultConfig();
  let tfModel: tf.LayersModel | null = null;
  if (req.model.kind === 'run') {
    await tf.setBackend('cpu'); // export and the agreement check only: no GPU device for tfjs here
    const rm = await runOnnx(db, req.model.runId);
    bytes = rm.onnx;
    source = `${rm.run.name} (epoch ${rm.epoch})`;
    config = rm.run.config;
    tfModel = rm.model;
  } else {
    bytes = req.model.bytes;
    source = req.model.name;
    if (req.scope === 'validation') warnings.push('a model file has no validation split: every cached candidate is scored');
  }

  let clf: OnnxClassifier | null = null;
  try {
    clf = await OnnxClassifier.open(bytes, { source, preferred: req.preferred, maxBatch: req.batch ?? 16 });
    const crop = clf.crop;
    if (tfModel && crop.some((v, i) => v !== config.crop[i])) throw new Error(`${source}: the export's crop ${crop} differs from the run's ${config.crop}`);

    listener?.progress({ phase: 'data', done: 0, total: 1 });
    // A model file is scored on every cached series with the default candidates table.
    const set = await loadCandidateSet(db, req.model.kind === 'run' ? config : { ...config, data: { ...config.data, subsets: [] } });
    warnings.push(...set.warnings);
    let list: CandidateInfo[] = set.candidates;
    if (req.scope === 'validation' && req.model.kind === 'run') {
      list = splitCandidates(set.candidates, config.sampling).validation;
      if (config.sampling.validation === 'candidate') {
        warnings.push("the run's validation split is by candidate: its scans also gave training candidates");
      }
    }
    const scans = req.scope === 'validation' && req.model.kind === 'run' ? [...new Set(list.map((c) => c.seriesUid))] : [...set.series.keys()];
    const provider = new CropProvider(db, set.series, crop);
    const vox = crop[0] * crop[1] * crop[2];
    const batch = req.batch ?? 16;
    const predictions: CandidatePrediction[] = [];
    const tScore = performance.now();
    for (let from = 0; from < list.length; from += batch) {
      const part = list.slice(from, from + batch);
      const crops = await Promise.all(part.map((c) => provider.get(c)));
      const x = new Float32Array(part.length * vox);
      crops.forEach((c, i) => x.set(c, i * vox));
      const p = await clf.predict(x, part.length);
      part.forEach((c, i) => predictions.push({ seriesUid: c.seriesUid, xyz: c.xyz, isNodule: c.isNodule, probability: p[i] }));
      listener?.progress({ phase: 'scoring', done: predictions.length, total: list.length });
    }
    const scoreSeconds = (performance.now() - tScore) / 1000;

    const annRecords = await db.annotationsFor(scans);
    const nodules: Nodule[] = annRecords.flatMap((r) => r.rows.map((a) => ({ seriesUid: r.seriesUid, xyz: a.xyz, diameterMm: a.diameterMm })));
    const result = froc(predictions, nodules, scans);

    let tfjsCheck: EvalOutcome['tfjsCheck'] = null;
    const k = Math.min(req.tfjsCheck ?? 0, list.length);
    if (tfModel && k > 0) {
      listener?.progress({ phase: 'checking', done: 0, total: k });
      const crops = await Promise.all(list.slice(0, k).map((c) => provider.get(c)));
      const x = new Float32Array(k * vox);
      crops.forEach((c, i) => x.set(c, i * vox));
      const model = tfModel;
      const probs = tf.tidy(() => tf.softmax(model.predict(tf.tensor5d(x, [k, crop[0], crop[1], crop[2], 1])) as tf.Tensor2D));
      const data = await probs.data();
      probs.dispose();
      let maxAbsDiff = 0;
      for (let i = 0; i < k; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(data[2 * i + 1] - predictions[i].probability));
      tfjsCheck = { crops: k, maxAbsDiff, backend: tf.getBackend() };
      listener?.progress({ phase: 'checking', done: k, total: k });
    }

    return {
      source,
      provider: clf.provider,
      fallbackReason: clf.fallbackReason,
      adapter: clf.provider === 'wasm' ? null : await webGpuAdapter(),
      crop,
      output: `${clf.signature.output} (${clf.signature.outputKind})`,
      scope: req.model.kind === 'run' ? req.scope : 'all',
      froc: result,
      predictions,
      seconds: (performance.now() - t0) / 1000,
      cropsPerSecond: predictions.length / Math.max(scoreSeconds, 1e-9),
      tfjsCheck,
      warnings,
    };
  } finally {
    await clf?.release();
    tfModel?.dispose();
  }
}

const api: InferenceApi = {
  setListener(l) {
    listener = l;
  },
  evaluate,
};

Comlink.expose(api);
