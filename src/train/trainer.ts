/**
 * The training run: config in, trained model, metrics, predictions and checkpoints out.
 * Runs wherever tfjs runs (the train worker in the page; Node in tests). All randomness
 * comes from the run's seed through named streams; a checkpoint at each epoch end holds
 * weights, optimizer state, sampler and RNG state and the metrics history, so a resumed run
 * continues exactly where the checkpoint was taken.
 */
import * as tf from '@tensorflow/tfjs';
import { resolveConfig, resolveConfigOrThrow, type LabConfig, type LabConfigInput } from '../config/lab-config.ts';
import { createRng, type Rng } from '../data/rng.ts';
import { createSampling } from '../data/sampler.ts';
import { buildLunaModel } from '../model/luna-model.ts';
import { createOptimizer, type LabOptimizer } from '../model/optimizers.ts';
import { NoduleClassificationModel, type StepInfo } from '../model/nodule-classifier.ts';
import { selectBackend } from '../model/backend.ts';
import { GpuErrorGuard, useKernels } from '../model/kernels/index.ts';
import { setDropoutRng } from '../model/dropout.ts';
import type { MetricPoint, PredictionRow, RunRecord } from '../store/records.ts';
import type { LabStore } from '../store/lab-store.ts';
import { loadCandidateSet } from '../store/candidate-set.ts';
import { CacheCropSource } from '../store/cache-crop-source.ts';
import { CropProvider } from '../data/crop-provider.ts';
import { batchesOf, type BatchWait } from '../data/batches.ts';
import { inThreadPool, type AugmentPool } from '../data/augment-pool.ts';
import { isValidationEpoch } from './cadence.ts';
import { formatSubsetDigest, subsetDigests, type SubsetDigest } from '../store/data-selection.ts';
import { LAB_VERSION } from '../version.ts';
import { encodeLabUrl } from '../config/lab-url.ts';
import { epochItems, mlflowStatus, startItems, statusItem, artifactItems, trackingTarget, type TrackingTarget } from '../tracking/run-tracking.ts';
import { runArtifacts, type ArtifactFile } from '../tracking/artifacts.ts';
import { randomHex } from '../data/hex.ts';
import { restoreCheckpoint, restoreWeights, takeCheckpoint } from './checkpoint.ts';


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

export interface TrainerEvents {
  /** Items were added to the tracking outbox: time to deliver. */
  onEnqueued?: () => void;
  onRun?: (run: RunRecord) => void;
  onProgress?: (p: Progress) => void;
  onMetrics?: (runId: string, point: MetricPoint) => void;
}

export interface TrainerOptions {
  /** The run's data workers, made when a run starts and disposed when it ends; default: none
   *  (augmentation in the training thread, as in Node). The batches are the same either way. */
  dataPool?: () => AugmentPool;
}

export class StopRequested extends Error {
  override name = 'StopRequested';
}

const now = () => (globalThis.performance ?? Date).now();


export class Trainer {
  private paused: { promise: Promise<void>; resolve: () => void } | null = null;
  private stopping = false;
  private active: string | null = null;

  constructor(
    private readonly db: LabStore,
    private readonly events: TrainerEvents = {},
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

  /** A new run of `config`. Resolves when it ends (finished, stopped or failed). */
  async start(config: LabConfig, name?: string, tags: RunRecord['tags'] = []): Promise<RunRecord> {
    const run: RunRecord = {
      runId: randomHex(8),
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
      labUrl: encodeLabUrl(config, labBase()),
      trackingQueued: false,
      error: null,
      warnings: [],
      tags,
    };
    await this.db.putRun(run);
    return this.execute(run);
  }

  /** Continue a run from its last checkpoint (after a reload, a lost device, or a stop);
   *  `extraEpochs` extends a finished run ("continue training"). */
  async resumeRun(runId: string, extraEpochs = 0): Promise<RunRecord> {
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
    return this.execute(resumed);
  }

  /** Send a run that was kept in this browser to a tracking server: all its epochs, its
   *  artifacts (the model from its last checkpoint) and its status, through the outbox. */
  async pushRun(runId: string, target: TrackingTarget): Promise<RunRecord> {
    const stored = await this.db.getRun(runId);
    if (!stored) throw new Error(`run ${runId} is not in this browser's lab`);
    if (stored.trackingQueued && stored.config.tracking.server === target.server) {
      throw new Error(`run ${stored.name} is already tracked on ${target.server}`);
    }
    if (stored.status === 'running' || stored.status === 'paused') throw new Error(`run ${stored.name} is training: push it when it has ended`);
    const config = resolveConfigOrThrow({ ...JSON.parse(JSON.stringify(stored.config)), tracking: target });
    const run: RunRecord = { ...stored, config, labUrl: encodeLabUrl(config, labBase()), trackingQueued: true };
    const items = [...startItems(run, target, run.labUrl)];
    for (const epoch of [...new Set(run.history.map((p) => p.epoch))]) items.push(...epochItems(run, target, run.history.filter((p) => p.epoch === epoch)));
    if (await this.db.getCheckpoint(runId)) items.push(...artifactItems(run, target, await this.exportRun(runId, run)));
    items.push(statusItem(run, target, mlflowStatus(run.status)));
    await this.db.queueRunTracking(run, items);
    this.events.onRun?.(run);
    this.events.onEnqueued?.();
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

  private async execute(run: RunRecord): Promise<RunRecord> {
    if (this.active) throw new Error(`run ${this.active} is already training in this worker`);
    this.active = run.runId;
    this.stopping = false;
    const lock = (globalThis.navigator as Navigator | undefined)?.locks;
    try {
      // The lock tells other tabs (and a reloaded page) that this run is alive.
      return lock
        ? await lock.request(`luna-run-${run.runId}`, { ifAvailable: true }, async (l) => {
            if (!l) throw new Error(`run ${run.name} is training in another tab`);
            return this.train(run);
          })
        : await this.train(run);
    } finally {
      this.active = null;
      this.paused = null;
    }
  }

  private async train(initial: RunRecord): Promise<RunRecord> {
    let run = initial;
    const config = run.config;
    const emit = async (changes: Partial<RunRecord>) => {
      run = { ...run, ...changes };
      await this.db.updateRun(run.runId, changes);
      this.events.onRun?.(run);
    };
    let model: tf.LayersModel | null = null;
    let optimizer: LabOptimizer | null = null;
    let gpu: GpuErrorGuard | null = null;
    let pool: AugmentPool | null = null;
    try {
      const backend = await selectBackend(config.backend, config.gpuFeatures);
      // Only the features the device has; a missing one is named in the run's warnings.
      const features = backend.gpuFeatures?.enabled ?? [];
      if (backend.backend === 'webgpu') await useKernels(config.kernels, features);
      // A failing shader must fail the run, not train on zeros: checked at every step boundary.
      gpu = GpuErrorGuard.forCurrentBackend();
      gpu?.begin();
      const adapter = backend.adapter && features.length ? `${backend.adapter} (device features: ${features.join(', ')})` : backend.adapter;
      await emit({ backend: backend.backend, adapter, fellBackFrom: backend.fellBackFrom });

      const set = await loadCandidateSet(this.db, config);
      const used = await subsetDigests([...set.series.values()]);
      const { split, sampler, validation } = createSampling(set.candidates, config);
      // The run's URL names the data it used, so whoever opens it can tell missing data.
      const pinned = pinData(config, used);
      await emit({
        dataDigest: set.dataDigest,
        warnings: [...(backend.gpuFeatures?.warning ? [backend.gpuFeatures.warning] : []), ...set.warnings, ...split.warnings],
        ...(pinned ? { labUrl: encodeLabUrl(pinned, labBase()) } : {}),
      });
      const target = trackingTarget(run);
      if (target && !run.trackingQueued) {
        await this.db.enqueue(startItems(run, target, run.labUrl));
        await emit({ trackingQueued: true });
        this.events.onEnqueued?.();
      }
      const dropoutRng: Rng = createRng(config.train.seed).fork('dropout');
      const net = (model = buildLunaModel(config.model, config.crop, config.train.seed));
      const opt = (optimizer = createOptimizer(config.optimizer));

      const checkpoint = await this.db.getCheckpoint(run.runId);
      let startEpoch = 1;
      let samplesSeen = 0;
      if (checkpoint && run.epochsDone > 0) {
        await restoreCheckpoint(checkpoint, net, opt, sampler, dropoutRng);
        startEpoch = checkpoint.epoch + 1;
        samplesSeen = checkpoint.samplesSeen;
        // History past the checkpoint (an epoch cut short) is dropped with it.
        await emit({ history: run.history.filter((p) => p.epoch <= checkpoint.epoch), epochsDone: checkpoint.epoch, samplesSeen });
      }

      const provider = new CropProvider(new CacheCropSource(this.db, set.series), set.series, config.crop);
      const dataPool = (pool = this.options.dataPool?.() ?? inThreadPool());
      const epochs = config.train.epochs;
      let trainTotal = 0;
      let phaseTotal = 0;
      let phaseStart = now();
      let lastPhase = '';
      const classifier = new NoduleClassificationModel({
        config,
        model: net,
        optimizer: opt,
        samplesSeen,
        hooks: {
          beforeTrainingStep: () => {
            // A stop asked while this batch was prepared acts here, before the step, not after it.
            if (this.stopping) throw new StopRequested('stopped by the user');
            setDropoutRng(dropoutRng);
          },
          onStep: async (s) => {
            await gpu?.step(`during a ${s.phase} step of epoch ${s.epoch}`);
            // A new phase (or a new epoch of training, when validation was skipped) restarts the rate.
            if (`${s.epoch}:${s.phase}` !== lastPhase) {
              lastPhase = `${s.epoch}:${s.phase}`;
              phaseStart = now() - s.stepSeconds * 1000;
              phaseTotal = s.phase === 'training' ? trainTotal : validation.length;
            }
            const elapsed = (now() - phaseStart) / 1000;
            const rate = s.samples / Math.max(elapsed, 1e-9);
            const remainingEpochs = epochs - s.epoch;
            // Estimate with validation every epoch: an upper bound when the cadence skips some.
            const perEpoch = trainTotal + validation.length;
            const left = phaseTotal - s.samples + (s.phase === 'training' ? validation.length : 0) + remainingEpochs * perEpoch;
            this.events.onProgress?.({
              runId: run.runId,
              epoch: s.epoch,
              epochs,
              phase: s.phase,
              done: s.samples,
              total: phaseTotal,
              samplesSeen: s.samplesSeen,
              samplesPerSecond: rate,
              etaSeconds: left / Math.max(rate, 1e-9),
              batchLoss: s.batchLoss,
              numTensors: tf.memory().numTensors,
            });
            if (this.paused) {
              await emit({ status: 'paused' });
              await this.paused?.promise;
              if (!this.stopping) await emit({ status: 'running' });
            }
            if (this.stopping) throw new StopRequested('stopped by the user');
          },
          onMetrics: (epoch, step, values) => {
            const point = { epoch, step, values };
            run = { ...run, history: [...run.history, point] };
            this.events.onMetrics?.(run.runId, point);
          },
        },
      });
      for (let epoch = startEpoch; epoch <= epochs; epoch++) {
        const samples = sampler.nextEpoch();
        trainTotal = samples.length;
        const validate = isValidationEpoch(epoch, epochs, config.train.validationCadence);
        const wait: BatchWait = { batches: 0, seconds: 0 };
        const result = await classifier.fitEpoch(
          epoch,
          batchesOf(samples, config.train.batchSize, provider, config.augment, { pool: dataPool, wait }),
          validate ? batchesOf(validation, config.train.batchSize, provider, null) : null,
        );
        const trainingPoint = run.history.findLast((p) => p.epoch === epoch && 'training/loss/all' in p.values)!;
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
          : run.predictions;
        run = { ...run, epochsDone: epoch, samplesSeen: classifier.samplesSeen, predictions };
        const outbox = target ? epochItems(run, target, run.history.filter((p) => p.epoch === epoch)) : [];
        await this.db.putCheckpoint(run, await takeCheckpoint(run, net, opt, sampler, dropoutRng), outbox);
        this.events.onRun?.(run);
        if (outbox.length) this.events.onEnqueued?.();
      }
      await emit({ status: 'finished' });
      if (target) {
        // A model that cannot be exported must not fail a finished run: say so and close it.
        const files = await runArtifacts(run, net).catch(async (e: unknown) => {
          await emit({ warnings: [...run.warnings, `model artifacts were not logged: ${e instanceof Error ? e.message : String(e)}`] });
          return [];
        });
        await this.db.enqueue([...artifactItems(run, target, files), statusItem(run, target, 'FINISHED')]);
      }
    } catch (e) {
      if (e instanceof StopRequested) await emit({ status: 'stopped' });
      else {
        const message = e instanceof Error ? e.message : String(e);
        await emit({ status: isDeviceLoss(message) ? 'interrupted' : 'failed', error: message });
      }
      const target = trackingTarget(run);
      if (target && run.trackingQueued && run.status !== 'interrupted') await this.db.enqueue([statusItem(run, target, mlflowStatus(run.status))]);
    } finally {
      await gpu?.dispose();
      pool?.dispose();
      this.events.onEnqueued?.();
      model?.dispose();
      optimizer?.dispose();
    }
    return run;
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

export function isDeviceLoss(message: string): boolean {
  return /device (was )?lost|GPUDevice.*lost|context lost/i.test(message);
}
