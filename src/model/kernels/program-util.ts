/**
 * Helpers shared by the lab's WebGPU programs: flat views of tensors (our shaders index
 * buffers themselves, so tfjs only needs 1-D shapes and emits no rank-5 helpers), and the
 * test-only fault hook that swaps one program's shader for invalid WGSL.
 */
import type { TensorInfo } from '@tensorflow/tfjs';

/** The same buffer seen as a 1-D tensor (no copy; the caller keeps the reference). */
export function flat(t: TensorInfo): TensorInfo {
  return { dataId: t.dataId, shape: [t.shape.reduce((a, b) => a * b, 1)], dtype: t.dtype };
}

/** A program's 1-D output given its real shape (takes over the reference). */
export function reshaped(t: TensorInfo, shape: number[]): TensorInfo {
  return { dataId: t.dataId, shape, dtype: t.dtype };
}

let faulty: string | null = null;

/** Test-only: the next compiles of programs whose class name is `programName` get invalid WGSL
 *  (null turns it off). Lets a test prove a shader error fails the run instead of yielding zeros. */
export function injectShaderFault(programName: string | null): void {
  faulty = programName;
}

export function maybeFaulty(programName: string, code: string): string {
  return faulty === programName ? `${code}\nfn broken( { this is not WGSL }` : code;
}

/** Fault-injected programs must not reuse (or poison) the cached pipeline of the good shader. */
export function faultKey(programName: string): string {
  return faulty === programName ? '_fault' : '';
}
