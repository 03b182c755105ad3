/**
 * The kernel test page: `window.lunaKernelTests` runs the kernel checks (kernel-checks.ts: the
 * lab's WebGPU kernels against the stock webgpu kernels and the cpu backend) and drives small
 * training runs (lab vs stock kernels; a deliberately broken shader) for e2e/kernels.spec.ts.
 * Results are plain numbers; the spec holds the assertions. `initDevice` first (before any
 * other call) makes the page's WebGPU device with optional features (gpuFeatures).
 */
import { injectShaderFault, type KernelKind } from '../model/kernels/index.ts';
import type { GpuFeatureName } from '../config/lab-config.ts';
import { resolveConfigOrThrow, type LabConfigInput } from '../config/lab-config.ts';
import { freshLabStore, type LabStore } from '../store/lab-store.ts';
import { ingestFiles } from '../store/ingest.ts';
import { generateSynthetic } from '../data/synthetic.ts';
import { sourceFromBytes } from '../data/source.ts';
import { Trainer } from '../train/trainer.ts';
import {
  activeKernels,
  brokenShaderWithoutGuard,
  compareOps,
  featureUses,
  initDevice,
  modelGrads,
  profileStep,
  timeOp,
} from './kernel-checks.ts';

export type { OpCase, OpName, OpResult } from './kernel-checks.ts';

let dbCounter = 0;
async function freshDb(): Promise<LabStore> {
  const db = await freshLabStore(`luna-lab-kernel-test-${dbCounter++}`);
  const files = [...generateSynthetic({ scans: 2, size: 'tiny', seed: 4 })].map((f) =>
    sourceFromBytes(f.path, f.bytes),
  );
  await ingestFiles(db, files);
  return db;
}

const SMALL: LabConfigInput = {
  crop: [8, 16, 16],
  model: { blocks: 2, width: 4 },
  sampling: { epochSamples: 32, valStride: 3 },
  augment: { flip: false, offset: 0, scale: 0, rotate: false, noise: 0 },
  train: { epochs: 2, batchSize: 8, seed: 3, validationCadence: 1 },
  backend: 'webgpu',
};

/** One small run on `kernels` (and `gpuFeatures`); its status, error, adapter line, warnings and every logged metric. */
async function trainRun(kernels: KernelKind, fault: string | null = null, gpuFeatures: GpuFeatureName[] = []) {
  const db = await freshDb();
  try {
    injectShaderFault(fault);
    const run = await new Trainer(db).start(resolveConfigOrThrow({ ...SMALL, kernels, gpuFeatures }));
    return {
      status: run.status,
      error: run.error,
      backend: run.backend,
      adapter: run.adapter,
      warnings: run.warnings,
      history: run.history.map((p) => ({ epoch: p.epoch, values: p.values })),
    };
  } finally {
    injectShaderFault(null);
    db.close();
    await db.delete();
  }
}

const tests = {
  profileStep,
  timeOp,
  compareOps,
  modelGrads,
  trainRun,
  brokenShaderWithoutGuard,
  activeKernels,
  initDevice,
  featureUses,
};

declare global {
  interface Window {
    lunaKernelTests?: typeof tests;
  }
}

window.lunaKernelTests = tests;
document.documentElement.dataset.kernelTestsReady = 'true';
