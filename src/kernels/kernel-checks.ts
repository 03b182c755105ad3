/**
 * The kernel checks, environment-neutral: the lab's WebGPU kernels against the stock webgpu
 * kernels and the cpu backend on the same random inputs, the gradients of a small model, and
 * timings for tuning. The browser's kernel test page (kernel-test-page.ts, for
 * e2e/kernels.spec.ts) and Node on Dawn (src/gpu-bench) run these same functions and cases;
 * results are plain numbers (tolerances and case lists: kernel-cases.ts).
 * `initDevice` first (before any other call) makes the realm's WebGPU device with optional
 * features (gpuFeatures); `features` arguments then select the lab kernels' feature variants.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';
import {
  activeKernels,
  conv3dBiasRelu,
  featureUses,
  injectShaderFault,
  useKernels,
  type KernelKind,
} from '../model/kernels/index.ts';
import { selectBackend, webGpuAdapterFeatures } from '../model/backend.ts';
import type { GpuFeatureName } from '../config/lab-config.ts';
import { createRng } from '../data/rng.ts';
import { resolveConfigOrThrow, type LabConfigInput } from '../config/lab-config.ts';
import { buildLunaModel } from '../model/luna-model.ts';

export type OpName = 'conv' | 'convInput' | 'convFilter' | 'pool' | 'poolGrad' | 'fused' | 'fusedGrad';

export interface OpCase {
  op: OpName;
  /** Input [N, D, H, W, C]. */
  x: [number, number, number, number, number];
  cout?: number;
  pad?: 'same' | 'valid';
  /** Also run on the cpu backend (slow for LunaModel shapes). */
  cpu?: boolean;
}

export interface OpResult {
  name: string;
  /** max |lab − ref| / max |ref| against the stock webgpu kernel and the cpu backend. */
  vsStock: number;
  vsCpu: number | null;
  ms: { lab: number; stock: number };
  /** max |ref|: a reference of zeros would make the comparison meaningless. */
  refMax: number;
}

export type Backend = 'webgpu-lab' | 'webgpu-stock' | 'cpu';

export async function on(b: Backend, features: readonly GpuFeatureName[] = []): Promise<void> {
  const name = b === 'cpu' ? 'cpu' : 'webgpu';
  if (tf.getBackend() !== name) await tf.setBackend(name);
  await tf.ready();
  if (b !== 'cpu') await useKernels(b === 'webgpu-lab' ? 'lab' : 'stock', features);
}

/** Makes this page's WebGPU device asking for `features`; what it got, and what the adapter offers. */
export async function initDevice(
  features: GpuFeatureName[],
): Promise<{ backend: string; enabled: GpuFeatureName[]; warning: string | null; adapterFeatures: string[] }> {
  const s = await selectBackend('webgpu', features);
  return {
    backend: s.backend,
    enabled: s.gpuFeatures?.enabled ?? [],
    warning: s.gpuFeatures?.warning ?? null,
    adapterFeatures: webGpuAdapterFeatures() ?? [],
  };
}

export function rand(seed: string, n: number, positive = false): Float32Array {
  const rng = createRng(11).fork(seed);
  return Float32Array.from({ length: n }, () => (positive ? rng.next() : rng.next() - 0.5));
}

const size = (s: number[]) => s.reduce((a, b) => a * b, 1);

/** The op of `c` on the current backend, from fixed random data; results as flat arrays. */
async function runCase(c: OpCase): Promise<Float32Array[]> {
  const cin = c.x[4];
  const cout = c.cout ?? cin;
  const pad = c.pad ?? 'same';
  const x = tf.tensor5d(rand('x', size(c.x)), c.x);
  const f = tf.tensor5d(rand('f', 27 * cin * cout), [3, 3, 3, cin, cout]);
  const b = tf.tensor1d(rand('b', cout));
  const outs: tf.Tensor[] = [];
  const conv = tf.conv3d(x, f, 1, pad);
  const dy = tf.tensor(rand('dy', size(conv.shape)), conv.shape) as tf.Tensor5D;
  const e = tf.engine();
  switch (c.op) {
    case 'conv':
      outs.push(conv.clone());
      break;
    case 'convInput':
      outs.push(
        e.runKernel(
          'Conv3DBackpropInputV2',
          { dy, filter: f },
          { strides: [1, 1, 1], pad, inputShape: c.x },
        ) as tf.Tensor,
      );
      break;
    case 'convFilter':
      outs.push(
        e.runKernel(
          'Conv3DBackpropFilterV2',
          { x, dy },
          { strides: [1, 1, 1], pad, filterShape: [3, 3, 3, cin, cout] },
        ) as tf.Tensor,
      );
      break;
    case 'pool':
      outs.push(tf.maxPool3d(x, 2, 2, 'valid'));
      break;
    case 'poolGrad': {
      const y = tf.maxPool3d(x, 2, 2, 'valid');
      const g = tf.tensor(rand('g', size(y.shape)), y.shape);
      outs.push(
        e.runKernel(
          'MaxPool3DGrad',
          { dy: g, input: x, output: y },
          { filterSize: [2, 2, 2], strides: [2, 2, 2], pad: 'valid' },
        ) as tf.Tensor,
      );
      tf.dispose([y, g]);
      break;
    }
    case 'fused':
      outs.push(conv3dBiasRelu(x, f, b, pad));
      break;
    case 'fusedGrad': {
      const g = tf.grads((xx: tf.Tensor, ff: tf.Tensor, bb: tf.Tensor) =>
        tf.sum(tf.mul(conv3dBiasRelu(xx as tf.Tensor5D, ff as tf.Tensor5D, bb as tf.Tensor1D, pad), dy)),
      );
      outs.push(...g([x, f, b]));
      break;
    }
  }
  let data: Float32Array[];
  try {
    data = await Promise.all(outs.map((o) => o.data() as Promise<Float32Array>));
  } catch (err) {
    throw new Error(`${c.op} [${c.x}] on ${tf.getBackend()}/${activeKernels()}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  tf.dispose([x, f, b, conv, dy, ...outs]);
  return data;
}

function relErr(a: Float32Array[], ref: Float32Array[]): { err: number; refMax: number } {
  let num = 0;
  let den = 0;
  ref.forEach((r, k) => {
    if (r.length !== a[k].length) throw new Error(`length ${a[k].length} vs ${r.length}`);
    for (let i = 0; i < r.length; i++) {
      num = Math.max(num, Math.abs(a[k][i] - r[i]));
      den = Math.max(den, Math.abs(r[i]));
    }
  });
  return { err: num / Math.max(den, 1e-30), refMax: den };
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t = performance.now();
  const r = await fn();
  return [r, performance.now() - t];
}

export async function compareOps(cases: OpCase[], features: GpuFeatureName[] = []): Promise<OpResult[]> {
  const results: OpResult[] = [];
  for (const c of cases) {
    await on('webgpu-stock');
    const [stock, stockMs] = await timed(() => runCase(c));
    await on('webgpu-lab', features);
    await runCase(c); // compile
    const [lab, labMs] = await timed(() => runCase(c));
    let vsCpu: number | null = null;
    if (c.cpu) {
      await on('cpu');
      vsCpu = relErr(lab, await runCase(c)).err;
    }
    const s = relErr(lab, stock);
    results.push({
      name: `${c.op} [${c.x.join(',')}]→${c.cout ?? c.x[4]} ${c.pad ?? 'same'}`,
      vsStock: s.err,
      vsCpu,
      ms: { lab: labMs, stock: stockMs },
      refMax: s.refMax,
    });
  }
  await on('webgpu-lab');
  return results;
}

/** Gradients of every weight of a small LunaModel (tf.variableGrads), lab vs stock vs cpu. */
export async function modelGrads(
  input: LabConfigInput,
  batch: number,
  features: GpuFeatureName[] = [],
): Promise<{ vsStock: number; vsCpu: number; refMax: number }> {
  const config = resolveConfigOrThrow(input);
  const [d, h, w] = config.crop;
  const xData = rand('model-x', batch * d * h * w, true).map((v) => v * 2000 - 1000);
  const grads = async (b: Backend) => {
    await on(b, features);
    const model = buildLunaModel(config.model, config.crop, 5);
    const x = tf.tensor5d(xData, [batch, d, h, w, 1]);
    const { grads } = tf.variableGrads(
      () => tf.sum(tf.mul(model.apply(x, { training: true }) as tf.Tensor, tf.tensor1d([1, -2]))) as tf.Scalar,
    );
    const names = Object.keys(grads).sort();
    const out = await Promise.all(names.map((k) => grads[k].data() as Promise<Float32Array>));
    tf.dispose([x, ...Object.values(grads)]);
    model.dispose();
    return out;
  };
  const lab = await grads('webgpu-lab');
  const stock = await grads('webgpu-stock');
  const cpu = await grads('cpu');
  await on('webgpu-lab');
  const s = relErr(lab, stock);
  return { vsStock: s.err, vsCpu: relErr(lab, cpu).err, refMax: s.refMax };
}

/** What stock tfjs does with a broken shader and no guard: a warning and zeros. */
export async function brokenShaderWithoutGuard(): Promise<number[]> {
  await on('webgpu-lab');
  injectShaderFault('Conv3DTiledProgram');
  try {
    const x = tf.ones([1, 4, 4, 4, 4]) as tf.Tensor5D;
    const y = tf.conv3d(x, tf.ones([3, 3, 3, 4, 4]) as tf.Tensor5D, 1, 'same');
    return Array.from((await y.data()).slice(0, 4));
  } finally {
    injectShaderFault(null);
  }
}

/** Times of `reps` runs of one op with the given kernels (first run compiles), for tuning. */
export async function timeOp(
  c: OpCase,
  kernels: KernelKind,
  reps = 3,
  features: GpuFeatureName[] = [],
): Promise<number[]> {
  await on(kernels === 'lab' ? 'webgpu-lab' : 'webgpu-stock', features);
  const [n, , , , cin] = c.x;
  const cout = c.cout ?? cin;
  const x = tf.tensor5d(rand('x', size(c.x)), c.x);
  const f = tf.tensor5d(rand('f', 27 * cin * cout), [3, 3, 3, cin, cout]);
  const yShape: [number, number, number, number, number] = [n, c.x[1], c.x[2], c.x[3], cout];
  const dy = tf.tensor(rand('dy', size(yShape)), yShape) as tf.Tensor5D;
  const e = tf.engine();
  const run = (): tf.Tensor =>
    c.op === 'pool'
      ? tf.relu(dy) // an elementwise op of the output's size: the readback share of a timing
      : c.op === 'conv'
        ? tf.conv3d(x, f, 1, 'same')
        : c.op === 'convInput'
          ? (e.runKernel(
              'Conv3DBackpropInputV2',
              { dy, filter: f },
              { strides: [1, 1, 1], pad: 'same', inputShape: c.x },
            ) as tf.Tensor)
          : (e.runKernel(
              'Conv3DBackpropFilterV2',
              { x, dy },
              { strides: [1, 1, 1], pad: 'same', filterShape: [3, 3, 3, cin, cout] },
            ) as tf.Tensor);
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    const y = run();
    await y.data();
    y.dispose();
    times.push(performance.now() - t);
  }
  tf.dispose([x, f, dy]);
  return times;
}

/** Per-kernel times of one training step of the full LunaModel (tf.profile), for tuning. */
export async function profileStep(batch: number): Promise<{ name: string; ms: number; n: number }[]> {
  await on('webgpu-lab');
  const config = resolveConfigOrThrow({});
  const [d, h, w] = config.crop;
  const model = buildLunaModel(config.model, config.crop, 5);
  const x = tf.tensor5d(rand('px', batch * d * h * w), [batch, d, h, w, 1]);
  const step = async () => {
    const { value, grads } = tf.variableGrads(
      () => tf.sum(tf.mul(model.apply(x, { training: true }) as tf.Tensor, tf.tensor1d([1, -2]))) as tf.Scalar,
    );
    await value.data();
    tf.dispose([value, ...Object.values(grads)]);
  };
  await step();
  const info = await tf.profile(step);
  const by = new Map<string, { ms: number; n: number }>();
  for (const k of info.kernels) {
    const ms = Number(await k.kernelTimeMs);
    const e = by.get(k.name) ?? { ms: 0, n: 0 };
    e.ms += Number.isFinite(ms) ? ms : 0;
    e.n++;
    by.set(k.name, e);
  }
  tf.dispose(x);
  model.dispose();
  return [...by].map(([name, e]) => ({ name, ...e })).sort((a, b) => b.ms - a.ms);
}

export { activeKernels, featureUses };
