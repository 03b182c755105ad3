/**
 * The training side's handle on data workers (workers/data.worker.ts): dedicated workers
 * spawned from the worker that trains (nested workers), wrapped as the pool's endpoints.
 * Jobs go out with their crops' buffer transferred; a worker that fails to load or crashes
 * fails the jobs it holds (comlink alone would leave them waiting forever).
 */
import * as Comlink from 'comlink';
import { workerFailure } from '../data/worker-failure.ts';
import type { DataWorkerApi } from '../../workers/data.worker.ts';
import { augmentPool, defaultPoolSize, type AugmentEndpoint, type AugmentPool } from '../data/augment-pool.ts';

let spawned = 0;

export function spawnDataWorker(): AugmentEndpoint {
  const worker = new Worker(new URL('../../workers/data.worker.ts', import.meta.url), {
    type: 'module',
    name: `data-${++spawned}`,
  });
  const remote = Comlink.wrap<DataWorkerApi>(worker);
  const failure = workerFailure(worker, 'data worker');
  return {
    augment: (job) => failure.guard(remote.augment(Comlink.transfer(job, [job.crops.buffer]))),
    dispose: () => {
      remote[Comlink.releaseProxy]();
      worker.terminate();
    },
  };
}

/** A pool of data workers: `size` of them (0 = augment in this thread), by default one per
 *  core but one (see defaultPoolSize). */
export function dataWorkerPool(size = defaultPoolSize(globalThis.navigator?.hardwareConcurrency)): AugmentPool {
  return augmentPool(spawnDataWorker, size);
}
