/**
 * The inspect worker: a run's model, restored from its last checkpoint (or a model the page read
 * from MLflow, sent with its weights), answering questions about single candidates (p(nodule) and its saliency) off the page's thread. Kept apart from
 * the train worker so inspection works while another run trains. Its comlink API is
 * `InspectApi`; large arrays are transferred, not copied, and errors cross as plain messages.
 */
import * as Comlink from 'comlink';
import type * as tf from '@tensorflow/tfjs';
import { labStore } from '../src/store/lab-store.ts';
import type { WeightSpec } from '../src/store/records.ts';
import type { LabConfig } from '../src/config/lab-config.ts';
import { xyzToIrc } from '../src/data/geometry.ts';
import type { Irc, Vec3 } from '../src/data/volume.ts';
import { selectBackend } from '../src/model/backend.ts';
import { useKernels } from '../src/model/kernels/index.ts';
import { buildLunaModel } from '../src/model/luna-model.ts';
import { saliency } from '../src/model/saliency.ts';
import { restoreWeights, writeWeights } from '../src/train/checkpoint.ts';

/** The model to ask: a run of this browser's lab (its last checkpoint), or weights the page holds. */
export type SaliencyModel =
  | { kind: 'run'; runId: string }
  | {
      kind: 'weights';
      /** Names the model (an MLflow model URI): the worker keeps the model built for the last key. */
      key: string;
      config: LabConfig;
      specs: WeightSpec[];
      data: ArrayBuffer;
    };

export interface SaliencyRequest {
  model: SaliencyModel;
  seriesUid: string;
  xyz: Vec3;
}

export interface SaliencyReply {
  /** The run id, or the weights' key. */
  runId: string;
  /** Epoch of the checkpoint whose weights answered (null: weights sent by the page). */
  epoch: number | null;
  backend: string;
  /** The model's input crop (clamped HU), read as training reads it. */
  crop: Int16Array;
  shape: [number, number, number];
  /** Voxel the crop is centred on (before shifting inside the volume). */
  center: Irc;
  prob: number;
  gradient: Float32Array;
  maxAbs: number;
}

/** What the worker is doing now, for the page's progress line (the gradient is one long pass). */
export type SaliencyStage = 'model' | 'crop' | 'gradient';

export interface InspectApi {
  saliency(req: SaliencyRequest, onStage?: (stage: SaliencyStage) => void): Promise<SaliencyReply>;
}

let loaded: { key: string; model: tf.LayersModel; epoch: number | null; config: LabConfig } | null = null;
let backend: string | null = null;

async function modelOf(m: SaliencyModel) {
  if (m.kind === 'weights') {
    const key = `weights|${m.key}|${m.data.byteLength}`;
    if (loaded?.key === key) return loaded;
    return build(key, m.config, null, (model) => writeWeights(model, m.data, m.specs, m.key));
  }
  const store = labStore();
  const [run, cp] = await Promise.all([store.getRun(m.runId), store.getCheckpoint(m.runId)]);
  if (!run) throw new Error(`run ${m.runId} is not in this browser's lab`);
  if (!cp) throw new Error(`run ${run.name} has no checkpoint yet: saliency needs a trained epoch`);
  const key = `${m.runId}|${cp.epoch}|${cp.createdAt}`;
  if (loaded?.key === key) return loaded;
  return build(key, run.config, cp.epoch, (model) => restoreWeights(cp, model));
}

async function build(
  key: string,
  config: LabConfig,
  epoch: number | null,
  fill: (model: tf.LayersModel) => void | Promise<void>,
) {
  if (!backend) {
    backend = (await selectBackend(config.backend)).backend;
    // The run's kernels (older runs lack the field: the lab's), as the trainer uses them.
    if (backend === 'webgpu') await useKernels(config.kernels ?? 'lab');
  }
  const model = buildLunaModel(config.model, config.crop, config.train.seed);
  try {
    await fill(model);
  } catch (e) {
    model.dispose();
    throw e;
  }
  loaded?.model.dispose();
  loaded = { key, model, epoch, config };
  return loaded;
}

const api: InspectApi = {
  async saliency(req, onStage) {
    try {
      void onStage?.('model');
      const { model, epoch, config } = await modelOf(req.model);
      void onStage?.('crop');
      const series = await labStore().getSeries(req.seriesUid);
      if (!series) throw new Error(`series ${req.seriesUid} is not in the cache: drop its scan again`);
      const center = xyzToIrc(req.xyz, series);
      const shape: [number, number, number] = [config.crop[0], config.crop[1], config.crop[2]];
      const crop = await labStore().readCrop(req.seriesUid, center, shape);
      void onStage?.('gradient');
      const s = await saliency(model, crop, shape);
      const runId = req.model.kind === 'run' ? req.model.runId : req.model.key;
      const reply: SaliencyReply = { runId, epoch, backend: backend ?? '', crop, shape, center, ...s };
      return Comlink.transfer(reply, [crop.buffer as ArrayBuffer, s.gradient.buffer as ArrayBuffer]);
    } catch (e) {
      // Only plain messages cross the worker boundary (a cause would not survive the clone).
      // eslint-disable-next-line preserve-caught-error
      throw new Error(e instanceof Error ? e.message : String(e));
    }
  },
};

Comlink.expose(api);
