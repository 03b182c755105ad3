/**
 * Conv3DBackpropInputV2 on webgpu for stride 1: the forward tiled program on dy with flipped,
 * transposed weights and padding k−1−p. Cin = 1 (the first layer: its input gradient feeds the
 * input BatchNorm3d's weights) computes 4 channels with zero-padded weights and stores one.
 * Other configurations use the stock kernel.
 */
import * as tf from '@tensorflow/tfjs';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { Conv3DTiledProgram } from './conv3d-tiled-program.ts';
import { conv3dPlan } from './conv3d-plan.ts';
import { WeightFlipProgram } from './weight-flip-program.ts';
import { flat, reshaped } from './program-util.ts';
import { runStock } from './stock-kernels.ts';

export function conv3dBackpropInput(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: WebGPUBackend;
  attrs: tf.NamedAttrMap;
}): tf.TensorInfo {
  const { dy, filter } = args.inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
  const { strides, pad, inputShape } = args.attrs as unknown as tf.Conv3DBackpropInputV2Attrs;
  const plan =
    dy.dtype === 'float32' && filter.dtype === 'float32'
      ? conv3dPlan([...inputShape], filter.shape, strides, pad, 1)
      : null;
  if (
    !plan ||
    (plan.cin % 4 !== 0 && plan.cin !== 1) ||
    dy.shape.some((s, i) => s !== [plan.batch, ...plan.outShape, plan.cout][i])
  ) {
    return runStock(tf.Conv3DBackpropInputV2, args as never) as tf.TensorInfo;
  }
  const backend = args.backend;
  const cin1 = plan.cin === 1;
  const flipped = backend.runWebGPUProgram(
    new WeightFlipProgram(3, plan.cin, plan.cout, cin1 ? 4 : plan.cin),
    [flat(filter)],
    'float32',
  );
  const program = new Conv3DTiledProgram({
    batch: plan.batch,
    inShape: plan.outShape,
    outShape: plan.inShape,
    cin: plan.cout,
    cout: cin1 ? 4 : plan.cin,
    pads: [2 - plan.pads[0], 2 - plan.pads[1], 2 - plan.pads[2]],
    bias: false,
    relu: false,
    firstChannelOnly: cin1,
  });
  const out = backend.runWebGPUProgram(program, [flat(dy), flipped], 'float32');
  backend.disposeData(flipped.dataId);
  return reshaped(out, [...inputShape]);
}

export const conv3dBackpropInputConfig: tf.KernelConfig = {
  kernelName: tf.Conv3DBackpropInputV2,
  backendName: 'webgpu',
  kernelFunc: conv3dBackpropInput as unknown as tf.KernelFunc,
};
