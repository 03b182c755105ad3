/**
 * A FROC case names the model evaluated, so Inspect opens that one: an MLflow model's cases
 * carry its URI and server, a run's its id, a file's none; Inspect opens a case's model unless
 * it is the one shown (the same URI from another server is another model).
 */
import { describe, expect, it } from 'vitest';
import { frocCasesAt } from '../eval/froc-cases.ts';
import { falsePositiveDetail, missedDetail, modelToOpen, sameModel, type CaseModel } from './eval-case.ts';

const mlflow: CaseModel = { kind: 'mlflow', uri: 'models:/luna/3', server: 'http://127.0.0.1:5000' };
const run: CaseModel = { kind: 'run', runId: '0123456789abcdef' };

describe('FROC cases carry the model evaluated', () => {
  // One scan, two nodules: a mark far from both (a false positive at 0.5), one nodule hit
  // below 0.5 (missed, its best p kept), the other not hit at all.
  const cases = frocCasesAt(
    [
      { seriesUid: 'S', xyz: [100, 100, 100], probability: 0.9 },
      { seriesUid: 'S', xyz: [1, 0, 0], probability: 0.2 },
    ],
    [
      { seriesUid: 'S', xyz: [0, 0, 0], diameterMm: 6 },
      { seriesUid: 'S', xyz: [50, 0, 0], diameterMm: 6 },
    ],
    ['S'],
    0.5,
  );

  it('an MLflow model: its URI and server, on every case', () => {
    expect(cases.falsePositives).toHaveLength(1);
    expect(cases.missed).toHaveLength(2);
    const fp = falsePositiveDetail(mlflow, cases.falsePositives[0]);
    expect(fp).toEqual({
      model: { kind: 'mlflow', uri: 'models:/luna/3', server: 'http://127.0.0.1:5000' },
      seriesUid: 'S',
      xyz: [100, 100, 100],
      probability: 0.9,
      kind: 'false-positive',
    });
    const missed = cases.missed.map((m) => missedDetail(mlflow, m));
    expect(missed.map((d) => [d.model, d.xyz, d.probability, d.kind])).toEqual([
      [mlflow, [0, 0, 0], 0.2, 'missed'],
      [mlflow, [50, 0, 0], null, 'missed'],
    ]);
  });

  it('a run: its id; a file: no model', () => {
    expect(falsePositiveDetail(run, cases.falsePositives[0]).model).toEqual(run);
    expect(missedDetail(null, cases.missed[0]).model).toBeNull();
  });

  it("Inspect opens a case's model unless it shows that very model", () => {
    const fp = falsePositiveDetail(mlflow, cases.falsePositives[0]);
    expect(modelToOpen(fp, null)).toEqual(mlflow);
    expect(modelToOpen(fp, run)).toEqual(mlflow);
    expect(modelToOpen(fp, { ...mlflow })).toBeNull();
    expect(modelToOpen(fp, { ...mlflow, uri: 'models:/luna/4' })).toEqual(mlflow);
    expect(modelToOpen(fp, { ...mlflow, server: 'http://10.0.0.2:5000' })).toEqual(mlflow);
    const ofRun = falsePositiveDetail(run, cases.falsePositives[0]);
    expect(modelToOpen(ofRun, mlflow)).toEqual(run);
    expect(modelToOpen(ofRun, { kind: 'run', runId: run.runId })).toBeNull();
    // A file's case opens nothing: it is shown with whatever Inspect has open.
    expect(modelToOpen(falsePositiveDetail(null, cases.falsePositives[0]), run)).toBeNull();
    expect(sameModel(null, null)).toBe(true);
    expect(sameModel(run, null)).toBe(false);
  });
});
