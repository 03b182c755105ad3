import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { augmentCrop, augmentCropInto, type AugmentConfig } from './augment.ts';
import { augmentBatch, packCrops, type AugmentJob } from './augment-batch.ts';
import { augmentPool, defaultPoolSize, inThreadPool, MAX_DATA_WORKERS, type AugmentEndpoint } from './augment-pool.ts';
import type { CropSize } from './crop.ts';
import { createRng } from './rng.ts';

const BOOK: AugmentConfig = { flip: true, offset: 0.1, scale: 0.2, rotate: true, noise: 25 };
const SHAPE: CropSize = [10, 12, 14];
const VOX = 10 * 12 * 14;
const CROPS = Array.from({ length: 5 }, (_, k) => {
  const r = createRng(`crop${k}`);
  return Int16Array.from({ length: VOX }, () => Math.round(r.next() * 2000 - 1000));
});
const digest = (a: Float32Array) =>
  createHash('sha256')
    .update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength))
    .digest('hex')
    .slice(0, 16);

// sha-256 prefixes of augmentCrop(CROPS[seed % 5], SHAPE, cfg, seed) for seeds 1, 2, 3, 1234567,
// computed with the lab's augmentCrop before augmentation moved to data workers: the move must
// not change a single bit of any seed's crop.
const BEFORE: Record<string, { cfg: AugmentConfig; digests: string[] }> = {
  book: { cfg: BOOK, digests: ['77c22f2647bceeb1', 'c62bef056fb2c2bf', 'd6a0f19c1027bc9c', '5546ccd426c9bbd4'] },
  noNoise: {
    cfg: { ...BOOK, noise: 0 },
    digests: ['57c0bd34d1e48d7f', 'f5191385abd452fa', '6187481438347796', '2a87cf2024a0a8be'],
  },
  flipOnly: {
    cfg: { flip: true, offset: 0, scale: 0, rotate: false, noise: 0 },
    digests: ['9481697e7fa9496b', '271fdd67af1dcbdd', 'b63416b7babdcdd6', '1c95ccc530f5e292'],
  },
};
const SEEDS = [1, 2, 3, 1234567];

describe('augmentation bytes before and after the move to data workers', () => {
  for (const [name, { cfg, digests }] of Object.entries(BEFORE)) {
    it(`augmentCrop, augmentCropInto and augmentBatch give the old bytes (${name})`, () => {
      expect(SEEDS.map((s) => digest(augmentCrop(CROPS[s % 5], SHAPE, cfg, s)))).toEqual(digests);
      const big = new Float32Array(3 * VOX);
      expect(
        SEEDS.map((s) => digest(augmentCropInto(CROPS[s % 5], SHAPE, cfg, s, big.subarray(VOX, 2 * VOX)))),
      ).toEqual(digests);
      const x = augmentBatch({
        shape: SHAPE,
        cfg,
        crops: packCrops(
          SEEDS.map((s) => CROPS[s % 5]),
          VOX,
        ),
        seeds: SEEDS,
      });
      expect(SEEDS.map((_, k) => digest(x.subarray(k * VOX, (k + 1) * VOX)))).toEqual(digests);
    });
  }

  it('copies crops with a null seed as float, untouched', () => {
    const x = augmentBatch({ shape: SHAPE, cfg: BOOK, crops: packCrops([CROPS[0], CROPS[1]], VOX), seeds: [null, 7] });
    expect([...x.subarray(0, VOX)]).toEqual([...CROPS[0]]);
    expect(x.subarray(VOX)).toEqual(augmentCrop(CROPS[1], SHAPE, BOOK, 7));
  });

  it('names the mismatch when crops and seeds disagree', () => {
    expect(() => augmentBatch({ shape: SHAPE, cfg: BOOK, crops: packCrops([CROPS[0]], VOX), seeds: [1, 2] })).toThrow(
      /1680 voxels, 2 crops of \[10, 12, 14\] need 3360/,
    );
    expect(() => packCrops([CROPS[0], new Int16Array(3)], VOX)).toThrow(/crop 1 has 3 voxels/);
  });
});

/** An endpoint like a data worker: the job cloned across (buffer handed over), answers after
 *  a delay that differs per job, so later jobs often finish first. */
function fakeWorker(log: string[], id: number): AugmentEndpoint {
  let disposed = false;
  return {
    async augment(job: AugmentJob) {
      if (disposed) throw new Error('disposed');
      const copy = structuredClone(job, { transfer: [job.crops.buffer] });
      log.push(`w${id}`);
      await new Promise((r) => setTimeout(r, (copy.seeds[0] ?? 0) % 7));
      return augmentBatch(copy);
    },
    dispose: () => void (disposed = true),
  };
}

describe('the data worker pool', () => {
  const jobs = () =>
    Array.from({ length: 9 }, (_, b) => {
      const seeds = [0, 1, 2].map((k) => ((b * 3 + k) % 4 === 3 ? null : 100 + b * 3 + k));
      return {
        shape: SHAPE,
        cfg: BOOK,
        crops: packCrops(
          [0, 1, 2].map((k) => CROPS[(b + k) % 5]),
          VOX,
        ),
        seeds,
      };
    });

  it('gives the same batches with 0, 1, 2 and 4 workers, all jobs in flight at once', async () => {
    const bySize = new Map<number, string[]>();
    for (const size of [0, 1, 2, 4]) {
      const log: string[] = [];
      let n = 0;
      const pool = augmentPool(() => fakeWorker(log, n++), size);
      const out = await Promise.all(jobs().map((j) => pool.run(j)));
      bySize.set(size, out.map(digest));
      expect(n).toBe(size); // spawned lazily, never more than asked
      if (size > 1) expect(new Set(log).size).toBe(size); // the work was spread
      pool.dispose();
    }
    const reference = jobs().map((j) => digest(augmentBatch(j)));
    for (const got of bySize.values()) expect(got).toEqual(reference);
  });

  it('sends a job to an idle worker first, then to the least busy', async () => {
    const log: string[] = [];
    let n = 0;
    const pool = augmentPool(() => fakeWorker(log, n++), 2);
    await pool.run(jobs()[0]);
    await pool.run(jobs()[1]);
    expect(log).toEqual(['w0', 'w0']); // one idle worker: no second spawned
    await Promise.all(
      jobs()
        .slice(0, 4)
        .map((j) => pool.run(j)),
    );
    expect(log.slice(2).sort()).toEqual(['w0', 'w0', 'w1', 'w1']);
    pool.dispose();
  });

  it('ends its workers on dispose and refuses jobs after', async () => {
    const disposed: number[] = [];
    let n = 0;
    const pool = augmentPool(() => {
      const id = n++;
      return { augment: async (j) => augmentBatch(j), dispose: () => void disposed.push(id) };
    }, 3);
    await Promise.all(
      jobs()
        .slice(0, 3)
        .map((j) => pool.run(j)),
    );
    pool.dispose();
    expect(disposed.sort()).toEqual([0, 1, 2]);
    await expect(pool.run(jobs()[0])).rejects.toThrow(/disposed/);
  });

  it('size 0 is the in-thread pool; a bad size is refused by name', async () => {
    const pool = augmentPool(() => {
      throw new Error('must not spawn');
    }, 0);
    expect(pool.size).toBe(0);
    expect(digest(await pool.run(jobs()[2]))).toBe(digest(await inThreadPool().run(jobs()[2])));
    expect(() => augmentPool(() => fakeWorker([], 0), -1)).toThrow(/pool size must be an integer ≥ 0, got -1/);
  });

  it('is sized one per core but one, at least 1, at most MAX_DATA_WORKERS', () => {
    expect(defaultPoolSize(1)).toBe(1);
    expect(defaultPoolSize(2)).toBe(1);
    expect(defaultPoolSize(4)).toBe(3);
    expect(defaultPoolSize(64)).toBe(MAX_DATA_WORKERS);
    expect(defaultPoolSize(undefined)).toBe(1);
  });
});
