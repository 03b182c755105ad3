/**
 * The MLflow Model Registry with a real `mlflow server` (Node, tfjs cpu, fake-indexeddb): a
 * finished run with `tracking.register` becomes version 1 of that registered model (its
 * `model/` artifact, with the signature); `mlflow.pyfunc.load_model("models:/NAME/1")` in the
 * test venv predicts with it; a run fine-tuned from `models:/NAME/1` keeps its frozen weights
 * bit-identical to the registered run's and records the source in its tags and params; Inspect's
 * loader reads the registered model's config, weights and predictions, and names its URI when it
 * cannot.
 */
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../cli/free-port.ts';
import { resolveConfigOrThrow } from '../config/lab-config.ts';
import { MlflowClient } from '../tracking/mlflow-client.ts';
import { Delivery } from '../tracking/outbox.ts';
import { OutboxSink } from '../tracking/outbox-sink.ts';
import { Trainer } from './trainer.ts';
import { useMlflowLab } from './mlflow-lab.test-helper.ts';
import { runCli } from '../cli/run-cli.test-helper.ts';
import { loadMlflowModel, mlflowModelOnnx } from './model-source.ts';

const lab = useMlflowLab('registry');

async function weightsByName(runId: string): Promise<Map<string, string>> {
  const cp = (await lab.db.getCheckpoint(runId))!;
  return hexByName(await cp.weights.arrayBuffer(), cp.weightSpecs);
}

/** float32 weights in tf.io's encoding, by name, as hex. */
function hexByName(data: ArrayBuffer, specs: { name: string; shape: number[] }[]): Map<string, string> {
  const buf = Buffer.from(data);
  const out = new Map<string, string>();
  let at = 0;
  for (const s of specs) {
    const n = s.shape.reduce((a, b) => a * b, 1) * 4;
    out.set(s.name, buf.subarray(at, at + n).toString('hex'));
    at += n;
  }
  return out;
}

describe('the Model Registry', () => {
  it('registers a finished run, pyfunc predicts with models:/NAME/1, and a run fine-tunes from it', async () => {
    const { server, db } = lab;
    const small = {
      crop: [8, 16, 16],
      model: { blocks: 2, width: 4, blockNorm: true },
      train: { epochs: 1, batchSize: 8, seed: 9 },
      backend: 'cpu',
      tracking: { server: server.url, experiment: 'registry' },
    };
    const trainer = new Trainer(db, [new OutboxSink(db)]);
    const run = await trainer.start(
      resolveConfigOrThrow({ ...small, tracking: { ...small.tracking, register: 'luna-reg' } }),
      'registered',
    );
    expect(run.status).toBe('finished');
    expect(await new Delivery(db).flush()).toMatchObject({ pending: 0, failed: [] });

    const client = new MlflowClient(server.url);
    const { mlflowRunId, experimentId } = (await db.getTracking(run.runId))!;
    const mv = await client.getModelVersion('luna-reg', '1');
    expect(mv.run_id).toBe(mlflowRunId);
    expect(mv.source).toMatch(/\/model$/);
    // Delivered again (a lost answer): no second version.
    expect((await client.modelVersionsOfRun('luna-reg', mlflowRunId)).map((v) => v.version)).toEqual(['1']);

    // Not execFileSync: a blocked event loop would miss the server closing its idle connections.
    const { stdout: py } = await promisify(execFile)(
      join(process.cwd(), '.venv', 'bin', 'python'),
      [
        '-c',
        [
          'import sys, json, numpy as np, mlflow',
          'mlflow.set_tracking_uri(sys.argv[1])',
          'm = mlflow.pyfunc.load_model("models:/luna-reg/1")',
          'x = np.random.default_rng(0).uniform(-1000, 1000, (3, 1, 8, 16, 16)).astype(np.float32)',
          'y = m.predict(x)',
          'y = next(iter(y.values())) if isinstance(y, dict) else np.asarray(y)',
          'sig = m.metadata.get_input_schema().inputs[0]',
          'print(json.dumps({"shape": list(y.shape), "finite": bool(np.isfinite(y).all()), "input": list(sig.shape)}))',
        ].join('\n'),
        server.url,
      ],
      { encoding: 'utf8', env: { ...process.env, MLFLOW_ENABLE_TELEMETRY: 'false' } },
    );
    expect(JSON.parse(py.trim().split('\n').pop()!)).toEqual({
      shape: [3, 2],
      finite: true,
      input: [-1, 1, 8, 16, 16],
    });

    // luna-lab eval takes the registered model wherever it takes an ONNX file.
    const onnx = await mlflowModelOnnx('models:/luna-reg/1', server.url);
    const logged = await client.downloadArtifact(experimentId, mlflowRunId, 'model/model.onnx');
    expect(Buffer.from(onnx).equals(Buffer.from(logged))).toBe(true);
    const data = join(mkdtempSync(join(tmpdir(), 'luna-registry-data-')), 'luna');
    expect((await runCli('synth', '--out', data, '--scans', '2', '--size', 'tiny', '--seed', '8')).code).toBe(0);
    const evaluated = await runCli(
      'eval',
      '--model',
      'models:/luna-reg/1',
      '--mlflow',
      server.url,
      '--data',
      data,
      '--json',
    );
    expect(evaluated.err).not.toMatch(/^luna-lab: (?!note|warning)/m);
    expect(evaluated.code).toBe(0);
    expect(JSON.parse(evaluated.out)).toMatchObject({ model: 'models:/luna-reg/1', crop: [8, 16, 16] });
    // Inspect takes it too: the run's config, its tfjs weights (the checkpoint's) and predictions.
    const inspected = await loadMlflowModel('models:/luna-reg/1', server.url);
    expect(inspected.config.crop).toEqual([8, 16, 16]);
    expect(inspected.config.model).toEqual(run.config.model);
    expect(hexByName(inspected.weights.data, inspected.weights.specs)).toEqual(await weightsByName(run.runId));
    expect(inspected.predictions.length).toBe(run.predictions.length);
    inspected.predictions.forEach((p, i) => {
      const want = run.predictions[i];
      expect(p).toMatchObject({ seriesUid: want.seriesUid, label: want.label });
      expect(p.prob).toBeCloseTo(want.prob, 5);
      p.xyz.forEach((v, k) => expect(v).toBeCloseTo(want.xyz[k], 2));
    });
    await expect(loadMlflowModel('models:/luna-reg/9', server.url)).rejects.toThrow(
      /^model "models:\/luna-reg\/9": MLflow .*answered 404 RESOURCE_DOES_NOT_EXIST/,
    );
    await expect(loadMlflowModel('models:/luna-reg/1', `http://127.0.0.1:${await freePort()}`)).rejects.toThrow(
      /^model "models:\/luna-reg\/1": MLflow server unreachable at http:\/\/127\.0\.0\.1:\d+/,
    );
    await expect(loadMlflowModel('models:/luna-reg/1', '')).rejects.toThrow(
      /^model "models:\/luna-reg\/1": .*tracking server/,
    );

    const missing = await runCli('eval', '--model', 'models:/luna-reg/9', '--mlflow', server.url, '--data', data);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/^luna-lab: --model .*luna-reg/m);

    // Fine-tuned from the registered model: frozen parts bit-identical to the registered run's.
    const tuned = await trainer.start(
      resolveConfigOrThrow({
        ...small,
        finetune: { from: 'models:/luna-reg/1', depth: 1 },
        train: { ...small.train, seed: 10 },
      }),
      'fine-tuned',
    );
    expect(tuned.error).toBeNull();
    expect(tuned.status).toBe('finished');
    const [before, after] = [await weightsByName(run.runId), await weightsByName(tuned.runId)];
    for (const [k, v] of after) {
      if (k.startsWith('head/')) expect(v, k).not.toBe(before.get(k));
      else expect(v, k).toBe(before.get(k));
    }
    expect(await new Delivery(db).flush()).toMatchObject({ pending: 0, failed: [] });
    const got = await client.getRun((await db.getTracking(tuned.runId))!.mlflowRunId);
    const tags = Object.fromEntries((got.data.tags ?? []).map((t) => [t.key, t.value]));
    expect(tags).toMatchObject({
      'luna.finetune.from': 'models:/luna-reg/1',
      'luna.finetune.depth': '1',
      'luna.finetune.source_model': 'models:/luna-reg/1',
      'luna.finetune.source_mlflow_run_id': mlflowRunId,
      'luna.finetune.source_run': run.runId,
    });
    const params = Object.fromEntries((got.data.params ?? []).map((t) => [t.key, t.value]));
    expect(params).toMatchObject({ 'lab/finetune.from': 'models:/luna-reg/1', 'lab/finetune.depth': '1' });
    // Not registered: no name given.
    await expect(client.getModelVersion('luna-reg', '2')).rejects.toThrow(/RESOURCE_DOES_NOT_EXIST|not found/i);
  }, 300_000);
});
