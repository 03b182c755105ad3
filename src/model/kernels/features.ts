/**
 * Which optional WebGPU features the lab's kernels use now: those `useKernels` was given (the
 * run's `gpuFeatures`, kept in the run settings: ../run-settings.ts) that the backend's device
 * also has. A program variant built with a
 * feature is counted, so a test can tell that the variant really ran.
 *
 * - `subgroups`: the split-K reduction of the weight gradient sums its chunks across a
 *   workgroup with `subgroupAdd` (f32, same tolerance as the plain path).
 * - `shader-f16`: the forward Conv3D (and the fused conv + bias + ReLU) stages its input halo and
 *   weights in workgroup memory as f16 and accumulates in f32 (looser tolerance: see the e2e).
 */
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import type { GpuFeatureName } from '../../config/lab-config.ts';
import { runSettings, updateRunSettings } from '../run-settings.ts';

const uses = new Map<GpuFeatureName, number>();

export function setKernelFeatures(features: readonly GpuFeatureName[]): void {
  updateRunSettings({ gpuFeatures: [...new Set(features)] });
}

export function kernelFeatures(): GpuFeatureName[] {
  return [...runSettings().gpuFeatures].sort();
}

/** Whether kernels on `backend` should use `feature` now. */
export function useFeature(backend: WebGPUBackend, feature: GpuFeatureName): boolean {
  if (!runSettings().gpuFeatures.includes(feature)) return false;
  const device = (backend as unknown as { device?: { features?: { has(f: string): boolean } } }).device;
  return !!device?.features?.has(feature);
}

/** Called by a program built with `feature`. */
export function noteFeatureUse(feature: GpuFeatureName): void {
  uses.set(feature, (uses.get(feature) ?? 0) + 1);
}

/** Programs built with each feature so far in this realm. */
export function featureUses(): Partial<Record<GpuFeatureName, number>> {
  return Object.fromEntries(uses);
}
