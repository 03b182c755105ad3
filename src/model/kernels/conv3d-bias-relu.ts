/**
 * The fused op relu(conv3d(x, filter) + bias) (3×3×3, stride 1), its webgpu kernels and its
 * gradient. On webgpu with the lab's kernels installed it is one tiled-conv pass that never
 * writes the pre-activation; anywhere else (cpu, stock kernels, uncovered shapes) it is the
 * same composite of stock ops. The gradient masks dy with y > 0 once, then runs the input
 * gradient (Conv3DBackpropInputV2) and one split-K pass that yields both dW and db.
 */
import * as tf from '@tensorflow/tfjs';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { conv3dPlan } from './conv3d-plan.ts';
import { runConv3DTiled } from './conv3d.ts';
import { runFilterGrad } from './conv3d-backprop-filter.ts';
import { runSettings } from '../run-settings.ts';

export const LunaConv3DBiasRelu = 'LunaConv3DBiasRelu';
export const LunaConv3DFilterBiasGrad = 'LunaConv3DFilterBiasGrad';

type Pad = 'same' | 'valid';

function kernelArgs(args: { inputs: tf.NamedTensorInfoMap; backend: WebGPUBackend; attrs: tf.NamedAttrMap }) {
  return { ...args, pad: (args.attrs as unknown as { pad: Pad }).pad };
}

export const conv3dBiasReluConfig: tf.KernelConfig = {
  kernelName: LunaConv3DBiasRelu,
  backendName: 'webgpu',
  kernelFunc: ((args: { inputs: tf.NamedTensorInfoMap; backend: WebGPUBackend; attrs: tf.NamedAttrMap }) => {
    const { inputs, backend, pad } = kernelArgs(args);
    const { x, filter, bias } = inputs as { x: tf.TensorInfo; filter: tf.TensorInfo; bias: tf.TensorInfo };
    const plan = conv3dPlan(x.shape, filter.shape, 1, pad, 1);
    if (!plan)
      throw new Error(
        `${LunaConv3DBiasRelu}: unsupported shapes x [${x.shape}] filter [${filter.shape}] (the op checks this first)`,
      );
    return runConv3DTiled(backend, plan, x, filter, bias);
  }) as unknown as tf.KernelFunc,
};

export const conv3dFilterBiasGradConfig: tf.KernelConfig = {
  kernelName: LunaConv3DFilterBiasGrad,
  backendName: 'webgpu',
  kernelFunc: ((args: { inputs: tf.NamedTensorInfoMap; backend: WebGPUBackend; attrs: tf.NamedAttrMap }) => {
    const { inputs, backend, pad } = kernelArgs(args);
    const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
    const filterShape = (args.attrs as unknown as { filterShape: number[] }).filterShape;
    const plan = conv3dPlan(x.shape, filterShape, 1, pad, 1);
    if (!plan)
      throw new Error(`${LunaConv3DFilterBiasGrad}: unsupported shapes x [${x.shape}] filter [${filterShape}]`);
    return runFilterGrad(backend, plan, x, dy, true);
  }) as unknown as tf.KernelFunc,
};

export const conv3dBiasReluGradConfig: tf.GradConfig = {
  kernelName: LunaConv3DBiasRelu,
  inputsToSave: ['x', 'filter'],
  outputsToSave: [true],
  gradFunc: (dy, saved, attrs) => {
    const [x, filter, y] = saved as [tf.Tensor5D, tf.Tensor5D, tf.Tensor5D];
    const pad = (attrs as unknown as { pad: Pad }).pad;
    // dy·(y > 0), dW and db eagerly (always needed; tfjs runs each thunk in its own tidy, so
    // shared lazies would be disposed); dx lazily: the first layer's input needs none.
    const g = tf.mul(dy as tf.Tensor5D, tf.step(y)) as tf.Tensor5D;
    const [dw, db] = tf.engine().runKernel(LunaConv3DFilterBiasGrad, { x, dy: g }, {
      pad,
      filterShape: filter.shape,
    } as unknown as tf.NamedAttrMap) as tf.Tensor[];
    return {
      x: () =>
        tf.engine().runKernel(tf.Conv3DBackpropInputV2, { dy: g, filter }, {
          strides: [1, 1, 1],
          pad,
          inputShape: x.shape,
        } as unknown as tf.NamedAttrMap) as tf.Tensor,
      filter: () => dw,
      bias: () => db,
    };
  },
};

/** relu(conv3d(x, filter, stride 1, pad) + bias); x [N,D,H,W,Cin], filter [3,3,3,Cin,Cout], bias [Cout]. */
export function conv3dBiasRelu(x: tf.Tensor5D, filter: tf.Tensor5D, bias: tf.Tensor1D, pad: Pad): tf.Tensor5D {
  // The fused webgpu kernels are registered exactly when the run's kernels are the lab's.
  const fused =
    runSettings().kernels === 'lab' &&
    tf.getBackend() === 'webgpu' &&
    x.dtype === 'float32' &&
    filter.dtype === 'float32' &&
    bias.dtype === 'float32' &&
    bias.shape[0] === filter.shape[4] &&
    conv3dPlan(x.shape, filter.shape, 1, pad, 1) !== null;
  if (fused)
    return tf
      .engine()
      .runKernel(LunaConv3DBiasRelu, { x, filter, bias }, { pad } as unknown as tf.NamedAttrMap) as tf.Tensor5D;
  // Bias as [1,1,1,1,C]: tf.add(rank5, bias1D) hits a stock webgpu shader bug for C < 128.
  return tf.tidy(() =>
    tf.relu(tf.add(tf.conv3d(x, filter, 1, pad), tf.reshape(bias, [1, 1, 1, 1, bias.shape[0]]))),
  ) as tf.Tensor5D;
}
