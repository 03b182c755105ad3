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
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendName } from '../config/lab-config.ts';

export interface BackendSelection {
  /** The backend tfjs runs on now. */
  backend: string;
  /** Backends tried before it, in order, that failed. */
  fellBackFrom: string[];
  /** The WebGPU adapter, when backend is webgpu. */
  adapter: string | null;
  /** Why each fallback happened ('webgpu: …; webgl: …'); absent when the first choice worked. */
  reason?: string;
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
}
interface GpuLike {
  requestAdapter(options?: { powerPreference?: 'low-power' | 'high-performance' }): Promise<GpuAdapterLike | null>;
}

export function fallbackOrder(preferred: BackendName): BackendName[] {
  return [...new Set<BackendName>([preferred, 'webgl', 'cpu'])];
}

/** Per preferred backend, the working selection made in this realm (worker): asked again, the
 *  answer is the same. A second `requestAdapter` after tfjs made its device broke later GPU reads in
 *  Chromium ("A valid external Instance reference no longer exists"). */
const selections = new Map<BackendName, BackendSelection>();

export async function selectBackend(preferred: BackendName): Promise<BackendSelection> {
  const earlier = selections.get(preferred);
  if (earlier && tf.findBackend(earlier.backend) && (await tf.setBackend(earlier.backend))) return earlier;
  const chosen = await chooseBackend(preferred);
  // A fallback is asked again next time: the preferred backend may work by then.
  if (!chosen.fellBackFrom.length) selections.set(preferred, chosen);
  return chosen;
}

async function chooseBackend(preferred: BackendName): Promise<BackendSelection> {
  const failures: { name: string; why: string }[] = [];
  for (const name of fallbackOrder(preferred)) {
    let adapter: string | null = null;
    try {
      if (name === 'webgpu') adapter = await prepareWebGpu();
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

/** Finds an adapter (else throws why) and registers tfjs's webgpu backend; returns the adapter's description. */
async function prepareWebGpu(): Promise<string> {
  const gpu = (globalThis as { navigator?: { gpu?: GpuLike } }).navigator?.gpu;
  if (!gpu) throw new Error('navigator.gpu is missing (no WebGPU in this browser/worker; Chromium needs --enable-unsafe-webgpu without a GPU)');
  // The same preference tfjs-backend-webgpu uses by default.
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new Error('navigator.gpu.requestAdapter() returned no adapter');
  const description = describeAdapter(adapter.info ?? (await adapter.requestAdapterInfo?.()) ?? {});
  await import('@tensorflow/tfjs-backend-webgpu');
  return description;
}

function checkWebGl(): void {
  // Without a canvas tfjs's HAS_WEBGL probe prints an error to the console: ask first.
  const g = globalThis as { OffscreenCanvas?: unknown; document?: unknown };
  if (g.OffscreenCanvas === undefined && g.document === undefined) throw new Error('WebGL is not available here (no canvas)');
  if (!tf.env().getBool('HAS_WEBGL')) throw new Error('WebGL is not available here');
}

export function describeAdapter(info: GpuAdapterInfoLike): string {
  const parts = [info.vendor, info.architecture, info.device, info.description].filter((s): s is string => !!s && s.trim() !== '');
  return parts.length ? [...new Set(parts)].join(' ') : 'unknown adapter';
}

/** A CPU-emulated adapter (Chromium's SwiftShader, Mesa's llvmpipe/lavapipe, WARP): what
 *  `--device gpu` must refuse, since it would train orders of magnitude slower. */
export function isSoftwareAdapter(description: string): boolean {
  return /swiftshader|llvmpipe|lavapipe|softpipe|microsoft basic render|\bwarp\b/i.test(description);
}
