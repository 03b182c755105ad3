import { describe, expect, it, vi } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { activeKernels, useKernels } from './index.ts';
import { conv3dConfig } from './conv3d.ts';
import { conv3dPlan } from './conv3d-plan.ts';

describe('useKernels', () => {
  it('installs and removes the lab kernels idempotently, without tfjs re-registration warnings', async () => {
    const warn = vi.spyOn(console, 'warn');
    await useKernels('stock');
    const stock = tf.getKernel('Conv3D', 'webgpu')!.kernelFunc;
    expect(stock).not.toBe(conv3dConfig.kernelFunc);
    await useKernels('lab');
    await useKernels('lab');
    expect(activeKernels()).toBe('lab');
    expect(tf.getKernel('Conv3D', 'webgpu')!.kernelFunc).toBe(conv3dConfig.kernelFunc);
    expect(tf.getKernel('LunaConv3DBiasRelu', 'webgpu')).toBeDefined();
    await useKernels('stock');
    await useKernels('stock');
    expect(tf.getKernel('Conv3D', 'webgpu')!.kernelFunc).toBe(stock);
    expect(tf.getKernel('LunaConv3DBiasRelu', 'webgpu')).toBeUndefined();
    expect(warn.mock.calls.filter((c) => String(c[0]).includes('already registered'))).toEqual([]);
    await expect(useKernels('fast' as never)).rejects.toThrow(/Expecting one of: lab, stock/);
  });
});

describe('conv3dPlan', () => {
  it("covers LunaModel's convolutions and leaves the rest to the stock kernel", () => {
    expect(conv3dPlan([4, 32, 48, 48, 1], [3, 3, 3, 1, 8], [1, 1, 1], 'same', [1, 1, 1])).toMatchObject({
      cin: 1,
      cout: 8,
      pads: [1, 1, 1],
      outShape: [32, 48, 48],
    });
    expect(conv3dPlan([4, 4, 6, 6, 32], [3, 3, 3, 32, 64], 1, 'valid', 1)).toMatchObject({
      pads: [0, 0, 0],
      outShape: [2, 4, 4],
    });
    expect(conv3dPlan([1, 8, 8, 8, 4], [3, 3, 3, 4, 4], 2, 'same', 1)).toBeNull(); // stride
    expect(conv3dPlan([1, 8, 8, 8, 4], [3, 3, 3, 4, 4], 1, 'same', 2)).toBeNull(); // dilation
    expect(conv3dPlan([1, 8, 8, 8, 4], [5, 5, 5, 4, 4], 1, 'same', 1)).toBeNull(); // kernel size
    expect(conv3dPlan([1, 8, 8, 8, 6], [3, 3, 3, 6, 4], 1, 'same', 1)).toBeNull(); // Cin
    expect(conv3dPlan([1, 8, 8, 8, 4], [3, 3, 3, 4, 6], 1, 'same', 1)).toBeNull(); // Cout
    expect(conv3dPlan([1, 8, 8, 8, 4], [3, 3, 3, 4, 4], 1, 'same', 1, 'NCDHW')).toBeNull();
  });
});
