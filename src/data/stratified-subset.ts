/**
 * The seed's `--training-length N`: a class-stratified subset of the candidates, so a short run
 * still sees both classes in the book's proportion. Taken before the train/validation split, as
 * the seed shortens its candidate list before LunaDataset splits it.
 *
 * Promises: N = 0 or N ≥ the list's length keeps the list as it is. Otherwise each class keeps
 * its share of N (rounded), but at least two of each class (one for each half of the split; so
 * N < 4 still gives four) and never more than the class has; the rest of N goes to the other class. Which candidates are kept
 * is a pure function of the seed; the kept ones stay in the input order (the book's sort), so the
 * split downstream works as on the full list.
 */
import type { CandidateInfo } from './luna-csv.ts';
import { createRng } from './rng.ts';

/** Two of each class: one for training and one for validation. */
export const MIN_PER_CLASS = 2;

export function stratifiedSubset<T extends Pick<CandidateInfo, 'isNodule'>>(
  list: readonly T[],
  length: number,
  seed: number,
): T[] {
  if (!Number.isInteger(length) || length < 0)
    throw new RangeError(`training length ${length} (expected an integer >= 0, 0 for all)`);
  if (length === 0 || length >= list.length) return [...list];
  const pos: number[] = [];
  const neg: number[] = [];
  list.forEach((c, i) => (c.isNodule ? pos : neg).push(i));
  const minPos = Math.min(MIN_PER_CLASS, pos.length);
  const minNeg = Math.min(MIN_PER_CLASS, neg.length);
  const share = Math.round((length * pos.length) / list.length);
  let nPos = Math.max(minPos, Math.min(share, pos.length, length - minNeg));
  const nNeg = Math.max(minNeg, Math.min(neg.length, length - nPos));
  // Negatives short of their share (few in the list): positives take up the rest.
  nPos = Math.max(nPos, Math.min(pos.length, length - nNeg));
  const rng = createRng(seed).fork('training-length');
  const keep = new Set([...rng.shuffle(pos).slice(0, nPos), ...rng.shuffle(neg).slice(0, nNeg)]);
  return list.filter((_, i) => keep.has(i));
}
