import { beforeAll, describe, expect, it } from 'vitest';
import {
  SLAB_CODECS,
  STORED_CODEC,
  decodeSlab,
  delta,
  encodeSlab,
  loadSlabCodecs,
  shuffle,
  undelta,
  unshuffle,
  zstdContentSize,
} from './slab-codec.ts';

function ctLike(n: number): Int16Array {
  const v = new Int16Array(n);
  let x = 12345;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    v[i] = i % 97 < 40 ? -1000 : Math.max(-1000, Math.min(1000, ((i % 512) - 256) * 3 + (x % 41) - 20));
  }
  v[0] = 1000;
  v[n - 1] = -1000;
  return v;
}

describe('slab codecs', () => {
  beforeAll(() => loadSlabCodecs());

  it.each(SLAB_CODECS)('%s gives back the voxels bit for bit', (codec) => {
    const v = ctLike(16 * 64 * 64);
    const enc = encodeSlab(v, codec);
    expect(decodeSlab(enc, codec, v.length)).toEqual(v);
    if (codec !== 'raw') expect(enc.byteLength).toBeLessThan(v.byteLength);
  });

  it('reads a raw slab from an odd offset (a copy, not a misaligned view)', () => {
    const v = ctLike(10);
    const buf = new Uint8Array(21);
    buf.set(encodeSlab(v, 'raw'), 1);
    expect(decodeSlab(buf.subarray(1), 'raw', 10)).toEqual(v);
  });

  it('names the slab when it holds the wrong number of voxels', () => {
    const enc = encodeSlab(ctLike(100), 'shuffle-deflate');
    expect(() => decodeSlab(enc, 'shuffle-deflate', 120, 'series 1.2 slab 3')).toThrow(
      /series 1\.2 slab 3: holds 100 voxels, expected 120 \(codec shuffle-deflate\)/,
    );
  });

  it('stores new slabs with zstd, and a zstd slab of another size is refused from its header', () => {
    expect(STORED_CODEC).toBe('shuffle-zstd');
    const enc = encodeSlab(ctLike(100), 'shuffle-zstd');
    expect(zstdContentSize(enc)).toBe(200);
    expect(() => decodeSlab(enc, 'shuffle-zstd', 120, 'series 1.2 slab 3 tile 4')).toThrow(
      /series 1\.2 slab 3 tile 4: holds 100 voxels, expected 120 \(codec shuffle-zstd\)/,
    );
    // A header that lies (claims 2^40 bytes) is refused before zstd allocates anything.
    const lying = enc.slice();
    lying[4] = 0xe0; // 8-byte content size, single segment
    const big = new Uint8Array(lying.length + 7);
    big.set(lying.subarray(0, 5));
    big.set([0, 0, 0, 0, 0, 1, 0, 0], 5);
    expect(zstdContentSize(big)).toBe(2 ** 40);
    expect(() => decodeSlab(big, 'shuffle-zstd', 100, 'slab 9')).toThrow(/slab 9: holds 549755813888 voxels/);
    expect(() => decodeSlab(new Uint8Array(50), 'shuffle-zstd', 100, 'slab 9')).toThrow(
      /slab 9: is not a zstd frame with its size/,
    );
  });

  it('names a zstd slab whose body is corrupt', () => {
    const enc = encodeSlab(ctLike(4096), 'shuffle-zstd');
    const bad = enc.slice(0, enc.length - 9);
    expect(() => decodeSlab(bad, 'shuffle-zstd', 4096, 'slab 2')).toThrow(
      /slab 2: does not decode \(codec shuffle-zstd/,
    );
  });

  it('shuffle and delta are inverses, int16 wrap-around included', () => {
    const v = Int16Array.from([32767, -32768, 0, 1, -1, 1000, -1000]);
    expect(unshuffle(shuffle(v))).toEqual(v);
    expect(undelta(delta(v))).toEqual(v);
  });
});
