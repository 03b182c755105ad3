/**
 * WebGPU errors made loud. tfjs only logs a warning when a shader fails to compile or a
 * dispatch is invalid, and the batch then reads as zeros; a run must stop instead. The guard
 * keeps validation / out-of-memory / internal error scopes open over each step and pops them
 * at step boundaries, listens for `uncapturederror` (errors outside any scope) and watches
 * `device.lost`. `check()` throws a GpuError with the browser's message.
 */
import * as tf from '@tensorflow/tfjs';

export class GpuError extends Error {
  override name = 'GpuError';
}

// The few WebGPU shapes used here (TypeScript's DOM lib has no WebGPU types).
interface GpuErrorLike {
  message: string;
  constructor: { name: string };
}
interface DeviceLike {
  pushErrorScope(filter: 'validation' | 'out-of-memory' | 'internal'): void;
  popErrorScope(): Promise<GpuErrorLike | null>;
  addEventListener(type: 'uncapturederror', fn: (e: Event & { error: GpuErrorLike }) => void): void;
  removeEventListener(type: 'uncapturederror', fn: (e: Event & { error: GpuErrorLike }) => void): void;
  lost: Promise<{ reason: string; message: string }>;
}

const FILTERS = ['validation', 'out-of-memory', 'internal'] as const;

function describe(e: GpuErrorLike, where: string): string {
  const kind =
    e.constructor?.name === 'GPUOutOfMemoryError'
      ? 'out of GPU memory'
      : e.constructor?.name === 'GPUInternalError'
        ? 'internal GPU error'
        : 'validation error';
  return `WebGPU ${kind} ${where}: ${e.message.trim()} — the run was stopped rather than train on invalid (zero) results`;
}

export class GpuErrorGuard {
  private open = 0;
  private first: string | null = null;
  private readonly onError = (e: Event & { error: GpuErrorLike }) => {
    e.preventDefault();
    this.first ??= describe(e.error, 'outside a training step');
  };

  private constructor(private readonly device: DeviceLike) {
    device.addEventListener('uncapturederror', this.onError);
    void device.lost.then((info) => {
      // "device lost" marks the run interrupted (resumable), as the trainer's isDeviceLoss expects.
      if (info.reason !== 'destroyed')
        this.first ??= `WebGPU device lost (${info.reason || 'unknown'}): ${info.message}`;
    });
  }

  /** A guard for tfjs's current backend, or null when it is not webgpu. */
  static forCurrentBackend(): GpuErrorGuard | null {
    if (tf.getBackend() !== 'webgpu') return null;
    const device = (tf.backend() as unknown as { device?: DeviceLike }).device;
    return device ? new GpuErrorGuard(device) : null;
  }

  /** Opens the scopes for the next step. */
  begin(): void {
    for (const f of FILTERS) this.device.pushErrorScope(f);
    this.open++;
  }

  /** Closes the open scopes (waiting for the GPU work in them) and throws the first error seen. */
  async check(where = 'during a training step'): Promise<void> {
    while (this.open > 0) {
      this.open--;
      for (let i = 0; i < FILTERS.length; i++) {
        const e = await this.device.popErrorScope();
        if (e) this.first ??= describe(e, where);
      }
    }
    if (this.first) throw new GpuError(this.first);
  }

  /** check(), then open fresh scopes: the call between steps. */
  async step(where?: string): Promise<void> {
    await this.check(where);
    this.begin();
  }

  async dispose(): Promise<void> {
    await this.check().catch(() => undefined);
    this.device.removeEventListener('uncapturederror', this.onError);
  }
}
