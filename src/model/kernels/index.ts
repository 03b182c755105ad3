/**
 * The lab's WebGPU kernels for LunaModel's 3-D convolutions and pooling, registered over the
 * stock tfjs-backend-webgpu kernels of the same names, so tf.layers and tfjs's own gradients
 * use them unchanged; each falls back to the saved stock kernel for what it does not cover.
 *
 * Promise: `useKernels('lab' | 'stock')` installs or removes them (idempotent; no tfjs
 * "already registered" warnings: the old entry is unregistered first). It loads the webgpu
 * backend package, so it works before or after `setBackend('webgpu')`. `features` (the run's
 * `gpuFeatures`, as granted on the device) picks the kernels' feature variants (features.ts).
 * Both are recorded in the run settings (../run-settings.ts), which a run's scope restores.
 */
import * as tf from '@tensorflow/tfjs';
import { saveStock, stockConfig } from './stock-kernels.ts';
import { conv3dConfig } from './conv3d.ts';
import { conv3dBackpropInputConfig } from './conv3d-backprop-input.ts';
import { conv3dBackpropFilterConfig } from './conv3d-backprop-filter.ts';
import { maxPool3dConfig } from './max-pool3d.ts';
import { maxPool3dGradConfig } from './max-pool3d-grad.ts';
import { conv3dBiasReluConfig, conv3dBiasReluGradConfig, conv3dFilterBiasGradConfig } from './conv3d-bias-relu.ts';
import { setKernelFeatures } from './features.ts';
import type { GpuFeatureName } from '../../config/lab-config.ts';
import { runSettings, updateRunSettings, type KernelKind } from '../run-settings.ts';

export { conv3dBiasRelu } from './conv3d-bias-relu.ts';
export { GpuError, GpuErrorGuard } from './gpu-errors.ts';
export { injectShaderFault } from './program-util.ts';
export { featureUses, kernelFeatures } from './features.ts';

export type { KernelKind };
export const KERNEL_KINDS: readonly KernelKind[] = ['lab', 'stock'];

/** Replace stock kernels of these names. */
const REPLACING = [
  conv3dConfig,
  conv3dBackpropInputConfig,
  conv3dBackpropFilterConfig,
  maxPool3dConfig,
  maxPool3dGradConfig,
];
/** Kernels of our own names (the fused op). */
const OWN = [conv3dBiasReluConfig, conv3dFilterBiasGradConfig];

let gradientRegistered = false;

function put(config: tf.KernelConfig): void {
  if (tf.getKernel(config.kernelName, config.backendName)) tf.unregisterKernel(config.kernelName, config.backendName);
  tf.registerKernel(config);
}

export async function useKernels(kind: KernelKind, features: readonly GpuFeatureName[] = []): Promise<void> {
  if (kind !== 'lab' && kind !== 'stock')
    throw new Error(`Unknown kernels '${String(kind)}'. Expecting one of: ${KERNEL_KINDS.join(', ')}`);
  await import('@tensorflow/tfjs-backend-webgpu');
  // Used only where the device has them too (features.ts); stock kernels ignore them.
  setKernelFeatures(kind === 'lab' ? features : []);
  if (kind === runSettings().kernels) return;
  if (!gradientRegistered) {
    // The gradient is looked up by kernel name; harmless while the kernel is not registered.
    tf.registerGradient(conv3dBiasReluGradConfig);
    gradientRegistered = true;
  }
  if (kind === 'lab') {
    for (const c of REPLACING) saveStock(c.kernelName);
    for (const c of [...REPLACING, ...OWN]) put(c);
  } else {
    for (const c of REPLACING) put(stockConfig(c.kernelName)!);
    for (const c of OWN)
      if (tf.getKernel(c.kernelName, c.backendName)) tf.unregisterKernel(c.kernelName, c.backendName);
  }
  updateRunSettings({ kernels: kind });
}

/** Which kernels are installed now. */
export function activeKernels(): KernelKind {
  return runSettings().kernels;
}
