/**
 * What a lab run sends to MLflow, as outbox items: the start (experiment, run, tags, params,
 * dataset input), each epoch's metrics (the seed's names, step = training samples seen, plus
 * `system/…`), the artifacts and the final status. Pure: the trainer decides when, the outbox
 * delivers.
 */
import type { MetricPoint, OutboxItem, RunEval, RunRecord } from '../store/records.ts';
import { evalMetrics } from '../eval/run-eval.ts';
import { LAB_COMMIT, LAB_VERSION } from '../version.ts';
import { metricItems, outboxItem } from './outbox.ts';
import { seedParams } from './seed-params.ts';

export interface TrackingTarget {
  server: string;
  experiment: string;
}

export function trackingTarget(run: RunRecord): TrackingTarget | null {
  const t = run.config.tracking;
  return t.server ? { server: t.server, experiment: t.experiment } : null;
}

/** The start (the outbox adds the `luna.run_id` tag that finds the run again), params, inputs. */
export function startItems(run: RunRecord, t: TrackingTarget, labUrl: string): OutboxItem[] {
  const tags = [
    { key: 'mlflow.source.name', value: 'luna-lab' },
    { key: 'mlflow.source.type', value: 'LOCAL' },
    { key: 'mlflow.user', value: 'luna-lab (browser)' },
    { key: 'luna.lab_url', value: labUrl },
    { key: 'luna.version', value: LAB_VERSION },
    { key: 'luna.commit', value: LAB_COMMIT },
    { key: 'luna.backend', value: run.backend ?? 'unknown' },
    { key: 'luna.webgpu_adapter', value: run.adapter ?? 'none' },
    { key: 'luna.data_digest', value: run.dataDigest },
    ...(run.tags ?? []),
  ];
  return [
    outboxItem(run.runId, t.server, {
      kind: 'start',
      experiment: t.experiment,
      runName: run.name,
      startTime: run.createdAt,
      tags,
    }),
    outboxItem(run.runId, t.server, { kind: 'batch', metrics: [], params: seedParams(run.config), tags: [] }),
    outboxItem(run.runId, t.server, {
      kind: 'inputs',
      datasets: [
        {
          name: `luna16${run.config.data.subsets.length ? `-${run.config.data.subsets.join('+')}` : ''}`,
          digest: run.dataDigest.slice(0, 36),
          sourceType: 'local',
          source: JSON.stringify({
            uri: 'indexeddb://luna-lab',
            subsets: run.config.data.subsets,
            candidates: run.config.data.candidates,
          }),
          tags: [{ key: 'mlflow.data.context', value: 'training' }],
        },
      ],
    }),
  ];
}

/** The epoch's points from the run's history, with `timestamp` fixed now (re-sends are the same points). */
export function epochItems(run: RunRecord, t: TrackingTarget, points: MetricPoint[], now = Date.now()): OutboxItem[] {
  const metrics = points.flatMap((p) =>
    Object.entries(p.values).map(([key, value]) => ({ key, value, timestamp: now, step: p.step })),
  );
  return metricItems(run.runId, t.server, metrics);
}

export function statusItem(
  run: RunRecord,
  t: TrackingTarget,
  status: 'RUNNING' | 'FINISHED' | 'FAILED' | 'KILLED',
  now = Date.now(),
): OutboxItem {
  return outboxItem(run.runId, t.server, { kind: 'status', status, ...(status === 'RUNNING' ? {} : { endTime: now }) });
}

/** The run's model in the Model Registry (`tracking.register`), after its artifacts; none when unnamed. */
export function registerItems(run: RunRecord, t: TrackingTarget): OutboxItem[] {
  const name = run.config.tracking.register;
  return name ? [outboxItem(run.runId, t.server, { kind: 'register', name })] : [];
}

export function artifactItems(
  run: RunRecord,
  t: TrackingTarget,
  files: { path: string; contentType: string; data: Blob }[],
): OutboxItem[] {
  return files.map((f) => outboxItem(run.runId, t.server, { kind: 'artifact', ...f }));
}

/** An evaluation of the run: `eval/cpm` and `eval/sensitivity_at_{rate}_fp` at step = the run's
 *  samples seen, and its files (the submission CSV, the FROC plot) under `eval/`. */
export function evalItems(
  run: RunRecord,
  t: TrackingTarget,
  e: RunEval,
  files: { submissionCsv: string; frocSvg: string },
): OutboxItem[] {
  return [
    ...evalMetricItems(run, t, e),
    ...artifactItems(run, t, [
      {
        path: 'eval/submission.csv',
        contentType: 'text/csv',
        data: new Blob([files.submissionCsv], { type: 'text/csv' }),
      },
      {
        path: 'eval/froc.svg',
        contentType: 'image/svg+xml',
        data: new Blob([files.frocSvg], { type: 'image/svg+xml' }),
      },
    ]),
  ];
}

/** The evaluation's `eval/…` metrics alone (a run pushed later: its submission is not kept). */
export function evalMetricItems(run: RunRecord, t: TrackingTarget, e: RunEval): OutboxItem[] {
  return metricItems(
    run.runId,
    t.server,
    evalMetrics(e).map((m) => ({ ...m, timestamp: e.at, step: run.samplesSeen })),
  );
}

/** The run's status in MLflow's words ('interrupted' runs are still running). */
export function mlflowStatus(status: RunRecord['status']): 'RUNNING' | 'FINISHED' | 'FAILED' | 'KILLED' {
  return status === 'finished'
    ? 'FINISHED'
    : status === 'failed'
      ? 'FAILED'
      : status === 'stopped'
        ? 'KILLED'
        : 'RUNNING';
}

/** Validation predictions as CSV, for inspection outside the lab. */
export function predictionsCsv(run: RunRecord): string {
  const rows = run.predictions.map((p) =>
    [p.seriesUid, ...p.xyz.map((v) => v.toFixed(3)), p.diameterMm, p.label, p.prob.toFixed(6), p.loss.toFixed(6)].join(
      ',',
    ),
  );
  return ['seriesuid,coordX,coordY,coordZ,diameter_mm,label,probability,loss', ...rows].join('\n') + '\n';
}
