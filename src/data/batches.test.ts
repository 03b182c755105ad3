import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { augmentBatch, type AugmentJob } from './augment-batch.ts';
import { augmentPool, type AugmentEndpoint } from './augment-pool.ts';
import type { AugmentConfig } from './augment.ts';
import type { CandidateInfo } from './luna-csv.ts';
import { createRng } from './rng.ts';
import { batchesOf, type BatchCropSource, type BatchWait, type SampleRef } from './batches.ts';

const BOOK: AugmentConfig = { flip: true, offset: 0.1, scale: 0.2, rotate: true, noise: 25 };
const SHAPE = [10, 12, 14] as const;
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

/** Candidate k's crop is CROPS[k % 5]; the crops stay the source's own (as the LRU's do). */
const source: BatchCropSource = {
  crop: SHAPE,
  get: async (c: CandidateInfo) => CROPS[c.xyz[0] % 5],
};
const candidate = (i: number): CandidateInfo => ({
  seriesUid: 's',
  xyz: [i, 0, 0],
  isNodule: i % 2 === 1,
  diameterMm: 0,
});
// 11 samples, batches of 4: every fourth without a seed (as if not augmented).
const SAMPLES: SampleRef[] = Array.from({ length: 11 }, (_, i) => ({
  candidate: candidate(i),
  label: (i % 2) as 0 | 1,
  ...(i % 4 === 3 ? {} : { augmentSeed: 1000 + i * 7 }),
}));
// n:digest:labels of each batch, as the lab's batchesOf (augmentCrop per sample on the training
// thread) gave them before augmentation moved to data workers.
const BEFORE = ['4:3e208fc972051f69:0101', '4:cc5fe3535a8cdbf7:0101', '3:0bda0e4725efe74e:010'];

function slowWorker(id: number, log: number[]): AugmentEndpoint {
  return {
    async augment(job: AugmentJob) {
      const copy = structuredClone(job, { transfer: [job.crops.buffer] });
      log.push(id);
      await new Promise((r) => setTimeout(r, 8 - 3 * id)); // later workers answer first
      return augmentBatch(copy);
    },
    dispose: () => undefined,
  };
}

async function collect(it: AsyncIterable<{ n: number; x: Float32Array; labels: Uint8Array }>): Promise<string[]> {
  const out: string[] = [];
  for await (const b of it) out.push(`${b.n}:${digest(b.x)}:${[...b.labels].join('')}`);
  return out;
}

describe('batchesOf with data workers', () => {
  it('gives the same batches as before the move, in-thread and with 1, 2 and 4 workers', async () => {
    expect(await collect(batchesOf(SAMPLES, 4, source, BOOK))).toEqual(BEFORE);
    for (const size of [1, 2, 4]) {
      const log: number[] = [];
      let n = 0;
      const pool = augmentPool(() => slowWorker(n++, log), size);
      expect(await collect(batchesOf(SAMPLES, 4, source, BOOK, { pool }))).toEqual(BEFORE);
      expect(new Set(log).size).toBe(Math.min(size, 3)); // prefetch = workers + 1: all of them busy
      pool.dispose();
    }
  });

  it("leaves the source's crops intact (a packed copy travels) and skips the pool without augmentation", async () => {
    const copies = CROPS.map((c) => c.slice());
    const pool = augmentPool(() => {
      throw new Error('no worker for unaugmented batches');
    }, 2);
    const plain = await collect(batchesOf(SAMPLES, 4, source, null, { pool }));
    expect(plain).toHaveLength(3);
    const withPool = augmentPool(() => slowWorker(0, []), 2);
    await collect(batchesOf(SAMPLES, 4, source, BOOK, { pool: withPool }));
    expect(CROPS).toEqual(copies);
  });

  it("measures the consumer's wait for its batches", async () => {
    const wait: BatchWait = { batches: 0, seconds: 0 };
    const pool = augmentPool(() => slowWorker(0, []), 1);
    for await (const b of batchesOf(SAMPLES, 4, source, BOOK, { pool, wait })) expect(b.n).toBeGreaterThan(0);
    expect(wait.batches).toBe(3);
    expect(wait.seconds).toBeGreaterThan(0.005); // at least the first batch's 8 ms in the worker
  });
});
