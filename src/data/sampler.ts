/**
 * The book's LunaDataset sampling (p2ch11/p2ch12 `dsets.py`), deterministic from our seeded RNG:
 * the train/validation split, the balanced (ratio) sampling of training epochs, and the
 * validation list.
 *
 * Promises:
 * - `splitCandidates` keeps the input order (the book's sort from `matchCandidates`) inside both
 *   halves and never throws for an unlucky split: a half without positives comes back as a
 *   warning the caller can show.
 * - `TrainingSampler` produces each epoch's ordered sample list as a pure function of the seed,
 *   the training list, the options and the epoch number; `state()` at an epoch boundary and
 *   `restore()` resume it so that the next epoch is exactly what an uninterrupted run would give.
 * - Every training sample carries its own non-zero `augmentSeed`, so its augmentation does not
 *   depend on batch order, prefetching or which worker augments it.
 *
 * What the book does, and what we do (p2ch12 `LunaDataset`, `training.py`):
 * - The book's DataLoader is built without `shuffle` (default False) for training and
 *   validation alike; the dataset orders itself. With ratio_int > 0, `doTraining` calls
 *   `shuffleSamples()` at the start of every epoch, which shuffles the negative and positive
 *   lists; `__getitem__` then interleaves them by index arithmetic (`balancedPick`), so
 *   sample order within an epoch is deterministic given the two lists: for ratio 1 it is
 *   pos, neg, pos, neg, ... We do exactly that and do NOT shuffle the index order again.
 * - The book shuffles the lists in place, each epoch's shuffle on top of the last. We shuffle a
 *   fresh copy of the given order each epoch instead: the same distribution (a uniform shuffle
 *   of anything is uniform), and the epoch boundary state is then just the RNG state.
 * - The book's constructor also shuffles the whole list once (`sortby_str='random'`, unseeded).
 *   With ratio > 0 that is washed out by `shuffleSamples`; with ratio 0 it is the only shuffle,
 *   so the book's unbalanced epochs all have the same order. We reshuffle every unbalanced
 *   epoch instead (one pass over the training candidates in a fresh random order).
 * - The book's validation set is shuffled once at construction too; order does not affect
 *   validation metrics, so ours keeps the list order (reproducible, easy to inspect).
 * - The book's balanced epoch is 200,000 samples; ours is `epochSamples`, with 0 meaning the
 *   number of training candidates.
 * - The malignancy task (`task: 'malignancy'`, src/data/malignancy.ts) labels malignant nodules 1
 *   and the rest 0, always draws training epochs with the three-way `malignancyRatio` (shuffling
 *   not-nodules, then benign, then malignant each epoch), and validates on the nodules only.
 */
import type { LabConfig, TaskName, ValidationSplit } from '../config/lab-config.ts';
import type { CandidateInfo } from './luna-csv.ts';
import { malignancyPick, malignancyRatioProblem, type MalignancyRatio } from './malignancy.ts';
import type { Rng, RngState } from './rng.ts';
import { createRng, rngFromState } from './rng.ts';
import { stratifiedSubset } from './stratified-subset.ts';

export interface SplitOptions {
  readonly validation: ValidationSplit;
  /** Every valStride-th candidate (or series), starting with the first, is for validation. */
  readonly valStride: number;
}

export interface CandidateSplit {
  readonly train: CandidateInfo[];
  readonly validation: CandidateInfo[];
  /** Human-readable problems with the split (no positives, an empty half); empty when fine. */
  readonly warnings: string[];
}

/**
 * The book's split. 'candidate': validation = `list[::valStride]`, training = the rest
 * (`del list[::valStride]`). 'series': the distinct seriesuids sorted by code point, every
 * valStride-th of them (0, N, 2N, ...) with all its candidates to validation, so no scan is
 * seen in both halves. Both halves keep the input order.
 */
export function splitCandidates(
  list: readonly CandidateInfo[],
  opts: SplitOptions,
  task: TaskName = 'nodule',
): CandidateSplit {
  const { validation: kind, valStride } = opts;
  if (!Number.isInteger(valStride) || valStride < 1) {
    throw new RangeError(`valStride must be an integer >= 1, got ${valStride}`);
  }
  const train: CandidateInfo[] = [];
  const validation: CandidateInfo[] = [];
  if (kind === 'candidate') {
    for (let i = 0; i < list.length; i++) (i % valStride === 0 ? validation : train).push(list[i]);
  } else if (kind === 'series') {
    // Plain `<` comparison = code-point order for LUNA16's ASCII uids, as Python's sorted().
    const uids = [...new Set(list.map((c) => c.seriesUid))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const valUids = new Set(uids.filter((_, i) => i % valStride === 0));
    for (const c of list) (valUids.has(c.seriesUid) ? validation : train).push(c);
  } else {
    throw new RangeError(`unknown validation split "${String(kind)}" (candidate, series)`);
  }
  return { train, validation, warnings: splitWarnings(train, validation, opts, task) };
}

function splitWarnings(
  train: readonly CandidateInfo[],
  validation: readonly CandidateInfo[],
  opts: SplitOptions,
  task: TaskName,
): string[] {
  const how = `validation = every ${opts.valStride}th ${opts.validation}`;
  if (task === 'malignancy') return malignancySplitWarnings(train, validation, how);
  const out: string[] = [];
  for (const [name, half] of [
    ['training', train],
    ['validation', validation],
  ] as const) {
    const pos = countPositives(half);
    if (half.length === 0) {
      out.push(`The ${name} set is empty (${how}); use more data or another split.`);
    } else if (pos === 0) {
      const consequence =
        name === 'training'
          ? 'the model cannot learn nodules and balanced sampling (ratio > 0) cannot run'
          : 'recall, precision and F1 cannot be measured';
      out.push(
        `The ${name} set has no positive candidates (${half.length} negatives; ${how}): ${consequence}. ` +
          'Use more series, or split by candidate.',
      );
    }
  }
  return out;
}

function malignancySplitWarnings(
  train: readonly CandidateInfo[],
  validation: readonly CandidateInfo[],
  how: string,
): string[] {
  const out: string[] = [];
  for (const [name, half] of [
    ['training', train],
    ['validation', validation],
  ] as const) {
    const mal = half.filter((c) => c.isNodule && c.malignant).length;
    const nodules = half.filter((c) => c.isNodule).length;
    if (mal === 0 || mal === nodules) {
      out.push(
        `The ${name} set has ${mal} malignant and ${nodules - mal} benign nodules (${how}): ` +
          (name === 'training' ? 'the model cannot learn malignancy' : 'AUC and the ROC cannot be measured') +
          '. Use more series (and annotations_with_malignancy.csv), or split by candidate.',
      );
    }
  }
  return out;
}

function countPositives(list: readonly CandidateInfo[]): number {
  let n = 0;
  for (const c of list) if (c.isNodule) n++;
  return n;
}

export interface Sample {
  readonly candidate: CandidateInfo;
  readonly label: 0 | 1;
}

export interface TrainingSample extends Sample {
  /** Seed for `augmentCrop`, in [1, 2^31 - 1] (never 0: tfjs reads seed 0 as unseeded). */
  readonly augmentSeed: number;
}

function labelOf(c: CandidateInfo, task: TaskName = 'nodule'): 0 | 1 {
  if (task === 'malignancy') return c.isNodule && c.malignant ? 1 : 0;
  return c.isNodule ? 1 : 0;
}

/**
 * Validation samples: every candidate once, in list order, never shuffled, never augmented.
 * The malignancy task validates on the nodules only (benign vs malignant), as the book does.
 */
export function validationSamples(list: readonly CandidateInfo[], task: TaskName = 'nodule'): Sample[] {
  const used = task === 'malignancy' ? list.filter((c) => c.isNodule) : list;
  return used.map((candidate) => ({ candidate, label: labelOf(candidate, task) }));
}

/**
 * The book's `__getitem__` index arithmetic for ratio_int > 0: which list, and which index in
 * it, sample `ndx` of an epoch takes. Every (ratio+1)-th sample, starting at 0, is a positive.
 */
export function balancedPick(
  ndx: number,
  ratio: number,
  positives: number,
  negatives: number,
): { positive: boolean; index: number } {
  const posNdx = Math.floor(ndx / (ratio + 1));
  if (ndx % (ratio + 1) !== 0) {
    return { positive: false, index: (ndx - 1 - posNdx) % negatives };
  }
  return { positive: true, index: posNdx % positives };
}

export interface SamplerOptions {
  /** Negatives per positive (the book's ratio_int); 0 = unbalanced. */
  readonly ratio: number;
  /** Samples per epoch; 0 = the number of training candidates. */
  readonly epochSamples: number;
  /** Default 'nodule'. */
  readonly task?: TaskName;
  /** Malignancy task: malignant : benign : not-nodule samples per cycle (src/data/malignancy.ts). */
  readonly malignancyRatio?: MalignancyRatio;
}

/** Plain JSON (checkpoints, structured clone). The counts guard against resuming on other data. */
export interface SamplerState {
  /** Epochs produced so far; the next `nextEpoch()` produces epoch `epoch + 1`. */
  readonly epoch: number;
  readonly shuffleRng: RngState;
  readonly augmentRng: RngState;
  readonly ratio: number;
  readonly epochLength: number;
  readonly positives: number;
  readonly negatives: number;
  /** Malignancy task only: positives are the malignant, negatives the not-nodules, and these the benign. */
  readonly task?: 'malignancy';
  readonly benign?: number;
}

const SEED_LIMIT = 2 ** 31; // augment seeds in [1, 2^31 - 1], like the config's seeds

/**
 * Training epochs the book's way. Two child streams of the given RNG: 'shuffle' (the per-epoch
 * list shuffles) and 'augment-seeds' (one seed per sample, drawn in sample order), so that a
 * change in one never moves the other.
 */
export class TrainingSampler {
  readonly ratio: number;
  /** Samples per epoch. */
  readonly epochLength: number;
  private readonly all: readonly CandidateInfo[];
  private readonly pos: readonly CandidateInfo[];
  private readonly neg: readonly CandidateInfo[];
  /** Malignancy task: benign nodules, and the three-way ratio; null in the nodule task. */
  private readonly malignancy: { ben: readonly CandidateInfo[]; ratio: MalignancyRatio } | null;
  private readonly shuffleRng: Rng;
  private readonly augmentRng: Rng;
  private epochsDone = 0;

  constructor(train: readonly CandidateInfo[], opts: SamplerOptions, rng: Rng) {
    const { ratio, epochSamples } = opts;
    if (!Number.isInteger(ratio) || ratio < 0) throw new RangeError(`ratio must be an integer >= 0, got ${ratio}`);
    if (!Number.isInteger(epochSamples) || epochSamples < 0) {
      throw new RangeError(`epochSamples must be an integer >= 0, got ${epochSamples}`);
    }
    if (train.length === 0) throw new RangeError('the training set is empty: nothing to sample');
    this.all = [...train];
    if (opts.task === 'malignancy') {
      const mRatio = opts.malignancyRatio ?? [1, 5, 10];
      this.pos = train.filter((c) => c.isNodule && c.malignant);
      this.neg = train.filter((c) => !c.isNodule);
      const ben = train.filter((c) => c.isNodule && !c.malignant);
      const problem = malignancyRatioProblem(mRatio, [this.pos.length, ben.length, this.neg.length]);
      if (problem) throw new RangeError(problem);
      this.malignancy = { ben, ratio: [mRatio[0], mRatio[1], mRatio[2]] };
    } else {
      this.pos = train.filter((c) => c.isNodule);
      this.neg = train.filter((c) => !c.isNodule);
      this.malignancy = null;
    }
    if (!this.malignancy && ratio > 0 && (this.pos.length === 0 || this.neg.length === 0)) {
      throw new RangeError(
        `balanced sampling (ratio ${ratio}) needs positive and negative training candidates; ` +
          `the training set has ${this.pos.length} positives and ${this.neg.length} negatives ` +
          '(use ratio 0, or a split that leaves positives in training)',
      );
    }
    this.ratio = ratio;
    this.epochLength = epochSamples === 0 ? train.length : epochSamples;
    this.shuffleRng = rng.fork('shuffle');
    this.augmentRng = rng.fork('augment-seeds');
  }

  /** Epochs produced so far. */
  get epoch(): number {
    return this.epochsDone;
  }

  get positives(): number {
    return this.pos.length;
  }

  get negatives(): number {
    return this.neg.length;
  }

  /** The next epoch's samples, in training order. */
  nextEpoch(): TrainingSample[] {
    const n = this.epochLength;
    const out: TrainingSample[] = new Array(n);
    if (this.malignancy) {
      const neg = this.shuffleRng.shuffle([...this.neg]);
      const ben = this.shuffleRng.shuffle([...this.malignancy.ben]);
      const mal = this.shuffleRng.shuffle([...this.pos]);
      const sizes = [mal.length, ben.length, neg.length] as const;
      for (let ndx = 0; ndx < n; ndx++) {
        const pick = malignancyPick(ndx, this.malignancy.ratio, sizes);
        const list = pick.cls === 'malignant' ? mal : pick.cls === 'benign' ? ben : neg;
        out[ndx] = {
          candidate: list[pick.index],
          label: pick.cls === 'malignant' ? 1 : 0,
          augmentSeed: this.augmentRng.int(1, SEED_LIMIT),
        };
      }
    } else if (this.ratio > 0) {
      // The book's shuffleSamples: negatives first, then positives.
      const neg = this.shuffleRng.shuffle([...this.neg]);
      const pos = this.shuffleRng.shuffle([...this.pos]);
      for (let ndx = 0; ndx < n; ndx++) {
        const pick = balancedPick(ndx, this.ratio, pos.length, neg.length);
        const candidate = pick.positive ? pos[pick.index] : neg[pick.index];
        out[ndx] = { candidate, label: pick.positive ? 1 : 0, augmentSeed: this.augmentRng.int(1, SEED_LIMIT) };
      }
    } else {
      // Unbalanced: one pass in a fresh order; an epochSamples beyond the list wraps around.
      const list = this.shuffleRng.shuffle([...this.all]);
      for (let ndx = 0; ndx < n; ndx++) {
        const candidate = list[ndx % list.length];
        out[ndx] = { candidate, label: labelOf(candidate), augmentSeed: this.augmentRng.int(1, SEED_LIMIT) };
      }
    }
    this.epochsDone++;
    return out;
  }

  state(): SamplerState {
    return {
      epoch: this.epochsDone,
      shuffleRng: this.shuffleRng.state(),
      augmentRng: this.augmentRng.state(),
      ratio: this.ratio,
      epochLength: this.epochLength,
      positives: this.pos.length,
      negatives: this.neg.length,
      ...(this.malignancy ? { task: 'malignancy' as const, benign: this.malignancy.ben.length } : {}),
    };
  }

  /** Resume at a boundary saved by `state()`; throws if it was saved for other data or options. */
  restore(state: SamplerState): void {
    if (!Number.isInteger(state.epoch) || state.epoch < 0) {
      throw new RangeError(`sampler state: epoch must be an integer >= 0, got ${String(state.epoch)}`);
    }
    const mine = this.state();
    for (const k of ['ratio', 'epochLength', 'positives', 'negatives', 'task', 'benign'] as const) {
      if (state[k] !== mine[k]) {
        throw new RangeError(`sampler state was saved with ${k} = ${String(state[k])}, this sampler has ${mine[k]}`);
      }
    }
    // Validate both before touching either, so a bad state leaves the sampler as it was.
    rngFromState(state.shuffleRng);
    rngFromState(state.augmentRng);
    this.shuffleRng.restore(state.shuffleRng);
    this.augmentRng.restore(state.augmentRng);
    this.epochsDone = state.epoch;
  }
}

export interface Sampling {
  readonly split: CandidateSplit;
  readonly sampler: TrainingSampler;
  readonly validation: Sample[];
}

/**
 * The whole step for a run: the `sampling.trainingLength` subset (all candidates when 0), its
 * split per `cfg.sampling`, a training sampler on the stream
 * `createRng(cfg.train.seed).fork('sampling')`, and the validation samples. Split warnings are
 * returned, not thrown; the sampler throws only when it cannot sample at all.
 */
export function createSampling(
  list: readonly CandidateInfo[],
  cfg: {
    readonly sampling: LabConfig['sampling'];
    readonly train: Pick<LabConfig['train'], 'seed'>;
    readonly task?: TaskName;
  },
): Sampling {
  const task = cfg.task ?? 'nodule';
  const split = splitCandidates(
    stratifiedSubset(list, cfg.sampling.trainingLength, cfg.train.seed),
    cfg.sampling,
    task,
  );
  const sampler = new TrainingSampler(
    split.train,
    { ...cfg.sampling, task },
    createRng(cfg.train.seed).fork('sampling'),
  );
  return { split, sampler, validation: validationSamples(split.validation, task) };
}
