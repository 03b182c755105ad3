import { describe, expect, it } from 'vitest';
import { SLAB_CODECS, decodeSlab, delta, encodeSlab, shuffle, undelta, unshuffle } from './slab-codec.ts';

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

  it('shuffle and delta are inverses, int16 wrap-around included', () => {
    const v = Int16Array.from([32767, -32768, 0, 1, -1, 1000, -1000]);
    expect(unshuffle(shuffle(v))).toEqual(v);
    expect(undelta(delta(v))).toEqual(v);
  });
});
