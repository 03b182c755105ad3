/**
 * The classifier's loss, as the book's `computeBatchLoss`: per-sample cross-entropy of the
 * logits against integer class labels (1 = nodule), i.e. PyTorch's
 * `CrossEntropyLoss(reduction='none')(logits, labels)`. The caller reduces it (the mean is the
 * training loss; the per-sample values feed the metrics).
 *
 * Promise: numerically stable for any finite logits (log-softmax, never log(softmax)), and
 * differentiable on every backend.
 */
import * as tf from '@tensorflow/tfjs';

/** logits [N, K], labels [N] class indices in [0, K) → loss [N]. */
export function computeBatchLoss(logits: tf.Tensor, labels: tf.Tensor | ArrayLike<number>): tf.Tensor1D {
  if (logits.rank !== 2) throw new Error(`expected logits [N,K], got [${logits.shape.join(',')}]`);
  const [n, k] = logits.shape as [number, number];
  if (!(labels instanceof tf.Tensor)) {
    // Tensors are not read back (that would sync the GPU); arrays are checked, as torch does.
    const bad = Array.from(labels).find((v) => !Number.isInteger(v) || v < 0 || v >= k);
    if (bad !== undefined) throw new RangeError(`label ${bad} is not a class index in [0, ${k})`);
  }
  return tf.tidy(() => {
    const y = labels instanceof tf.Tensor ? labels : tf.tensor1d(Array.from(labels), 'int32');
    if (y.rank !== 1 || y.shape[0] !== n)
      throw new Error(`expected labels [${n}] for logits [${n},${k}], got [${y.shape.join(',')}]`);
    const logp = tf.logSoftmax(logits as tf.Tensor2D);
    // Picks -log p[label] per row; the one-hot product keeps it one differentiable op chain.
    const onehot = tf.oneHot(tf.cast(y, 'int32') as tf.Tensor1D, k);
    return tf.neg(tf.sum(tf.mul(onehot, logp), 1)) as tf.Tensor1D;
  });
}
