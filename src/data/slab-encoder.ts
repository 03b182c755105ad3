/**
 * Where slabs get encoded for the cache: in this thread, or spread over a few encode workers.
 * Encoding was the slowest stage of ingest by far with deflate (≈25–40 MB/s per core here,
 * BENCHMARKS.md "Scale"), and is still a large one with zstd: a pool lets it use the other
 * cores while the ingest thread fetches, inflates and parses the next scan. Like the augment pool, it knows nothing of Worker:
 * it is given a function that spawns one endpoint, so the scheduling is tested in Node.
 *
 * Promises: `encode(v, codec)` resolves to `encodeSlab(v, codec)`'s bytes whatever the pool's
 * size or the endpoint chosen (endpoints run that same pure function); `v` itself is never
 * transferred or changed (endpoints get a copy of just its voxels) unless the caller hands it
 * over (`owned`: its buffer holds nothing else the caller keeps). Endpoints are spawned
 * lazily, at most `size`; each slab goes to the endpoint with the fewest slabs in flight.
 */
import { encodeSlab, loadSlabCodecs, type SlabCodec } from './slab-codec.ts';
import { endpointPool } from './endpoint-pool.ts';

export interface SlabEncoder {
  /** Encode workers it may use; 0 = encodes in the calling thread. */
  readonly size: number;
  /** `owned`: the caller hands `voxels` (its whole buffer) over, and it may be transferred. */
  encode(voxels: Int16Array, codec: SlabCodec, owned?: boolean): Promise<Uint8Array>;
  dispose(): void;
}

/** One encode worker as the pool sees it: it owns (may transfer) the voxels it is given. */
export interface SlabEncodeEndpoint {
  encode(voxels: Int16Array, codec: SlabCodec): Promise<Uint8Array>;
  dispose(): void;
}

/** Most encode workers by default: past the cores there is nothing to gain. */
export const MAX_ENCODE_WORKERS = 8;

/** One per core (the ingest thread mostly waits on fetches and IndexedDB), at most MAX_ENCODE_WORKERS. */
export function defaultEncoderSize(hardwareConcurrency: number | undefined): number {
  const cores = Number.isInteger(hardwareConcurrency) && hardwareConcurrency! > 0 ? hardwareConcurrency! : 2;
  return Math.min(MAX_ENCODE_WORKERS, cores);
}

/** A view of its whole buffer (so transferring the buffer moves nothing else). */
function isWhole(v: Int16Array): boolean {
  return v.byteOffset === 0 && v.byteLength === v.buffer.byteLength;
}

/** Size 0: every slab encoded here (Node, tests, and wherever workers cannot be spawned). */
export function inThreadEncoder(): SlabEncoder {
  return {
    size: 0,
    encode: (voxels, codec) => loadSlabCodecs().then(() => encodeSlab(voxels, codec)),
    dispose: () => undefined,
  };
}

/** Up to `size` endpoints from `spawn`; size 0 is the in-thread encoder. */
export function slabEncoderPool(spawn: () => SlabEncodeEndpoint, size: number): SlabEncoder {
  if (!Number.isInteger(size) || size < 0)
    throw new RangeError(`encode worker pool size must be an integer ≥ 0, got ${size}`);
  if (size === 0) return inThreadEncoder();
  const pool = endpointPool(spawn, size, 'encode worker pool');
  return {
    size,
    // Unless handed over, a copy of the slab alone: the caller keeps its volume, and only this
    // slab's bytes travel.
    encode: (voxels, codec, owned = false) =>
      pool.use((w) => w.encode(owned && isWhole(voxels) ? voxels : voxels.slice(), codec)),
    dispose: () => pool.dispose(),
  };
}
