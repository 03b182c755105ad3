/**
 * ROC curves and their area (AUC) from labels and scores, as scikit-learn's `roc_curve` /
 * `roc_auc_score` define them: thresholds at each distinct score, highest first; a sample is
 * predicted positive when its score is >= the threshold; tied scores move together (a diagonal
 * step), and the area is the trapezoid sum over the points, which equals the probability that
 * a random positive outscores a random negative (ties counting one half).
 *
 * The malignancy task's metric `auc` and the book's diameter baseline (p2ch14: rank nodules by
 * annotated diameter alone) both come from here; the page draws the same curves
 * (src/ui/roc-chart.ts). Pure: plain numbers in and out.
 */

export interface RocCurve {
  /** False-positive rate per point, from 0 to 1. */
  fpr: number[];
  /** True-positive rate per point, from 0 to 1. */
  tpr: number[];
  /** Score threshold of each point; the first is +Infinity (nothing predicted positive). */
  thresholds: number[];
  positives: number;
  negatives: number;
}

/** A score for ranking: NaN ranks highest, as the 0.5-threshold metrics count a NaN probability as positive. */
function rankable(v: number): number {
  return Number.isNaN(v) ? Infinity : v;
}

/**
 * The ROC curve of `scores` for `labels` (> 0.5 is positive). Throws when the lengths differ;
 * with no positives or no negatives the rates are 0 (a guarded division) and `rocAuc` is NaN.
 */
export function rocCurve(labels: ArrayLike<number>, scores: ArrayLike<number>): RocCurve {
  const n = labels.length;
  if (scores.length !== n) throw new Error(`rocCurve: ${n} labels but ${scores.length} scores`);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => rankable(scores[b]) - rankable(scores[a]));
  let positives = 0;
  for (let i = 0; i < n; i++) if (labels[i] > 0.5) positives++;
  const negatives = n - positives;
  const fpr = [0];
  const tpr = [0];
  const thresholds = [Infinity];
  let tp = 0;
  let fp = 0;
  for (let k = 0; k < n;) {
    const s = rankable(scores[order[k]]);
    // Every sample of this score crosses the threshold together.
    while (k < n && rankable(scores[order[k]]) === s) {
      if (labels[order[k]] > 0.5) tp++;
      else fp++;
      k++;
    }
    fpr.push(negatives ? fp / negatives : 0);
    tpr.push(positives ? tp / positives : 0);
    thresholds.push(s);
  }
  return { fpr, tpr, thresholds, positives, negatives };
}

/** Area under a curve's points (trapezoids), or NaN when the curve lacks a positive or a negative. */
export function curveArea(curve: RocCurve): number {
  if (curve.positives === 0 || curve.negatives === 0) return NaN;
  let area = 0;
  for (let i = 1; i < curve.fpr.length; i++) {
    area += ((curve.fpr[i] - curve.fpr[i - 1]) * (curve.tpr[i] + curve.tpr[i - 1])) / 2;
  }
  return area;
}

/** scikit-learn's `roc_auc_score(labels, scores)`; NaN where it would raise (one class only). */
export function rocAuc(labels: ArrayLike<number>, scores: ArrayLike<number>): number {
  return curveArea(rocCurve(labels, scores));
}

/**
 * The malignancy task's metrics for one phase, named as the seed names them (`validating/auc`),
 * plus, for validation, the book's diameter baseline (`validating/auc_diameter`: the AUC of the
 * annotated diameters as scores). A metric that cannot be measured (one class only) is left
 * out rather than logged as a number it is not.
 */
export function malignancyMetrics(
  mode: 'training' | 'validating',
  labels: ArrayLike<number>,
  probPos: ArrayLike<number>,
  diameterMm: ArrayLike<number>,
): Record<string, number> {
  const out: Record<string, number> = {};
  const auc = rocAuc(labels, probPos);
  if (!Number.isNaN(auc)) out[`${mode}/auc`] = auc;
  if (mode === 'validating') {
    const baseline = rocAuc(labels, diameterMm);
    if (!Number.isNaN(baseline)) out[`${mode}/auc_diameter`] = baseline;
  }
  return out;
}

/**
 * Several ROC curves on one shared x (false-positive rate) for a chart of aligned series: every
 * curve's points in (fpr, tpr) order, each series null at the other curves' points (a chart
 * spans the gaps). Vertical steps stay: equal x values follow each other.
 */
export function alignCurves(curves: readonly Pick<RocCurve, 'fpr' | 'tpr'>[]): {
  x: number[];
  ys: (number | null)[][];
} {
  const points: { x: number; y: number; c: number }[] = [];
  curves.forEach((curve, c) => curve.fpr.forEach((x, i) => points.push({ x, y: curve.tpr[i], c })));
  points.sort((a, b) => a.x - b.x || a.y - b.y || a.c - b.c);
  return {
    x: points.map((p) => p.x),
    ys: curves.map((_, c) => points.map((p) => (p.c === c ? p.y : null))),
  };
}
