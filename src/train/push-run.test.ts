/**
 * "Without a server, runs are kept locally and can be pushed to MLflow later": a run trained
 * with no tracking server is pushed afterwards to a real `mlflow server` and arrives whole.
 */
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { resolveConfigOrThrow } from '../config/lab-config.ts';
import { MlflowClient } from '../tracking/mlflow-client.ts';
import { Delivery } from '../tracking/outbox.ts';
import { Trainer } from './trainer.ts';
import { useMlflowLab } from './mlflow-lab.test-helper.ts';

const lab = useMlflowLab('push-run');

describe('pushing a local run to MLflow', () => {
  it('sends every epoch, the artifacts and the status of a run trained without a server', async () => {
    const { server, db } = lab;
    const config = resolveConfigOrThrow({
      crop: [8, 16, 16],
      model: { blocks: 2, width: 4 },
      train: { epochs: 2, batchSize: 8, seed: 9 },
      backend: 'cpu',
    });
    const trainer = new Trainer(db);
    const run = await trainer.start(config, 'local only');
    expect(run.status).toBe('finished');
    expect(run.trackingQueued).toBe(false);
    expect(await db.outboxCount()).toBe(0); // nothing queued without a server
    // Evaluated in the page before it was pushed: the evaluation goes along.
    const evaluated = {
      at: 1_700_000_000_000,
      epoch: 2,
      scope: 'validation' as const,
      cpm: 0.25,
      sensitivities: [0.125, 0.25, 0.5, 1, 2, 4, 8].map((fpsPerScan, i) => ({ fpsPerScan, sensitivity: i / 8 })),
      cpmBand: null,
      scans: 1,
      nodules: 2,
      trainingScans: 0,
      warnings: [],
    };
    expect(await db.putRunEval(run.runId, evaluated)).toBe(true);

    const pushed = await trainer.pushRun(run.runId, { server: server.url, experiment: 'pushed' });
    expect(pushed.config.tracking.server).toBe(server.url);
    await expect(trainer.pushRun(run.runId, { server: server.url, experiment: 'pushed' })).rejects.toThrow(
      /already tracked/,
    );
    const state = await new Delivery(db).flush();
    expect(state).toMatchObject({ pending: 0, failed: [] });

    const client = new MlflowClient(server.url);
    const { mlflowRunId } = (await db.getTracking(run.runId))!;
    const got = await client.getRun(mlflowRunId);
    expect(got.info.status).toBe('FINISHED');
    expect(got.info.run_name).toBe('local only');
    const keys = new Set(run.history.flatMap((p) => Object.keys(p.values)));
    for (const key of keys) {
      const n = run.history.filter((p) => key in p.values).length;
      expect((await client.metricHistory(mlflowRunId, key)).length, key).toBe(n);
    }
    expect((await client.metricHistory(mlflowRunId, 'eval/cpm')).map((m) => m.value)).toEqual([0.25]);
    expect((await client.metricHistory(mlflowRunId, 'eval/sensitivity_at_8_fp')).map((m) => m.value)).toEqual([6 / 8]);
    const files = (await client.listArtifacts(mlflowRunId, 'model')).map((f) => f.path);
    expect(files).toEqual(expect.arrayContaining(['model/MLmodel', 'model/model.onnx']));
  }, 180_000);
});
