/**
 * The MLflow model inputs the evaluation and Inspect panels share accept and refuse URIs by
 * parseMlflowModelUri's words, so both panels take the same URIs and say the same of the rest.
 */
import { describe, expect, it } from 'vitest';
import { mlflowModelReady, mlflowUriIssue } from './mlflow-model-inputs.ts';

describe('the MLflow model inputs: one check of the URI for both panels', () => {
  it('accepts models:/NAME/VERSION and runs:/<32 hex>/PATH', () => {
    expect(mlflowUriIssue('models:/luna-lab/1')).toBeNull();
    expect(mlflowUriIssue(`runs:/${'a'.repeat(32)}/model`)).toBeNull();
    expect(mlflowModelReady('models:/luna-lab/1', 'http://127.0.0.1:5000')).toBe(true);
  });

  it("refuses the rest in parseMlflowModelUri's words, naming the URI", () => {
    // The old Inspect check (/^(runs|models):\//) took both of these.
    expect(mlflowUriIssue('models:/luna-lab')).toMatch(
      /^model "models:\/luna-lab": expected runs:\/<32-hex MLflow run id>\/<artifact path> or models:\/<name>\/<version number>$/,
    );
    expect(mlflowUriIssue('runs:/abc/model')).toMatch(/^model "runs:\/abc\/model": expected .*32-hex/);
    expect(mlflowUriIssue('0123456789abcdef')).toMatch(/^model "0123456789abcdef": not an MLflow model URI/);
    expect(mlflowUriIssue('/tmp/run1')).toMatch(/^model "\/tmp\/run1": not an MLflow model URI/);
    expect(mlflowModelReady('models:/luna-lab', 'http://127.0.0.1:5000')).toBe(false);
    // A good URI still needs the server it is read from.
    expect(mlflowModelReady('models:/luna-lab/1', '')).toBe(false);
  });
});
