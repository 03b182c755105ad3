/**
 * The inference worker: runs an ONNX classifier (a run's exported model, or a user's .onnx) in
 * onnxruntime-web over the candidates of the cached series and evaluates them as LUNA16 does
 * (FROC, CPM). Its comlink API is `InferenceApi`; progress reaches the page through a listener.
 *
 * The evaluation itself is the lab's one job (src/eval/evaluate.ts, which `luna-lab eval` runs
 * too) over the cache's crop source (clamped HU from the slabs in IndexedDB, the book's window,
 * as training crops them), laid out as the tfjs model gets them — so a run's ONNX model sees
 * exactly what its tfjs original saw. The WebGPU execution provider is tried first when asked, then
 * WASM; the outcome says which ran and why any fallback happened. For a run, a few crops can
 * be checked against the tfjs model itself (tfjs cpu backend).
 */
import * as Comlink from 'comlink';
import '../src/inference/ort-web-env.ts';
import * as tf from '@tensorflow/tfjs';
import { defaultConfig, type LabConfig } from '../src/config/lab-config.ts';
import { labStore } from '../src/store/lab-store.ts';
import { loadCandidateSet } from '../src/store/candidate-set.ts';
import { CacheCropSource } from '../src/store/cache-crop-source.ts';
import { cropAtWorld } from '../src/data/crop-source.ts';
import { splitCandidates } from '../src/data/sampler.ts';
import type { CandidateInfo } from '../src/data/luna-csv.ts';
import type { FrocResult, Nodule } from '../src/eval/froc.ts';
import { evaluate as evaluateJob, EVAL_BATCH, type CandidatePrediction } from '../src/eval/evaluate.ts';
import { frocSvg } from '../src/eval/froc-plot.ts';
import { describeScored, runEvalOf, trainingScansAmong } from '../src/eval/run-eval.ts';
import { formatSubmission } from '../src/eval/submission.ts';
import { evalItems, trackingTarget } from '../src/tracking/run-tracking.ts';
import type { RunEval } from '../src/store/records.ts';
import { OnnxClassifier, type PreferredProvider, type UsedProvider } from '../src/inference/onnx-classifier.ts';
import { runOnnx } from '../src/inference/run-onnx.ts';
import { describeAdapter, type GpuAdapterInfoLike } from '../src/model/backend.ts';

export type ModelSource = { kind: 'run'; runId: string } | { kind: 'file'; name: string; bytes: Uint8Array };

export interface EvalRequest {
  model: ModelSource;
  preferred: PreferredProvider;
  /** 'validation' (the page's default for a run): the run's validation split only (runs only);
   *  'all': every candidate of the run's data (a model file: every cached candidate). */
  scope: 'all' | 'validation';
  /** Crops to score with the run's tfjs model as well, for the agreement figure (runs only). */
  tfjsCheck?: number;
  /** Crops per ORT run (default `EVAL_BATCH`, as the CLI's). */
  batch?: number;
}

export interface EvalProgress {
  phase: 'model' | 'data' | 'scoring' | 'checking';
  done: number;
  total: number;
}

export type { CandidatePrediction };

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
  /** The scans scored, in order (what FROC divides by), and their nodules: the cases behind a FROC point. */
  scans: string[];
  nodules: Nodule[];
  /** Scored scans that also gave the run training candidates; null for a model file (unknown). */
  trainingScans: string[] | null;
  /** Which scans were scored and whether any were training scans, in words. */
  scored: string;
  /** What was stored on the run (null for a model file) and how many items went to the tracking outbox. */
  stored: RunEval | null;
  trackingItems: number;
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
  let epoch = 0;
  if (req.model.kind === 'run') {
    await tf.setBackend('cpu'); // export and the agreement check only: no GPU device for tfjs here
    const rm = await runOnnx(db, req.model.runId);
    bytes = rm.onnx;
    source = `${rm.run.name} (epoch ${rm.epoch})`;
    config = rm.run.config;
    tfModel = rm.model;
    epoch = rm.epoch;
  } else {
    bytes = req.model.bytes;
    source = req.model.name;
    if (req.scope === 'validation')
      warnings.push('a model file has no validation split: every cached candidate is scored');
  }

  let clf: OnnxClassifier | null = null;
  try {
    clf = await OnnxClassifier.open(bytes, { source, preferred: req.preferred, maxBatch: req.batch ?? EVAL_BATCH });
    const crop = clf.crop;
    if (tfModel && crop.some((v, i) => v !== config.crop[i]))
      throw new Error(`${source}: the export's crop ${crop} differs from the run's ${config.crop}`);

    listener?.progress({ phase: 'data', done: 0, total: 1 });
    // A model file is scored on every cached series with the preferred candidates table.
    const set =
      req.model.kind === 'run'
        ? await loadCandidateSet(db, config)
        : await loadCandidateSet(db, { ...config, data: { ...config.data, subsets: [] } }, { table: 'preferred' });
    warnings.push(...set.warnings);
    let list: CandidateInfo[] = set.candidates;
    // The run's training series: what a held-out evaluation must not score.
    const split = req.model.kind === 'run' ? splitCandidates(set.candidates, config.sampling) : null;
    if (req.scope === 'validation' && split) {
      list = split.validation;
      if (config.sampling.validation === 'candidate') {
        warnings.push("the run's validation split is by candidate: its scans also gave training candidates");
      }
    }
    const scans =
      req.scope === 'validation' && req.model.kind === 'run'
        ? [...new Set(list.map((c) => c.seriesUid))]
        : [...set.series.keys()];
    const cache = new CacheCropSource(db, set.series);
    const onnx = clf;
    const annRecords = await db.annotationsFor(scans);
    const nodules: Nodule[] = annRecords.flatMap((rec) =>
      rec.rows.map((a) => ({ seriesUid: rec.seriesUid, xyz: a.xyz, diameterMm: a.diameterMm })),
    );
    const r = await evaluateJob({
      source: cache,
      series: scans,
      candidates: list,
      annotations: nodules,
      classify: (x, n) => onnx.predict(x, n),
      crop,
      batch: req.batch,
      progress: (p) => listener?.progress({ phase: 'scoring', done: p.done, total: p.total ?? list.length }),
    });
    warnings.push(...r.warnings, ...r.froc.warnings);
    const predictions = r.predictions;
    const trainingScans = split ? trainingScansAmong(r.scans, new Set(split.train.map((c) => c.seriesUid))) : null;
    const scope = req.model.kind === 'run' ? req.scope : 'all';
    const scored = describeScored(
      r.scans.length,
      req.model.kind === 'run' ? scope : 'file',
      trainingScans?.length ?? null,
    );
    if (trainingScans?.length)
      warnings.push(
        `${trainingScans.length} of the ${r.scans.length} scans scored also gave this run training candidates: the CPM is optimistic`,
      );

    let tfjsCheck: EvalOutcome['tfjsCheck'] = null;
    const k = Math.min(req.tfjsCheck ?? 0, predictions.length);
    if (tfModel && k > 0) {
      listener?.progress({ phase: 'checking', done: 0, total: k });
      const checked = predictions.slice(0, k);
      const crops = await Promise.all(checked.map((p) => cropAtWorld(cache, p.seriesUid, p.xyz, crop)));
      const vox = crop[0] * crop[1] * crop[2];
      const x = new Float32Array(k * vox);
      crops.forEach((c, i) => x.set(c, i * vox));
      const model = tfModel;
      const probs = tf.tidy(() =>
        tf.softmax(model.predict(tf.tensor5d(x, [k, crop[0], crop[1], crop[2], 1])) as tf.Tensor2D),
      );
      const data = await probs.data();
      probs.dispose();
      let maxAbsDiff = 0;
      for (let i = 0; i < k; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(data[2 * i + 1] - checked[i].probability));
      tfjsCheck = { crops: k, maxAbsDiff, backend: tf.getBackend() };
      listener?.progress({ phase: 'checking', done: k, total: k });
    }

    // A run keeps its evaluation, and a tracked run sends it to MLflow (the train worker delivers).
    let stored: RunEval | null = null;
    let trackingItems = 0;
    if (req.model.kind === 'run') {
      const run = (await db.getRun(req.model.runId)) ?? null;
      stored = runEvalOf(r.froc, { at: Date.now(), epoch, scope, trainingScans: trainingScans?.length ?? 0, warnings });
      const target = run?.trackingQueued ? trackingTarget(run) : null;
      const items =
        run && target
          ? evalItems(run, target, stored, {
              submissionCsv: formatSubmission(predictions),
              frocSvg: frocSvg(r.froc, source),
            })
          : [];
      if (!(await db.putRunEval(req.model.runId, stored, items))) {
        warnings.push(`run ${source} was deleted meanwhile: its evaluation is not kept`);
        stored = null;
      } else trackingItems = items.length;
    }

    return {
      source,
      provider: clf.provider,
      fallbackReason: clf.fallbackReason,
      adapter: clf.provider === 'wasm' ? null : await webGpuAdapter(),
      crop,
      output: `${clf.signature.output} (${clf.signature.outputKind})`,
      scope,
      froc: r.froc,
      predictions,
      scans: r.scans,
      nodules,
      trainingScans,
      scored,
      stored,
      trackingItems,
      seconds: (performance.now() - t0) / 1000,
      cropsPerSecond: predictions.length / Math.max(r.scoreSeconds, 1e-9),
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
