/** MaxPool3D on webgpu: the vec4 2×2×2 stride-2 program where it applies, else the stock kernel. */
import * as tf from '@tensorflow/tfjs';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { MaxPool3DProgram } from './max-pool3d-program.ts';
import { flat, reshaped } from './program-util.ts';
import { runStock } from './stock-kernels.ts';

const is222 = (v: number | number[] | undefined) =>
  v === 2 || (Array.isArray(v) && v.length === 3 && v.every((s) => s === 2));

export function maxPool3d(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: WebGPUBackend;
  attrs: tf.NamedAttrMap;
}): tf.TensorInfo {
  const { x } = args.inputs as { x: tf.TensorInfo };
  const { filterSize, strides, pad, dimRoundingMode, dataFormat } = args.attrs as unknown as tf.MaxPool3DAttrs;
  const s = x.shape;
  const ok =
    x.dtype === 'float32' &&
    s.length === 5 &&
    is222(filterSize) &&
    is222(strides) &&
    (pad === 'valid' || pad === 0) &&
    dimRoundingMode == null &&
    (dataFormat === undefined || dataFormat === 'NDHWC') &&
    s[1] >= 2 &&
    s[2] >= 2 &&
    s[3] >= 2 &&
    s[4] % 4 === 0;
  if (!ok) return runStock(tf.MaxPool3D, args as never) as tf.TensorInfo;
  const program = new MaxPool3DProgram(s[0], [s[1], s[2], s[3]], s[4]);
  const out = args.backend.runWebGPUProgram(program, [flat(x)], 'float32');
  return reshaped(out, [s[0], Math.floor(s[1] / 2), Math.floor(s[2] / 2), Math.floor(s[3] / 2), s[4]]);
}

export const maxPool3dConfig: tf.KernelConfig = {
  kernelName: tf.MaxPool3D,
  backendName: 'webgpu',
  kernelFunc: maxPool3d as unknown as tf.KernelFunc,
};
