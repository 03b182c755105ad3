/**
 * How a slab of clamped int16 voxels is kept on disk. After the HU clamp [-1000, 1000] the
 * high byte of a voxel takes a handful of values: a byte shuffle (low bytes, then high bytes)
 * puts them together, and deflate packs them far better than the interleaved int16
 * (0.38 vs 0.47 of raw on real LIDC slices). A delta along x before the shuffle did worse on
 * real CT (noise). Chosen by measurement (`npm run bench:codec`, BENCHMARKS.md "Slab codec").
 *
 * Promises: `decodeSlab(encodeSlab(v, c), c, n)` equals `v` bit for bit for every codec;
 * 'raw' is the layout of profiles written before compression (records without a codec). Pure:
 * runs in Node, workers and the page.
 */
import { deflateSync, inflateSync } from 'fflate';

export type SlabCodec = 'raw' | 'deflate' | 'shuffle-deflate' | 'delta-shuffle-deflate';
export const SLAB_CODECS: readonly SlabCodec[] = ['raw', 'deflate', 'shuffle-deflate', 'delta-shuffle-deflate'];

/** The codec new slabs are written with (see BENCHMARKS.md, "Slab codec"). */
export const STORED_CODEC: SlabCodec = 'shuffle-deflate';
/** fflate's deflate level for stored slabs: level 1 stored 2–3 % more than 6 on CT and encoded faster. */
export const STORED_LEVEL = 1;

/** Bytes of `voxels` as `codec` stores them. */
export function encodeSlab(voxels: Int16Array, codec: SlabCodec, level = STORED_LEVEL): Uint8Array {
  const bytes = new Uint8Array(voxels.buffer, voxels.byteOffset, voxels.byteLength);
  switch (codec) {
    case 'raw':
      return bytes.slice();
    case 'deflate':
      return deflateSync(bytes, { level: level as 1 });
    case 'shuffle-deflate':
      return deflateSync(shuffle(voxels), { level: level as 1 });
    case 'delta-shuffle-deflate':
      return deflateSync(shuffle(delta(voxels)), { level: level as 1 });
  }
}

/** The `voxelCount` voxels `bytes` hold under `codec`; a size mismatch names the slab. */
export function decodeSlab(bytes: Uint8Array, codec: SlabCodec, voxelCount: number, what = 'slab'): Int16Array {
  let out: Int16Array;
  switch (codec) {
    case 'raw':
      out =
        bytes.byteOffset % 2 === 0 && bytes.byteLength % 2 === 0
          ? new Int16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2)
          : new Int16Array(bytes.slice().buffer);
      break;
    case 'deflate': {
      const raw = inflateSync(bytes, { out: new Uint8Array(voxelCount * 2) });
      out = new Int16Array(raw.buffer, raw.byteOffset, raw.byteLength / 2);
      break;
    }
    case 'shuffle-deflate':
      out = unshuffle(inflateSync(bytes, { out: new Uint8Array(voxelCount * 2) }));
      break;
    case 'delta-shuffle-deflate':
      out = undelta(unshuffle(inflateSync(bytes, { out: new Uint8Array(voxelCount * 2) })));
      break;
  }
  if (out.length !== voxelCount)
    throw new Error(
      `${what}: holds ${out.length} voxels, expected ${voxelCount} (codec ${codec}); drop the scan again`,
    );
  return out;
}

/** The least a CT scan's raw int16 bytes take stored (for refusing a drop up front without
 *  reading it; the measured ratio on CT was 0.38–0.40, so a drop refused with this would not
 *  have fitted). */
export const MIN_STORED_RATIO = 0.3;

/** Low bytes first, then high bytes (little-endian int16). */
export function shuffle(v: Int16Array): Uint8Array {
  const n = v.length;
  const out = new Uint8Array(2 * n);
  for (let i = 0; i < n; i++) {
    const x = v[i];
    out[i] = x & 0xff;
    out[n + i] = (x >> 8) & 0xff;
  }
  return out;
}

export function unshuffle(b: Uint8Array): Int16Array {
  const n = b.length >> 1;
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) out[i] = b[i] | (b[n + i] << 8);
  return out;
}

/** Each voxel minus the one before it (wrapping in int16), the first kept. */
export function delta(v: Int16Array): Int16Array {
  const out = new Int16Array(v.length);
  let prev = 0;
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    out[i] = x - prev;
    prev = x;
  }
  return out;
}

/** In place: the running sum `delta` undid. */
export function undelta(d: Int16Array): Int16Array {
  let acc = 0;
  for (let i = 0; i < d.length; i++) {
    acc = ((acc + d[i]) << 16) >> 16;
    d[i] = acc;
  }
  return d;
}
