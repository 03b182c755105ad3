/**
 * The GPU path's augmentation inside the training step: raw crops plus per-sample parameters in,
 * the augmented [n, D, H, W, 1] input out. On webgpu it is one AugmentAffineProgram pass (an own
 * kernel name, registered on first use whatever `kernels` says: stock runs need it too); on any
 * other backend the same operations in TypeScript (augmentReference), so a run that fell back to
 * cpu/webgl still trains.
 */
import * as tf from '@tensorflow/tfjs';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { augmentReference, kernelParams, type GpuAugmentParams } from '../../data/augment-gpu.ts';
import type { CropSize } from '../../data/crop.ts';
import { AugmentAffineProgram } from './augment-affine-program.ts';
import { flat, reshaped } from './program-util.ts';

export const LunaAugmentAffine = 'LunaAugmentAffine';

export const augmentAffineConfig: tf.KernelConfig = {
  kernelName: LunaAugmentAffine,
  backendName: 'webgpu',
  kernelFunc: ((args: { inputs: tf.NamedTensorInfoMap; backend: WebGPUBackend; attrs: tf.NamedAttrMap }) => {
    const { crops, affine } = args.inputs as { crops: tf.TensorInfo; affine: tf.TensorInfo };
    const shape = (args.attrs as unknown as { shape: [number, number, number] }).shape;
    const vox = shape[0] * shape[1] * shape[2];
    const n = crops.shape.reduce((a, b) => a * b, 1) / vox;
    const program = new AugmentAffineProgram(n, shape);
    const out = args.backend.runWebGPUProgram(program, [flat(crops), flat(affine)], 'float32');
    return reshaped(out, [n, shape[0], shape[1], shape[2], 1]);
  }) as unknown as tf.KernelFunc,
};

function ensureRegistered(): void {
  if (!tf.getKernel(LunaAugmentAffine, 'webgpu')) tf.registerKernel(augmentAffineConfig);
}

/** `crops` ([n, D, H, W] raw HU as float) augmented as `p` says, on the current backend. */
export function augmentOnDevice(crops: Float32Array, shape: CropSize, p: GpuAugmentParams): tf.Tensor5D {
  const n = p.transforms.length;
  const [d, h, w] = shape;
  if (crops.length !== n * d * h * w)
    throw new RangeError(
      `gpu augment: ${crops.length} values, ${n} crops of [${shape.join(', ')}] need ${n * d * h * w}`,
    );
  if (tf.getBackend() !== 'webgpu') return tf.tensor5d(augmentReference(crops, shape, p), [n, d, h, w, 1]);
  ensureRegistered();
  return tf.tidy(
    () =>
      tf
        .engine()
        .runKernel(LunaAugmentAffine, { crops: tf.tensor1d(crops), affine: tf.tensor1d(kernelParams(p, shape)) }, {
          shape: [d, h, w],
        } as unknown as tf.NamedAttrMap) as tf.Tensor5D,
  );
}
