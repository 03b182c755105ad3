/**
 * System metrics to MLflow as a run sink: while a tracked run trains, every
 * SYSTEM_METRICS_INTERVAL_MS (and once as it ends) `sample()` is logged under its `system/…`
 * names, as MLflow's own system metrics monitor does (step: the sample's index since the run was
 * created, so a resumed run goes on counting). In the train worker `sample` is what the page can
 * tell (src/tracking/system-metrics.ts `browserMetrics`). Outbox items, so an outage loses none.
 */
import type { LabStore } from '../store/lab-store.ts';
import type { RunRecord } from '../store/records.ts';
import { metricItems } from './outbox.ts';
import type { RunSink } from './run-sink.ts';
import { trackingTarget } from './run-tracking.ts';
import { SYSTEM_METRICS_INTERVAL_MS } from './system-metrics.ts';

/** System metric points of `run` at `at` (ms): outbox items, none for an untracked run. */
export function systemMetricItems(run: RunRecord, values: Record<string, number>, at: number) {
  const target = trackingTarget(run);
  if (!target || !run.trackingQueued) return [];
  const step = Math.max(0, Math.round((at - run.createdAt) / SYSTEM_METRICS_INTERVAL_MS));
  const metrics = Object.entries(values)
    .filter(([, v]) => Number.isFinite(v))
    .map(([key, value]) => ({ key, value, timestamp: at, step }));
  return metrics.length ? metricItems(run.runId, target.server, metrics) : [];
}

export class SystemMetricsSink implements RunSink {
  private timer: ReturnType<typeof setInterval> | null = null;
  private run: RunRecord | null = null;
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: LabStore,
    private readonly sample: () => Record<string, number>,
    private readonly deliver: () => void = () => {},
    private readonly intervalMs = SYSTEM_METRICS_INTERVAL_MS,
  ) {}

  onStart(run: RunRecord): Promise<void> {
    this.stopTimer();
    this.run = run;
    if (trackingTarget(run) && run.trackingQueued) this.timer = setInterval(() => this.log(), this.intervalMs);
    return Promise.resolve();
  }

  onRun(run: RunRecord): void {
    if (this.run?.runId === run.runId) this.run = run;
  }

  async onEnd(): Promise<void> {
    if (this.timer) this.log();
    this.stopTimer();
    await this.chain;
  }

  onClose(): void {
    this.stopTimer();
    this.run = null;
  }

  private log(): void {
    const run = this.run;
    if (!run) return;
    const items = systemMetricItems(run, this.sample(), Date.now());
    if (!items.length) return;
    this.chain = this.chain
      .then(() => this.db.enqueue(items))
      .then(() => this.deliver())
      // A sample that cannot be queued is dropped: it must never fail the run.
      .catch(() => {});
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
