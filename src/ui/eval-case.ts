/**
 * A FROC case as the evaluation panel hands it to Inspect (`eval-case-select`): where it is,
 * its p, and the model that was evaluated — a run of this browser, or an MLflow model (its URI
 * and the server it was read from), so that Inspect opens the very model the case is of. A
 * user's ONNX file has no model Inspect can open (null): the case is shown with whatever
 * Inspect has open.
 * Pure data: the panels do the rendering and the loading.
 */
import type { FalsePositiveCase, MissedCase } from '../eval/froc-cases.ts';

/** The model an evaluation scored, as Inspect can open it. */
export type CaseModel = { kind: 'run'; runId: string } | { kind: 'mlflow'; uri: string; server: string };

/** What `eval-case-select` carries: a case of the FROC, to look at in the viewer. */
export interface EvalCaseDetail {
  /** The model evaluated (null: a user's ONNX file). */
  model: CaseModel | null;
  seriesUid: string;
  xyz: [number, number, number];
  /** The model's p of the mark (a miss: its best hit below the threshold, else null). */
  probability: number | null;
  kind: 'false-positive' | 'missed';
}

export function falsePositiveDetail(model: CaseModel | null, c: FalsePositiveCase): EvalCaseDetail {
  return { model, seriesUid: c.seriesUid, xyz: [...c.xyz], probability: c.probability, kind: 'false-positive' };
}

export function missedDetail(model: CaseModel | null, c: MissedCase): EvalCaseDetail {
  return { model, seriesUid: c.seriesUid, xyz: [...c.xyz], probability: c.bestProbability, kind: 'missed' };
}

export function sameModel(a: CaseModel | null, b: CaseModel | null): boolean {
  if (!a || !b) return a === b;
  if (a.kind === 'run') return b.kind === 'run' && a.runId === b.runId;
  return b.kind === 'mlflow' && a.uri === b.uri && a.server === b.server;
}

/**
 * The model Inspect must open to show a case, given the one it shows (`shown`): the case's
 * model when it is another, else null (it is already open, or the case names none).
 */
export function modelToOpen(detail: EvalCaseDetail, shown: CaseModel | null): CaseModel | null {
  return detail.model && !sameModel(detail.model, shown) ? detail.model : null;
}
