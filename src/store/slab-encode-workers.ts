/**
 * The ingest side's handle on encode workers (workers/slab-encode.worker.ts): dedicated
 * workers spawned from the worker that ingests (nested workers), wrapped as the encode pool's
 * endpoints. A slab goes out transferred (the pool sends a copy); a worker that fails to load
 * or crashes fails the slabs it holds, and with them its series (comlink alone would wait forever).
 */
import * as Comlink from 'comlink';
import { workerFailure } from '../data/worker-failure.ts';
import type { SlabEncodeApi } from '../../workers/slab-encode.worker.ts';
import {
  defaultEncoderSize,
  slabEncoderPool,
  type SlabEncodeEndpoint,
  type SlabEncoder,
} from '../data/slab-encoder.ts';

let spawned = 0;

/** An encode worker (nested in this one); one that fails to load or crashes fails its slabs. */
export function spawnEncodeWorker(): SlabEncodeEndpoint {
  const worker = new Worker(new URL('../../workers/slab-encode.worker.ts', import.meta.url), {
    type: 'module',
    name: `slab-encode-${++spawned}`,
  });
  const remote = Comlink.wrap<SlabEncodeApi>(worker);
  const failure = workerFailure(worker, 'slab encode worker');
  return {
    encode: (voxels, codec) => failure.guard(remote.encode(Comlink.transfer(voxels, [voxels.buffer]), codec)),
    dispose: () => {
      remote[Comlink.releaseProxy]();
      worker.terminate();
    },
  };
}

/** A pool of `size` encode workers (0 = encode in this thread), by default one per core. */
export function slabEncodeWorkers(size = defaultEncoderSize(globalThis.navigator?.hardwareConcurrency)): SlabEncoder {
  return slabEncoderPool(spawnEncodeWorker, size);
}
