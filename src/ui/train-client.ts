/**
 * The page's handle on the train worker. A worker holds one tfjs backend; a lost GPU device
 * or a reload is answered by a fresh worker that resumes from the last checkpoint.
 */
import * as Comlink from 'comlink';
import type { ProfileReport } from '../train/step-profiler.ts';
import type { TrainApi, TrainListener } from '../../workers/train.worker.ts';
import type { LabConfig } from '../config/lab-config.ts';
import type { RunRecord } from '../store/records.ts';
import type { OutboxState } from '../tracking/outbox.ts';
import type { TrackingTarget } from '../tracking/run-tracking.ts';
import type { ArtifactFile } from '../tracking/artifacts.ts';
import type { SourceWeights } from '../train/model-source.ts';
import type { StartOptions } from '../train/trainer.ts';

export type { TrainListener };

export class TrainClient {
  private worker: Worker | null = null;
  private api: Comlink.Remote<TrainApi> | null = null;

  constructor(private readonly listener: TrainListener) {}

  private remote(): Comlink.Remote<TrainApi> {
    if (!this.api) {
      this.worker = new Worker(new URL('../../workers/train.worker.ts', import.meta.url), {
        type: 'module',
        name: 'train',
      });
      this.api = Comlink.wrap<TrainApi>(this.worker);
      void this.api.setListener(Comlink.proxy(this.listener));
    }
    return this.api;
  }

  start(config: LabConfig, name?: string, tags?: RunRecord['tags'], opts: StartOptions = {}): Promise<RunRecord> {
    return this.remote().start(config, name, tags, opts.source ? Comlink.transfer(opts, [opts.source.data]) : opts);
  }

  exportRun(runId: string): Promise<ArtifactFile[]> {
    return this.remote().exportRun(runId);
  }

  resume(runId: string, extraEpochs = 0, source?: SourceWeights): Promise<RunRecord> {
    return this.remote().resume(runId, extraEpochs, source && Comlink.transfer(source, [source.data]));
  }

  flushTracking(): Promise<OutboxState> {
    return this.remote().flushTracking();
  }

  retryTracking(id: number): Promise<OutboxState> {
    return this.remote().retryTracking(id);
  }

  discardTracking(id: number): Promise<OutboxState> {
    return this.remote().discardTracking(id);
  }

  pushRun(runId: string, target: TrackingTarget): Promise<RunRecord> {
    return this.remote().pushRun(runId, target);
  }

  /** `--profile`: the next run records the kernels of `steps` training steps. */
  async profileSteps(steps: number): Promise<void> {
    await this.remote().profileSteps(steps);
  }

  profileReport(): Promise<ProfileReport> {
    return this.remote().profileReport();
  }

  pause(): void {
    void this.api?.pause();
  }

  unpause(): void {
    void this.api?.unpause();
  }

  stop(): void {
    void this.api?.stop();
  }

  /**
   * Run a training job; a run interrupted by a lost GPU device is resumed from its last
   * checkpoint in a fresh worker (twice at most). `onInterrupted` says it happened.
   */
  async withRecovery(
    job: () => Promise<RunRecord>,
    onInterrupted: (run: RunRecord) => void = () => {},
  ): Promise<RunRecord> {
    let result = await job();
    for (let retries = 0; result.status === 'interrupted' && retries < 2; retries++) {
      onInterrupted(result);
      this.restart();
      result = await this.resume(result.runId);
    }
    return result;
  }

  /** Drop the worker (and its GPU device); the next call starts a fresh one. */
  restart(): void {
    this.worker?.terminate();
    this.worker = null;
    this.api = null;
  }
}
