/**
 * An encode worker: compresses voxel slabs for the ingest worker that spawned it, so slab
 * encoding (the slowest stage of ingest) runs on the other cores. Its comlink API is
 * `SlabEncodeApi`; the slab comes in and its bytes go out as transferables. It runs
 * src/data/slab-codec.ts, the same pure code the in-thread encoder runs.
 */
import * as Comlink from 'comlink';
import { encodeSlab, loadSlabCodecs, type SlabCodec } from '../src/data/slab-codec.ts';

export interface SlabEncodeApi {
  /** The slab's bytes as `codec` stores them; the result's buffer is transferred to the caller. */
  encode(voxels: Int16Array, codec: SlabCodec): Promise<Uint8Array>;
}

const api: SlabEncodeApi = {
  async encode(voxels, codec) {
    await loadSlabCodecs();
    const bytes = encodeSlab(voxels, codec);
    return Comlink.transfer(bytes, [bytes.buffer]);
  },
};

Comlink.expose(api);
