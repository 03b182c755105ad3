/**
 * The files a finished run leaves in MLflow: its config and lab URL, a model summary, the
 * validation predictions, the tfjs model (model.json + weights), and the model as ONNX in an
 * MLflow model directory (`model/`: MLmodel with onnx and python_function flavours).
 */
import * as tf from '@tensorflow/tfjs';
import type { RunRecord } from '../store/records.ts';
import { modelSummary } from '../model/luna-model.ts';
import { exportOnnx } from '../model/onnx-export.ts';
import { exportTorchStateDictAsync } from '../model/torch-state-dict.ts';
import { mlmodelFiles } from './mlmodel.ts';
import { predictionsCsv } from './run-tracking.ts';

export interface ArtifactFile {
  path: string;
  contentType: string;
  data: Blob;
}

const text = (path: string, body: string, contentType = 'text/plain'): ArtifactFile => ({
  path,
  contentType,
  data: new Blob([body], { type: contentType }),
});

/** The tfjs model as its two files (tf.io's own format). */
export async function tfjsModelFiles(model: tf.LayersModel): Promise<ArtifactFile[]> {
  let files: ArtifactFile[] = [];
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      const weights =
        a.weightData instanceof ArrayBuffer ? a.weightData : tf.io.concatenateArrayBuffers(a.weightData ?? []);
      const json = {
        modelTopology: a.modelTopology,
        format: a.format,
        generatedBy: a.generatedBy,
        convertedBy: a.convertedBy,
        weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs ?? [] }],
      };
      files = [
        text('tfjs/model.json', JSON.stringify(json), 'application/json'),
        { path: 'tfjs/weights.bin', contentType: 'application/octet-stream', data: new Blob([weights]) },
      ];
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return files;
}

export async function runArtifacts(run: RunRecord, model: tf.LayersModel): Promise<ArtifactFile[]> {
  const onnx = exportOnnx(model, run.config.crop, { stateDict: await exportTorchStateDictAsync(model) });
  const mlmodel = mlmodelFiles({ crop: run.config.crop, runId: run.runId, createdUtc: new Date() });
  return [
    text('config.json', JSON.stringify(run.config, null, 2), 'application/json'),
    text('lab_url.txt', run.labUrl + '\n'),
    text('model_summary.txt', modelSummary(model)),
    text('predictions.csv', predictionsCsv(run), 'text/csv'),
    ...(await tfjsModelFiles(model)),
    {
      path: 'model/model.onnx',
      contentType: 'application/octet-stream',
      data: new Blob([onnx as Uint8Array<ArrayBuffer>]),
    },
    ...mlmodel.map((f) => text(`model/${f.path}`, f.data, f.contentType)),
  ];
}
