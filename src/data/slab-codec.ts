/**
 * How a slab of clamped int16 voxels is kept on disk. After the HU clamp [-1000, 1000] the
 * high byte of a voxel takes a handful of values: a byte shuffle (low bytes, then high bytes)
 * puts them together, and an entropy coder packs them far better than the interleaved int16
 * (0.38 vs 0.47 of raw on real LIDC slices). A delta along x before the shuffle did worse on
 * real CT (noise). zstd level 1 (WebAssembly, @bokuweb/zstd-wasm) stores a little less than
 * deflate level 1 and encodes ~8× faster, decodes ~3× faster: deflate's encode bounded ingest.
 * Chosen by measurement (`npm run bench:codec`, BENCHMARKS.md "Slab codec").
 *
 * zstd needs its WebAssembly module: `await loadSlabCodecs()` once per thread before the first
 * encode or decode of a zstd codec (the async entry points of the store do).
 *
 * Promises: `decodeSlab(encodeSlab(v, c), c, n)` equals `v` bit for bit for every codec;
 * 'raw' is the layout of profiles written before compression (records without a codec), and
 * slabs written with any earlier codec still read. A stored slab that claims another size than
 * its tile is refused before anything is inflated. Runs in Node, workers and the page.
 */
import { deflateSync, inflateSync } from 'fflate';
import * as zstd from '@bokuweb/zstd-wasm';

export type SlabCodec = 'raw' | 'deflate' | 'shuffle-deflate' | 'delta-shuffle-deflate' | 'shuffle-zstd';
export const SLAB_CODECS: readonly SlabCodec[] = [
  'raw',
  'deflate',
  'shuffle-deflate',
  'delta-shuffle-deflate',
  'shuffle-zstd',
];

/** The codec new slabs are written with (see BENCHMARKS.md, "Slab codec"). */
export const STORED_CODEC: SlabCodec = 'shuffle-zstd';
/** The level stored slabs are written at: zstd 1 (and deflate 1 before it) stored within 1–3 %
 *  of the slower levels on CT. */
export const STORED_LEVEL = 1;

let zstdReady: Promise<void> | undefined;
let zstdLoaded = false;

/** Load the codecs' WebAssembly (zstd) in this thread; resolves at once after the first call. */
export function loadSlabCodecs(): Promise<void> {
  zstdReady ??= zstd.init().then(
    () => {
      zstdLoaded = true;
    },
    (e: unknown) => {
      zstdReady = undefined;
      throw new Error(`slab codec shuffle-zstd: its WebAssembly did not load (${String(e)})`);
    },
  );
  return zstdReady;
}

function needZstd(): void {
  if (!zstdLoaded) throw new Error('slab codec shuffle-zstd: call loadSlabCodecs() in this thread first');
}

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
    case 'shuffle-zstd':
      needZstd();
      return zstd.compress(shuffle(voxels), level);
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
    case 'shuffle-zstd': {
      needZstd();
      // zstd sizes its output from the frame header: check it first, so a corrupt header
      // cannot make it allocate more than the tile.
      const size = zstdContentSize(bytes);
      if (size !== voxelCount * 2)
        throw new Error(
          `${what}: ${size === undefined ? 'is not a zstd frame with its size' : `holds ${size / 2} voxels`}, expected ${voxelCount} (codec ${codec}); drop the scan again`,
        );
      try {
        out = unshuffle(zstd.decompress(bytes));
      } catch (e) {
        throw new Error(`${what}: does not decode (codec ${codec}: ${String(e)}); drop the scan again`, {
          cause: e,
        });
      }
      break;
    }
  }
  if (out.length !== voxelCount)
    throw new Error(
      `${what}: holds ${out.length} voxels, expected ${voxelCount} (codec ${codec}); drop the scan again`,
    );
  return out;
}

/** The least a CT scan's raw int16 bytes take stored (for refusing a drop up front without
 *  reading it; the measured ratio on CT was 0.37–0.40, so a drop refused with this would not
 *  have fitted). */
export const MIN_STORED_RATIO = 0.3;

/** The content size a zstd frame's header declares (RFC 8878 §3.1.1), or undefined when the
 *  bytes are no zstd frame or the frame does not say. */
export function zstdContentSize(b: Uint8Array): number | undefined {
  if (b.length < 6 || b[0] !== 0x28 || b[1] !== 0xb5 || b[2] !== 0x2f || b[3] !== 0xfd) return undefined;
  const fhd = b[4];
  const fcsFlag = fhd >> 6;
  const single = (fhd >> 5) & 1;
  const dictBytes = [0, 1, 2, 4][fhd & 3];
  const at = 5 + (single ? 0 : 1) + dictBytes;
  const fcsBytes = [single ? 1 : 0, 2, 4, 8][fcsFlag];
  if (fcsBytes === 0 || at + fcsBytes > b.length) return undefined;
  let size = 0;
  for (let i = fcsBytes - 1; i >= 0; i--) size = size * 256 + b[at + i];
  return fcsBytes === 2 ? size + 256 : size;
}

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
