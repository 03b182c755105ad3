/**
 * Optional WebGPU device features (`gpuFeatures`: shader-f16, subgroups) for the lab's kernels.
 * tfjs-backend-webgpu 4.22 makes its device itself and asks only for timestamp-query and
 * bgra8unorm-storage; a device with more needs our own 'webgpu' backend factory, registered
 * before tfjs first initialises the backend in a realm (worker or page).
 *
 * Promise: `featureBackendFactory` asks the device for the stock features plus the granted
 * ones (asked AND offered by the adapter; `grantFeatures` says which and what is missing) on
 * the adapter it is given (no second requestAdapter), and hoists WGSL directives (`enable …;`,
 * `diagnostic(…);`) that a program's user code emits to the top of its shader module, where
 * WGSL requires them (tfjs puts its own declarations first). `hoistDirectives` is pure.
 */
import type { GpuFeatureName } from '../config/lab-config.ts';

export const GPU_FEATURES: readonly GpuFeatureName[] = ['shader-f16', 'subgroups'];

// The few WebGPU shapes used here (TypeScript's DOM lib has no WebGPU types).
export interface FeatureAdapterLike {
  features: { has(name: string): boolean; forEach?(fn: (name: string) => void): void };
  limits: Record<string, number>;
  info?: unknown;
  requestAdapterInfo?: () => Promise<unknown>;
  requestDevice(descriptor: {
    requiredFeatures: string[];
    requiredLimits: Record<string, number>;
  }): Promise<FeatureDeviceLike>;
}
interface FeatureDeviceLike {
  features: { has(name: string): boolean };
  createShaderModule(descriptor: { code: string; label?: string }): unknown;
}

/** Which asked features the adapter offers, and which it does not. */
export function grantFeatures(
  asked: readonly string[],
  offered: { has(name: string): boolean },
): { granted: GpuFeatureName[]; missing: string[] } {
  const want = [...new Set(asked)].sort();
  return {
    granted: want.filter((f): f is GpuFeatureName => (GPU_FEATURES as readonly string[]).includes(f) && offered.has(f)),
    missing: want.filter((f) => !offered.has(f) || !(GPU_FEATURES as readonly string[]).includes(f)),
  };
}

/** The adapter's feature names, sorted (for messages). */
export function adapterFeatureList(adapter: { features: { forEach?(fn: (name: string) => void): void } }): string[] {
  const out: string[] = [];
  adapter.features.forEach?.((f) => out.push(f));
  return out.sort();
}

const DIRECTIVE = /^[ \t]*(enable|requires|diagnostic)\b[^;{}]*;[ \t]*$/gm;

/** WGSL with every global directive line moved to the top (each once, in first-seen order). */
export function hoistDirectives(code: string): string {
  const found = code.match(DIRECTIVE);
  if (!found) return code;
  const unique = [...new Set(found.map((d) => d.trim()))];
  return `${unique.join('\n')}\n${code.replace(DIRECTIVE, '')}`;
}

/** The limits tfjs's own factory asks for (the adapter's maxima). */
const LIMITS = [
  'maxComputeWorkgroupStorageSize',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupSizeX',
  'maxComputeInvocationsPerWorkgroup',
];

/** A 'webgpu' backend factory like tfjs's, on `adapter`, with `granted` features on the device. */
export function featureBackendFactory(
  adapter: FeatureAdapterLike,
  granted: readonly GpuFeatureName[],
): () => Promise<unknown> {
  return async () => {
    const { WebGPUBackend } = await import('@tensorflow/tfjs-backend-webgpu');
    const requiredFeatures: string[] = [...granted];
    for (const f of ['timestamp-query', 'bgra8unorm-storage']) if (adapter.features.has(f)) requiredFeatures.push(f);
    const requiredLimits: Record<string, number> = {};
    for (const l of LIMITS) requiredLimits[l] = adapter.limits[l];
    const device = await adapter.requestDevice({ requiredFeatures, requiredLimits });
    const create = device.createShaderModule.bind(device);
    device.createShaderModule = (d) => create({ ...d, code: hoistDirectives(d.code) });
    const info = adapter.info ?? (await adapter.requestAdapterInfo?.());
    return new WebGPUBackend(device as never, info as never);
  };
}
