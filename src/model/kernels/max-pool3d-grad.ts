/** MaxPool3DGrad on webgpu: the one-pass 2×2×2 stride-2 program where it applies, else stock. */
import * as tf from '@tensorflow/tfjs';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { MaxPool3DGradProgram } from './max-pool3d-grad-program.ts';
import { flat, reshaped } from './program-util.ts';
import { runStock } from './stock-kernels.ts';

const is222 = (v: number | number[] | undefined) =>
  v === 2 || (Array.isArray(v) && v.length === 3 && v.every((s) => s === 2));

export function maxPool3dGrad(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: WebGPUBackend;
  attrs: tf.NamedAttrMap;
}): tf.TensorInfo {
  const { dy, input } = args.inputs as { dy: tf.TensorInfo; input: tf.TensorInfo };
  const { filterSize, strides, pad, dimRoundingMode } = args.attrs as unknown as tf.MaxPool3DGradAttrs;
  const s = input.shape;
  const ok =
    input.dtype === 'float32' &&
    s.length === 5 &&
    is222(filterSize) &&
    is222(strides) &&
    (pad === 'valid' || pad === 0) &&
    dimRoundingMode == null &&
    s[1] % 2 === 0 &&
    s[2] % 2 === 0 &&
    s[3] % 2 === 0 &&
    s[4] % 4 === 0 &&
    dy.shape.join() === [s[0], s[1] / 2, s[2] / 2, s[3] / 2, s[4]].join();
  if (!ok) return runStock(tf.MaxPool3DGrad, args as never) as tf.TensorInfo;
  const program = new MaxPool3DGradProgram(s[0], [s[1], s[2], s[3]], s[4]);
  return reshaped(args.backend.runWebGPUProgram(program, [flat(dy), flat(input)], 'float32'), [...s]);
}

export const maxPool3dGradConfig: tf.KernelConfig = {
  kernelName: tf.MaxPool3DGrad,
  backendName: 'webgpu',
  kernelFunc: maxPool3dGrad as unknown as tf.KernelFunc,
};
