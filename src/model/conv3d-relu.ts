/**
 * Conv3d + bias + ReLU as one layer: tfjs's own Conv3D layer (same class name, config,
 * weights `kernel`/`bias`, so state_dict mapping, ONNX export and model save/load treat it as
 * a Conv3D with `activation: 'relu'`) whose call runs the fused op `conv3dBiasRelu`, so the
 * pre-activation is never written (lab kernels on webgpu) and the bias gradient comes from
 * the weight-gradient pass. A saved model loads as tfjs's Conv3D: same maths, unfused.
 */
import * as tf from '@tensorflow/tfjs';
import { conv3dBiasRelu } from './kernels/conv3d-bias-relu.ts';

type Conv3DArgs = Parameters<typeof tf.layers.conv3d>[0];

// tfjs-layers does not export the Conv3D class itself; take it from an instance.
const TfConv3D = Object.getPrototypeOf(tf.layers.conv3d({ filters: 1, kernelSize: 1 })).constructor as new (
  args: Conv3DArgs,
) => tf.layers.Layer;

interface ConvInternals {
  kernel: tf.LayerVariable;
  bias: tf.LayerVariable | null;
  padding: 'same' | 'valid';
  strides: number[];
  dilationRate: number[];
  kernelSize: number[];
  dataFormat: string;
}

export class Conv3dRelu extends TfConv3D {
  /** Serialised as tfjs's Conv3D (with activation relu). */
  static className = 'Conv3D';

  constructor(args: Omit<Conv3DArgs, 'activation'>) {
    super({ ...args, activation: 'relu' });
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor | tf.Tensor[] {
    const c = this as unknown as ConvInternals;
    const fusable =
      c.bias !== null &&
      c.dataFormat === 'channelsLast' &&
      c.kernelSize.every((k) => k === 3) &&
      c.strides.every((s) => s === 1) &&
      c.dilationRate.every((d) => d === 1) &&
      (c.padding === 'same' || c.padding === 'valid');
    if (!fusable) return super.call(inputs, kwargs);
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    return tf.tidy(() =>
      conv3dBiasRelu(x as tf.Tensor5D, c.kernel.read() as tf.Tensor5D, c.bias!.read() as tf.Tensor1D, c.padding),
    );
  }
}
