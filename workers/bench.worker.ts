/**
 * The benchmark worker: the lab's own code paths (the classifier's training step, the batch
 * pipeline from IndexedDB, single tfjs kernels) timed in a worker, as in the real app. Only
 * the bench page loads it; the lab itself never does.
 */
import * as Comlink from 'comlink';
import * as tf from '@tensorflow/tfjs';
import { resolveConfigOrThrow, type BackendName, type LabConfigInput } from '../src/config/lab-config.ts';
import { selectBackend } from '../src/model/backend.ts';
import { useKernels, type KernelKind } from '../src/model/kernels/index.ts';
import { buildLunaModel } from '../src/model/luna-model.ts';
import { createOptimizer } from '../src/model/optimizers.ts';
import { NoduleClassificationModel } from '../src/model/nodule-classifier.ts';
import { setDropoutRng } from '../src/model/dropout.ts';
import type { Batch } from '../src/model/trainable-model.ts';
import { createRng } from '../src/data/rng.ts';
import { generateSynthetic } from '../src/data/synthetic.ts';
import { sourceFromBytes } from '../src/data/source.ts';
import { sourceFromUrl, type RemoteFile } from '../src/headless/remote-source.ts';
import { slabEncodeWorkers } from '../src/store/slab-encode-workers.ts';
import type { SlabCodec } from '../src/data/slab-codec.ts';
import { createSampling } from '../src/data/sampler.ts';
import { freshLabStore } from '../src/store/lab-store.ts';
import { ingestFiles, type IngestReport } from '../src/store/ingest.ts';
import { loadCandidateSet } from '../src/store/candidate-set.ts';
import { CacheCropSource } from '../src/store/cache-crop-source.ts';
import { CropProvider } from '../src/data/crop-provider.ts';
import { batchesOf, type BatchWait } from '../src/data/batches.ts';
import { dataWorkerPool } from '../src/train/data-workers.ts';
import type { AugmentPool } from '../src/data/augment-pool.ts';
import '../src/inference/ort-web-env.ts';
import { OnnxClassifier } from '../src/inference/onnx-classifier.ts';
import { exportOnnx } from '../src/model/onnx-export.ts';

export interface TrainStepResult {
  requested: BackendName;
  backend: string;
  adapter: string | null;
  /** Why the requested backend was not used, when it was not. */
  unavailable?: string;
  batch: number;
  steps: number;
  stepSeconds: number[];
  samplesPerSecond: number;
}

export interface OpTiming {
  op: string;
  shape: string;
  ms: number;
}

export interface PipelineResult {
  crops: number;
  coldCropsPerSecond: number;
  warmCropsPerSecond: number;
  /** Augmented in the bench worker's own thread (a pool of size 0), as before data workers. */
  augmentedCropsPerSecond: number;
  /** The same, from the in-memory LRU, per data-worker count (0 = in-thread). */
  pooled: { workers: number; augmentedCropsPerSecond: number }[];
  /** A training loop whose step takes `stepMs` (a timer: the thread is free, as during a GPU
   *  step) consuming those batches: its wait for a batch, per step, per data-worker count. */
  idle: {
    workers: number;
    stepMs: number;
    steps: number;
    waitMsPerStep: number;
    firstWaitMs: number;
    loopMsPerStep: number;
  }[];
  /** navigator.hardwareConcurrency in the bench worker. */
  hardwareConcurrency: number;
  /** Whether every worker count gave the same batch bytes as the first (fingerprints). */
  identical: boolean;
}

export type InferenceRuntime = 'ort-webgpu' | 'ort-wasm' | 'tfjs-webgpu' | 'tfjs-cpu';

export interface InferenceResult {
  runtime: InferenceRuntime;
  /** The ORT execution provider or tfjs backend that ran. */
  used: string;
  adapter: string | null;
  unavailable?: string;
  batch: number;
  crops: number;
  seconds: number;
  cropsPerSecond: number;
}

/** One way of ingesting, as `ingestStages` compares them. */
export interface IngestVariant {
  /** Encode workers (0 = slabs encoded in the ingest thread). */
  encodeWorkers: number;
  /** Store a series while the next one loads. */
  overlap: boolean;
  /** How slabs are stored. */
  codec: SlabCodec;
}

export interface IngestStagesResult {
  label: string;
  variant: IngestVariant;
  /** One report per repeat, each into a fresh database. */
  runs: Pick<IngestReport, 'ms' | 'voxelBytes' | 'stages' | 'series' | 'errors'>[];
}

export interface BenchApi {
  /** Ingest each set of served files (the CLI's data server, as `luna-lab train` reads
   *  --data) into a fresh database, under each variant, `repeats` times: the stage split. */
  ingestStages(
    sets: { label: string; files: RemoteFile[] }[],
    variants: IngestVariant[],
    repeats: number,
  ): Promise<{ results: IngestStagesResult[]; hardwareConcurrency: number }>;
  /** `warmup` untimed steps first (shader compilation); 0 when one step already takes minutes. */
  trainStep(
    backend: BackendName,
    batch: number,
    steps: number,
    warmup: number,
    config?: LabConfigInput,
  ): Promise<TrainStepResult>;
  profileOps(
    backend: BackendName,
    batch: number,
    kernels?: KernelKind,
  ): Promise<{ backend: string; adapter: string | null; ops: OpTiming[] }>;
  /** `workers`: data-worker counts to compare (0 = in-thread); `stepMs`: the simulated step. */
  pipeline(scans: number, batches: number, batch: number, workers?: number[], stepMs?: number): Promise<PipelineResult>;
  /** Inference throughput (crops/s) of one runtime on the same random crops, after a 1-crop warm-up. */
  inference(
    runtime: InferenceRuntime,
    config: LabConfigInput,
    batch: number,
    batches: number,
  ): Promise<InferenceResult>;
}

const now = () => performance.now();

/** Batches of random HU-like crops: the step is timed, not the data. */
function randomBatches(n: number, count: number, crop: readonly number[]): AsyncIterable<Batch> {
  const rng = createRng(7);
  const vox = crop[0] * crop[1] * crop[2];
  return {
    async *[Symbol.asyncIterator]() {
      for (let b = 0; b < count; b++) {
        const x = new Float32Array(n * vox);
        for (let i = 0; i < x.length; i++) x[i] = rng.next() * 2000 - 1000;
        const labels = Uint8Array.from({ length: n }, (_, i) => i % 2);
        yield {
          n,
          x,
          labels,
          refs: Array.from({ length: n }, () => ({ seriesUid: 'bench', xyz: [0, 0, 0] as const, diameterMm: 0 })),
        };
      }
    },
  };
}

/** A cheap fingerprint of a batch's bytes (FNV-1a over its 32-bit words). */
function fingerprint(x: Float32Array): string {
  const u = new Uint32Array(x.buffer, x.byteOffset, x.length);
  let h = 0x811c9dc5;
  for (let i = 0; i < u.length; i++) h = Math.imul(h ^ u[i], 16777619);
  return (h >>> 0).toString(16);
}

const api: BenchApi = {
  inference: (...a) => benchInference(...a),
  async trainStep(requested, batch, steps, warmup, input = {}) {
    const sel = await selectBackend(requested);
    const base: Omit<TrainStepResult, 'stepSeconds' | 'samplesPerSecond' | 'steps'> = {
      requested,
      backend: sel.backend,
      adapter: sel.adapter,
      batch,
      ...(sel.backend !== requested ? { unavailable: sel.reason ?? 'unavailable' } : {}),
    };
    if (sel.backend !== requested) return { ...base, steps: 0, stepSeconds: [], samplesPerSecond: 0 };
    const config = resolveConfigOrThrow({ ...input, train: { batchSize: batch, seed: 1 }, backend: requested });
    if (sel.backend === 'webgpu') await useKernels(config.kernels);
    const model = buildLunaModel(config.model, config.crop, 1);
    const optimizer = createOptimizer(config.optimizer);
    const stepSeconds: number[] = [];
    let last = now();
    const classifier = new NoduleClassificationModel({
      config,
      model,
      optimizer,
      hooks: {
        beforeTrainingStep: () => setDropoutRng(createRng(1)),
        onStep: () => {
          stepSeconds.push((now() - last) / 1000);
          last = now();
        },
      },
    });
    await classifier.doTraining(1, randomBatches(batch, steps + warmup, config.crop));
    model.dispose();
    optimizer.dispose();
    const measured = stepSeconds.slice(warmup);
    const total = measured.reduce((a, b) => a + b, 0);
    return { ...base, steps: measured.length, stepSeconds, samplesPerSecond: (measured.length * batch) / total };
  },

  async profileOps(requested, n, kernels = 'lab') {
    const sel = await selectBackend(requested);
    if (sel.backend === 'webgpu') await useKernels(kernels);
    const ops: OpTiming[] = [];
    const time = async (op: string, shape: string, run: () => tf.Tensor) => {
      // Run twice when fast (the first run compiles); once when one run already takes seconds.
      let t = now();
      let out = run();
      await out.data();
      out.dispose();
      let ms = now() - t;
      if (ms < 3000) {
        t = now();
        out = run();
        await out.data();
        out.dispose();
        ms = now() - t;
      }
      ops.push({ op, shape, ms });
    };
    const rng = createRng(3);
    const rand = (shape: number[]) => {
      const size = shape.reduce((a, b) => a * b, 1);
      return tf.tensor(
        Float32Array.from({ length: size }, () => rng.next() - 0.5),
        shape,
      );
    };
    let [d, h, w] = [32, 48, 48];
    let cin = 1;
    for (let block = 1; block <= 4; block++) {
      const c = 8 * 2 ** (block - 1);
      for (const [name, ci] of [
        [`block${block}.conv1`, cin],
        [`block${block}.conv2`, c],
      ] as const) {
        const x = rand([n, d, h, w, ci]) as tf.Tensor5D;
        const f = rand([3, 3, 3, ci, c]) as tf.Tensor5D;
        const dy = rand([n, d, h, w, c]) as tf.Tensor5D;
        const shape = `${n}×${d}×${h}×${w}, ${ci}→${c}`;
        await time(`${name} Conv3D`, shape, () => tf.conv3d(x, f, 1, 'same'));
        // conv1's input gradient is needed too: it feeds the input BatchNorm3d's weights.
        await time(`${name} Conv3DBackpropInputV2`, shape, () =>
          tf.conv3dTranspose(dy, f, [n, d, h, w, ci], 1, 'same'),
        );
        await time(
          `${name} Conv3DBackpropFilterV2`,
          shape,
          () =>
            tf
              .engine()
              .runKernel(
                'Conv3DBackpropFilterV2',
                { x, dy },
                { strides: [1, 1, 1], pad: 'same', filterShape: [3, 3, 3, ci, c] },
              ) as tf.Tensor,
        );
        tf.dispose([x, f, dy]);
      }
      const x = rand([n, d, h, w, c]);
      const shape = `${n}×${d}×${h}×${w}×${c}`;
      await time(`block${block} MaxPool3D`, shape, () => tf.maxPool3d(x as tf.Tensor5D, 2, 2, 'valid'));
      const y = tf.maxPool3d(x as tf.Tensor5D, 2, 2, 'valid');
      const dy = rand(y.shape);
      await time(
        `block${block} MaxPool3DGrad`,
        shape,
        () =>
          tf
            .engine()
            .runKernel(
              'MaxPool3DGrad',
              { dy, input: x, output: y },
              { filterSize: [2, 2, 2], strides: [2, 2, 2], pad: 'valid' },
            ) as tf.Tensor,
      );
      tf.dispose([x, y, dy]);
      [d, h, w] = [d / 2, h / 2, w / 2];
      cin = c;
    }
    return { backend: sel.backend, adapter: sel.adapter, ops };
  },

  async ingestStages(sets, variants, repeats) {
    const results: IngestStagesResult[] = [];
    for (const variant of variants) {
      const encoder = slabEncodeWorkers(variant.encodeWorkers);
      try {
        for (const set of sets) {
          const runs: IngestStagesResult['runs'] = [];
          for (let i = 0; i < repeats; i++) {
            const db = await freshLabStore('luna-lab-bench-ingest');
            try {
              const r = await ingestFiles(db, set.files.map(sourceFromUrl), {
                force: true,
                encoder,
                overlap: variant.overlap,
                codec: variant.codec,
              });
              runs.push({ ms: r.ms, voxelBytes: r.voxelBytes, stages: r.stages, series: r.series, errors: r.errors });
            } finally {
              db.close();
              await db.delete();
            }
          }
          results.push({ label: set.label, variant, runs });
        }
      } finally {
        encoder.dispose();
      }
    }
    return { results, hardwareConcurrency: navigator.hardwareConcurrency };
  },

  async pipeline(scans, batches, batch, workers = [0, 1, 2], stepMs = (batch * 1000) / 3256) {
    const db = await freshLabStore('luna-lab-bench');
    try {
      const files = [...generateSynthetic({ scans, size: 'full', seed: 9 })].map((f) =>
        sourceFromBytes(f.path, f.bytes),
      );
      await ingestFiles(db, files);
      const config = resolveConfigOrThrow({
        train: { seed: 5, batchSize: batch },
        sampling: { epochSamples: batches * batch },
      });
      const set = await loadCandidateSet(db, config);
      const { sampler } = createSampling(set.candidates, config);
      const samples = sampler.nextEpoch();
      const pass = async (provider: CropProvider, augment: boolean, pool?: AugmentPool, seen?: string[]) => {
        const t = now();
        let n = 0;
        for await (const b of batchesOf(samples, batch, provider, augment ? config.augment : null, { pool })) {
          n += b.n;
          seen?.push(fingerprint(b.x));
        }
        return n / ((now() - t) / 1000);
      };
      const provider = new CropProvider(new CacheCropSource(db, set.series), set.series, config.crop);
      await db.clearCrops();
      const cold = await pass(provider, false); // crops cut from the slabs in IndexedDB
      const warm = await pass(provider, false); // the in-memory LRU
      const augmented = await pass(
        new CropProvider(new CacheCropSource(db, set.series), set.series, config.crop),
        true,
      ); // crops table + augmentation
      // Side by side from the warm LRU: only the augmentation's place differs.
      const pooled: PipelineResult['pooled'] = [];
      const idle: PipelineResult['idle'] = [];
      const prints: string[][] = [];
      for (const size of workers) {
        const pool = dataWorkerPool(size);
        try {
          await pass(provider, true, pool); // spawns the workers, warms their JIT
          const seen: string[] = [];
          pooled.push({ workers: size, augmentedCropsPerSecond: await pass(provider, true, pool, seen) });
          prints.push(seen);
          const wait: BatchWait = { batches: 0, seconds: 0 };
          const waits: number[] = [];
          let last = wait.seconds;
          let first = 0;
          for await (const b of batchesOf(samples, batch, provider, config.augment, { pool, wait })) {
            waits.push((wait.seconds - last) * 1000);
            last = wait.seconds;
            if (waits.length === 1) first = now();
            await new Promise((r) => setTimeout(r, stepMs * (b.n / batch)));
          }
          // In-thread augmentation runs while the step's timer waits and delays it: it shows
          // in the loop's time per step, not in the wait for a batch.
          const loopMsPerStep = (now() - first) / Math.max(1, waits.length);
          const later = waits.slice(1);
          idle.push({
            workers: size,
            stepMs,
            steps: waits.length,
            waitMsPerStep: later.reduce((a, b) => a + b, 0) / Math.max(1, later.length),
            firstWaitMs: waits[0] ?? 0,
            loopMsPerStep,
          });
        } finally {
          pool.dispose();
        }
      }
      const identical = prints.every((p) => p.join() === prints[0].join());
      const hardwareConcurrency = navigator.hardwareConcurrency;
      return {
        crops: samples.length,
        coldCropsPerSecond: cold,
        warmCropsPerSecond: warm,
        augmentedCropsPerSecond: augmented,
        pooled,
        idle,
        hardwareConcurrency,
        identical,
      };
    } finally {
      db.close();
      await db.delete();
    }
  },
};

/** A model with CT-like input statistics, so its arithmetic is not degenerate. */
function inferenceModel(config: ReturnType<typeof resolveConfigOrThrow>): tf.LayersModel {
  const model = buildLunaModel(config.model, config.crop, 1);
  model
    .getLayer('tail_bn')
    .setWeights([tf.tensor1d([1]), tf.tensor1d([0]), tf.tensor1d([-500]), tf.tensor1d([250000])]);
  return model;
}

async function benchInference(
  runtime: InferenceRuntime,
  input: LabConfigInput,
  batch: number,
  batches: number,
): Promise<InferenceResult> {
  const config = resolveConfigOrThrow({ ...input, train: { seed: 1 } });
  const [d, h, w] = config.crop;
  const vox = d * h * w;
  const rng = createRng(7);
  const x = Float32Array.from({ length: batch * vox }, () => Math.round(rng.next() * 2000 - 1000));
  const base = { runtime, batch, crops: 0, seconds: 0, cropsPerSecond: 0 };
  let run: (n: number) => Promise<void>;
  let done: () => Promise<void>;
  let used: string;
  let adapter: string | null = null;
  if (runtime === 'tfjs-webgpu' || runtime === 'tfjs-cpu') {
    const want = runtime === 'tfjs-webgpu' ? 'webgpu' : 'cpu';
    const sel = await selectBackend(want);
    used = sel.backend;
    adapter = sel.adapter;
    if (sel.backend !== want) return { ...base, used, adapter, unavailable: sel.reason ?? 'unavailable' };
    // The lab's kernels, as in training (the config's default).
    if (sel.backend === 'webgpu') await useKernels(config.kernels);
    const model = inferenceModel(config);
    run = async (n) => {
      const p = tf.tidy(() =>
        tf.softmax(model.predict(tf.tensor5d(x.subarray(0, n * vox), [n, d, h, w, 1])) as tf.Tensor),
      );
      await p.data();
      p.dispose();
    };
    done = async () => {
      model.dispose();
    };
  } else {
    await tf.setBackend('cpu'); // builds and exports the model only
    const model = inferenceModel(config);
    const bytes = exportOnnx(model, config.crop);
    model.dispose();
    const clf = await OnnxClassifier.open(bytes, {
      preferred: runtime === 'ort-webgpu' ? 'webgpu' : 'wasm',
      maxBatch: batch,
      source: 'bench.onnx',
    });
    used = clf.provider;
    if (runtime === 'ort-webgpu' && clf.provider === 'wasm') {
      await clf.release();
      return { ...base, used, adapter, unavailable: clf.fallbackReason };
    }
    run = async (n) => void (await clf.predict(x.subarray(0, n * vox), n));
    done = () => clf.release();
  }
  try {
    await run(1); // shader compilation, kernel selection
    const t = now();
    for (let i = 0; i < batches; i++) await run(batch);
    const seconds = (now() - t) / 1000;
    return { ...base, used, adapter, crops: batch * batches, seconds, cropsPerSecond: (batch * batches) / seconds };
  } finally {
    await done();
  }
}

Comlink.expose(api);
