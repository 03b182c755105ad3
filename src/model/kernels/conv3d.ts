/** Conv3D on webgpu: the tiled implicit-GEMM program where it applies, else the stock kernel. */
import * as tf from '@tensorflow/tfjs';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { Conv3DTiledProgram } from './conv3d-tiled-program.ts';
import { conv3dPlan, type Conv3DPlan } from './conv3d-plan.ts';
import { flat, reshaped } from './program-util.ts';
import { runStock } from './stock-kernels.ts';
import { useFeature } from './features.ts';

/** Runs the tiled program; `bias` (1-D, Cout) adds the bias and applies ReLU too. A forward
 *  pass: f16 staging when the run enabled shader-f16 and the device has it. */
export function runConv3DTiled(
  backend: WebGPUBackend,
  plan: Conv3DPlan,
  x: tf.TensorInfo,
  filter: tf.TensorInfo,
  bias?: tf.TensorInfo,
): tf.TensorInfo {
  const program = new Conv3DTiledProgram({
    ...plan,
    bias: !!bias,
    relu: !!bias,
    f16: useFeature(backend, 'shader-f16'),
  });
  const inputs = bias ? [flat(x), flat(filter), flat(bias)] : [flat(x), flat(filter)];
  const out = backend.runWebGPUProgram(program, inputs, 'float32');
  return reshaped(out, [plan.batch, ...plan.outShape, plan.cout]);
}

export function conv3d(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: WebGPUBackend;
  attrs: tf.NamedAttrMap;
}): tf.TensorInfo {
  const { x, filter } = args.inputs as { x: tf.TensorInfo; filter: tf.TensorInfo };
  const { strides, pad, dilations, dataFormat } = args.attrs as unknown as tf.Conv3DAttrs;
  const plan =
    x.dtype === 'float32' && filter.dtype === 'float32'
      ? conv3dPlan(x.shape, filter.shape, strides, pad, dilations, dataFormat)
      : null;
  if (!plan) return runStock(tf.Conv3D, args as never) as tf.TensorInfo;
  return runConv3DTiled(args.backend, plan, x, filter);
}

export const conv3dConfig: tf.KernelConfig = {
  kernelName: tf.Conv3D,
  backendName: 'webgpu',
  kernelFunc: conv3d as unknown as tf.KernelFunc,
};
