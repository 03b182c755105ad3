/**
 * Runs and their checkpoints in the cache (functions over the Dexie schema; callers use them
 * through `LabStore`). A run's record is written together with what must agree with it: its
 * checkpoint, and the tracking items it queued.
 */
import type { LabDb } from './lab-db.ts';
import { guardQuota } from './quota.ts';
import type { CheckpointRecord, OutboxItem, RunEval, RunRecord } from './records.ts';
import { enqueue } from './outbox-store.ts';

export async function getRun(db: LabDb, runId: string): Promise<RunRecord | undefined> {
  return db.runs.get(runId);
}

export async function putRun(db: LabDb, run: RunRecord): Promise<void> {
  await guardQuota(`run ${run.name}`, 64 << 10, () => db.runs.put({ ...run, updatedAt: Date.now() }));
}

export async function updateRun(db: LabDb, runId: string, changes: Partial<RunRecord>): Promise<void> {
  await db.runs.update(runId, { ...changes, updatedAt: Date.now() });
}

/** The run's record, its checkpoint and the tracking items of the epoch, written together:
 *  a checkpoint never disagrees with the history it follows, and the tracking server gets
 *  exactly the points the run holds. */
export async function putCheckpoint(
  db: LabDb,
  run: RunRecord,
  cp: CheckpointRecord,
  outbox: OutboxItem[] = [],
): Promise<void> {
  await guardQuota(`a checkpoint of run ${run.name}`, cp.weights.size + cp.optimizer.size, () =>
    db.transaction('rw', [db.runs, db.checkpoints, db.outbox], async () => {
      await db.checkpoints.put(cp);
      await db.runs.put({ ...run, updatedAt: Date.now() });
      if (outbox.length) await db.outbox.bulkAdd(outbox);
    }),
  );
}

/** The run's record and tracking items for it, written together (a push to a tracking
 *  server): the record says it is tracked exactly when its items are queued. */
export async function queueRunTracking(db: LabDb, run: RunRecord, items: OutboxItem[]): Promise<void> {
  await db.transaction('rw', [db.runs, db.outbox], async () => {
    await putRun(db, run);
    await enqueue(db, items);
  });
}

/** A run's evaluation and the tracking items that send it, written together; false when the
 *  run is gone (deleted meanwhile), and then nothing is queued. */
export async function putRunEval(db: LabDb, runId: string, result: RunEval, items: OutboxItem[]): Promise<boolean> {
  return db.transaction('rw', [db.runs, db.outbox], async () => {
    const n = await db.runs.update(runId, { eval: result, updatedAt: Date.now() });
    if (!n) return false;
    if (items.length) await enqueue(db, items);
    return true;
  });
}

export async function getCheckpoint(db: LabDb, runId: string): Promise<CheckpointRecord | undefined> {
  return db.checkpoints.get(runId);
}

/** Newest first. */
export async function listRuns(db: LabDb): Promise<RunRecord[]> {
  return db.runs.orderBy('createdAt').reverse().toArray();
}

export async function deleteRun(db: LabDb, runId: string): Promise<void> {
  await db.transaction('rw', [db.runs, db.checkpoints], async () => {
    await db.checkpoints.delete(runId);
    await db.runs.delete(runId);
  });
}
