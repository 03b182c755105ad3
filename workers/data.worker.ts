/**
 * A data worker: augments batches for the training (or bench) worker that spawned it, so the
 * training thread only reads crops and feeds the GPU. Its comlink API is `DataWorkerApi`; the
 * crops come in and the float batch goes out as transferables (no copy of either buffer).
 * It runs src/data/augment-batch.ts, the same pure code Node runs in-thread.
 */
import * as Comlink from 'comlink';
import { augmentBatch, type AugmentJob } from '../src/data/augment-batch.ts';

export interface DataWorkerApi {
  /** The job's batch, augmented; the result's buffer is transferred to the caller. */
  augment(job: AugmentJob): Float32Array;
}

const api: DataWorkerApi = {
  augment(job) {
    const x = augmentBatch(job);
    return Comlink.transfer(x, [x.buffer]);
  },
};

Comlink.expose(api);
