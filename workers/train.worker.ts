/**
 * The train worker: tfjs (WebGPU, else WebGL, else CPU) training off the page's thread. Its
 * comlink API is `TrainApi`; events reach the page through one listener proxy. A page that
 * reloads simply starts a new worker and resumes the run from its last checkpoint.
 */
import * as Comlink from 'comlink';
import type { LabConfig } from '../src/config/lab-config.ts';
import { labDb, type MetricPoint, type RunRecord } from '../src/store/lab-db.ts';
import { Trainer, type Progress } from '../src/train/trainer.ts';

export interface TrainListener {
  run(run: RunRecord): void;
  progress(p: Progress): void;
  metrics(runId: string, point: MetricPoint): void;
}

export interface TrainApi {
  setListener(listener: TrainListener): void;
  /** Train a new run; resolves with its final record when it ends. */
  start(config: LabConfig, name?: string): Promise<RunRecord>;
  /** Continue a run from its last checkpoint, optionally for more epochs. */
  resume(runId: string, extraEpochs?: number): Promise<RunRecord>;
  pause(): void;
  unpause(): void;
  stop(): void;
  activeRun(): string | null;
}

let listener: TrainListener | null = null;
const trainer = new Trainer(labDb(), {
  onRun: (r) => listener?.run(r),
  onProgress: (p) => listener?.progress(p),
  onMetrics: (id, point) => listener?.metrics(id, point),
});

const api: TrainApi = {
  setListener(l) {
    listener = l;
  },
  start: (config, name) => trainer.start(config, name),
  resume: (runId, extraEpochs) => trainer.resumeRun(runId, extraEpochs ?? 0),
  pause: () => trainer.pause(),
  unpause: () => trainer.resume(),
  stop: () => trainer.stop(),
  activeRun: () => trainer.activeRun,
};

Comlink.expose(api);
