/**
 * The GPU bench's measurements, in one realm on one WebGPU device (Dawn in Node): per-kernel times
 * of the book's LunaModel layers (stock tfjs vs the lab's kernels, per feature variant), full
 * training steps of the lab's real step (NoduleClassificationModel.doTraining, the trainer's
 * optimizer and loss) per batch size and variant, inference (predict + softmax), and a tf.profile
 * breakdown of one lab step. Timings live here, never in tests.
 *
 * Promise: the caller has installed Dawn (dawn.ts) and made the device with `selectBackend('webgpu',
 * features)` first; `measureAll` never throws for one failed measurement: the failure is recorded
 * in `errors` with what was being measured, and the rest goes on. Each training or inference
 * variant stops taking steps after `budgetSeconds` (at least one measured step is taken); past
 * `deadlineSeconds` no new measurement starts. `save` is called with what there is after each
 * measurement, so a run cut short still leaves its results.
 */
import * as tf from '@tensorflow/tfjs';
import type { GpuFeatureName } from '../config/lab-config.ts';
import { resolveConfigOrThrow } from '../config/lab-config.ts';
import { useKernels, type KernelKind } from '../model/kernels/index.ts';
import { buildLunaModel } from '../model/luna-model.ts';
import { createOptimizer } from '../model/optimizers.ts';
import { NoduleClassificationModel } from '../model/nodule-classifier.ts';
import { setDropoutRng } from '../model/dropout.ts';
import type { Batch } from '../model/trainable-model.ts';
import { createRng } from '../data/rng.ts';
import { profileStep } from '../kernels/kernel-checks.ts';
import { measureAugment, type AugmentTiming } from './augment-measure.ts';

export interface MeasureOptions {
  /** Training (and inference) batch sizes. */
  batches: number[];
  /** Measured training steps per variant (after `warmup` untimed ones), at most. */
  steps: number;
  warmup: number;
  /** Batch of the per-kernel table. */
  kernelBatch: number;
  /** Timed runs per kernel (after one untimed compile run). */
  kernelReps: number;
  /** Inference batches per variant. */
  inferBatches: number;
  /** Seconds after which a variant takes no more steps. */
  budgetSeconds: number;
  /** Kernel sets to train with (stock is ~25× slower on SwiftShader). */
  trainKernels: KernelKind[];
  /** Which parts to run. */
  parts: { kernels: boolean; train: boolean; inference: boolean; profile: boolean; augment: boolean };
  /** Seconds from the start after which no new measurement starts (the rest is listed as skipped). */
  deadlineSeconds: number;
}

/** A kernel set and the optional features its lab kernels use. */
export interface Variant {
  kernels: KernelKind;
  features: GpuFeatureName[];
}

export function variantName(v: Variant): string {
  return v.features.length ? `${v.kernels}+${v.features.join('+')}` : v.kernels;
}

/** stock, lab, and lab with each subset of the device's features (f32 first). */
export function variants(
  deviceFeatures: readonly GpuFeatureName[],
  kernels: readonly KernelKind[] = ['lab', 'stock'],
): Variant[] {
  const out: Variant[] = [];
  if (kernels.includes('stock')) out.push({ kernels: 'stock', features: [] });
  if (kernels.includes('lab')) {
    const fs = [...deviceFeatures].sort();
    // Every subset, smallest first: [] then singles then both.
    const subsets: GpuFeatureName[][] = [[]];
    for (const f of fs) for (const s of [...subsets]) subsets.push([...s, f]);
    subsets.sort((a, b) => a.length - b.length);
    for (const s of subsets) out.push({ kernels: 'lab', features: s });
  }
  return out;
}

export interface KernelTiming {
  layer: string;
  op: string;
  shape: string;
  variant: string;
  ms: number[];
  medianMs: number;
  /** Multiply-adds × 2 of the op, per second, in GFLOP/s (convolutions only). */
  gflops: number | null;
}

export interface TrainTiming {
  batch: number;
  variant: string;
  /** Every step's seconds, warm-up first. */
  stepSeconds: number[];
  warmup: number;
  samplesPerSecond: number;
  /** 3 × the forward convolutions' FLOPs per sample × samples/s (forward, input and weight gradients). */
  gflops: number;
}

export interface InferTiming {
  batch: number;
  variant: string;
  batches: number;
  seconds: number;
  samplesPerSecond: number;
}

export interface Measurements {
  kernels: KernelTiming[];
  training: TrainTiming[];
  inference: InferTiming[];
  /** Augmented crops/s, CPU path vs the GPU path's kernel (absent in results from before it). */
  augment?: AugmentTiming[];
  /** tf.profile of one lab (f32) training step at the first batch size: kernel name, total ms, calls. */
  profile: { batch: number; kernels: { name: string; ms: number; n: number }[] } | null;
  errors: string[];
}

/** The book's LunaModel convolutions on a 32×48×48 crop: [layer, D, H, W, Cin, Cout]. */
export function lunaConvLayers(
  crop: readonly [number, number, number] = [32, 48, 48],
  blocks = 4,
  width = 8,
): { layer: string; dhw: [number, number, number]; cin: number; cout: number }[] {
  const out: { layer: string; dhw: [number, number, number]; cin: number; cout: number }[] = [];
  let [d, h, w] = crop;
  let cin = 1;
  for (let b = 1; b <= blocks; b++) {
    const c = width * 2 ** (b - 1);
    out.push({ layer: `block${b}.conv1`, dhw: [d, h, w], cin, cout: c });
    out.push({ layer: `block${b}.conv2`, dhw: [d, h, w], cin: c, cout: c });
    cin = c;
    [d, h, w] = [d >> 1, h >> 1, w >> 1];
  }
  return out;
}

/** FLOPs of the forward convolutions for one sample (2 per multiply-add, 'same' padding). */
export function forwardConvFlops(): number {
  return lunaConvLayers().reduce((s, l) => s + 2 * l.dhw[0] * l.dhw[1] * l.dhw[2] * 27 * l.cin * l.cout, 0);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
};

async function setVariant(v: Variant): Promise<void> {
  await useKernels(v.kernels, v.features);
}

function randTensor(seed: string, shape: number[]): tf.Tensor {
  const rng = createRng(3).fork(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(
    Float32Array.from({ length: n }, () => rng.next() - 0.5),
    shape,
  );
}

async function timeRuns(run: () => tf.Tensor, reps: number): Promise<number[]> {
  const once = async () => {
    const t = performance.now();
    const y = run();
    await y.data();
    y.dispose();
    return performance.now() - t;
  };
  await once(); // compiles the shader, allocates
  const ms: number[] = [];
  for (let i = 0; i < reps; i++) ms.push(await once());
  return ms;
}

/** Per-kernel times of every LunaModel conv (forward, input and weight gradients) and pool, per variant. */
async function measureKernels(
  o: MeasureOptions,
  vs: Variant[],
  errors: string[],
  log: (s: string) => void,
): Promise<KernelTiming[]> {
  const out: KernelTiming[] = [];
  const n = o.kernelBatch;
  const e = tf.engine();
  for (const l of lunaConvLayers()) {
    const [d, h, w] = l.dhw;
    const x = randTensor(`${l.layer}x`, [n, d, h, w, l.cin]) as tf.Tensor5D;
    const f = randTensor(`${l.layer}f`, [3, 3, 3, l.cin, l.cout]) as tf.Tensor5D;
    const dy = randTensor(`${l.layer}dy`, [n, d, h, w, l.cout]) as tf.Tensor5D;
    const shape = `${n}×${d}×${h}×${w}, ${l.cin}→${l.cout}`;
    const flops = 2 * n * d * h * w * 27 * l.cin * l.cout;
    const ops: [string, () => tf.Tensor][] = [
      ['Conv3D', () => tf.conv3d(x, f, 1, 'same')],
      [
        'Conv3DBackpropInputV2',
        () =>
          e.runKernel(
            'Conv3DBackpropInputV2',
            { dy, filter: f },
            { strides: [1, 1, 1], pad: 'same', inputShape: [n, d, h, w, l.cin] },
          ) as tf.Tensor,
      ],
      [
        'Conv3DBackpropFilterV2',
        () =>
          e.runKernel(
            'Conv3DBackpropFilterV2',
            { x, dy },
            { strides: [1, 1, 1], pad: 'same', filterShape: [3, 3, 3, l.cin, l.cout] },
          ) as tf.Tensor,
      ],
    ];
    for (const v of vs) {
      await setVariant(v);
      for (const [op, run] of ops) {
        try {
          const ms = await timeRuns(run, o.kernelReps);
          const m = median(ms);
          out.push({ layer: l.layer, op, shape, variant: variantName(v), ms, medianMs: m, gflops: flops / m / 1e6 });
        } catch (err) {
          errors.push(`kernel ${l.layer} ${op} ${shape} (${variantName(v)}): ${(err as Error).message}`);
        }
      }
    }
    log(`  kernels ${l.layer} done`);
    tf.dispose([x, f, dy]);
  }
  // Pooling after each block's second conv: [n, D, H, W, Cout].
  for (const l of lunaConvLayers().filter((c) => c.layer.endsWith('conv2'))) {
    const [d, h, w] = l.dhw;
    const block = l.layer.split('.')[0];
    const x = randTensor(`${block}p`, [n, d, h, w, l.cout]) as tf.Tensor5D;
    const shape = `${n}×${d}×${h}×${w}×${l.cout}`;
    for (const v of vs.filter((vv) => vv.features.length === 0)) {
      await setVariant(v);
      const y = tf.maxPool3d(x, 2, 2, 'valid');
      const g = randTensor(`${block}g`, y.shape);
      const ops: [string, () => tf.Tensor][] = [
        ['MaxPool3D', () => tf.maxPool3d(x, 2, 2, 'valid')],
        [
          'MaxPool3DGrad',
          () =>
            e.runKernel(
              'MaxPool3DGrad',
              { dy: g, input: x, output: y },
              { filterSize: [2, 2, 2], strides: [2, 2, 2], pad: 'valid' },
            ) as tf.Tensor,
        ],
      ];
      for (const [op, run] of ops) {
        try {
          const ms = await timeRuns(run, o.kernelReps);
          out.push({ layer: block, op, shape, variant: variantName(v), ms, medianMs: median(ms), gflops: null });
        } catch (err) {
          errors.push(`kernel ${block} ${op} ${shape} (${variantName(v)}): ${(err as Error).message}`);
        }
      }
      tf.dispose([y, g]);
    }
    tf.dispose(x);
  }
  return out;
}

/** Random HU-like crops, made once and reused: the step is timed, not the data. `stop` ends the stream. */
function batchesOf(n: number, crop: readonly number[], count: number, stop: () => boolean): AsyncIterable<Batch> {
  const rng = createRng(7);
  const x = Float32Array.from({ length: n * crop[0] * crop[1] * crop[2] }, () => rng.next() * 2000 - 1000);
  const labels = Uint8Array.from({ length: n }, (_, i) => i % 2);
  const refs = Array.from({ length: n }, () => ({ seriesUid: 'bench', xyz: [0, 0, 0] as const, diameterMm: 0 }));
  return {
    async *[Symbol.asyncIterator]() {
      for (let b = 0; b < count && !stop(); b++) yield { n, x, labels, refs };
    },
  };
}

async function measureTrain(batch: number, v: Variant, o: MeasureOptions): Promise<TrainTiming> {
  await setVariant(v);
  const config = resolveConfigOrThrow({
    train: { batchSize: batch, seed: 1 },
    backend: 'webgpu',
    kernels: v.kernels,
    gpuFeatures: v.features,
  });
  const model = buildLunaModel(config.model, config.crop, 1);
  const optimizer = createOptimizer(config.optimizer);
  const stepSeconds: number[] = [];
  let last = performance.now();
  let measuredFrom = 0;
  const classifier = new NoduleClassificationModel({
    config,
    model,
    optimizer,
    hooks: {
      beforeTrainingStep: () => setDropoutRng(createRng(1)),
      onStep: () => {
        const t = performance.now();
        stepSeconds.push((t - last) / 1000);
        last = t;
        if (stepSeconds.length === o.warmup) measuredFrom = t;
      },
    },
  });
  const start = performance.now();
  const stop = () =>
    stepSeconds.length > o.warmup && (performance.now() - (measuredFrom || start)) / 1000 > o.budgetSeconds;
  try {
    await classifier.doTraining(1, batchesOf(batch, config.crop, o.warmup + o.steps, stop));
  } finally {
    model.dispose();
    optimizer.dispose();
  }
  const measured = stepSeconds.slice(o.warmup);
  const total = measured.reduce((a, b) => a + b, 0);
  const samplesPerSecond = (measured.length * batch) / total;
  return {
    batch,
    variant: variantName(v),
    stepSeconds,
    warmup: o.warmup,
    samplesPerSecond,
    gflops: (3 * forwardConvFlops() * samplesPerSecond) / 1e9,
  };
}

async function measureInference(batch: number, v: Variant, o: MeasureOptions): Promise<InferTiming> {
  await setVariant(v);
  const config = resolveConfigOrThrow({
    train: { seed: 1 },
    backend: 'webgpu',
    kernels: v.kernels,
    gpuFeatures: v.features,
  });
  const model = buildLunaModel(config.model, config.crop, 1);
  // CT-like input statistics in the input BatchNorm, so the arithmetic is not degenerate.
  model
    .getLayer('tail_bn')
    .setWeights([tf.tensor1d([1]), tf.tensor1d([0]), tf.tensor1d([-500]), tf.tensor1d([250000])]);
  const [d, h, w] = config.crop;
  const rng = createRng(7);
  const x = tf.tensor5d(
    Float32Array.from({ length: batch * d * h * w }, () => Math.round(rng.next() * 2000 - 1000)),
    [batch, d, h, w, 1],
  );
  const run = async () => {
    const p = tf.tidy(() => tf.softmax(model.predict(x) as tf.Tensor));
    await p.data();
    p.dispose();
  };
  try {
    await run(); // compile
    const t = performance.now();
    let n = 0;
    while (n < o.inferBatches && (n === 0 || (performance.now() - t) / 1000 < o.budgetSeconds)) {
      await run();
      n++;
    }
    const seconds = (performance.now() - t) / 1000;
    return { batch, variant: variantName(v), batches: n, seconds, samplesPerSecond: (n * batch) / seconds };
  } finally {
    x.dispose();
    model.dispose();
  }
}

export async function measureAll(
  o: MeasureOptions,
  deviceFeatures: readonly GpuFeatureName[],
  log: (s: string) => void,
  save: (m: Measurements) => Promise<void> = async () => {},
): Promise<Measurements> {
  const errors: string[] = [];
  const start = performance.now();
  const m: Measurements = { kernels: [], training: [], inference: [], profile: null, errors };
  const attempt = async <T>(what: string, fn: () => Promise<T>): Promise<T | null> => {
    if ((performance.now() - start) / 1000 > o.deadlineSeconds) {
      errors.push(`${what}: skipped, past the deadline (--deadline-s ${o.deadlineSeconds})`);
      return null;
    }
    const t = performance.now();
    try {
      const r = await fn();
      log(`  ${what}: ${((performance.now() - t) / 1000).toFixed(1)} s`);
      return r;
    } catch (err) {
      errors.push(`${what}: ${(err as Error).message}`);
      log(`  ${what}: FAILED ${(err as Error).message}`);
      return null;
    } finally {
      await save(m);
    }
  };
  const all = variants(deviceFeatures);
  if (o.parts.kernels) {
    log('per-kernel times…');
    m.kernels = (await attempt('per-kernel table', () => measureKernels(o, all, errors, log))) ?? [];
  }
  if (o.parts.train) {
    log('training steps…');
    for (const batch of o.batches) {
      for (const v of variants(deviceFeatures, o.trainKernels)) {
        const r = await attempt(`train batch ${batch} ${variantName(v)}`, () => measureTrain(batch, v, o));
        if (r) m.training.push(r);
      }
    }
  }
  if (o.parts.inference) {
    log('inference…');
    for (const batch of o.batches) {
      // Inference uses the forward kernels only: subgroups (a weight-gradient reduction) is not a variant.
      for (const v of variants(
        deviceFeatures.filter((f) => f !== 'subgroups'),
        o.trainKernels,
      )) {
        const r = await attempt(`inference batch ${batch} ${variantName(v)}`, () => measureInference(batch, v, o));
        if (r) m.inference.push(r);
      }
    }
  }
  if (o.parts.augment) {
    log('augmentation, cpu vs gpu path…');
    const batch = o.batches[0] ?? 32;
    const r = await attempt(`augment batch ${batch}`, () => measureAugment(batch, o.budgetSeconds, o.steps));
    if (r) m.augment = r;
  }
  if (o.parts.profile && o.batches.length) {
    log('profile of one lab step…');
    const batch = o.batches[0];
    const p = await attempt(`profile batch ${batch}`, () => profileStep(batch));
    if (p) m.profile = { batch, kernels: p };
  }
  return m;
}
