/**
 * RunScope in Node: tfjs runs on cpu here and the lab kernels are WebGPU kernels, so the
 * scope's mechanics are checked on tfjs's kernel registry (which Node has for webgpu too) with
 * a webgpu backend selection made up for the test; the trainer's own scope is checked on cpu.
 */
import 'fake-indexeddb/auto';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { resolveConfigOrThrow } from '../config/lab-config.ts';
import { createRng } from '../data/rng.ts';
import type { BackendSelection } from '../model/backend.ts';
import { Dropout, getDropoutRng, setDropoutRng } from '../model/dropout.ts';
import { activeKernels, kernelFeatures, useKernels } from '../model/kernels/index.ts';
import { conv3dConfig } from '../model/kernels/conv3d.ts';
import { NO_RUN, runSettings } from '../model/run-settings.ts';
import { openLabStore } from '../store/lab-store.ts';
import { RunScope } from './run-scope.ts';
import { Trainer } from './trainer.ts';

const config = resolveConfigOrThrow({
  crop: [8, 16, 16],
  model: { blocks: 2, width: 4 },
  train: { epochs: 1, batchSize: 8, seed: 5 },
  backend: 'cpu',
});
const webgpu: BackendSelection = {
  backend: 'webgpu',
  fellBackFrom: [],
  adapter: 'test adapter',
  gpuFeatures: { enabled: ['subgroups'] },
};
const cpu: BackendSelection = { backend: 'cpu', fellBackFrom: [], adapter: null };

beforeAll(async () => {
  await tf.setBackend('cpu');
});
afterEach(async () => {
  await useKernels('stock');
  setDropoutRng(null);
});

function dropoutMask(): number[] {
  const layer = new Dropout({ rate: 0.5 });
  return Array.from((layer.apply(tf.ones([64]), { training: true }) as tf.Tensor).dataSync());
}

describe('RunScope', () => {
  it('gives a run with kernels=stock after a run with kernels=lab the stock kernels', async () => {
    expect(runSettings()).toEqual(NO_RUN);
    const lab = await RunScope.enter({ ...config, kernels: 'lab' }, webgpu);
    expect(activeKernels()).toBe('lab');
    expect(tf.getKernel('Conv3D', 'webgpu')!.kernelFunc).toBe(conv3dConfig.kernelFunc);
    expect(kernelFeatures()).toEqual(['subgroups']);
    expect(lab.adapter).toBe('test adapter (device features: subgroups)');
    await lab.close();
    expect(activeKernels()).toBe('stock');
    expect(kernelFeatures()).toEqual([]);
    expect(tf.getKernel('LunaConv3DBiasRelu', 'webgpu')).toBeUndefined();

    const stock = await RunScope.enter({ ...config, kernels: 'stock' }, webgpu);
    expect(activeKernels()).toBe('stock');
    expect(tf.getKernel('Conv3D', 'webgpu')!.kernelFunc).not.toBe(conv3dConfig.kernelFunc);
    await stock.close();
    expect(runSettings()).toEqual(NO_RUN);
  });

  it('puts back what was there before the run (a bench with the lab kernels), not a default', async () => {
    await useKernels('lab', ['shader-f16']);
    const benchRng = createRng(1);
    setDropoutRng(benchRng);
    const scope = await RunScope.enter({ ...config, kernels: 'stock' }, webgpu);
    expect(activeKernels()).toBe('stock');
    expect(getDropoutRng()).toBe(scope.dropoutRng);
    await scope.close();
    await scope.close(); // idempotent
    expect(activeKernels()).toBe('lab');
    expect(kernelFeatures()).toEqual(['shader-f16']);
    expect(getDropoutRng()).toBe(benchRng);
  });

  it("draws dropout masks from the run's seed, and from nothing once the run is over", async () => {
    setDropoutRng(createRng(5).fork('dropout'));
    const expected = dropoutMask();
    setDropoutRng(null);
    const scope = await RunScope.enter(config, cpu);
    expect(kernelFeatures()).toEqual([]);
    expect(dropoutMask()).toEqual(expected);
    await scope.close();
    expect(getDropoutRng()).toBeNull();
    expect(() => dropoutMask()).toThrow(/no random stream/);
  });

  it('leaves the settings as they were when entering it fails', async () => {
    await expect(RunScope.enter({ ...config, kernels: 'fast' as never }, webgpu)).rejects.toThrow(
      /Expecting one of: lab, stock/,
    );
    expect(runSettings()).toEqual(NO_RUN);
  });

  it('is torn down after a run that fails', async () => {
    const db = openLabStore('run-scope-test');
    try {
      const before = createRng(9);
      setDropoutRng(before);
      let during: unknown = null;
      const run = await new Trainer(db, [
        { onRun: (r) => void (r.backend && !during && (during = getDropoutRng())) },
      ]).start(config, 'no data');
      expect(run.status).toBe('failed');
      expect(run.error).toMatch(/No scans are cached/);
      // The run had its own stream while it ran, and the one before is back.
      expect(during).not.toBeNull();
      expect(during).not.toBe(before);
      expect(getDropoutRng()).toBe(before);
      expect(runSettings().kernels).toBe('stock');
    } finally {
      await db.delete();
    }
  });
});
