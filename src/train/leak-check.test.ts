/**
 * The per-epoch tfjs leak check in a real run (Node, tfjs cpu, fake-indexeddb): a sink that
 * keeps a tensor each epoch on purpose makes the run warn; the same run without it does not.
 */
import 'fake-indexeddb/auto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { openLabStore, type LabStore } from '../store/lab-store.ts';
import { ingestFiles } from '../store/ingest.ts';
import { sourceFromBytes } from '../data/source.ts';
import { generateSynthetic } from '../data/synthetic.ts';
import { resolveConfigOrThrow } from '../config/lab-config.ts';
import { Trainer } from './trainer.ts';

const config = resolveConfigOrThrow({
  crop: [8, 16, 16],
  model: { blocks: 2, width: 2 },
  sampling: { epochSamples: 16 },
  train: { epochs: 3, batchSize: 8, seed: 3, validationCadence: 100 },
  backend: 'cpu',
});

let db: LabStore;
beforeAll(async () => {
  await tf.setBackend('cpu');
  db = openLabStore('leak-check-test');
  const files = [...generateSynthetic({ scans: 2, size: 'tiny', seed: 4 })].map((f) =>
    sourceFromBytes(f.path, f.bytes),
  );
  await ingestFiles(db, files);
});
afterAll(async () => {
  await db.delete();
});

describe('the tfjs leak check', () => {
  it('warns in the run when an epoch ends holding more tensors than the one before', async () => {
    const kept: tf.Tensor[] = [];
    // Leaks one tensor per training phase, as a forgotten dispose in a hook would.
    const leaky = new Trainer(db, [
      { onMetrics: (_id, p) => void ('training/loss/all' in p.values && kept.push(tf.scalar(1))) },
    ]);
    const run = await leaky.start(config, 'leaky');
    tf.dispose(kept);
    expect(run.status).toBe('finished');
    const leaks = run.warnings.filter((w) => w.startsWith('tfjs memory leak'));
    expect(leaks).toEqual([
      expect.stringMatching(/^tfjs memory leak: epoch 2 ended with 1 more tensors \(\d+ → \d+\) than epoch 1$/),
      expect.stringMatching(/^tfjs memory leak: epoch 3 ended with 1 more tensors/),
    ]);
    expect((await db.getRun(run.runId))!.warnings).toEqual(run.warnings);
  }, 300_000);

  it('stays quiet for a run that frees what it makes', async () => {
    const run = await new Trainer(db).start(config, 'clean');
    expect(run.status).toBe('finished');
    expect(run.warnings.filter((w) => w.startsWith('tfjs memory leak'))).toEqual([]);
  }, 300_000);
});
