/**
 * Conv3DBackpropFilterV2 on webgpu: the split-K weight gradient (partial sums per voxel chunk,
 * then a reduction). `runFilterGrad` also returns the bias gradient Σ dy, computed in the same
 * pass, for the fused conv + bias + ReLU op. With `subgroups` the reduction is the subgroup
 * variant (split-k-reduce-program.ts).
 */
import * as tf from '@tensorflow/tfjs';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { Conv3DFilterGradProgram } from './conv3d-filter-grad-program.ts';
import { SplitKReduceProgram } from './split-k-reduce-program.ts';
import { conv3dPlan, type Conv3DPlan } from './conv3d-plan.ts';
import { flat, reshaped } from './program-util.ts';
import { runStock } from './stock-kernels.ts';
import { useFeature } from './features.ts';

export function runFilterGrad(
  backend: WebGPUBackend,
  plan: Conv3DPlan,
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  withBias: boolean,
): tf.TensorInfo[] {
  const pass1 = new Conv3DFilterGradProgram(plan);
  const partial = backend.runWebGPUProgram(pass1, [flat(x), flat(dy)], 'float32', pass1.uniformData());
  const wCount = 27 * plan.cin * plan.cout;
  const subgroups = useFeature(backend, 'subgroups');
  const reduceW = new SplitKReduceProgram(pass1.chunks, pass1.stride, 0, wCount, subgroups);
  const dw = backend.runWebGPUProgram(reduceW, [partial], 'float32', reduceW.uniformData());
  const out = [reshaped(dw, [3, 3, 3, plan.cin, plan.cout])];
  if (withBias) {
    const reduceB = new SplitKReduceProgram(pass1.chunks, pass1.stride, wCount / 4, plan.cout, subgroups);
    out.push(backend.runWebGPUProgram(reduceB, [partial], 'float32', reduceB.uniformData()));
  }
  backend.disposeData(partial.dataId);
  return out;
}

export function conv3dBackpropFilter(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: WebGPUBackend;
  attrs: tf.NamedAttrMap;
}): tf.TensorInfo {
  const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const { strides, pad, filterShape } = args.attrs as unknown as tf.Conv3DBackpropFilterV2Attrs;
  const plan =
    x.dtype === 'float32' && dy.dtype === 'float32' ? conv3dPlan(x.shape, [...filterShape], strides, pad, 1) : null;
  if (!plan || dy.shape.some((s, i) => s !== [plan.batch, ...plan.outShape, plan.cout][i])) {
    return runStock(tf.Conv3DBackpropFilterV2, args as never) as tf.TensorInfo;
  }
  return runFilterGrad(args.backend, plan, x, dy, false)[0];
}

export const conv3dBackpropFilterConfig: tf.KernelConfig = {
  kernelName: tf.Conv3DBackpropFilterV2,
  backendName: 'webgpu',
  kernelFunc: conv3dBackpropFilter as unknown as tf.KernelFunc,
};
