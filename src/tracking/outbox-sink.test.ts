/**
 * The MLflow outbox as a run sink, with a Trainer in Node (cpu, fake-indexeddb) and no server:
 * what a tracked run leaves in the outbox, in order, and that an epoch's items are handed to
 * the checkpoint's transaction rather than written by the sink.
 */
import 'fake-indexeddb/auto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { resolveConfigOrThrow } from '../config/lab-config.ts';
import { sourceFromBytes } from '../data/source.ts';
import { generateSynthetic } from '../data/synthetic.ts';
import { ingestFiles } from '../store/ingest.ts';
import { openLabStore, type LabStore } from '../store/lab-store.ts';
import type { RunRecord } from '../store/records.ts';
import { Trainer } from '../train/trainer.ts';
import { OutboxSink } from './outbox-sink.ts';

const config = resolveConfigOrThrow({
  crop: [8, 16, 16],
  model: { blocks: 2, width: 4 },
  train: { epochs: 2, batchSize: 8, seed: 3 },
  backend: 'cpu',
  tracking: { server: 'http://127.0.0.1:9', experiment: 'sink-test' },
});

let db: LabStore;
beforeAll(async () => {
  await tf.setBackend('cpu');
  db = openLabStore('outbox-sink-test');
  await ingestFiles(
    db,
    [...generateSynthetic({ scans: 2, size: 'tiny', seed: 4 })].map((f) => sourceFromBytes(f.path, f.bytes)),
  );
}, 120_000);
afterAll(async () => {
  await db.delete();
});

const kinds = async (runId: string) =>
  (await db.listOutbox())
    .filter((i) => i.runId === runId)
    .map((i) => i.payload.kind + ('status' in i.payload ? `:${i.payload.status}` : ''));

describe('OutboxSink', () => {
  it('queues start, each epoch with its checkpoint, the artifacts and the status of a tracked run', async () => {
    let delivered = 0;
    const epochsAtCheckpoint: number[] = [];
    const sink = new OutboxSink(db, () => delivered++);
    const watcher = { onCheckpoint: (r: RunRecord) => void epochsAtCheckpoint.push(r.epochsDone) };
    const run = await new Trainer(db, [sink, watcher]).start(config, 'tracked');
    expect(run.status).toBe('finished');
    expect(run.trackingQueued).toBe(true);
    expect(epochsAtCheckpoint).toEqual([1, 2]);
    const queued = await kinds(run.runId);
    expect(queued.slice(0, 3)).toEqual(['start', 'batch', 'inputs']);
    expect(queued.at(-1)).toBe('status:FINISHED');
    expect(queued.filter((k) => k === 'artifact').length).toBeGreaterThan(0);
    // start, two epochs and the close each asked for a delivery.
    expect(delivered).toBe(4);
  }, 120_000);

  it('hands an epoch its items without writing them, and closes a stopped run as KILLED', async () => {
    const sink = new OutboxSink(db);
    let handed = 0;
    const counting = {
      onEpoch: (r: RunRecord) => {
        handed += r.epochsDone;
        return [];
      },
    };
    const trainer: Trainer = new Trainer(db, [
      sink,
      counting,
      { onRun: (r) => void (r.epochsDone === 1 && trainer.stop()) },
    ]);
    const run = await trainer.start(config, 'stopped');
    expect(run.status).toBe('stopped');
    expect(handed).toBe(1);
    const before = await db.outboxCount();
    const items = sink.onEpoch({ ...run, epochsDone: 2 }, run.history);
    expect(items.length).toBeGreaterThan(0);
    expect(await db.outboxCount()).toBe(before);
    expect((await kinds(run.runId)).at(-1)).toBe('status:KILLED');
  }, 120_000);
});
