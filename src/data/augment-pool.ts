/**
 * Where batches get augmented: in this thread (a pool of size 0) or spread over a few data
 * workers. The pool knows nothing of Worker or comlink: it is given a function that spawns one
 * endpoint (src/train/data-workers.ts spawns a dedicated worker; tests pass plain objects), so
 * the scheduling is tested in Node.
 *
 * Promises:
 * - `run(job)` resolves to `augmentBatch(job)`'s bytes whatever the pool's size, the worker
 *   chosen or the order in which workers finish: workers only run the pure core, and the
 *   caller keeps its batches in order (batchesOf holds one promise per batch).
 * - Endpoints are spawned lazily, at most `size`, and each job goes to the endpoint with the
 *   fewest jobs in flight; `dispose` ends them all (jobs still in flight never settle).
 */
import { augmentBatch, type AugmentJob } from './augment-batch.ts';
import { endpointPool } from './endpoint-pool.ts';

/** One data worker as the pool sees it. */
export interface AugmentEndpoint {
  augment(job: AugmentJob): Promise<Float32Array>;
  dispose(): void;
}

export interface AugmentPool {
  /** Data workers it may use; 0 = augments in the calling thread. */
  readonly size: number;
  run(job: AugmentJob): Promise<Float32Array>;
  dispose(): void;
}

/** Most data workers a pool uses by default: 8 × ~400 crops/s covers the 3,256 samples/s
 *  PyTorch trains on one H100, and more would crowd the training thread and the GPU driver. */
export const MAX_DATA_WORKERS = 8;

/** hardwareConcurrency − 1 (a core for the training thread), at least 1, at most MAX_DATA_WORKERS. */
export function defaultPoolSize(hardwareConcurrency: number | undefined): number {
  const cores = Number.isInteger(hardwareConcurrency) && hardwareConcurrency! > 0 ? hardwareConcurrency! : 2;
  return Math.min(MAX_DATA_WORKERS, Math.max(1, cores - 1));
}

/** The pool of size 0: every job augmented here, now (the Node tests' and the CLI's path). */
export function inThreadPool(): AugmentPool {
  return {
    size: 0,
    run: (job) => Promise.resolve().then(() => augmentBatch(job)),
    dispose: () => undefined,
  };
}

/** Up to `size` endpoints from `spawn`; size 0 is the in-thread pool. */
export function augmentPool(spawn: () => AugmentEndpoint, size: number): AugmentPool {
  if (!Number.isInteger(size) || size < 0)
    throw new RangeError(`data worker pool size must be an integer ≥ 0, got ${size}`);
  if (size === 0) return inThreadPool();
  const pool = endpointPool(spawn, size, 'data worker pool');
  return { size, run: (job) => pool.use((w) => w.augment(job)), dispose: () => pool.dispose() };
}
