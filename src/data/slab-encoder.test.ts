/**
 * The slab encode pool: the same bytes as the in-thread codec whatever endpoint encodes a slab
 * or the order they finish in, the caller's voxels untouched, endpoints spawned lazily.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeSlab, loadSlabCodecs, STORED_CODEC } from './slab-codec.ts';
import { defaultEncoderSize, inThreadEncoder, slabEncoderPool, type SlabEncodeEndpoint } from './slab-encoder.ts';

function ctLike(n: number, seed: number): Int16Array {
  const v = new Int16Array(n);
  for (let i = 0; i < n; i++) v[i] = ((i * 7919 + seed * 104729) % 2001) - 1000;
  return v;
}

/** Endpoints that encode like a worker would, finishing in the reverse order of arrival, and
 *  that take ownership of what they get (they detach it, as a transfer does). */
function fakeWorkers() {
  const spawned: { jobs: number }[] = [];
  let release: (() => void)[] = [];
  const spawn = (): SlabEncodeEndpoint => {
    const me = { jobs: 0 };
    spawned.push(me);
    return {
      encode: (voxels, codec) =>
        new Promise((ok) => {
          me.jobs++;
          const bytes = encodeSlab(voxels, codec);
          structuredClone(voxels.buffer, { transfer: [voxels.buffer] });
          release.unshift(() => ok(bytes));
        }),
      dispose: () => undefined,
    };
  };
  const finishAll = () => {
    const r = release;
    release = [];
    for (const f of r) f();
  };
  return { spawn, spawned, finishAll };
}

describe('slabEncoderPool', () => {
  beforeAll(() => loadSlabCodecs());

  it('gives encodeSlab’s bytes for every slab, whichever endpoint finishes first, and leaves the voxels intact', async () => {
    const { spawn, spawned, finishAll } = fakeWorkers();
    const pool = slabEncoderPool(spawn, 2);
    const volume = ctLike(5 * 64 * 64, 3);
    const before = volume.slice();
    const slabs = [0, 1, 2, 3, 4].map((z) => volume.subarray(z * 4096, (z + 1) * 4096));
    const jobs = slabs.map((s) => pool.encode(s, STORED_CODEC));
    finishAll();
    const got = await Promise.all(jobs);
    expect(got).toEqual(slabs.map((s) => encodeSlab(s, STORED_CODEC)));
    expect(volume).toEqual(before);
    expect(volume.buffer.byteLength).toBe(before.byteLength);
    // Spawned lazily up to the size, and the slabs spread over both.
    expect(spawned.length).toBe(2);
    expect(spawned.map((s) => s.jobs).sort()).toEqual([2, 3]);
  });

  it('transfers a slab handed over instead of copying it, but never a view into a larger buffer', async () => {
    const { spawn, finishAll } = fakeWorkers();
    const pool = slabEncoderPool(spawn, 1);
    const own = ctLike(4096, 5);
    const want = encodeSlab(own, STORED_CODEC);
    const volume = ctLike(3 * 4096, 6);
    const view = volume.subarray(4096, 8192);
    const jobs = [pool.encode(own, STORED_CODEC, true), pool.encode(view, STORED_CODEC, true)];
    finishAll();
    const [a] = await Promise.all(jobs);
    expect(a).toEqual(want);
    // Handed over: the endpoint took (detached) it. The view's volume was copied from, not taken.
    expect(own.buffer.byteLength).toBe(0);
    expect(volume.buffer.byteLength).toBe(3 * 4096 * 2);
  });

  it('size 0 encodes in this thread; a bad size and a disposed pool are refused', async () => {
    const v = ctLike(1000, 1);
    const pool = slabEncoderPool(() => {
      throw new Error('no endpoint should be spawned');
    }, 0);
    expect(pool.size).toBe(0);
    expect(await pool.encode(v, 'shuffle-deflate')).toEqual(encodeSlab(v, 'shuffle-deflate'));
    expect(await inThreadEncoder().encode(v, 'raw')).toEqual(encodeSlab(v, 'raw'));
    expect(() => slabEncoderPool(fakeWorkers().spawn, 1.5)).toThrow(/integer ≥ 0, got 1.5/);
    const live = slabEncoderPool(fakeWorkers().spawn, 1);
    live.dispose();
    await expect(live.encode(v, 'raw')).rejects.toThrow(/disposed/);
  });

  it('uses every core by default, at most 8', () => {
    expect(defaultEncoderSize(2)).toBe(2);
    expect(defaultEncoderSize(64)).toBe(8);
    expect(defaultEncoderSize(undefined)).toBe(2);
  });
});
