/**
 * A run's evaluation as the lab keeps and reports it: the summary stored on the run
 * (`RunEval`, shown in the run list), its MLflow metric names (`eval/cpm`,
 * `eval/sensitivity_at_{rate}_fp`) and the held-out check — which scored scans also gave the
 * run training candidates. Pure: the page's inference worker and the CLI use it alike.
 */
import type { RunEval } from '../store/records.ts';
import type { FrocResult } from './froc.ts';

/** MLflow's name of the sensitivity at `fpsPerScan` FPs per scan: eval/sensitivity_at_0.125_fp … _8_fp. */
export function sensitivityKey(fpsPerScan: number): string {
  return `eval/sensitivity_at_${fpsPerScan}_fp`;
}

export const CPM_KEY = 'eval/cpm';

/** The stored summary of one evaluation. */
export function runEvalOf(
  f: FrocResult,
  o: { at: number; epoch: number; scope: RunEval['scope']; trainingScans: number; warnings?: string[] },
): RunEval {
  return {
    at: o.at,
    epoch: o.epoch,
    scope: o.scope,
    cpm: f.cpm,
    sensitivities: f.sensitivities.map((s) => ({ ...s })),
    cpmBand: f.band ? { lower: f.band.cpm.lower, upper: f.band.cpm.upper, confidence: f.band.confidence } : null,
    scans: f.scans,
    nodules: f.nodules,
    trainingScans: o.trainingScans,
    warnings: [...(o.warnings ?? f.warnings)],
  };
}

/** The evaluation's metrics, by MLflow name: the CPM first, then the seven sensitivities. */
export function evalMetrics(e: Pick<RunEval, 'cpm' | 'sensitivities'>): { key: string; value: number }[] {
  return [
    { key: CPM_KEY, value: e.cpm },
    ...e.sensitivities.map((s) => ({ key: sensitivityKey(s.fpsPerScan), value: s.sensitivity })),
  ];
}

/** The scored scans that also gave training candidates (in the order scored). */
export function trainingScansAmong(scored: readonly string[], trainingSeries: Iterable<string>): string[] {
  const train = new Set(trainingSeries);
  return scored.filter((uid) => train.has(uid));
}

/** One line on what was scored: "4 scans, the run's validation series (held out)" and the like. */
export function describeScored(scans: number, scope: RunEval['scope'] | 'file', trainingScans: number | null): string {
  const what = scope === 'validation' ? "the run's validation series" : 'every cached scan';
  const held =
    trainingScans === null
      ? 'training scans unknown (a model file)'
      : trainingScans === 0
        ? 'none used for training (held out)'
        : `${trainingScans} of them also gave training candidates: optimistic`;
  return `${scans} scan${scans === 1 ? '' : 's'}, ${what}; ${held}`;
}
