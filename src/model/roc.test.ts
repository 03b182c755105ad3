/**
 * ROC and AUC (roc.ts) against scikit-learn's roc_curve / roc_auc_score in the project's .venv
 * (roc_reference.py; a missing venv or scikit-learn is a failure, not a skip), on the same
 * scores: random ones, heavy ties (rounded probabilities), a perfect and an inverted ranking.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createRng } from '../data/rng.ts';
import { alignCurves, malignancyMetrics, rocAuc, rocCurve } from './roc.ts';

const PYTHON = path.join(process.cwd(), '.venv/bin/python');
const SCRIPT = path.join(process.cwd(), 'src/model/roc_reference.py');

describe('rocCurve / rocAuc', () => {
  it('counts ties as one half and steps diagonally through them', () => {
    // Positives 0.9 and 0.5, negatives 0.5 and 0.1: one tie between a positive and a negative.
    expect(rocAuc([1, 1, 0, 0], [0.9, 0.5, 0.5, 0.1])).toBe(0.875);
    expect(rocCurve([1, 1, 0, 0], [0.9, 0.5, 0.5, 0.1])).toEqual({
      fpr: [0, 0, 0.5, 1],
      tpr: [0, 0.5, 1, 1],
      thresholds: [Infinity, 0.9, 0.5, 0.1],
      positives: 2,
      negatives: 2,
    });
    expect(rocAuc([0, 1, 0, 1], [0.1, 0.8, 0.3, 0.9])).toBe(1);
    expect(rocAuc([1, 0], [0.1, 0.8])).toBe(0);
  });

  it('is NaN with one class only, and the malignancy metrics then leave auc out', () => {
    expect(rocAuc([1, 1], [0.2, 0.3])).toBeNaN();
    expect(rocAuc([], [])).toBeNaN();
    expect(malignancyMetrics('validating', [1, 1], [0.2, 0.3], [5, 6])).toEqual({});
    expect(malignancyMetrics('validating', [1, 0], [0.2, 0.3], [6, 5])).toEqual({
      'validating/auc': 0,
      'validating/auc_diameter': 1,
    });
    expect(malignancyMetrics('training', [1, 0], [0.4, 0.3], [6, 5])).toEqual({ 'training/auc': 1 });
    expect(() => rocCurve([1, 0], [0.5])).toThrow(/2 labels but 1 scores/);
  });

  it('aligns curves on one x for a chart, keeping each curve’s order and vertical steps', () => {
    expect(
      alignCurves([
        { fpr: [0, 0, 0.5, 1], tpr: [0, 0.5, 1, 1] },
        { fpr: [0, 1], tpr: [0, 1] },
      ]),
    ).toEqual({
      x: [0, 0, 0, 0.5, 1, 1],
      ys: [
        [0, null, 0.5, 1, 1, null],
        [null, 0, null, null, null, 1],
      ],
    });
  });

  it('agrees with scikit-learn on the same scores', () => {
    if (!fs.existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: run \`bash .ci/setup-venv\``);
    const rng = createRng('roc parity');
    const cases: { labels: number[]; scores: number[] }[] = [];
    for (let k = 0; k < 12; k++) {
      const n = rng.int(2, 400);
      const labels = Array.from({ length: n }, (_, i) => (i < 2 ? i : rng.chance(0.3) ? 1 : 0));
      // Scores that carry some signal; every third case rounded to 2 decimals for many ties.
      const scores = labels.map((l) => {
        const s = Math.min(1, Math.max(0, rng.normal(l ? 0.6 : 0.4, 0.2)));
        return k % 3 === 0 ? Math.round(s * 100) / 100 : s;
      });
      cases.push({ labels, scores });
    }
    cases.push(
      { labels: [0, 0, 1, 1], scores: [0.1, 0.2, 0.3, 0.4] },
      { labels: [1, 1, 0, 0], scores: [0.1, 0.2, 0.3, 0.4] },
    );
    // Diameters as scores (the book's baseline): integers-ish mm with ties.
    cases.push({ labels: [1, 0, 1, 0, 0, 1, 0], scores: [22.5, 6, 8, 8, 4.2, 30, 22.5] });

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'luna-roc-'));
    try {
      const input = path.join(dir, 'in.json');
      const output = path.join(dir, 'out.json');
      fs.writeFileSync(input, JSON.stringify({ cases }));
      const py = spawnSync(PYTHON, [SCRIPT, input, output], { encoding: 'utf8', timeout: 120_000 });
      if (py.status !== 0) throw new Error(`roc_reference.py failed: ${py.stderr}`);
      const ref = (
        JSON.parse(fs.readFileSync(output, 'utf8')) as { cases: { auc: number; fpr: number[]; tpr: number[] }[] }
      ).cases;
      cases.forEach((c, i) => {
        const curve = rocCurve(c.labels, c.scores);
        expect(rocAuc(c.labels, c.scores)).toBeCloseTo(ref[i].auc, 12);
        expect(curve.fpr.length).toBe(ref[i].fpr.length);
        curve.fpr.forEach((v, j) => expect(v).toBeCloseTo(ref[i].fpr[j], 12));
        curve.tpr.forEach((v, j) => expect(v).toBeCloseTo(ref[i].tpr[j], 12));
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
