/**
 * The training run: config in, trained model, metrics, predictions and checkpoints out.
 * Runs wherever tfjs runs (the train worker in the page; Node in tests). All randomness
 * comes from the run's seed through named streams; a checkpoint at each epoch end holds
 * weights, optimizer state, sampler and RNG state and the metrics history, so a resumed run
 * continues exactly where the checkpoint was taken.
 *
 * A run is set up (its RunScope: backend, kernels, dropout stream; its data; its model), trains
 * epoch after epoch, each stored as a checkpoint, and is torn down whatever happened. What it
 * has to tell goes to the run sinks it was given (src/tracking/run-sink.ts), never to a sink
 * by name.
 */
import * as tf from '@tensorflow/tfjs';
import { resolveConfig, resolveConfigOrThrow, type LabConfig, type LabConfigInput } from '../config/lab-config.ts';
import { createSampling, type Sampling } from '../data/sampler.ts';
import { buildLunaModel } from '../model/luna-model.ts';
import { createOptimizer, type LabOptimizer } from '../model/optimizers.ts';
import { NoduleClassificationModel, type StepInfo } from '../model/nodule-classifier.ts';
import { selectBackend } from '../model/backend.ts';
import type { PredictionRow, RunRecord } from '../store/records.ts';
import type { LabStore } from '../store/lab-store.ts';
import { loadCandidateSet, type CandidateSet } from '../store/candidate-set.ts';
import { CacheCropSource } from '../store/cache-crop-source.ts';
import { CropProvider } from '../data/crop-provider.ts';
import { batchesOf, type BatchWait } from '../data/batches.ts';
import { inThreadPool, type AugmentPool } from '../data/augment-pool.ts';
import { formatSubsetDigest, subsetDigests, type SubsetDigest } from '../store/data-selection.ts';
import { LAB_VERSION } from '../version.ts';
import { encodeLabUrl } from '../config/lab-url.ts';
import {
  epochItems,
  evalMetricItems,
  mlflowStatus,
  startItems,
  statusItem,
  artifactItems,
  registerItems,
  trackingTarget,
  type TrackingTarget,
} from '../tracking/run-tracking.ts';
import { runArtifacts, type ArtifactFile } from '../tracking/artifacts.ts';
import type { Progress, RunSink } from '../tracking/run-sink.ts';
import { randomHex } from '../data/hex.ts';
import { restoreCheckpoint, restoreWeights, takeCheckpoint } from './checkpoint.ts';
import { isValidationEpoch } from './cadence.ts';
import { RunPace } from './pace.ts';
import { RunScope } from './run-scope.ts';
import { StepProfiler } from './step-profiler.ts';
import { leakWarning, type TfMemory } from '../tracking/system-metrics.ts';
import { loadSourceWeights, parseModelSource, type SourceWeights } from './model-source.ts';
import { prepareFinetune, withSourceTags } from './finetune.ts';

export type { Progress };

export class StopRequested extends Error {
  override name = 'StopRequested';
}

export interface TrainerOptions {
  /** The run's data workers, made when a run starts and disposed when it ends; default: none
   *  (augmentation in the training thread, as in Node). The batches are the same either way. */
  dataPool?: () => AugmentPool;
}

/** How a caller starts a run: see `Trainer.start`. */
export interface StartOptions {
  series?: string[];
  source?: SourceWeights;
  runId?: string;
  labBase?: string;
}

export class Trainer {
  private paused: { promise: Promise<void>; resolve: () => void } | null = null;
  private stopping = false;
  private active: string | null = null;
  /** `--profile`: the kernel timings of a few steps of the next run (src/train/step-profiler.ts). */
  readonly profiler = new StepProfiler();
  /** The run's per-epoch tfjs leak check, made afresh for each run. */
  private leaks = new LeakCheck();

  /** `sinks` hear everything a run tells (the page, the MLflow outbox: src/tracking/run-sink.ts). */
  constructor(
    private readonly db: LabStore,
    private readonly sinks: readonly RunSink[] = [],
    private readonly options: TrainerOptions = {},
  ) {}

  get activeRun(): string | null {
    return this.active;
  }

  pause(): void {
    if (this.paused) return;
    let resolve!: () => void;
    const promise = new Promise<void>((r) => (resolve = r));
    this.paused = { promise, resolve };
  }

  resume(): void {
    this.paused?.resolve();
    this.paused = null;
  }

  stop(): void {
    this.stopping = true;
    this.resume();
  }

  /** A new run of `config`. Resolves when it ends (finished, stopped or failed).
   *  `opts.series`: the only series the run may use (kept with the run, so a resume keeps it);
   *  `opts.source`: the weights of `config.finetune.from` when the caller has read them (a run
   *  folder, in the CLI); `opts.runId`: the id the caller reserved (the CLI's run.json);
   *  `opts.labBase`: where the run's lab URL opens (headless pages live on a temporary port). */
  async start(
    config: LabConfig,
    name?: string,
    tags: RunRecord['tags'] = [],
    opts: StartOptions = {},
  ): Promise<RunRecord> {
    const run: RunRecord = {
      runId: opts.runId ?? randomHex(8),
      name: name ?? `run ${new Date().toISOString().slice(0, 19).replace('T', ' ')}`,
      config,
      status: 'running',
      createdAt: Date.now(),
      updatedAt: Date.now(),
      backend: null,
      adapter: null,
      fellBackFrom: [],
      epochsDone: 0,
      samplesSeen: 0,
      history: [],
      predictions: [],
      dataDigest: '',
      labVersion: LAB_VERSION,
      labUrl: encodeLabUrl(config, opts.labBase ?? labBase()),
      trackingQueued: false,
      error: null,
      warnings: [],
      tags,
      ...(opts.series ? { series: [...opts.series] } : {}),
    };
    await this.db.putRun(run);
    return this.execute(run, opts.source);
  }

  /** Continue a run from its last checkpoint (after a reload, a lost device, or a stop);
   *  `extraEpochs` extends a finished run ("continue training"). */
  async resumeRun(runId: string, extraEpochs = 0, source?: SourceWeights): Promise<RunRecord> {
    const run = await this.db.getRun(runId);
    if (!run) throw new Error(`run ${runId} is not in this browser's lab`);
    // A run stored by an earlier lab lacks newer fields (kernels, data.digest): their defaults.
    const stored = resolveConfigOrThrow(JSON.parse(JSON.stringify(run.config)) as LabConfigInput);
    const epochs = stored.train.epochs + extraEpochs;
    const config: LabConfig = extraEpochs ? { ...stored, train: { ...stored.train, epochs } } : stored;
    const resumed: RunRecord = { ...run, config, status: 'running', error: null };
    await this.db.putRun(resumed);
    const target = trackingTarget(resumed);
    if (target && run.trackingQueued && run.status !== 'running' && run.status !== 'interrupted') {
      await this.db.enqueue([statusItem(resumed, target, 'RUNNING')]);
    }
    return this.execute(resumed, source);
  }

  /** Send a run that was kept in this browser to a tracking server: all its epochs, its
   *  artifacts (the model from its last checkpoint) and its status, through the outbox. */
  async pushRun(runId: string, target: TrackingTarget): Promise<RunRecord> {
    const stored = await this.db.getRun(runId);
    if (!stored) throw new Error(`run ${runId} is not in this browser's lab`);
    if (stored.trackingQueued && stored.config.tracking.server === target.server) {
      throw new Error(`run ${stored.name} is already tracked on ${target.server}`);
    }
    if (stored.status === 'running' || stored.status === 'paused')
      throw new Error(`run ${stored.name} is training: push it when it has ended`);
    const config = resolveConfigOrThrow({ ...JSON.parse(JSON.stringify(stored.config)), tracking: target });
    const run: RunRecord = {
      ...stored,
      config,
      labUrl: encodeLabUrl(config, stored.labUrl || labBase()),
      trackingQueued: true,
    };
    const items = [...startItems(run, target, run.labUrl)];
    for (const epoch of [...new Set(run.history.map((p) => p.epoch))])
      items.push(
        ...epochItems(
          run,
          target,
          run.history.filter((p) => p.epoch === epoch),
        ),
      );
    if (await this.db.getCheckpoint(runId)) {
      items.push(...artifactItems(run, target, await this.exportRun(runId, run)));
      if (run.status === 'finished') items.push(...registerItems(run, target));
    }
    if (run.eval) items.push(...evalMetricItems(run, target, run.eval));
    items.push(statusItem(run, target, mlflowStatus(run.status)));
    await this.db.queueRunTracking(run, items);
    for (const sink of this.sinks) sink.onRun?.(run);
    for (const sink of this.sinks) sink.onEnqueued?.();
    return run;
  }

  /** The run's files (config, URL, predictions, tfjs and ONNX models) from its last checkpoint. */
  async exportRun(runId: string, record?: RunRecord): Promise<ArtifactFile[]> {
    const run = record ?? (await this.db.getRun(runId));
    if (!run) throw new Error(`run ${runId} is not in this browser's lab`);
    const checkpoint = await this.db.getCheckpoint(runId);
    if (!checkpoint) throw new Error(`run ${run.name} has no checkpoint yet (no epoch has ended)`);
    await selectBackend(run.config.backend, run.config.gpuFeatures ?? []);
    const model = buildLunaModel(run.config.model, run.config.crop, run.config.train.seed);
    try {
      await restoreWeights(checkpoint, model);
      return await runArtifacts(run, model);
    } finally {
      model.dispose();
    }
  }

  private async execute(run: RunRecord, source?: SourceWeights): Promise<RunRecord> {
    if (this.active) throw new Error(`run ${this.active} is already training in this worker`);
    this.active = run.runId;
    this.stopping = false;
    const lock = (globalThis.navigator as Navigator | undefined)?.locks;
    try {
      // The lock tells other tabs (and a reloaded page) that this run is alive.
      return lock
        ? await lock.request(`luna-run-${run.runId}`, { ifAvailable: true }, async (l) => {
            if (!l) throw new Error(`run ${run.name} is training in another tab`);
            return this.train(run, source);
          })
        : await this.train(run, source);
    } finally {
      this.active = null;
      this.paused = null;
    }
  }

  /** One run from set-up to teardown; every outcome (finished, stopped, failed) ends in the record. */
  private async train(initial: RunRecord, source?: SourceWeights): Promise<RunRecord> {
    const live = new LiveRun(initial, this.db, this.sinks);
    const held: Held = { scope: null, pool: null, model: null, optimizer: null };
    try {
      const t = await this.setUp(live, held, source);
      for (let epoch = t.startEpoch; epoch <= t.config.train.epochs; epoch++) await this.trainEpoch(live, t, epoch);
      await live.update({ status: 'finished' });
      await this.end(live, t.model);
    } catch (e) {
      if (e instanceof StopRequested) await live.update({ status: 'stopped' });
      else {
        const message = e instanceof Error ? e.message : String(e);
        await live.update({ status: isDeviceLoss(message) ? 'interrupted' : 'failed', error: message });
      }
      await this.end(live, null);
    } finally {
      await this.tearDown(held);
    }
    return live.run;
  }

  /** The run's scope (backend, kernels, dropout stream), its data, the sinks' start, the model
   *  and optimizer (from the checkpoint when resuming) and the classifier with the run's hooks. */
  private async setUp(live: LiveRun, held: Held, source?: SourceWeights): Promise<Training> {
    const config = live.run.config;
    const scope = (held.scope = await RunScope.open(config));
    const { backend } = scope;
    await live.update({ backend: backend.backend, adapter: scope.adapter, fellBackFrom: backend.fellBackFrom });
    const { set, sampler, validation } = await this.loadData(live, scope);
    // A fine-tuned run's source is read (and named in its tags) before the sinks hear of the run.
    const initial = config.finetune.from && live.run.epochsDone <= 0 ? await this.finetuneSource(live, source) : null;
    for (const sink of this.sinks) {
      const changes = await sink.onStart?.(live.run);
      if (changes) await live.update(changes);
    }
    const model = (held.model = buildLunaModel(config.model, config.crop, config.train.seed));
    prepareFinetune(model, config.finetune, initial);
    const optimizer = (held.optimizer = createOptimizer(config.optimizer));
    const { startEpoch, samplesSeen } = await this.restore(live, { model, optimizer, sampler, scope });

    const provider = new CropProvider(new CacheCropSource(this.db, set.series), set.series, config.crop);
    const pool = (held.pool = this.options.dataPool?.() ?? inThreadPool());
    const pace = new RunPace(config.train.epochs, validation.length);
    const classifier = new NoduleClassificationModel({
      config,
      model,
      optimizer,
      samplesSeen,
      hooks: {
        beforeTrainingStep: () => {
          // A stop asked while this batch was prepared acts here, before the step, not after it.
          if (this.stopping) throw new StopRequested('stopped by the user');
          scope.activate();
          this.profiler.beforeStep();
        },
        onStep: async (s) => {
          if (s.phase === 'training') await this.profiler.afterStep(s.epoch);
          return this.afterStep(live, scope, pace, s);
        },
        onMetrics: (epoch, step, values, curves) => {
          const point = { epoch, step, values, curves };
          live.run = { ...live.run, history: [...live.run.history, point] };
          for (const sink of this.sinks) sink.onMetrics?.(live.run.runId, point);
        },
      },
    });
    this.leaks = new LeakCheck();
    return { config, scope, model, optimizer, sampler, validation, provider, pool, classifier, pace, startEpoch };
  }

  /** The run's candidates and crops, its split and sampler; the record names the data used. */
  private async loadData(
    live: LiveRun,
    scope: RunScope,
  ): Promise<{ set: CandidateSet } & Pick<Sampling, 'sampler' | 'validation'>> {
    const config = live.run.config;
    const set = await loadCandidateSet(this.db, config, live.run.series ? { series: live.run.series } : {});
    const used = await subsetDigests([...set.series.values()]);
    const { split, sampler, validation } = createSampling(set.candidates, config);
    // The run's URL names the data it used, so whoever opens it can tell missing data.
    const pinned = pinData(config, used);
    const gpuWarning = scope.backend.gpuFeatures?.warning;
    await live.update({
      dataDigest: set.dataDigest,
      warnings: [...(gpuWarning ? [gpuWarning] : []), ...set.warnings, ...split.warnings],
      ...(pinned ? { labUrl: encodeLabUrl(pinned, live.run.labUrl || labBase()) } : {}),
    });
    return { set, sampler, validation };
  }

  /** The weights of `finetune.from` (the caller's, or read from the store or MLflow); the run's tags name them. */
  private async finetuneSource(live: LiveRun, given?: SourceWeights): Promise<SourceWeights> {
    const { finetune, tracking } = live.run.config;
    const weights =
      given ?? (await loadSourceWeights(parseModelSource(finetune.from), { store: this.db, server: tracking.server }));
    await live.update({ tags: withSourceTags(live.run.tags ?? [], finetune, weights) });
    return weights;
  }

  /** A resumed run continues from its checkpoint: weights, optimizer, sampler and dropout stream. */
  private async restore(
    live: LiveRun,
    t: Pick<Training, 'model' | 'optimizer' | 'sampler' | 'scope'>,
  ): Promise<{ startEpoch: number; samplesSeen: number }> {
    const checkpoint = await this.db.getCheckpoint(live.run.runId);
    if (!checkpoint || live.run.epochsDone <= 0) return { startEpoch: 1, samplesSeen: 0 };
    await restoreCheckpoint(checkpoint, t.model, t.optimizer, t.sampler, t.scope.dropoutRng);
    const samplesSeen = checkpoint.samplesSeen;
    // History past the checkpoint (an epoch cut short) is dropped with it.
    await live.update({
      history: live.run.history.filter((p) => p.epoch <= checkpoint.epoch),
      epochsDone: checkpoint.epoch,
      samplesSeen,
    });
    return { startEpoch: checkpoint.epoch + 1, samplesSeen };
  }

  /** At every step boundary: GPU errors, progress to the sinks, pause and stop. */
  private async afterStep(live: LiveRun, scope: RunScope, pace: RunPace, s: StepInfo): Promise<void> {
    await scope.gpu?.step(`during a ${s.phase} step of epoch ${s.epoch}`);
    const { total, samplesPerSecond, etaSeconds } = pace.step(s);
    const progress: Progress = {
      runId: live.run.runId,
      epoch: s.epoch,
      epochs: live.run.config.train.epochs,
      phase: s.phase,
      done: s.samples,
      total,
      samplesSeen: s.samplesSeen,
      samplesPerSecond,
      etaSeconds,
      batchLoss: s.batchLoss,
      numTensors: tf.memory().numTensors,
    };
    for (const sink of this.sinks) sink.onProgress?.(progress);
    if (this.paused) {
      await live.update({ status: 'paused' });
      await this.paused?.promise;
      if (!this.stopping) await live.update({ status: 'running' });
    }
    if (this.stopping) throw new StopRequested('stopped by the user');
  }

  /** Train one epoch (and validate it when the cadence says so), then store it. */
  private async trainEpoch(live: LiveRun, t: Training, epoch: number): Promise<void> {
    const { config, sampler, validation, provider, pool, classifier } = t;
    const samples = sampler.nextEpoch();
    t.pace.startEpoch(samples.length);
    const validate = isValidationEpoch(epoch, config.train);
    const wait: BatchWait = { batches: 0, seconds: 0 };
    const result = await classifier.fitEpoch(
      epoch,
      batchesOf(samples, config.train.batchSize, provider, config.augment, { pool, wait }),
      validate ? batchesOf(validation, config.train.batchSize, provider, null) : null,
    );
    const trainingPoint = live.run.history.findLast((p) => p.epoch === epoch && 'training/loss/all' in p.values)!;
    Object.assign(trainingPoint.values, systemMetrics(result.samplesPerSecond, result.seconds, wait));
    const v = result.validationSamples;
    const predictions: PredictionRow[] = v
      ? v.refs.map((r, i) => ({
          seriesUid: r.seriesUid,
          xyz: [r.xyz[0], r.xyz[1], r.xyz[2]],
          diameterMm: r.diameterMm,
          label: v.labels[i] as 0 | 1,
          prob: v.probPos[i],
          loss: v.loss[i],
        }))
      : live.run.predictions;
    const leak = this.leaks.epochEnded(epoch);
    live.run = {
      ...live.run,
      epochsDone: epoch,
      samplesSeen: classifier.samplesSeen,
      predictions,
      ...(leak ? { warnings: [...live.run.warnings, leak] } : {}),
    };
    await this.checkpoint(live, t, epoch);
  }

  /** The epoch's checkpoint, written in one transaction with the run and the sinks' outbox items. */
  private async checkpoint(live: LiveRun, t: Training, epoch: number): Promise<void> {
    const run = live.run;
    const points = run.history.filter((p) => p.epoch === epoch);
    const outbox = this.sinks.flatMap((sink) => [...(sink.onEpoch?.(run, points) ?? [])]);
    await this.db.putCheckpoint(
      run,
      await takeCheckpoint(run, t.model, t.optimizer, t.sampler, t.scope.dropoutRng),
      outbox,
    );
    for (const sink of this.sinks) sink.onRun?.(run);
    for (const sink of this.sinks) sink.onCheckpoint?.(run);
  }

  /** The sinks' last word on the run (`model` when it finished); what they return lands in the record. */
  private async end(live: LiveRun, model: tf.LayersModel | null): Promise<void> {
    for (const sink of this.sinks) {
      const changes = await sink.onEnd?.(live.run, model);
      if (changes) await live.update(changes);
    }
  }

  /** Close the scope (GPU guard, kernels and dropout stream as they were) and free the model. */
  private async tearDown(held: Held): Promise<void> {
    this.profiler.abort();
    try {
      await held.scope?.close();
    } finally {
      held.pool?.dispose();
      for (const sink of this.sinks) sink.onClose?.();
      held.model?.dispose();
      held.optimizer?.dispose();
    }
  }
}

/** What `setUp` has made so far: released by `tearDown` whatever failed. */
interface Held {
  scope: RunScope | null;
  pool: AugmentPool | null;
  model: tf.LayersModel | null;
  optimizer: LabOptimizer | null;
}

/** A run ready to train its epochs. */
interface Training {
  config: LabConfig;
  scope: RunScope;
  model: tf.LayersModel;
  optimizer: LabOptimizer;
  sampler: Sampling['sampler'];
  validation: Sampling['validation'];
  provider: CropProvider;
  pool: AugmentPool;
  classifier: NoduleClassificationModel;
  pace: RunPace;
  startEpoch: number;
}

/** The run's record as it trains: each change stored and shown to the sinks. */
class LiveRun {
  constructor(
    public run: RunRecord,
    private readonly db: LabStore,
    private readonly sinks: readonly RunSink[],
  ) {}

  async update(changes: Partial<RunRecord>): Promise<void> {
    this.run = { ...this.run, ...changes };
    await this.db.updateRun(this.run.runId, changes);
    for (const sink of this.sinks) sink.onRun?.(this.run);
  }
}

/** The config with its data selection made explicit (subsets and their digests); null when a
 *  subset name cannot travel in a URL. */
export function pinData(config: LabConfig, used: readonly SubsetDigest[]): LabConfig | null {
  const { config: pinned, issues } = resolveConfig({
    ...JSON.parse(JSON.stringify(config)),
    data: { ...config.data, subsets: used.map((u) => u.subset), digest: used.map(formatSubsetDigest) },
  });
  return issues.length ? null : pinned;
}

/** Where lab URLs point: this page, or the default dev server when there is none (Node). */
function labBase(): string {
  const loc = (globalThis as { location?: { origin?: string } }).location;
  return loc?.origin && loc.origin !== 'null' ? `${loc.origin}/` : 'http://127.0.0.1:4173/';
}

/** What a browser can know about the machine, in MLflow's `system/` namespace. */
function systemMetrics(samplesPerSecond: number, epochSeconds: number, wait: BatchWait): Record<string, number> {
  const mem = tf.memory() as tf.MemoryInfo & { numBytesInGPU?: number };
  const heap = (globalThis.performance as Performance & { memory?: { usedJSHeapSize: number } }).memory;
  return {
    'system/samples_per_second': samplesPerSecond,
    'system/epoch_seconds': epochSeconds,
    // The training loop's idle time per step, waiting for its batch (reads + augmentation on
    // data workers; augmentation in this thread delays the step instead, and is not counted).
    'system/batch_wait_seconds': wait.batches ? wait.seconds / wait.batches : 0,
    'system/tfjs_bytes': mem.numBytes,
    ...(mem.numBytesInGPU !== undefined ? { 'system/tfjs_gpu_bytes': mem.numBytesInGPU } : {}),
    ...(heap ? { 'system/js_heap_bytes': heap.usedJSHeapSize } : {}),
  };
}

/** The per-epoch tfjs leak check (src/tracking/system-metrics.ts): each epoch's end against the last. */
class LeakCheck {
  private last: TfMemory | null = null;

  epochEnded(epoch: number): string | null {
    const { numTensors, numBytes, numBytesInGPU } = tf.memory() as TfMemory;
    const now = { numTensors, numBytes, ...(numBytesInGPU !== undefined ? { numBytesInGPU } : {}) };
    const warning = this.last ? leakWarning(epoch, this.last, now) : null;
    this.last = now;
    return warning;
  }
}

export function isDeviceLoss(message: string): boolean {
  return /device (was )?lost|GPUDevice.*lost|context lost/i.test(message);
}
