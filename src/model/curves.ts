/**
 * What the seed's `logMetrics` hands TensorBoard beside its scalars, per phase per epoch: the
 * data of a PR curve (`writer.add_pr_curve('pr', labels, preds)`) and the two histograms
 * `is_neg` (p(nodule) of negatives above 0.01) and `is_pos` (of positives below 0.99) over the
 * book's 50 bins `[x / 50 for x in range(51)]`. Pure numbers, compact enough to keep with each
 * metrics point; src/tracking/tfevents.ts turns them into TensorBoard's summaries.
 *
 * The PR curve is kept as torch's `compute_curve` bins it (torch.utils.tensorboard, 127
 * thresholds): each prediction falls in bucket floor(p · 126), split by label; the curve's
 * TP/FP/TN/FN at threshold k are the counts in buckets ≥ k (`prCurve` below).
 */
import { CLASSIFICATION_THRESHOLD, type MetricsMode } from './metrics.ts';

/** torch's add_pr_curve default. */
export const PR_THRESHOLDS = 127;
/** The seed's histogram bins: 50 over [0, 1]. */
export const HISTOGRAM_BINS = 50;

/** A histogram as TensorBoard's HistogramProto holds it; `counts[i]` is bin [i/50, (i+1)/50). */
export interface HistogramData {
  min: number;
  max: number;
  num: number;
  sum: number;
  sumSquares: number;
  counts: number[];
}

export interface PhaseCurves {
  mode: MetricsMode;
  /** Per PR bucket (PR_THRESHOLDS of them): how many positives / negatives fell in it. */
  prBuckets: { pos: number[]; neg: number[] };
  /** null where the seed writes nothing (no negative above 0.01 / no positive below 0.99). */
  isNeg: HistogramData | null;
  isPos: HistogramData | null;
}

/** The seed's masks: negatives predicted above 0.01, positives below 0.99. */
const IS_NEG_ABOVE = 0.01;
const IS_POS_BELOW = 0.99;

export function phaseCurves(mode: MetricsMode, labels: ArrayLike<number>, probPos: ArrayLike<number>): PhaseCurves {
  if (probPos.length !== labels.length)
    throw new Error(`phaseCurves: ${labels.length} labels, ${probPos.length} probabilities (expected equal lengths)`);
  const pos = new Array<number>(PR_THRESHOLDS).fill(0);
  const neg = new Array<number>(PR_THRESHOLDS).fill(0);
  const isNeg: number[] = [];
  const isPos: number[] = [];
  for (let i = 0; i < labels.length; i++) {
    const p = probPos[i];
    const positive = labels[i] > CLASSIFICATION_THRESHOLD;
    // np.histogram over range (0, 126) drops what falls outside it (a NaN included).
    // float32 product, as torch multiplies its float32 predictions, so edge cases bin alike.
    if (p >= 0 && p <= 1) (positive ? pos : neg)[Math.floor(Math.fround(p * (PR_THRESHOLDS - 1)))]++;
    if (positive ? p < IS_POS_BELOW : p > IS_NEG_ABOVE) (positive ? isPos : isNeg).push(p);
  }
  return { mode, prBuckets: { pos, neg }, isNeg: histogram(isNeg), isPos: histogram(isPos) };
}

/** numpy's histogram over the seed's edges k/50: bins closed on the left, the last on both ends. */
export function histogram(values: readonly number[]): HistogramData | null {
  if (values.length === 0) return null;
  const counts = new Array<number>(HISTOGRAM_BINS).fill(0);
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  let sumSquares = 0;
  for (const v of values) {
    min = Math.min(min, v);
    max = Math.max(max, v);
    sum += v;
    sumSquares += v * v;
    if (!(v >= 0 && v <= 1)) continue;
    // Start from the product, then settle against the edges numpy compares with (k / 50).
    let b = Math.min(HISTOGRAM_BINS - 1, Math.floor(v * HISTOGRAM_BINS));
    while (b > 0 && v < b / HISTOGRAM_BINS) b--;
    while (b < HISTOGRAM_BINS - 1 && v >= (b + 1) / HISTOGRAM_BINS) b++;
    counts[b]++;
  }
  return { min, max, num: values.length, sum, sumSquares, counts };
}

/** The edges of the seed's bins, k / 50 for k = 0..50. */
export function histogramEdges(): number[] {
  return Array.from({ length: HISTOGRAM_BINS + 1 }, (_, k) => k / HISTOGRAM_BINS);
}

/**
 * The PR curve's six rows as torch's compute_curve stacks them (TP, FP, TN, FN, precision,
 * recall), one column per threshold k / 126; the ratios divide by max(1e-7, denominator).
 */
export function prCurve(buckets: PhaseCurves['prBuckets']): number[][] {
  const n = buckets.pos.length;
  const tp = new Array<number>(n).fill(0);
  const fp = new Array<number>(n).fill(0);
  for (let k = n - 1, t = 0, f = 0; k >= 0; k--) {
    t += buckets.pos[k];
    f += buckets.neg[k];
    tp[k] = t;
    fp[k] = f;
  }
  const tn = fp.map((f) => fp[0] - f);
  const fn = tp.map((t) => tp[0] - t);
  const precision = tp.map((t, k) => t / Math.max(1e-7, t + fp[k]));
  const recall = tp.map((t, k) => t / Math.max(1e-7, t + fn[k]));
  return [tp, fp, tn, fn, precision, recall];
}
