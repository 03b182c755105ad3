/**
 * The stock tfjs-backend-webgpu kernels that ours replace, saved before we register over them:
 * our kernels call them for the configurations they do not cover, and `useKernels('stock')`
 * puts them back.
 */
import * as tf from '@tensorflow/tfjs';

const saved = new Map<string, tf.KernelConfig>();

export function saveStock(kernelName: string): void {
  if (saved.has(kernelName)) return;
  const config = tf.getKernel(kernelName, 'webgpu');
  if (!config)
    throw new Error(`tfjs-backend-webgpu has no '${kernelName}' kernel to replace (is the webgpu backend loaded?)`);
  saved.set(kernelName, config);
}

export function stockConfig(kernelName: string): tf.KernelConfig | undefined {
  return saved.get(kernelName);
}

/** Run the stock kernel with the same arguments (the fallback path of our kernels). */
export function runStock(kernelName: string, args: Parameters<tf.KernelFunc>[0]): ReturnType<tf.KernelFunc> {
  const config = saved.get(kernelName);
  if (!config) throw new Error(`no stock '${kernelName}' kernel saved`);
  return config.kernelFunc(args);
}
