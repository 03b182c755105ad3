/**
 * What a lab URL of each version leaves out: every version's defaults, written out and frozen
 * forever. A URL omits the settings equal to its version's defaults, so a link means what it
 * meant the day it was written, however the lab's defaults move on.
 *
 * Rules for whoever changes a default in FIELDS (src/config/lab-config.ts): add a row here
 * (`{ ...V<n>, key: newDefault }`) — never edit a row that has shipped. lab-url.test.ts fails
 * until the newest row equals FIELDS' defaults, and its literal fixtures fail if an old row
 * changes. A new setting goes into V1 (and so every row after it) with the value that means
 * what labs before it did; if that is not its new default, the new default needs a new row.
 */
import { deepFreeze, type FieldKey, type FlatLabConfig } from './lab-config.ts';

export interface UrlVersion {
  readonly version: number;
  /** The value of every setting a link of this version does not give. */
  readonly defaults: FlatLabConfig;
  /**
   * For a version written by labs whose defaults differed: a setting whose presence in the link
   * tells which lab wrote it, and the defaults that lab had. Applied in order, over `defaults`.
   */
  readonly writtenBy?: readonly {
    readonly given: FieldKey;
    readonly defaults: Partial<FlatLabConfig>;
    readonly why: string;
  }[];
}

/**
 * v=1, defined with the lab URL (b851c31). The fields added without a version step since are
 * decoded as what a v=1 link meant when v=1 was defined:
 *
 * - `kernels` (2f77fa4, default `lab`): before it, WebGPU ran tfjs's stock conv3d/pooling
 *   kernels, so v=1 means `stock`. Trade-off: links written between 2f77fa4 and v=2 omitted
 *   `kernels=lab`; those carrying `data.digest` — every run link the lab pinned its data in, the
 *   Share button's — came from a lab that had the kernels field (both arrived in 2f77fa4), so
 *   they read as `lab` (`writtenBy` below). Only such a link without a digest (a run's URL
 *   before its data was pinned, a hand-made or `luna-lab url --config` link) now opens with
 *   stock kernels: the same model and maths (the lab kernels are checked against stock in
 *   e2e/kernels.spec.ts), slower and not bit-identical; the decoder's note names `kernels`, so
 *   the page and `luna-lab url --decode` say so. The other choice, v=1 meaning `lab`, would
 *   change every link from before 2f77fa4 with nothing in the link to tell.
 * - `gpuFeatures` (6873ba2, default none): labs before it asked the device for no optional
 *   features, so none is exact for every v=1 link.
 * - `data.digest` (2f77fa4, default none): no data pinned, exact likewise.
 * - `sampling.trainingLength` (issue 14, default 0): labs before it used every candidate.
 * - `task` (default `nodule`) and `sampling.malignancyRatio` (default 1:5:10, read only by the
 *   malignancy task): every lab before them trained the nodule task, so both are exact.
 * - `finetune.from`, `finetune.depth` and `tracking.register` (issue 14, defaults none, 1, none):
 *   labs before them trained from fresh weights and registered nothing, exact likewise.
 * - `augment.device` (issue 12, default `cpu`): labs before it augmented on the CPU, exact.
 */
const V1: FlatLabConfig = {
  'data.subsets': [],
  'data.candidates': 'candidates',
  'data.digest': [],
  crop: [32, 48, 48],
  'model.blocks': 4,
  'model.width': 8,
  'model.blockNorm': false,
  'model.dropout': 'none',
  'model.dropoutRate': 0.2,
  'finetune.from': '',
  'finetune.depth': 1,
  'optimizer.name': 'sgd',
  'optimizer.lr': 0.001,
  'optimizer.momentum': 0.99,
  'optimizer.weightDecay': 0,
  'optimizer.beta1': 0.9,
  'optimizer.beta2': 0.999,
  'scheduler.name': 'none',
  'scheduler.stepSize': 5,
  'scheduler.gamma': 0.1,
  'sampling.validation': 'candidate',
  'sampling.valStride': 10,
  'sampling.ratio': 1,
  'sampling.epochSamples': 0,
  'sampling.trainingLength': 0,
  task: 'nodule',
  'sampling.malignancyRatio': [1, 5, 10],
  'augment.flip': true,
  'augment.offset': 0.1,
  'augment.scale': 0.2,
  'augment.rotate': true,
  'augment.noise': 25,
  'augment.device': 'cpu',
  'train.epochs': 10,
  'train.batchSize': 32,
  'train.validationCadence': 5,
  'train.seed': 1,
  backend: 'webgpu',
  kernels: 'stock',
  gpuFeatures: [],
  'tracking.server': '',
  'tracking.experiment': 'luna-lab',
  'tracking.register': '',
};

/** v=2: the lab's own WebGPU kernels by default. */
const V2: FlatLabConfig = { ...V1, kernels: 'lab' };

/** Oldest first; the last is what links are written in. */
export const URL_VERSIONS: readonly UrlVersion[] = deepFreeze([
  {
    version: 1,
    defaults: V1,
    writtenBy: [
      {
        given: 'data.digest',
        defaults: { kernels: 'lab' },
        why: 'data.digest came with kernels (2f77fa4), whose default was lab',
      },
    ],
  },
  { version: 2, defaults: V2 },
]);

export const CURRENT_URL_VERSION: UrlVersion = URL_VERSIONS[URL_VERSIONS.length - 1];
