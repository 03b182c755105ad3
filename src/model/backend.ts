/**
 * Choosing the tfjs backend, with the fallback made explicit: the preferred backend, then
 * webgl, then cpu, each tried once; what failed and why comes back so the page can show it.
 *
 * Promise: `selectBackend` resolves (never rejects) with the backend tfjs now runs on. Failures
 * are checked before tfjs is asked where that is cheap (no `navigator.gpu`, no WebGPU adapter, no
 * WebGL), so Node degrades to cpu without tfjs's initialisation warnings. The WebGPU backend
 * package is imported only when WebGPU is tried. `adapter` describes the WebGPU adapter
 * (vendor, architecture, description from `adapter.info`, e.g. "google swiftshader SwiftShader
 * Device (Subzero)") when webgpu was chosen, else null. tfjs flags are left at their defaults.
 * Optional WebGPU features (`gpuFeatures`) are asked of the device when the adapter offers them;
 * `gpuFeatures` in the answer says which the device has and, in words, which it lacks and why.
 * A realm's WebGPU device is made once: features asked after it was made without them are
 * reported missing, never claimed.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendName, GpuFeatureName } from '../config/lab-config.ts';
import { adapterFeatureList, featureBackendFactory, grantFeatures, type FeatureAdapterLike } from './gpu-features.ts';

export interface BackendSelection {
  /** The backend tfjs runs on now. */
  backend: string;
  /** Backends tried before it, in order, that failed. */
  fellBackFrom: string[];
  /** The WebGPU adapter, when backend is webgpu. */
  adapter: string | null;
  /** Why each fallback happened ('webgpu: …; webgl: …'); absent when the first choice worked. */
  reason?: string;
  /** Present when optional WebGPU features were asked: those the device has (the lab kernels
   *  may use them), and a warning naming any asked feature it lacks and why. */
  gpuFeatures?: { enabled: GpuFeatureName[]; warning?: string };
}

// The few WebGPU shapes used here (TypeScript's DOM lib has no WebGPU types).
export interface GpuAdapterInfoLike {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
}
interface GpuAdapterLike {
  info?: GpuAdapterInfoLike;
  requestAdapterInfo?: () => Promise<GpuAdapterInfoLike>;
  /** Absent on test doubles. */
  features?: FeatureAdapterLike['features'];
}
interface GpuLike {
  requestAdapter(options?: { powerPreference?: 'low-power' | 'high-performance' }): Promise<GpuAdapterLike | null>;
}

export function fallbackOrder(preferred: BackendName): BackendName[] {
  return [...new Set<BackendName>([preferred, 'webgl', 'cpu'])];
}

/** Per preferred backend and asked features, the working selection made in this realm (worker):
 *  asked again, the answer is the same. A second `requestAdapter` after tfjs made its device broke
 *  later GPU reads in Chromium ("A valid external Instance reference no longer exists"). */
const selections = new Map<string, BackendSelection>();

/** The adapter this realm's WebGPU device was made on, once we made it (or saw tfjs make it). */
let madeDevice: { description: string; offered: string[] } | null = null;

export async function selectBackend(
  preferred: BackendName,
  features: readonly GpuFeatureName[] = [],
): Promise<BackendSelection> {
  const key = `${preferred}|${[...new Set(features)].sort().join(',')}`;
  const earlier = selections.get(key);
  if (earlier && tf.findBackend(earlier.backend) && (await tf.setBackend(earlier.backend))) return earlier;
  const chosen = await chooseBackend(preferred, features);
  // A fallback is asked again next time: the preferred backend may work by then.
  if (!chosen.fellBackFrom.length) selections.set(key, chosen);
  return chosen;
}

async function chooseBackend(preferred: BackendName, features: readonly GpuFeatureName[]): Promise<BackendSelection> {
  const failures: { name: string; why: string }[] = [];
  let granted: { enabled: GpuFeatureName[]; warning?: string } | undefined;
  for (const name of fallbackOrder(preferred)) {
    let adapter: string | null = null;
    try {
      if (name === 'webgpu') ({ description: adapter, features: granted } = await prepareWebGpu(features));
      if (name === 'webgl') checkWebGl();
      if (!(await tf.setBackend(name))) {
        throw new Error(`tfjs could not initialise it${adapter ? ` on adapter "${adapter}"` : ''} (see the console)`);
      }
      await tf.ready();
    } catch (err) {
      failures.push({ name, why: err instanceof Error ? err.message : String(err) });
      continue;
    }
    const out: BackendSelection = { backend: tf.getBackend(), fellBackFrom: failures.map((f) => f.name), adapter };
    if (failures.length) out.reason = failures.map((f) => `${f.name}: ${f.why}`).join('; ');
    if (features.length) {
      out.gpuFeatures =
        out.backend === 'webgpu' && granted
          ? { ...granted, enabled: granted.enabled.filter((f) => madeDeviceFeatures()?.has(f)) }
          : {
              enabled: [],
              warning: `gpuFeatures ${[...features].sort().join(', ')} not used: the run is on ${out.backend}, not webgpu`,
            };
    }
    return out;
  }
  // Only reachable if even cpu failed, which tfjs does not do; report it rather than throw.
  return {
    backend: tf.getBackend() ?? 'none',
    fellBackFrom: failures.map((f) => f.name),
    adapter: null,
    reason: failures.map((f) => `${f.name}: ${f.why}`).join('; '),
  };
}

/** The initialised webgpu backend's device features, or null when tfjs has not made it yet
 *  (`tf.findBackend` would start initialising it: the registry is read instead). */
function madeDeviceFeatures(): { has(name: string): boolean } | null {
  const made = (
    tf.engine() as unknown as {
      registry: Record<string, { device?: { features: { has(n: string): boolean } } } | undefined>;
    }
  ).registry.webgpu;
  return made?.device?.features ?? null;
}

/** Finds an adapter (else throws why) and registers tfjs's webgpu backend, or ours when `features`
 *  are asked and offered; returns the adapter's description and what became of the features. */
async function prepareWebGpu(
  features: readonly GpuFeatureName[],
): Promise<{ description: string; features?: { enabled: GpuFeatureName[]; warning?: string } }> {
  const made = madeDeviceFeatures();
  if (!made || !madeDevice) {
    const gpu = (globalThis as { navigator?: { gpu?: GpuLike } }).navigator?.gpu;
    if (!gpu)
      throw new Error(
        'navigator.gpu is missing (no WebGPU in this browser/worker; Chromium needs --enable-unsafe-webgpu without a GPU)',
      );
    // The same preference tfjs-backend-webgpu uses by default.
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) throw new Error('navigator.gpu.requestAdapter() returned no adapter');
    const description = describeAdapter(adapter.info ?? (await adapter.requestAdapterInfo?.()) ?? {});
    await import('@tensorflow/tfjs-backend-webgpu');
    madeDevice = { description, offered: adapter.features ? adapterFeatureList(adapter as FeatureAdapterLike) : [] };
    if (!made) {
      if (!features.length) return { description };
      const { granted, missing } = grantFeatures(features, adapter.features ?? new Set<string>());
      if (granted.length) {
        // Ours replaces tfjs's factory: possible only before tfjs makes the device in this realm.
        if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
        tf.registerBackend(
          'webgpu',
          featureBackendFactory(adapter as FeatureAdapterLike, granted) as () => Promise<tf.KernelBackend>,
          3,
        );
      }
      return {
        description,
        features: featureReport(
          granted,
          missing.map((f) => `${f} (the adapter does not offer it)`),
          madeDevice,
        ),
      };
    }
  }
  // This realm's device exists (see `selections` on asking for another adapter): it has what it has.
  const adapter = madeDevice;
  const { granted, missing } = grantFeatures(features, made);
  const why = missing.map((f) =>
    adapter.offered.includes(f)
      ? `${f} (this worker's WebGPU device was made earlier without it; reload to get it)`
      : `${f} (the adapter does not offer it)`,
  );
  return {
    description: adapter.description,
    features: features.length ? featureReport(granted, why, adapter) : undefined,
  };
}

function featureReport(
  enabled: GpuFeatureName[],
  missing: string[],
  adapter: { description: string; offered: string[] },
): { enabled: GpuFeatureName[]; warning?: string } {
  if (!missing.length) return { enabled };
  return {
    enabled,
    warning: `gpuFeatures: running without ${missing.join(', ')}; adapter "${adapter.description}" offers ${adapter.offered.join(', ') || 'no optional features'}`,
  };
}

/** The optional features of the adapter this realm's WebGPU device was made on (null before). */
export function webGpuAdapterFeatures(): string[] | null {
  return madeDevice ? [...madeDevice.offered] : null;
}

function checkWebGl(): void {
  // Without a canvas tfjs's HAS_WEBGL probe prints an error to the console: ask first.
  const g = globalThis as { OffscreenCanvas?: unknown; document?: unknown };
  if (g.OffscreenCanvas === undefined && g.document === undefined)
    throw new Error('WebGL is not available here (no canvas)');
  if (!tf.env().getBool('HAS_WEBGL')) throw new Error('WebGL is not available here');
}

export function describeAdapter(info: GpuAdapterInfoLike): string {
  const parts = [info.vendor, info.architecture, info.device, info.description].filter(
    (s): s is string => !!s && s.trim() !== '',
  );
  return parts.length ? [...new Set(parts)].join(' ') : 'unknown adapter';
}

/** A CPU-emulated adapter (Chromium's SwiftShader, Mesa's llvmpipe/lavapipe, WARP): what
 *  `--device gpu` must refuse, since it would train orders of magnitude slower. */
export function isSoftwareAdapter(description: string): boolean {
  return /swiftshader|llvmpipe|lavapipe|softpipe|microsoft basic render|\bwarp\b/i.test(description);
}
