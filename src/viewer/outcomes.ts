/**
 * A run's validation predictions at an adjustable threshold: outcome per candidate, counts,
 * the worst mistakes, sorting and filtering for the prediction browser. Pure.
 *
 * Promise: a prediction is positive when `prob > threshold` (the book's rule, as
 * src/model/metrics.ts at 0.5; a NaN probability counts as positive); divisions by zero give 0.
 */
import type { PredictionRow } from '../store/records.ts';

export type Outcome = 'TP' | 'FP' | 'FN' | 'TN';
export const OUTCOMES: readonly Outcome[] = ['TP', 'FP', 'FN', 'TN'];

export function predictedPositive(prob: number, threshold: number): boolean {
  return !(prob <= threshold);
}

export function outcomeOf(row: Pick<PredictionRow, 'label' | 'prob'>, threshold: number): Outcome {
  const pos = predictedPositive(row.prob, threshold);
  return row.label === 1 ? (pos ? 'TP' : 'FN') : pos ? 'FP' : 'TN';
}

export interface OutcomeCounts {
  TP: number;
  FP: number;
  FN: number;
  TN: number;
  precision: number;
  recall: number;
  f1: number;
}

export function countOutcomes(
  rows: readonly Pick<PredictionRow, 'label' | 'prob'>[],
  threshold: number,
): OutcomeCounts {
  const c = { TP: 0, FP: 0, FN: 0, TN: 0 };
  for (const r of rows) c[outcomeOf(r, threshold)]++;
  const precision = c.TP + c.FP ? c.TP / (c.TP + c.FP) : 0;
  const recall = c.TP + c.FN ? c.TP / (c.TP + c.FN) : 0;
  const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
  return { ...c, precision, recall, f1 };
}

/** A prediction with its position in the run's list (a stable id for the page). */
export interface IndexedPrediction extends PredictionRow {
  index: number;
}

export function indexed(rows: readonly PredictionRow[]): IndexedPrediction[] {
  return rows.map((r, index) => ({ ...r, index }));
}

/** False positives, most confident first. */
export function worstFalsePositives<T extends PredictionRow>(rows: readonly T[], threshold: number, n: number): T[] {
  return rows
    .filter((r) => outcomeOf(r, threshold) === 'FP')
    .sort((a, b) => b.prob - a.prob || b.loss - a.loss)
    .slice(0, n);
}

/** False negatives, least probable first. */
export function worstFalseNegatives<T extends PredictionRow>(rows: readonly T[], threshold: number, n: number): T[] {
  return rows
    .filter((r) => outcomeOf(r, threshold) === 'FN')
    .sort((a, b) => a.prob - b.prob || b.loss - a.loss)
    .slice(0, n);
}

export type SortKey = 'index' | 'seriesUid' | 'label' | 'prob' | 'loss' | 'diameterMm' | 'outcome';

export interface RowQuery {
  threshold: number;
  outcome: Outcome | 'all';
  seriesUid: string | 'all';
  sort: SortKey;
  descending: boolean;
}

export function queryRows<T extends IndexedPrediction>(rows: readonly T[], q: RowQuery): T[] {
  const out = rows.filter(
    (r) =>
      (q.outcome === 'all' || outcomeOf(r, q.threshold) === q.outcome) &&
      (q.seriesUid === 'all' || r.seriesUid === q.seriesUid),
  );
  const key = (r: T): number | string => (q.sort === 'outcome' ? outcomeOf(r, q.threshold) : r[q.sort]);
  const sign = q.descending ? -1 : 1;
  return out.sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    const c = typeof ka === 'number' && typeof kb === 'number' ? ka - kb : String(ka).localeCompare(String(kb));
    // Ties keep the run's order, whichever way the column is sorted.
    return sign * c || a.index - b.index;
  });
}
