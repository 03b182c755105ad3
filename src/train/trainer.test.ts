/**
 * The whole training run in Node (tfjs cpu backend, fake-indexeddb): synthetic scans are
 * ingested, a small model trains, checkpoints are taken, and a stopped-and-resumed run ends
 * bit-identical to an uninterrupted one.
 */
import 'fake-indexeddb/auto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { openLabStore, type LabStore } from '../store/lab-store.ts';
import type { RunRecord } from '../store/records.ts';
import { ingestFiles } from '../store/ingest.ts';
import { sourceFromBytes } from '../data/source.ts';
import { generateSynthetic } from '../data/synthetic.ts';
import { resolveConfigOrThrow } from '../config/lab-config.ts';
import { decodeLabUrl } from '../config/lab-url.ts';
import { METRIC_NAMES } from '../model/metrics.ts';
import { Trainer, type Progress } from './trainer.ts';
import { augmentBatch } from '../data/augment-batch.ts';
import { augmentPool, type AugmentEndpoint, type AugmentPool } from '../data/augment-pool.ts';

const config = resolveConfigOrThrow({
  crop: [8, 16, 16],
  model: { blocks: 2, width: 4 },
  train: { epochs: 2, batchSize: 8, seed: 77 },
  backend: 'cpu',
});

let db: LabStore;
beforeAll(async () => {
  await tf.setBackend('cpu');
  db = openLabStore('trainer-test');
  const files = [...generateSynthetic({ scans: 3, size: 'tiny', seed: 5 })].map((f) =>
    sourceFromBytes(f.path, f.bytes),
  );
  const report = await ingestFiles(db, files);
  expect(report.series).toHaveLength(3);
});
afterAll(async () => {
  await db.delete();
});

async function weightsOf(runId: string): Promise<Uint8Array> {
  const cp = await db.getCheckpoint(runId);
  return new Uint8Array(await cp!.weights.arrayBuffer());
}

describe('Trainer', () => {
  let straight: RunRecord;
  const progress: Progress[] = [];

  it('trains a small model to the end, with the seed’s metrics and per-candidate predictions', async () => {
    const trainer = new Trainer(db, [{ onProgress: (p) => progress.push(p) }]);
    straight = await trainer.start(config, 'straight');
    expect(straight.error).toBeNull();
    expect(straight.status).toBe('finished');
    expect(straight.backend).toBe('cpu');
    expect(straight.epochsDone).toBe(2);
    expect(straight.history.map((p) => p.epoch)).toEqual([1, 1, 2, 2]);
    for (const mode of ['training', 'validating']) {
      const point = straight.history.find((p) => Object.keys(p.values).some((k) => k.startsWith(mode)))!;
      for (const name of METRIC_NAMES) expect(point.values[`${mode}/${name}`]).toBeTypeOf('number');
    }
    // step = training samples seen, the same for both phases of an epoch
    expect(straight.history[0].step).toBe(straight.history[1].step);
    expect(straight.history[2].step).toBe(2 * straight.history[0].step);
    expect(straight.predictions.length).toBeGreaterThan(0);
    expect(straight.predictions.every((p) => p.prob >= 0 && p.prob <= 1)).toBe(true);
    expect(straight.dataDigest).toMatch(/^[0-9a-f]{64}$/);
  }, 120_000);

  it('leaks no tensors from step to step, nor from epoch to epoch (checkpoints included)', () => {
    const training = progress.filter((p) => p.phase === 'training');
    expect(training.filter((p) => p.epoch === 2).length).toBeGreaterThan(2);
    // After the first step has made the optimizer's state, the count stays put.
    expect(new Set(training.slice(1).map((p) => p.numTensors))).toEqual(new Set([training[1].numTensors]));
  });

  it('a run stopped after epoch 1 and resumed ends identical to the uninterrupted one', async () => {
    const trainer: Trainer = new Trainer(db, [
      {
        onRun: (r) => {
          if (r.epochsDone === 1) trainer.stop();
        },
      },
    ]);
    const stopped = await trainer.start(config, 'interrupted');
    expect(stopped.status).toBe('stopped');
    expect(stopped.epochsDone).toBe(1);
    // As a record written by an earlier lab: without the fields added since (kernels, data.digest).
    const { kernels: _k, ...older } = JSON.parse(JSON.stringify(stopped.config)) as Record<string, unknown> & {
      data: Record<string, unknown>;
    };
    delete older.data.digest;
    await db.updateRun(stopped.runId, { config: older as unknown as RunRecord['config'] });
    const resumed = await new Trainer(db).resumeRun(stopped.runId);
    expect(resumed.status).toBe('finished');
    expect(resumed.history.map((p) => p.values)).toEqual(
      straight.history.map((p) => p.values).map((v) => expect.objectContaining(stripTimes(v))),
    );
    expect(await weightsOf(resumed.runId)).toEqual(await weightsOf(straight.runId));
  }, 120_000);

  it('a stop asked while the next batch is prepared acts before that step (Ctrl-C at the step boundary)', async () => {
    let jobs = 0;
    let steps = 0;
    let stepsAtStop = -1;
    let trainer: Trainer | null = null;
    // The third batch is ready only after step 2 has run, and the stop comes with it.
    const gated: AugmentPool = {
      size: 0,
      run: async (job) => {
        if (++jobs === 3) {
          while (steps < 2) await new Promise((r) => setTimeout(r, 1));
          trainer!.stop();
          stepsAtStop = steps;
        }
        return augmentBatch(job);
      },
      dispose: () => undefined,
    };
    trainer = new Trainer(db, [{ onProgress: (p) => void (p.phase === 'training' && steps++) }], {
      dataPool: () => gated,
    });
    const run = await trainer.start(config, 'ctrl-c');
    expect(run.status).toBe('stopped');
    expect(stepsAtStop).toBe(2);
    expect(steps).toBe(2); // no step began after the stop
  }, 120_000);

  it('the same seed twice gives the same metrics; "continue training" adds epochs', async () => {
    const again = await new Trainer(db).start(config, 'again');
    expect(again.history.map((p) => stripTimes(p.values))).toEqual(straight.history.map((p) => stripTimes(p.values)));
    const more = await new Trainer(db).resumeRun(again.runId, 1);
    expect(more.status).toBe('finished');
    expect(more.epochsDone).toBe(3);
    expect(more.config.train.epochs).toBe(3);
    expect(more.history).toHaveLength(6);
  }, 120_000);

  it('augmenting on data workers (2 of them, answering out of order) gives the same run bit for bit', async () => {
    let spawned = 0;
    const worker = (id: number): AugmentEndpoint => ({
      async augment(job) {
        const copy = structuredClone(job, { transfer: [job.crops.buffer] }); // as postMessage does
        await new Promise((r) => setTimeout(r, id ? 1 : 6));
        return augmentBatch(copy);
      },
      dispose: () => undefined,
    });
    const trainer = new Trainer(db, [], { dataPool: () => augmentPool(() => worker(spawned++), 2) });
    const pooled = await trainer.start(config, 'pooled');
    expect(pooled.status).toBe('finished');
    expect(spawned).toBe(2);
    expect(pooled.history.map((p) => stripTimes(p.values))).toEqual(straight.history.map((p) => stripTimes(p.values)));
    expect(pooled.predictions).toEqual(straight.predictions);
    expect(await weightsOf(pooled.runId)).toEqual(await weightsOf(straight.runId));
    // The loop's wait for its batches is measured with every epoch's training point.
    const waits = pooled.history
      .filter((p) => 'training/loss/all' in p.values)
      .map((p) => p.values['system/batch_wait_seconds']);
    expect(waits).toHaveLength(2);
    expect(waits.every((w) => w >= 0)).toBe(true);
  }, 120_000);

  it("pins the data it used in the run's URL, and a URL naming other data refuses to train", async () => {
    const url = decodeLabUrl(straight.labUrl);
    expect(url.issues).toEqual([]);
    expect(url.config.data.subsets).toEqual(['subset0']);
    expect(url.config.data.digest).toEqual([expect.stringMatching(/^subset0:3:[0-9a-f]{8}$/)]);
    const foreign = resolveConfigOrThrow({
      ...config,
      data: { subsets: [], candidates: 'candidates', digest: ['subset0:3:00000000', 'subset4:89:12345678'] },
    });
    const run = await new Trainer(db).start(foreign, 'foreign data');
    expect(run.status).toBe('failed');
    expect(run.error).toContain('not cached in this browser: subset4 (89 series)');
    expect(run.error).toContain('cached with different scans: subset0 (3 series here, 3 in the URL)');
  });

  it('fails with a clear message when no data is cached for the chosen subsets (under the id the caller reserved)', async () => {
    const run = await new Trainer(db).start(
      resolveConfigOrThrow({ ...config, data: { subsets: ['subset7'], candidates: 'candidates' } }),
      'nodata',
      [],
      { runId: 'feedfacefeedface' },
    );
    expect(run.status).toBe('failed');
    expect(run.error).toMatch(/No cached series in subsets subset7; the cache holds subset0/);
    // The CLI's run.json names the run before the page creates it.
    expect(run.runId).toBe('feedfacefeedface');
    expect((await db.getRun('feedfacefeedface'))?.status).toBe('failed');
  });

  it('writes the lab URL at the base its caller gives (a headless page lives on a temporary port)', async () => {
    const run = await new Trainer(db).start(
      resolveConfigOrThrow({ ...config, data: { subsets: ['subset7'], candidates: 'candidates' } }),
      'based',
      [],
      { labBase: 'http://lab.example:8080/' },
    );
    expect(run.labUrl).toMatch(/^http:\/\/lab\.example:8080\/#v=\d+&/);
    expect((await db.getRun(run.runId))?.labUrl).toBe(run.labUrl);
  });
});

/** Metric values without the system/ measurements (times, memory), which vary run to run. */
function stripTimes(v: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(v).filter(([k]) => !k.startsWith('system/')));
}
