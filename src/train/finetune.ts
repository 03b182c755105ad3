/**
 * Fine-tuning as the book's `--finetune` / `--finetune-depth` do it (p2ch14 training.py): the
 * model's parameterised parts are, in order, its input BatchNorm, its blocks and its head
 * (PyTorch's top-level module names: tail_batchnorm, block1…blockN, head_linear). Depth N ≥ 1
 * loads every weight of the source but the head's (the head is new: the run's own seeded
 * init) and trains only the last N parts; depth 0 continues from every weight, nothing frozen.
 *
 * Promise: a frozen part's weights do not change while the run trains, bit for bit: its layers
 * are made non-trainable (tfjs leaves their variables out of every gradient step) and a frozen
 * BatchNorm normalises with its running statistics instead of moving them (as Keras does for a
 * frozen BatchNorm; PyTorch would keep updating them). `freezeForFinetune` is applied on every
 * set-up, fresh or resumed, so a resumed run freezes the same parts; `loadSourceInto` only when
 * a run starts. Errors name the weight and the setting that would make it fit.
 */
import * as tf from '@tensorflow/tfjs';
import { torchModuleName } from '../model/torch-state-dict.ts';
import type { SourceWeights } from './model-source.ts';

/** The top-level part a layer belongs to ('block2' for 'block2_conv1'), or null for layers without weights. */
export function partOf(layerName: string): string | null {
  const m = torchModuleName(layerName);
  return m === null ? null : m.split('.')[0];
}

/** The model's parameterised parts, input to output. */
export function finetuneParts(model: tf.LayersModel): string[] {
  const parts: string[] = [];
  for (const l of model.layers) {
    const p = l.weights.length ? partOf(l.name) : null;
    if (p !== null && !parts.includes(p)) parts.push(p);
  }
  return parts;
}

/** The parts that train at `depth` (0: all). */
export function trainedParts(model: tf.LayersModel, depth: number): string[] {
  const parts = finetuneParts(model);
  if (depth > parts.length)
    throw new RangeError(`finetune.depth ${depth}: the model has ${parts.length} parts (${parts.join(', ')})`);
  return depth === 0 ? parts : parts.slice(parts.length - depth);
}

/** Make every layer outside the trained parts non-trainable; returns the frozen parts. */
export function freezeForFinetune(model: tf.LayersModel, depth: number): string[] {
  // A Sequential builds its inner model on the first call and makes every layer trainable then:
  // build it first, so the freeze is not undone.
  if (model instanceof tf.Sequential && !model.built) model.build(model.inputs[0].shape);
  const trained = new Set(trainedParts(model, depth));
  const frozen = new Set<string>();
  for (const l of model.layers) {
    const p = partOf(l.name);
    if (p === null || trained.has(p)) continue;
    l.trainable = false;
    frozen.add(p);
  }
  return [...frozen];
}

/** Write the source's weights into the model: every weight, but the head's when depth ≥ 1. */
export function loadSourceInto(model: tf.LayersModel, source: SourceWeights, depth: number, shownAs: string): void {
  const weights = tf.io.decodeWeights(source.data, source.specs);
  try {
    for (const w of model.weights) {
      const layer = w.originalName.split('/')[0];
      if (depth >= 1 && partOf(layer) === 'head_linear') continue;
      const t = weights[w.originalName];
      if (!t)
        throw new Error(
          `${shownAs}: the source model has no weight ${w.originalName} (compare model.blocks, model.blockNorm)`,
        );
      if (t.shape.join(',') !== w.shape.join(','))
        throw new Error(
          `${shownAs}: weight ${w.originalName} is [${t.shape.join(',')}] in the source, [${w.shape.join(',')}] in this run's model (compare model.width, model.blocks${partOf(layer) === 'head_linear' ? ', crop' : ''})`,
        );
      w.write(t);
    }
  } finally {
    tf.dispose(Object.values(weights));
  }
}

/** A run's set-up for fine-tuning: the source's weights when it starts (`weights`; null when it
 *  resumes from its own checkpoint), then the frozen parts. Returns the frozen parts. */
export function prepareFinetune(
  model: tf.LayersModel,
  finetune: { from: string; depth: number },
  weights: SourceWeights | null,
): string[] {
  if (!finetune.from) return [];
  if (weights) loadSourceInto(model, weights, finetune.depth, `finetune.from "${finetune.from}"`);
  return freezeForFinetune(model, finetune.depth);
}

/** The run's tags with the source's (the lab's `luna.finetune.*`, replacing any earlier ones). */
export function withSourceTags(
  tags: readonly { key: string; value: string }[],
  finetune: { from: string; depth: number },
  weights: SourceWeights,
): { key: string; value: string }[] {
  return [
    ...tags.filter((t) => !t.key.startsWith('luna.finetune.')),
    { key: 'luna.finetune.from', value: finetune.from },
    { key: 'luna.finetune.depth', value: String(finetune.depth) },
    ...weights.tags,
  ];
}
