/**
 * The MLflow outbox as a run sink: a tracked run's start, each epoch's metrics, its artifacts
 * and its final status become outbox items (run-tracking.ts says what they hold). The epoch's
 * items are handed to the trainer, which writes them in the transaction of the epoch's
 * checkpoint: through an outage and a resume each epoch is delivered exactly once. Runs without
 * a tracking server add nothing. `deliver` is called whenever items may wait (the worker's
 * delivery pass).
 */
import type * as tf from '@tensorflow/tfjs';
import type { MetricPoint, OutboxItem, RunRecord } from '../store/records.ts';
import type { LabStore } from '../store/lab-store.ts';
import { runArtifacts } from './artifacts.ts';
import {
  artifactItems,
  epochItems,
  mlflowStatus,
  registerItems,
  startItems,
  statusItem,
  trackingTarget,
} from './run-tracking.ts';
import type { RunSink } from './run-sink.ts';

export class OutboxSink implements RunSink {
  private pending = 0;

  constructor(
    private readonly db: LabStore,
    private readonly deliver: () => void = () => {},
  ) {}

  async onStart(run: RunRecord): Promise<Partial<RunRecord> | void> {
    const target = trackingTarget(run);
    if (!target || run.trackingQueued) return;
    await this.db.enqueue(startItems(run, target, run.labUrl));
    this.deliver();
    return { trackingQueued: true };
  }

  onEpoch(run: RunRecord, points: readonly MetricPoint[]): OutboxItem[] {
    const target = trackingTarget(run);
    const items = target ? epochItems(run, target, [...points]) : [];
    this.pending = items.length;
    return items;
  }

  onCheckpoint(): void {
    if (this.pending) this.deliver();
    this.pending = 0;
  }

  async onEnd(run: RunRecord, model: tf.LayersModel | null): Promise<Partial<RunRecord> | void> {
    const target = trackingTarget(run);
    if (!target) return;
    if (run.status === 'finished' && model) {
      // A model that cannot be exported must not fail a finished run: say so and close it.
      let warning: string | null = null;
      const files = await runArtifacts(run, model).catch((e: unknown) => {
        warning = `model artifacts were not logged: ${e instanceof Error ? e.message : String(e)}`;
        return [];
      });
      await this.db.enqueue([
        ...artifactItems(run, target, files),
        ...(files.length ? registerItems(run, target) : []),
        statusItem(run, target, 'FINISHED'),
      ]);
      return warning ? { warnings: [...run.warnings, warning] } : undefined;
    }
    // 'interrupted' runs are resumed in a fresh worker: still running as MLflow sees it.
    if (run.trackingQueued && run.status !== 'interrupted')
      await this.db.enqueue([statusItem(run, target, mlflowStatus(run.status))]);
  }

  onClose(): void {
    this.deliver();
  }

  onEnqueued(): void {
    this.deliver();
  }
}
