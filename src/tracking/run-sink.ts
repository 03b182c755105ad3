/**
 * What a training run tells the world, as one interface: the page (through the train worker's
 * listener), the MLflow outbox (outbox-sink.ts) and, on the CLI's side of a headless run, the
 * output files with their TensorBoard events (src/cli/train.ts) are each a `RunSink`. The
 * trainer takes a list of sinks and calls every hook a sink has, in list order; it knows no
 * sink by name.
 *
 * `Run` is the record the sink is given: the whole `RunRecord` in the trainer's realm, a
 * summary of it where the events cross to the CLI.
 */
import type * as tf from '@tensorflow/tfjs';
import type { StepInfo } from '../model/nodule-classifier.ts';
import type { MetricPoint, OutboxItem, RunRecord } from '../store/records.ts';

export interface Progress {
  runId: string;
  epoch: number;
  epochs: number;
  phase: StepInfo['phase'];
  /** Samples done and due in this phase of this epoch. */
  done: number;
  total: number;
  samplesSeen: number;
  samplesPerSecond: number;
  etaSeconds: number;
  batchLoss: number;
  /** tf.memory().numTensors after the step: flat from step to step unless something leaks. */
  numTensors: number;
}

export interface RunSink<Run = RunRecord> {
  /** The run's record changed (status, backend, warnings, an epoch stored). */
  onRun?(run: Run): void;
  onProgress?(p: Progress): void;
  /** A phase of an epoch ended with these metric values. */
  onMetrics?(runId: string, point: MetricPoint): void;
  /** Set-up is done (backend, data and warnings in the record), before the first epoch trains.
   *  What it returns is merged into the run's record. */
  onStart?(run: Run): Promise<Partial<RunRecord> | void>;
  /** The epoch ended; what it returns is written in the same transaction as the epoch's
   *  checkpoint, so an item exists exactly when its epoch's checkpoint does. */
  onEpoch?(run: Run, points: readonly MetricPoint[]): readonly OutboxItem[];
  /** The epoch's checkpoint (with the items of `onEpoch`) is stored. */
  onCheckpoint?(run: Run): void;
  /** The run ended: `run.status` says how; `model` is the trained model when it finished.
   *  What it returns is merged into the run's record. */
  onEnd?(run: Run, model: tf.LayersModel | null): Promise<Partial<RunRecord> | void>;
  /** The trainer has let go of the run (after `onEnd`, or after a failure that skipped it). */
  onClose?(): void;
  /** The trainer put items in the outbox outside a run (a resume's status, a push). */
  onEnqueued?(): void;
}
