/**
 * A run's hold on this realm's tfjs: made when the run starts, closed when it ends (finished,
 * stopped or failed). Opening selects the backend, registers the run's kernels with its GPU
 * features (webgpu only: the lab kernels are WebGPU kernels), installs the run's dropout stream
 * (from its seed) and opens the GPU error guard; closing disposes the guard and puts back the
 * run settings (src/model/run-settings.ts) found at opening — the kernel registration included,
 * since tfjs looks kernels up in one global registry — so two runs one after the other, or a
 * bench and a run, never see each other's settings.
 *
 * Not scoped, by design: the backend selection cache of src/model/backend.ts, since a realm
 * makes its WebGPU device once and every run of it shares that device.
 */
import type { GpuFeatureName, LabConfig } from '../config/lab-config.ts';
import { createRng, type Rng } from '../data/rng.ts';
import { selectBackend, type BackendSelection } from '../model/backend.ts';
import { setDropoutRng } from '../model/dropout.ts';
import { GpuErrorGuard, useKernels } from '../model/kernels/index.ts';
import { runSettings, updateRunSettings, type RunSettings } from '../model/run-settings.ts';

/** What the scope reads of the run's config. */
export type RunScopeConfig = Pick<LabConfig, 'backend' | 'kernels' | 'gpuFeatures'> & {
  train: Pick<LabConfig['train'], 'seed'>;
};

export class RunScope {
  private closed = false;

  private constructor(
    /** The backend the run trains on, and what became of its GPU features. */
    readonly backend: BackendSelection,
    /** The run's dropout stream: checkpointed and restored with the run. */
    readonly dropoutRng: Rng,
    /** Checked at every step boundary: a failing shader fails the run instead of training on zeros. */
    readonly gpu: GpuErrorGuard | null,
    private readonly previous: RunSettings,
  ) {}

  /** Select the run's backend, then enter the scope on it. */
  static async open(config: RunScopeConfig): Promise<RunScope> {
    return RunScope.enter(config, await selectBackend(config.backend, config.gpuFeatures));
  }

  /** The scope on a backend already selected (tests give a selection of their own). */
  static async enter(config: RunScopeConfig, backend: BackendSelection): Promise<RunScope> {
    const previous = runSettings();
    try {
      // Only the features the device has; a missing one is named in the run's warnings.
      if (backend.backend === 'webgpu') await useKernels(config.kernels, backend.gpuFeatures?.enabled ?? []);
      const dropoutRng = createRng(config.train.seed).fork('dropout');
      setDropoutRng(dropoutRng);
      const gpu = GpuErrorGuard.forCurrentBackend();
      gpu?.begin();
      return new RunScope(backend, dropoutRng, gpu, previous);
    } catch (e) {
      await restore(previous);
      throw e;
    }
  }

  /** The features the lab kernels use in this run (those asked and granted on the device). */
  get features(): readonly GpuFeatureName[] {
    return this.backend.gpuFeatures?.enabled ?? [];
  }

  /** The adapter as the run record shows it: with the device features in use, if any. */
  get adapter(): string | null {
    const { adapter } = this.backend;
    return adapter && this.features.length ? `${adapter} (device features: ${this.features.join(', ')})` : adapter;
  }

  /** Before each training step: the run's stream is the one dropout draws from, whatever ran between steps. */
  activate(): void {
    setDropoutRng(this.dropoutRng);
  }

  /** Dispose the guard and put the settings found at opening back (idempotent). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.gpu?.dispose();
    } finally {
      await restore(this.previous);
    }
  }
}

async function restore(previous: RunSettings): Promise<void> {
  const now = runSettings();
  const sameFeatures =
    now.gpuFeatures.length === previous.gpuFeatures.length &&
    now.gpuFeatures.every((f) => previous.gpuFeatures.includes(f));
  if (now.kernels !== previous.kernels || !sameFeatures) await useKernels(previous.kernels, previous.gpuFeatures);
  updateRunSettings({ dropoutRng: previous.dropoutRng });
}
