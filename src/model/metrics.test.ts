import { describe, expect, it } from 'vitest';
import { classificationMetrics, METRIC_NAMES } from './metrics.ts';

describe('classificationMetrics (the book logMetrics)', () => {
  it('returns exactly the seed names, prefixed by the mode', () => {
    expect(Object.keys(classificationMetrics('validating', [1], [0.9], [0.1]))).toEqual(
      METRIC_NAMES.map((n) => `validating/${n}`),
    );
    expect(Object.keys(classificationMetrics('training', [], [], []))).toEqual([
      'training/loss/all',
      'training/loss/neg',
      'training/loss/pos',
      'training/correct/all',
      'training/correct/neg',
      'training/correct/pos',
      'training/pr/precision',
      'training/pr/recall',
      'training/pr/f1_score',
      'training/pr/accuracy',
      'training/pr/specificity',
    ]);
  });

  it('matches a hand computation (0.5 is negative, for labels and predictions)', () => {
    // labels      1    1    0    0    0.5
    // prob        0.9  0.4  0.6  0.1  0.5     → predicted positive: #0, #2
    // TP = 1 (#0), FN = 1 (#1), FP = 1 (#2), TN = 2 (#3, #4)
    const m = classificationMetrics(
      'training',
      [1, 1, 0, 0, 0.5],
      [0.9, 0.4, 0.6, 0.1, 0.5],
      [0.1, 0.9, 0.8, 0.2, 0.7],
    );
    expect(m['training/loss/all']).toBeCloseTo(2.7 / 5, 12);
    expect(m['training/loss/neg']).toBeCloseTo(1.7 / 3, 12);
    expect(m['training/loss/pos']).toBeCloseTo(0.5, 12);
    expect(m['training/correct/all']).toBeCloseTo(60, 12);
    expect(m['training/correct/neg']).toBeCloseTo(200 / 3, 12);
    expect(m['training/correct/pos']).toBeCloseTo(50, 12);
    expect(m['training/pr/precision']).toBeCloseTo(0.5, 12);
    expect(m['training/pr/recall']).toBeCloseTo(0.5, 12);
    expect(m['training/pr/f1_score']).toBeCloseTo(0.5, 12);
    expect(m['training/pr/accuracy']).toBeCloseTo(0.6, 12); // (TP 1 + TN 2) / 5
    expect(m['training/pr/specificity']).toBeCloseTo(2 / 3, 12); // TN 2 / (TN 2 + FP 1)
  });

  it('precision ≠ recall: f1 is their harmonic mean', () => {
    // TP = 2, FP = 2, FN = 0: precision 0.5, recall 1, f1 2/3
    const m = classificationMetrics('validating', [1, 1, 0, 0, 0], [0.8, 0.7, 0.9, 0.6, 0.2], [0, 0, 0, 0, 0]);
    expect(m['validating/pr/precision']).toBe(0.5);
    expect(m['validating/pr/recall']).toBe(1);
    expect(m['validating/pr/f1_score']).toBeCloseTo(2 / 3, 12);
    expect(m['validating/correct/neg']).toBeCloseTo(100 / 3, 12);
  });

  it('no positive labels: loss/pos, correct/pos, recall and f1 are 0, not NaN', () => {
    const m = classificationMetrics('validating', [0, 0], [0.7, 0.2], [1, 3]);
    expect(m['validating/loss/pos']).toBe(0);
    expect(m['validating/correct/pos']).toBe(0);
    expect(m['validating/pr/recall']).toBe(0);
    expect(m['validating/pr/precision']).toBe(0); // TP 0 of 1 predicted positive
    expect(m['validating/pr/f1_score']).toBe(0);
    expect(m['validating/loss/neg']).toBe(2);
    expect(m['validating/correct/neg']).toBe(50);
    expect(m['validating/pr/specificity']).toBe(0.5);
    expect(m['validating/pr/accuracy']).toBe(0.5);
  });

  it('no predicted positives: precision 0 (0/0 guarded), recall 0, f1 0', () => {
    const m = classificationMetrics('training', [1, 0], [0.1, 0.2], [2, 0.5]);
    expect(m['training/pr/precision']).toBe(0);
    expect(m['training/pr/recall']).toBe(0);
    expect(m['training/pr/f1_score']).toBe(0);
    expect(m['training/correct/all']).toBe(50);
  });

  it('no negative labels: loss/neg and correct/neg are 0', () => {
    const m = classificationMetrics('training', [1, 1], [0.9, 0.9], [0.1, 0.3]);
    expect(m['training/loss/neg']).toBe(0);
    expect(m['training/correct/neg']).toBe(0);
    expect(m['training/pr/f1_score']).toBe(1);
    expect(m['training/pr/specificity']).toBe(0); // TN + FP = 0, guarded
    expect(m['training/pr/accuracy']).toBe(1);
  });

  it('empty: every value 0', () => {
    const m = classificationMetrics('training', new Float32Array(0), [], []);
    expect(Object.values(m)).toEqual(new Array(METRIC_NAMES.length).fill(0));
  });

  it('a NaN probability counts as a positive prediction, as in the book (NaN <= 0.5 is false)', () => {
    const m = classificationMetrics('training', [0], [Number.NaN], [1]);
    expect(m['training/correct/neg']).toBe(0);
  });

  it('refuses arrays of different lengths', () => {
    expect(() => classificationMetrics('training', [1, 0], [0.5], [1, 1])).toThrow(
      /2 labels, 1 probabilities, 2 losses/,
    );
  });
});
