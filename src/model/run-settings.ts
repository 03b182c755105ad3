/**
 * The settings the running job (a training run, a bench) gives this realm's kernels and layers:
 * which kernels are registered, the WebGPU features the lab kernels may use, and the stream
 * dropout layers draw their mask seeds from. One record, not three module variables: the
 * kernels (kernels/features.ts, kernels/conv3d-bias-relu.ts) and the dropout layers (dropout.ts)
 * read it when they are called and keep no copy, so whoever sets it decides what they see.
 *
 * Promise: `runSettings()` is the record now; `updateRunSettings` replaces fields of it (used by
 * `useKernels` and `setDropoutRng`, which stay the only writers outside a scope). A run sets it
 * through `RunScope` (src/train/run-scope.ts), which takes `runSettings()` when the run starts
 * and puts it back when the run ends, so one run never sees another's settings.
 * Outside any run: stock kernels, no features, no dropout stream (a training call throws).
 */
import type { GpuFeatureName } from '../config/lab-config.ts';
import type { Rng } from '../data/rng.ts';

export type KernelKind = 'lab' | 'stock';

export interface RunSettings {
  /** The kernels registered for webgpu now (tfjs's registry is global: see kernels/index.ts). */
  readonly kernels: KernelKind;
  /** The optional WebGPU features the lab kernels may use (also checked on the device). */
  readonly gpuFeatures: readonly GpuFeatureName[];
  /** The stream every dropout layer without its own generator draws from (null: none). */
  readonly dropoutRng: Rng | null;
}

export const NO_RUN: RunSettings = Object.freeze({
  kernels: 'stock',
  gpuFeatures: Object.freeze([]),
  dropoutRng: null,
});

let current: RunSettings = NO_RUN;

export function runSettings(): RunSettings {
  return current;
}

export function updateRunSettings(changes: Partial<RunSettings>): void {
  current = Object.freeze({
    ...current,
    ...changes,
    ...(changes.gpuFeatures ? { gpuFeatures: Object.freeze([...changes.gpuFeatures]) } : {}),
  });
}
