/**
 * The page's side of `luna-lab train`: `window.lunaHeadless`, installed on a page opened with
 * `?headless=1`. It drives the same ingest worker and train worker the page's buttons drive,
 * so a headless run and an in-browser run of one lab URL are the same experiment. Events go to
 * the CLI through `window.lunaCliEvent` (Playwright's exposeFunction); binary files leave as
 * base64, the one encoding Playwright carries for certain.
 */
import type { LabConfig } from '../config/lab-config.ts';
import { describeAdapter, type GpuAdapterInfoLike } from '../model/backend.ts';
import { labStore } from '../store/lab-store.ts';
import { storageRoom, type StorageRoom } from '../store/quota.ts';
import type { MetricPoint, RunRecord, WeightSpec } from '../store/records.ts';
import type { Progress } from '../train/trainer.ts';
import type { ProfileReport } from '../train/step-profiler.ts';
import type { OutboxState } from '../tracking/outbox.ts';
import { systemMetricItems } from '../tracking/system-metrics-sink.ts';
import { ingestUrls, type FileProgress, type IngestReport, type RemoteFile } from '../ui/ingest-client.ts';
import { TrainClient } from '../ui/train-client.ts';
import { LAB_COMMIT, LAB_VERSION } from '../version.ts';
import type { SourceWeights } from '../train/model-source.ts';

export type HeadlessEvent =
  | { type: 'ingest'; files: FileProgress[] }
  | { type: 'run'; run: RunSummary }
  | { type: 'progress'; progress: Progress }
  | { type: 'metrics'; runId: string; point: MetricPoint }
  | { type: 'tracking'; state: OutboxState }
  | { type: 'interrupted'; runId: string; error: string | null };

/** A run record without its (large) history and predictions. */
export type RunSummary = Omit<RunRecord, 'history' | 'predictions'>;

export interface PageInfo {
  labVersion: string;
  labCommit: string;
  userAgent: string;
  /** The WebGPU adapter the page gets, or why there is none. */
  webgpu: { adapter: string; fallback: boolean } | { unavailable: string };
  /** The origin's storage after asking for persistence (null: the browser cannot say). */
  storage: StorageRoom | null;
}

export interface FileOut {
  path: string;
  base64: string;
}

export interface CheckpointOut {
  epoch: number;
  samplesSeen: number;
  weightSpecs: WeightSpec[];
  optimizerSpecs: WeightSpec[];
  state: unknown;
  weights: string;
  optimizer: string;
}

/** The weights of `finetune.from` as the CLI read them (a run folder), bytes as base64. */
export interface SourceWeightsOut {
  specs: WeightSpec[];
  base64: string;
  tags: { key: string; value: string }[];
}

export interface HeadlessApi {
  info(): Promise<PageInfo>;
  /** The origin's usage, quota and persistence now. */
  storage(): Promise<StorageRoom | null>;
  /** Every cached series and its subset (what a run could train on). */
  cachedSeries(): Promise<{ seriesUid: string; subset: string }[]>;
  /** Ingest every file the CLI's data server lists; `diskFreeBytes`: free space on the disk
   *  holding the profile, as the CLI measured it (a drop that cannot fit is refused up front). */
  ingest(dataUrl: string, diskFreeBytes?: number | null): Promise<IngestReport>;
  /** `series`: train on these cached series only (the CLI's `--data`), unless null. */
  start(
    config: LabConfig,
    name: string,
    tags: { key: string; value: string }[],
    /** `source`: the weights of `finetune.from` the CLI read (a run folder); `series`: train on
     *  these cached series only (the CLI's `--data`), unless null; `runId`: the id the CLI
     *  reserved in the run's run.json; `labBase`: where its lab URL opens (not this temporary port). */
    opts?: { source?: SourceWeightsOut; series?: string[] | null; runId?: string; labBase?: string },
  ): Promise<RunRecord>;
  resume(runId: string, source?: SourceWeightsOut): Promise<RunRecord>;
  stop(): void;
  run(runId: string): Promise<RunRecord | null>;
  /** The run's last checkpoint (weights, optimizer, sampler and RNG state). */
  checkpoint(runId: string): Promise<CheckpointOut | null>;
  /** Config, lab URL, predictions, tfjs and ONNX models from the last checkpoint. */
  exportRun(runId: string): Promise<FileOut[]>;
  /** Deliver the tracking outbox now; what is left waiting. */
  flushTracking(): Promise<OutboxState>;
  /** The CLI's system metrics sample (the browser's processes, the GPUs) for a tracked run's
   *  MLflow metrics, at `at` ms; how many outbox items it became (0: the run is not tracked). */
  logSystemMetrics(runId: string, values: Record<string, number>, at: number): Promise<number>;
  /** `--profile`: the next run records the kernels of `steps` training steps. */
  profileSteps(steps: number): Promise<void>;
  /** What it recorded (src/train/step-profiler.ts). */
  profileReport(): Promise<ProfileReport>;
}

declare global {
  interface Window {
    lunaHeadless?: HeadlessApi;
    lunaCliEvent?: (e: HeadlessEvent) => void;
  }
}

const emit = (e: HeadlessEvent) => window.lunaCliEvent?.(e);

function summary(run: RunRecord): RunSummary {
  const { history: _h, predictions: _p, ...rest } = run;
  return rest;
}

async function toBase64(blob: Blob): Promise<string> {
  const bytes = new Uint8Array(await blob.arrayBuffer());
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

function fromBase64(s: string): ArrayBuffer {
  const bin = atob(s);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return bytes.buffer;
}

function sourceWeights(s: SourceWeightsOut | undefined): SourceWeights | undefined {
  return s && { specs: s.specs, data: fromBase64(s.base64), tags: s.tags };
}

async function probeWebGpu(): Promise<PageInfo['webgpu']> {
  const gpu = (navigator as Navigator & { gpu?: { requestAdapter(o?: object): Promise<unknown> } }).gpu;
  if (!gpu) return { unavailable: 'navigator.gpu is missing (WebGPU is off in this browser)' };
  const adapter = (await gpu.requestAdapter({ powerPreference: 'high-performance' })) as {
    info?: GpuAdapterInfoLike & { isFallbackAdapter?: boolean };
    isFallbackAdapter?: boolean;
  } | null;
  if (!adapter) return { unavailable: 'requestAdapter() returned no adapter' };
  const info = adapter.info ?? {};
  return { adapter: describeAdapter(info), fallback: !!(info.isFallbackAdapter ?? adapter.isFallbackAdapter) };
}

export function installHeadlessApi(): void {
  const client = new TrainClient({
    run: (run) => emit({ type: 'run', run: summary(run) }),
    progress: (progress) => emit({ type: 'progress', progress }),
    metrics: (runId, point) => emit({ type: 'metrics', runId, point }),
    tracking: (state) => emit({ type: 'tracking', state }),
  });
  const interrupted = (r: RunRecord) => emit({ type: 'interrupted', runId: r.runId, error: r.error });
  const api: HeadlessApi = {
    async info() {
      // Asked before anything is cached; the CLI grants it (headless-session.ts).
      if (navigator.storage?.persist) await navigator.storage.persist().catch(() => false);
      return {
        labVersion: LAB_VERSION,
        labCommit: LAB_COMMIT,
        userAgent: navigator.userAgent,
        webgpu: await probeWebGpu(),
        storage: await storageRoom(),
      };
    },
    storage: () => storageRoom(),
    cachedSeries: async () =>
      (await labStore().listSeries()).map((s) => ({ seriesUid: s.seriesUid, subset: s.subset })),
    async ingest(dataUrl, diskFreeBytes) {
      const res = await fetch(`${dataUrl}/files.json`);
      if (!res.ok) throw new Error(`the data server answered HTTP ${res.status} for its file list`);
      const listed = (await res.json()) as { path: string; size: number; lastModified: number }[];
      const files: RemoteFile[] = listed.map((f) => ({
        ...f,
        url: `${dataUrl}/files/${f.path.split('/').map(encodeURIComponent).join('/')}`,
      }));
      return ingestUrls(files, (batch) => emit({ type: 'ingest', files: batch }), diskFreeBytes ?? null);
    },
    start: (config, name, tags, opts) =>
      client.withRecovery(
        () =>
          client.start(config, name, tags, {
            ...(opts?.series ? { series: opts.series } : {}),
            ...(opts?.runId ? { runId: opts.runId } : {}),
            ...(opts?.labBase ? { labBase: opts.labBase } : {}),
            ...(opts?.source ? { source: sourceWeights(opts.source) } : {}),
          }),
        interrupted,
      ),
    resume: (runId, source) => client.withRecovery(() => client.resume(runId, 0, sourceWeights(source)), interrupted),
    stop: () => client.stop(),
    run: async (runId) => (await labStore().getRun(runId)) ?? null,
    async checkpoint(runId) {
      const cp = await labStore().getCheckpoint(runId);
      if (!cp) return null;
      return {
        epoch: cp.epoch,
        samplesSeen: cp.samplesSeen,
        weightSpecs: cp.weightSpecs,
        optimizerSpecs: cp.optimizerSpecs,
        state: cp.state,
        weights: await toBase64(cp.weights),
        optimizer: await toBase64(cp.optimizer),
      };
    },
    async exportRun(runId) {
      const files = await client.exportRun(runId);
      return Promise.all(files.map(async (f) => ({ path: f.path, base64: await toBase64(f.data) })));
    },
    flushTracking: () => client.flushTracking(),
    profileSteps: (steps) => client.profileSteps(steps),
    profileReport: () => client.profileReport(),
    async logSystemMetrics(runId, values, at) {
      const run = await labStore().getRun(runId);
      const items = run ? systemMetricItems(run, values, at) : [];
      // Delivered with the run's next outbox pass (each epoch's end, the CLI's final flush).
      if (items.length) await labStore().enqueue(items);
      return items.length;
    },
  };
  window.lunaHeadless = api;
}
