/**
 * Saliency of the classifier: the gradient of p(nodule) with respect to the input crop
 * (Simonyan et al.'s "vanilla gradient"), for the prediction browser's overlay.
 *
 * Promise: backend-agnostic tfjs (the inspect worker on WebGPU, Node's cpu in tests). The
 * model runs in inference mode (`training: false`: BatchNorm uses its running statistics,
 * dropout is off), on the crop exactly as training feeds it (clamped HU as float32, shape
 * [1, D, H, W, 1]); `prob` is the softmax's class-1 output, the number the run's predictions
 * hold. Every tensor made here is disposed.
 */
import * as tf from '@tensorflow/tfjs';
import { checkInput, type CropShape } from './luna-model.ts';

export interface SaliencyResult {
  /** p(nodule) of the crop. */
  prob: number;
  /** ∂p/∂x per voxel, (index, row, col) order, x fastest. */
  gradient: Float32Array;
  /** max |∂p/∂x|: the overlay's full scale. */
  maxAbs: number;
}

export async function saliency(
  model: tf.LayersModel,
  crop: ArrayLike<number>,
  shape: CropShape,
): Promise<SaliencyResult> {
  const [d, h, w] = shape;
  if (crop.length !== d * h * w)
    throw new Error(`crop holds ${crop.length} values, expected ${d}×${h}×${w} = ${d * h * w}`);
  const x = tf.tensor5d(Float32Array.from(crop), [1, d, h, w, 1]);
  try {
    checkInput(x, shape);
    const pNodule = (input: tf.Tensor): tf.Scalar => {
      const logits = model.apply(input, { training: false }) as tf.Tensor2D;
      return tf.softmax(logits).slice([0, 1], [1, 1]).reshape([]) as tf.Scalar;
    };
    const { value, grad } = tf.valueAndGrad(pNodule)(x);
    try {
      const [p, g] = await Promise.all([value.data(), grad.data()]);
      const gradient = Float32Array.from(g);
      let maxAbs = 0;
      for (const v of gradient) if (Math.abs(v) > maxAbs) maxAbs = Math.abs(v);
      return { prob: p[0], gradient, maxAbs };
    } finally {
      tf.dispose([value, grad]);
    }
  } finally {
    x.dispose();
  }
}
