/**
 * The train worker: tfjs (WebGPU, else WebGL, else CPU) training off the page's thread. Its
 * comlink API is `TrainApi`; the trainer's sinks are the MLflow outbox (delivered from here)
 * and the page, whose events go through one listener proxy. A page that reloads simply starts
 * a new worker and resumes the run from its last checkpoint. A run spawns its data workers
 * (workers/data.worker.ts) from here and ends them when it ends.
 */
import * as Comlink from 'comlink';
import * as tf from '@tensorflow/tfjs';
import type { LabConfig } from '../src/config/lab-config.ts';
import { labStore } from '../src/store/lab-store.ts';
import type { MetricPoint, RunRecord } from '../src/store/records.ts';
import { Trainer, type Progress, type StartOptions } from '../src/train/trainer.ts';
import type { ProfileReport } from '../src/train/step-profiler.ts';
import { dataWorkerPool } from '../src/train/data-workers.ts';
import { Delivery, type OutboxState } from '../src/tracking/outbox.ts';
import type { TrackingTarget } from '../src/tracking/run-tracking.ts';
import { OutboxSink } from '../src/tracking/outbox-sink.ts';
import type { RunSink } from '../src/tracking/run-sink.ts';
import type { ArtifactFile } from '../src/tracking/artifacts.ts';
import { SystemMetricsSink } from '../src/tracking/system-metrics-sink.ts';
import { browserMetrics } from '../src/tracking/system-metrics.ts';
import type { SourceWeights } from '../src/train/model-source.ts';

export interface TrainListener {
  run(run: RunRecord): void;
  progress(p: Progress): void;
  metrics(runId: string, point: MetricPoint): void;
  /** The tracking outbox after each delivery pass: backlog, refusals, next retry. */
  tracking(state: OutboxState): void;
}

export interface TrainApi {
  setListener(listener: TrainListener): void;
  /** Train a new run; resolves with its final record when it ends. `tags` go to MLflow too. */
  start(config: LabConfig, name?: string, tags?: RunRecord['tags'], opts?: StartOptions): Promise<RunRecord>;
  /** The run's files from its last checkpoint: config, lab URL, predictions, tfjs and ONNX models. */
  exportRun(runId: string): Promise<ArtifactFile[]>;
  /** Continue a run from its last checkpoint, optionally for more epochs. */
  resume(runId: string, extraEpochs?: number, source?: SourceWeights): Promise<RunRecord>;
  pause(): void;
  unpause(): void;
  stop(): void;
  activeRun(): string | null;
  /** Deliver the tracking outbox now (and keep retrying while items wait). */
  flushTracking(): Promise<OutboxState>;
  retryTracking(id: number): Promise<OutboxState>;
  discardTracking(id: number): Promise<OutboxState>;
  /** Send a run kept in this browser to a tracking server. */
  pushRun(runId: string, target: TrackingTarget): Promise<RunRecord>;
  /** `--profile`: record the kernels of `steps` training steps of the next run. */
  profileSteps(steps: number): void;
  /** What the profiler recorded. */
  profileReport(): ProfileReport;
}

let listener: TrainListener | null = null;
const delivery = new Delivery(labStore());
let retryTimer: ReturnType<typeof setTimeout> | null = null;

/** One delivery pass, then a timer for the next retry if anything waits on backoff. */
async function deliver(): Promise<OutboxState> {
  const state = await delivery.flush();
  listener?.tracking(state);
  if (retryTimer) clearTimeout(retryTimer);
  retryTimer = state.retryAt ? setTimeout(() => void deliver(), Math.max(100, state.retryAt - Date.now())) : null;
  return state;
}

/** The page, as a run sink: every event goes to its listener. */
const pageSink: RunSink = {
  onRun: (r) => listener?.run(r),
  onProgress: (p) => listener?.progress(p),
  onMetrics: (id, point) => listener?.metrics(id, point),
};

/** What the page can tell about its machine: tfjs memory and, where Chromium shows it, the JS heap. */
function browserSample(): Record<string, number> {
  const heap = (performance as Performance & { memory?: { usedJSHeapSize: number } }).memory;
  return browserMetrics(tf.memory(), heap ? heap.usedJSHeapSize : null);
}

const outboxSink = new OutboxSink(labStore(), () => void deliver());
const systemSink = new SystemMetricsSink(labStore(), browserSample, () => void deliver());
const trainer = new Trainer(labStore(), [outboxSink, systemSink, pageSink], {
  // Each run augments on its own data workers (one per core but one), ended with the run.
  dataPool: () => dataWorkerPool(),
});

const api: TrainApi = {
  setListener(l) {
    listener = l;
  },
  start: (config, name, tags, opts) => trainer.start(config, name, tags, opts),
  exportRun: (runId) => trainer.exportRun(runId),
  resume: (runId, extraEpochs, source) => trainer.resumeRun(runId, extraEpochs ?? 0, source),
  pause: () => trainer.pause(),
  unpause: () => trainer.resume(),
  stop: () => trainer.stop(),
  activeRun: () => trainer.activeRun,
  flushTracking: () => deliver(),
  retryTracking: async (id) => {
    await delivery.retry(id);
    return deliver();
  },
  discardTracking: async (id) => {
    await delivery.discard(id);
    return deliver();
  },
  pushRun: (runId, target) => trainer.pushRun(runId, target),
  profileSteps: (steps) => trainer.profiler.request(steps),
  profileReport: () => trainer.profiler.report(),
};

Comlink.expose(api);
