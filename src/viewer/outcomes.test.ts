import { describe, expect, it } from 'vitest';
import type { PredictionRow } from '../store/records.ts';
import { countOutcomes, indexed, outcomeOf, queryRows, worstFalseNegatives, worstFalsePositives } from './outcomes.ts';

const row = (seriesUid: string, label: 0 | 1, prob: number, loss = 0): PredictionRow => ({
  seriesUid,
  xyz: [0, 0, 0],
  diameterMm: 0,
  label,
  prob,
  loss,
});
const ROWS = indexed([
  row('a', 1, 0.9, 0.1),
  row('a', 0, 0.8, 1.6),
  row('b', 1, 0.2, 1.6),
  row('b', 0, 0.1, 0.1),
  row('b', 0, 0.5, 0.7),
  row('a', 1, 0.5, 0.7),
  row('b', 0, 0.95, 3.0),
  row('a', 1, 0.05, 3.0),
]);

describe('outcomes at a threshold', () => {
  it('positive means prob > threshold (0.5 exactly is negative, as the metrics count it)', () => {
    expect(outcomeOf({ label: 1, prob: 0.5 }, 0.5)).toBe('FN');
    expect(outcomeOf({ label: 0, prob: 0.5 }, 0.5)).toBe('TN');
    expect(outcomeOf({ label: 0, prob: 0.51 }, 0.5)).toBe('FP');
    expect(outcomeOf({ label: 1, prob: Number.NaN }, 0.5)).toBe('TP');
  });

  it('counts move with the threshold', () => {
    expect(countOutcomes(ROWS, 0.5)).toMatchObject({ TP: 1, FP: 2, FN: 3, TN: 2 });
    const c = countOutcomes(ROWS, 0.5);
    expect(c.precision).toBeCloseTo(1 / 3, 12);
    expect(c.recall).toBeCloseTo(1 / 4, 12);
    expect(c.f1).toBeCloseTo((2 * (1 / 3) * (1 / 4)) / (1 / 3 + 1 / 4), 12);
    expect(countOutcomes(ROWS, 0.0)).toMatchObject({ TP: 4, FP: 4, FN: 0, TN: 0 });
    expect(countOutcomes(ROWS, 0.99)).toMatchObject({ TP: 0, FP: 0, FN: 4, TN: 4, precision: 0, recall: 0, f1: 0 });
    for (const t of [0, 0.1, 0.3, 0.5, 0.85, 1]) {
      const k = countOutcomes(ROWS, t);
      expect(k.TP + k.FP + k.FN + k.TN).toBe(ROWS.length);
    }
  });

  it('the worst false positives are the most confident, the worst false negatives the least', () => {
    expect(worstFalsePositives(ROWS, 0.5, 5).map((r) => r.index)).toEqual([6, 1]);
    expect(worstFalseNegatives(ROWS, 0.5, 2).map((r) => r.index)).toEqual([7, 2]);
    expect(worstFalsePositives(ROWS, 0.9, 5).map((r) => r.index)).toEqual([6]);
  });

  it('queryRows filters by outcome and series and sorts stably', () => {
    const base = { threshold: 0.5, outcome: 'all', seriesUid: 'all', sort: 'index', descending: false } as const;
    expect(queryRows(ROWS, { ...base, outcome: 'FN' }).map((r) => r.index)).toEqual([2, 5, 7]);
    expect(queryRows(ROWS, { ...base, seriesUid: 'a', sort: 'prob', descending: true }).map((r) => r.index)).toEqual([
      0, 1, 5, 7,
    ]);
    expect(queryRows(ROWS, { ...base, sort: 'loss' }).map((r) => r.index)).toEqual([0, 3, 4, 5, 1, 2, 6, 7]);
    expect(queryRows(ROWS, { ...base, sort: 'loss', descending: true }).map((r) => r.index)).toEqual([
      6, 7, 1, 2, 4, 5, 0, 3,
    ]);
    expect(queryRows(ROWS, { ...base, sort: 'outcome' }).map((r) => r.index)).toEqual([2, 5, 7, 1, 6, 3, 4, 0]);
  });
});
