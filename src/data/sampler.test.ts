import { stratifiedSubset } from './stratified-subset.ts';
import { describe, expect, it } from 'vitest';
import { defaultConfig, withField } from '../config/lab-config.ts';
import type { CandidateInfo } from './luna-csv.ts';
import { createRng } from './rng.ts';
import {
  balancedPick,
  createSampling,
  splitCandidates,
  TrainingSampler,
  validationSamples,
  type TrainingSample,
} from './sampler.ts';

function cand(uid: string, k: number, isNodule: boolean): CandidateInfo {
  return { seriesUid: uid, xyz: [k, -k, k / 2], isNodule, diameterMm: isNodule ? 5 + (k % 7) : 0 };
}

/** `nPos` positives then `nNeg` negatives (the book's sort puts nodules first), over `series` uids. */
function makeList(nPos: number, nNeg: number, series = 7): CandidateInfo[] {
  const out: CandidateInfo[] = [];
  for (let k = 0; k < nPos + nNeg; k++) out.push(cand(`1.2.${(k * 5) % series}`, k, k < nPos));
  return out;
}

/** The book's `LunaDataset.__getitem__` (p2ch12), transcribed line for line. */
function bookGetItem<T>(ndx: number, ratioInt: number, candidateInfoList: T[], posList: T[], negativeList: T[]): T {
  if (ratioInt) {
    let posNdx = Math.floor(ndx / (ratioInt + 1));
    if (ndx % (ratioInt + 1)) {
      let negNdx = ndx - 1 - posNdx;
      negNdx %= negativeList.length;
      return negativeList[negNdx];
    }
    posNdx %= posList.length;
    return posList[posNdx];
  }
  return candidateInfoList[ndx];
}

const key = (c: CandidateInfo): string => `${c.seriesUid}|${c.xyz.join(',')}`;
const keys = (s: readonly { candidate: CandidateInfo }[]): string[] => s.map((x) => key(x.candidate));

describe('splitCandidates', () => {
  it('by candidate: validation = list[::N], training = the rest, both in list order', () => {
    const list = makeList(6, 19); // 25 candidates
    const { train, validation, warnings } = splitCandidates(list, { validation: 'candidate', valStride: 10 });
    expect(validation).toEqual([list[0], list[10], list[20]]);
    expect(train).toEqual(list.filter((_, i) => i % 10 !== 0));
    expect(train).toHaveLength(22);
    expect(warnings).toEqual([]);
    const s3 = splitCandidates(list, { validation: 'candidate', valStride: 3 });
    expect(s3.validation).toHaveLength(9); // 0, 3, ..., 24
    expect(s3.train).toHaveLength(16);
  });

  it('by series: every Nth sorted seriesuid goes to validation with all its candidates', () => {
    const list = makeList(10, 90, 13);
    const uids = [...new Set(list.map((c) => c.seriesUid))].sort();
    expect(uids).toHaveLength(13);
    const { train, validation } = splitCandidates(list, { validation: 'series', valStride: 5 });
    const valUids = new Set(validation.map((c) => c.seriesUid));
    expect([...valUids].sort()).toEqual([uids[0], uids[5], uids[10]]);
    expect(train.some((c) => valUids.has(c.seriesUid))).toBe(false);
    expect(validation).toEqual(list.filter((c) => valUids.has(c.seriesUid)));
    expect(train).toEqual(list.filter((c) => !valUids.has(c.seriesUid)));
    expect(train.length + validation.length).toBe(100);
  });

  it('warns (does not throw) when a half has no positives or is empty', () => {
    // Positives at 1..4 only: every 10th (0, 10, ...) holds none of them.
    const list = [
      cand('a', 0, false),
      ...[1, 2, 3, 4].map((k) => cand('a', k, true)),
      ...makeList(0, 20).map((c, k) => cand(c.seriesUid, k + 5, false)),
    ];
    const s = splitCandidates(list, { validation: 'candidate', valStride: 10 });
    expect(s.warnings).toHaveLength(1);
    expect(s.warnings[0]).toMatch(
      /validation set has no positive candidates \(3 negatives; validation = every 10th candidate\)/,
    );

    // One series holds every positive and goes to validation.
    const bySeries = [cand('s0', 0, true), cand('s0', 1, false), cand('s1', 2, false), cand('s2', 3, false)];
    const t = splitCandidates(bySeries, { validation: 'series', valStride: 3 });
    expect(t.warnings).toHaveLength(1);
    expect(t.warnings[0]).toMatch(/training set has no positive candidates.*balanced sampling/);

    const all = splitCandidates(makeList(2, 3), { validation: 'candidate', valStride: 1 });
    expect(all.train).toEqual([]);
    expect(all.warnings[0]).toMatch(/training set is empty/);
  });

  it('rejects a stride that is not a positive integer', () => {
    expect(() => splitCandidates(makeList(1, 1), { validation: 'candidate', valStride: 0 })).toThrow(/valStride/);
    expect(() => splitCandidates(makeList(1, 1), { validation: 'series', valStride: 2.5 })).toThrow(/valStride/);
  });
});

describe('balancedPick', () => {
  it("is the book's __getitem__ index arithmetic", () => {
    for (const ratio of [1, 2, 3, 7]) {
      for (const [nPos, nNeg] of [
        [1, 1],
        [3, 10],
        [10, 3],
        [17, 250],
      ]) {
        const pos = Array.from({ length: nPos }, (_, i) => `p${i}`);
        const neg = Array.from({ length: nNeg }, (_, i) => `n${i}`);
        for (let ndx = 0; ndx < 500; ndx++) {
          const p = balancedPick(ndx, ratio, nPos, nNeg);
          expect(p.positive ? pos[p.index] : neg[p.index]).toBe(bookGetItem(ndx, ratio, [], pos, neg));
        }
      }
    }
  });
});

describe('TrainingSampler', () => {
  const list = makeList(12, 140);
  const train = splitCandidates(list, { validation: 'candidate', valStride: 10 }).train;
  const trainPos = train.filter((c) => c.isNodule);
  const trainNeg = train.filter((c) => !c.isNodule);

  for (const ratio of [1, 3]) {
    it(`ratio ${ratio}: an epoch is the book's __getitem__ over this epoch's shuffled lists`, () => {
      const s = new TrainingSampler(train, { ratio, epochSamples: 400 }, createRng(5));
      const epoch = s.nextEpoch();
      expect(epoch).toHaveLength(400);
      // Recover the shuffled lists: positives at ndx = k(ratio+1), negatives in order of appearance.
      const pos = epoch
        .filter((_, i) => i % (ratio + 1) === 0)
        .slice(0, trainPos.length)
        .map((x) => x.candidate);
      const neg = epoch
        .filter((_, i) => i % (ratio + 1) !== 0)
        .slice(0, trainNeg.length)
        .map((x) => x.candidate);
      expect(pos.map(key).sort()).toEqual(trainPos.map(key).sort());
      expect(neg.map(key).sort()).toEqual(trainNeg.map(key).sort());
      expect(pos.map(key)).not.toEqual(trainPos.map(key)); // shuffled
      for (let ndx = 0; ndx < epoch.length; ndx++) {
        expect(epoch[ndx].candidate).toBe(bookGetItem(ndx, ratio, train, pos, neg));
        expect(epoch[ndx].label).toBe(ndx % (ratio + 1) === 0 ? 1 : 0);
        expect(epoch[ndx].label).toBe(epoch[ndx].candidate.isNodule ? 1 : 0);
      }
      // Reshuffled every epoch (the book's shuffleSamples).
      expect(keys(s.nextEpoch())).not.toEqual(keys(epoch));
    });
  }

  it('epochSamples 0 = one sample per training candidate; otherwise as asked', () => {
    expect(new TrainingSampler(train, { ratio: 1, epochSamples: 0 }, createRng(1)).nextEpoch()).toHaveLength(
      train.length,
    );
    expect(new TrainingSampler(train, { ratio: 0, epochSamples: 0 }, createRng(1)).nextEpoch()).toHaveLength(
      train.length,
    );
    expect(new TrainingSampler(train, { ratio: 2, epochSamples: 1000 }, createRng(1)).epochLength).toBe(1000);
  });

  it('unbalanced (ratio 0): every training candidate once per epoch, reshuffled each epoch', () => {
    const s = new TrainingSampler(train, { ratio: 0, epochSamples: 0 }, createRng(9));
    const e1 = s.nextEpoch();
    const e2 = s.nextEpoch();
    for (const e of [e1, e2]) {
      expect(keys(e).sort()).toEqual(train.map(key).sort());
      for (const x of e) expect(x.label).toBe(x.candidate.isNodule ? 1 : 0);
    }
    expect(keys(e1)).not.toEqual(train.map(key));
    expect(keys(e2)).not.toEqual(keys(e1));
    // A longer epoch cycles through the shuffled list; a shorter one takes its head.
    const long = new TrainingSampler(train, { ratio: 0, epochSamples: 2 * train.length + 5 }, createRng(9)).nextEpoch();
    expect(keys(long.slice(0, train.length))).toEqual(keys(e1));
    expect(keys(long.slice(train.length, 2 * train.length))).toEqual(keys(e1));
    expect(keys(long.slice(2 * train.length))).toEqual(keys(e1.slice(0, 5)));
    const short = new TrainingSampler(train, { ratio: 0, epochSamples: 10 }, createRng(9)).nextEpoch();
    expect(keys(short)).toEqual(keys(e1.slice(0, 10)));
  });

  it('balanced epochs see every positive about equally often', () => {
    const s = new TrainingSampler(train, { ratio: 1, epochSamples: 10 * trainPos.length * 2 }, createRng(3));
    const counts = new Map<string, number>();
    for (const x of s.nextEpoch())
      if (x.label === 1) counts.set(key(x.candidate), (counts.get(key(x.candidate)) ?? 0) + 1);
    expect([...counts.values()]).toEqual(trainPos.map(() => 10));
  });

  it('is deterministic for a seed and differs between seeds', () => {
    const run = (seed: number): TrainingSample[][] => {
      const s = new TrainingSampler(train, { ratio: 1, epochSamples: 0 }, createRng(seed));
      return [s.nextEpoch(), s.nextEpoch()];
    };
    const a = run(11);
    const b = run(11);
    const c = run(12);
    expect(a.map(keys)).toEqual(b.map(keys));
    expect(a.map((e) => e.map((x) => x.augmentSeed))).toEqual(b.map((e) => e.map((x) => x.augmentSeed)));
    expect(a.map(keys)).not.toEqual(c.map(keys));
  });

  it('gives each sample a non-zero integer augmentSeed < 2^31, distinct across samples', () => {
    const s = new TrainingSampler(train, { ratio: 3, epochSamples: 5000 }, createRng(2));
    const seeds = [...s.nextEpoch(), ...s.nextEpoch()].map((x) => x.augmentSeed);
    for (const v of seeds) {
      expect(Number.isInteger(v)).toBe(true);
      expect(v).toBeGreaterThanOrEqual(1);
      expect(v).toBeLessThan(2 ** 31);
    }
    expect(new Set(seeds).size).toBeGreaterThan(seeds.length - 5);
  });

  for (const ratio of [0, 2]) {
    it(`ratio ${ratio}: state at epoch k + restore gives exactly the uninterrupted epoch k+1`, () => {
      const opts = { ratio, epochSamples: 0 };
      const straight = new TrainingSampler(train, opts, createRng(77));
      const epochs = [1, 2, 3, 4].map(() => straight.nextEpoch());

      const first = new TrainingSampler(train, opts, createRng(77));
      first.nextEpoch();
      first.nextEpoch();
      const saved = JSON.parse(JSON.stringify(first.state())) as ReturnType<TrainingSampler['state']>;
      expect(saved.epoch).toBe(2);

      // A fresh process: the sampler may even be built with another seed; the state decides.
      const resumed = new TrainingSampler(train, opts, createRng(1));
      resumed.restore(saved);
      expect(resumed.epoch).toBe(2);
      for (const want of epochs.slice(2)) {
        const got = resumed.nextEpoch();
        expect(keys(got)).toEqual(keys(want));
        expect(got.map((x) => x.augmentSeed)).toEqual(want.map((x) => x.augmentSeed));
        expect(got.map((x) => x.label)).toEqual(want.map((x) => x.label));
      }
      expect(resumed.epoch).toBe(4);
    });
  }

  it('refuses a state saved for other data or options, and leaves itself untouched', () => {
    const s = new TrainingSampler(train, { ratio: 1, epochSamples: 0 }, createRng(4));
    s.nextEpoch();
    const other = new TrainingSampler(train.slice(1), { ratio: 1, epochSamples: 0 }, createRng(4));
    expect(() => other.restore(s.state())).toThrow(/saved with/);
    const before = s.state();
    expect(() => s.restore({ ...before, augmentRng: { key: [1, 2, 3, 4], s: [1, 2, 3, -1] } })).toThrow(/uint32/);
    expect(s.state()).toEqual(before);
  });

  it('cannot balance without positives or negatives, and says why', () => {
    const negOnly = makeList(0, 20);
    expect(() => new TrainingSampler(negOnly, { ratio: 1, epochSamples: 0 }, createRng(1))).toThrow(
      /0 positives and 20 negatives/,
    );
    expect(new TrainingSampler(negOnly, { ratio: 0, epochSamples: 0 }, createRng(1)).nextEpoch()).toHaveLength(20);
    expect(() => new TrainingSampler([], { ratio: 0, epochSamples: 0 }, createRng(1))).toThrow(/empty/);
    expect(() => new TrainingSampler(train, { ratio: -1, epochSamples: 0 }, createRng(1))).toThrow(/ratio/);
  });
});

describe('validationSamples and createSampling', () => {
  it('validation: every candidate once, in list order, with labels and no augmentation seed', () => {
    const list = makeList(3, 7);
    const v = validationSamples(list);
    expect(v.map((x) => x.candidate)).toEqual(list);
    expect(v.map((x) => x.label)).toEqual(list.map((c) => (c.isNodule ? 1 : 0)));
    expect(v.every((x) => !('augmentSeed' in x))).toBe(true);
  });

  it('createSampling wires the config: split, seeded sampler, validation list', () => {
    const list = makeList(30, 300, 20);
    let cfg = withField(defaultConfig(), 'sampling.validation', 'series');
    cfg = withField(cfg, 'sampling.valStride', 4);
    cfg = withField(cfg, 'train.seed', 123);
    const a = createSampling(list, cfg);
    const b = createSampling(list, cfg);
    expect(a.split).toEqual(splitCandidates(list, { validation: 'series', valStride: 4 }));
    expect(a.validation.map((x) => x.candidate)).toEqual(a.split.validation);
    expect(a.sampler.ratio).toBe(1);
    expect(a.sampler.epochLength).toBe(a.split.train.length);
    expect(keys(a.sampler.nextEpoch())).toEqual(keys(b.sampler.nextEpoch()));
  });

  it('createSampling takes the sampling.trainingLength subset before the split', () => {
    const list = makeList(30, 300, 20);
    let cfg = withField(defaultConfig(), 'sampling.trainingLength', 33);
    cfg = withField(cfg, 'train.seed', 5);
    const a = createSampling(list, cfg);
    const used = [...a.split.train, ...a.split.validation];
    expect(used).toHaveLength(33);
    expect(used.filter((c) => c.isNodule)).toHaveLength(3);
    expect(a.split).toEqual(splitCandidates(stratifiedSubset(list, 33, 5), cfg.sampling));
    expect(a.split.validation.some((c) => c.isNodule)).toBe(true);
  });
});
