/**
 * The ONNX model of a run kept in this browser: its last checkpoint's weights in a LunaModel
 * built from the run's config, exported with the lab's exporter (src/model/onnx-export.ts) —
 * the same bytes the run's MLflow artifact `model/model.onnx` holds (src/tracking/artifacts.ts).
 *
 * Promise: `runOnnx(store, runId)` resolves with the ONNX bytes and the tfjs model they came from
 * (the caller disposes it), or throws naming the run and what is missing. Uses whatever tfjs
 * backend is active; weights are written, never trained.
 */
import * as tf from '@tensorflow/tfjs';
import type { RunRecord } from '../store/records.ts';
import type { LabStore } from '../store/lab-store.ts';
import { buildLunaModel } from '../model/luna-model.ts';
import { exportOnnx } from '../model/onnx-export.ts';
import { exportTorchStateDictAsync } from '../model/torch-state-dict.ts';
import { restoreWeights } from '../train/checkpoint.ts';

export interface RunModel {
  run: RunRecord;
  onnx: Uint8Array;
  /** The tfjs model with the checkpoint's weights (inference mode is `predict`). */
  model: tf.LayersModel;
  epoch: number;
}

export async function runOnnx(store: LabStore, runId: string): Promise<RunModel> {
  const [run, cp] = await Promise.all([store.getRun(runId), store.getCheckpoint(runId)]);
  if (!run) throw new Error(`run ${runId} is not in this browser's lab`);
  if (!cp) throw new Error(`run ${run.name} has no checkpoint yet: evaluate it after its first epoch`);
  const model = buildLunaModel(run.config.model, run.config.crop, run.config.train.seed);
  try {
    await restoreWeights(cp, model);
    // Asynchronous reads: a synchronous GPU read breaks WebGPU in a worker.
    const onnx = exportOnnx(model, run.config.crop, { stateDict: await exportTorchStateDictAsync(model) });
    return { run, onnx, model, epoch: cp.epoch };
  } catch (e) {
    model.dispose();
    throw e;
  }
}
