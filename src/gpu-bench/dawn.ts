/**
 * WebGPU in Node through Dawn (the npm package `webgpu`, dawn.node): the lab's own backend
 * factory (src/model/backend.ts) and kernels then run unchanged, as in Chromium.
 *
 * Promise: `installDawn()` puts Dawn's `navigator.gpu` and the WebGPU globals (GPUBufferUsage, …)
 * into this realm once and resolves with the adapter it finds (name, vendor, architecture,
 * features, limits, and whether it is a software one), or with `available: false` and the reason
 * (package or `libvulkan.so.1` missing, no Vulkan driver/ICD): it never throws, so a test can skip
 * with that reason. `VK_ICD_FILENAMES` is left as the caller set it; `defaultIcd()` says which ICD a
 * machine without one set would use (the NVIDIA one when present, else Chromium's SwiftShader).
 * `releaseDawn()` drops the reference that would keep Node alive (dawn.node's README, "Lifetime").
 */
import { existsSync } from 'node:fs';
import { describeAdapter, isSoftwareAdapter } from '../model/backend.ts';

export interface DawnAdapter {
  available: true;
  /** describeAdapter's line, as a run records it. */
  description: string;
  vendor: string;
  architecture: string;
  device: string;
  software: boolean;
  features: string[];
  limits: Record<string, number>;
}
export type DawnStatus = DawnAdapter | { available: false; reason: string };

/** Where the ICDs this bench knows live: the GPU machine's NVIDIA one, Debian chromium's SwiftShader. */
export const NVIDIA_ICD = '/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json';
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

/** The ICD to use when VK_ICD_FILENAMES is not set: NVIDIA's when present, else SwiftShader, else none. */
export function defaultIcd(exists: (p: string) => boolean = existsSync): string | null {
  for (const p of [
    NVIDIA_ICD,
    '/usr/share/vulkan/icd.d/nvidia_icd.json',
    '/etc/vulkan/icd.d/nvidia_icd.json',
    SWIFTSHADER_ICD,
  ])
    if (exists(p)) return p;
  return null;
}

interface DawnGpu {
  requestAdapter(o?: { powerPreference?: string }): Promise<DawnRawAdapter | null>;
}
interface DawnRawAdapter {
  info?: { vendor?: string; architecture?: string; device?: string; description?: string };
  features: Iterable<string>;
  limits: Record<string, number>;
}
interface DawnModule {
  create(flags: string[]): DawnGpu;
  globals: Record<string, unknown>;
}

let installed: Promise<DawnStatus> | null = null;

export function installDawn(flags: string[] = []): Promise<DawnStatus> {
  installed ??= install(flags);
  return installed;
}

async function install(flags: string[]): Promise<DawnStatus> {
  let mod: DawnModule;
  try {
    mod = (await import('webgpu')) as unknown as DawnModule;
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    const hint = /libvulkan/.test(why)
      ? ' (install the Vulkan loader: apt-get install --no-install-recommends libvulkan1)'
      : ' (npm package webgpu, dawn.node)';
    return { available: false, reason: `dawn.node could not be loaded${hint}: ${why.split('\n')[0]}` };
  }
  const gpu = mod.create(flags);
  const g = globalThis as { navigator?: { gpu?: unknown } };
  Object.assign(globalThis, mod.globals);
  // Node 20 has no navigator; 21+ has one without gpu. tfjs-backend-webgpu reads globalThis.navigator.gpu.
  if (g.navigator) Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true, writable: true });
  else Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  let adapter: DawnRawAdapter | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (err) {
    adapter = null;
    void err;
  }
  if (!adapter) {
    releaseDawn();
    const icd = process.env.VK_ICD_FILENAMES;
    return {
      available: false,
      reason: `Dawn found no WebGPU adapter (VK_ICD_FILENAMES=${icd ?? 'unset'}${icd && !existsSync(icd) ? ': no such file' : ''}; a Vulkan driver's ICD is needed, e.g. ${SWIFTSHADER_ICD} from Debian's chromium)`,
    };
  }
  const info = adapter.info ?? {};
  // Dawn's GPUSupportedFeatures is a setlike without forEach: iterate it.
  const features = [...adapter.features];
  const limits: Record<string, number> = {};
  // GPUSupportedLimits keeps its values as prototype getters: for…in sees them, Object.keys does not.
  for (const k in adapter.limits) if (typeof adapter.limits[k] === 'number') limits[k] = adapter.limits[k];
  const description = describeAdapter(info);
  return {
    available: true,
    description,
    vendor: info.vendor ?? '',
    architecture: info.architecture ?? '',
    device: info.device ?? '',
    software: isSoftwareAdapter(description),
    features: features.sort(),
    limits,
  };
}

/** Lets Node exit: removes the navigator.gpu reference to Dawn's instance. */
export function releaseDawn(): void {
  const g = globalThis as { navigator?: { gpu?: unknown } };
  if (g.navigator && 'gpu' in g.navigator) delete g.navigator.gpu;
}
