/**
 * The book's `logMetrics` as a pure function: per-epoch classification metrics from the labels,
 * the predicted nodule probabilities and the per-sample losses, named exactly as the seed logs
 * them (`training/loss/all`, `validating/pr/f1_score`, …).
 *
 * Promise: the book's definitions at threshold 0.5, where `label <= 0.5` is negative and
 * `prob <= 0.5` is a negative prediction (so a NaN probability counts as positive, as in the
 * book's tensor comparisons): loss/all|neg|pos are mean losses over all / negative-label /
 * positive-label samples; correct/all|neg|pos are percentages (0..100); precision =
 * TP/(TP+FP), recall = TP/(TP+FN), f1 = 2·p·r/(p+r), and the seed's accuracy = (TP+TN)/n and
 * specificity = TN/(TN+FP), both fractions (0..1) like precision. Where the book would divide by zero (and
 * log NaN), the value is 0: the mean of an empty set is 0, and so is any ratio with a zero
 * denominator (no positives → correct/pos = recall = 0; no predicted positives → precision = 0;
 * precision = recall = 0 → f1 = 0; no samples → accuracy = 0; no negatives → specificity = 0). No tfjs: plain numbers in, plain numbers out.
 */

export type MetricsMode = 'training' | 'validating';

export const METRIC_NAMES = [
  'loss/all',
  'loss/neg',
  'loss/pos',
  'correct/all',
  'correct/neg',
  'correct/pos',
  'pr/precision',
  'pr/recall',
  'pr/f1_score',
  'pr/accuracy',
  'pr/specificity',
] as const;

export const CLASSIFICATION_THRESHOLD = 0.5;

/** a / b, or 0 when b is 0. */
function ratio(a: number, b: number): number {
  return b === 0 ? 0 : a / b;
}

export function classificationMetrics(
  mode: MetricsMode,
  labels: ArrayLike<number>,
  probPos: ArrayLike<number>,
  loss: ArrayLike<number>,
): Record<string, number> {
  const n = labels.length;
  if (probPos.length !== n || loss.length !== n) {
    throw new Error(
      `classificationMetrics: ${n} labels, ${probPos.length} probabilities, ${loss.length} losses (expected equal lengths)`,
    );
  }
  let negCount = 0;
  let posCount = 0;
  let negCorrect = 0;
  let posCorrect = 0;
  let lossAll = 0;
  let lossNeg = 0;
  let lossPos = 0;
  for (let i = 0; i < n; i++) {
    const negLabel = labels[i] <= CLASSIFICATION_THRESHOLD;
    const negPred = probPos[i] <= CLASSIFICATION_THRESHOLD;
    lossAll += loss[i];
    if (negLabel) {
      negCount++;
      lossNeg += loss[i];
      if (negPred) negCorrect++;
    } else {
      posCount++;
      lossPos += loss[i];
      if (!negPred) posCorrect++;
    }
  }
  const truePos = posCorrect;
  const falsePos = negCount - negCorrect;
  const falseNeg = posCount - posCorrect;
  const precision = ratio(truePos, truePos + falsePos);
  const recall = ratio(truePos, truePos + falseNeg);
  const values: Record<(typeof METRIC_NAMES)[number], number> = {
    'loss/all': ratio(lossAll, n),
    'loss/neg': ratio(lossNeg, negCount),
    'loss/pos': ratio(lossPos, posCount),
    'correct/all': ratio(posCorrect + negCorrect, n) * 100,
    'correct/neg': ratio(negCorrect, negCount) * 100,
    'correct/pos': ratio(posCorrect, posCount) * 100,
    'pr/precision': precision,
    'pr/recall': recall,
    'pr/f1_score': ratio(2 * precision * recall, precision + recall),
    'pr/accuracy': ratio(posCorrect + negCorrect, n),
    'pr/specificity': ratio(negCorrect, negCorrect + falsePos),
  };
  const out: Record<string, number> = {};
  for (const name of METRIC_NAMES) out[`${mode}/${name}`] = values[name];
  return out;
}
