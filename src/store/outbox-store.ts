/**
 * The tracking outbox and where each run lives on its tracking server (functions over the
 * Dexie schema; callers use them through `LabStore`). Items are kept in the order they were
 * queued (by id); delivery itself is `Delivery` in src/tracking/outbox.ts.
 */
import type { LabDb } from './lab-db.ts';
import { guardQuota } from './quota.ts';
import type { OutboxItem, TrackingRecord } from './records.ts';

export async function enqueue(db: LabDb, items: OutboxItem[]): Promise<void> {
  if (items.length)
    await guardQuota(`${items.length} tracking items`, 4096 * items.length, () => db.outbox.bulkAdd(items));
}

/** Every queued item, oldest first. */
export async function listOutbox(db: LabDb): Promise<OutboxItem[]> {
  return db.outbox.orderBy('id').toArray();
}

export async function outboxCount(db: LabDb): Promise<number> {
  return db.outbox.count();
}

/** Each run's oldest queued item, oldest first: the one its delivery waits on. */
export async function outboxHeads(db: LabDb): Promise<OutboxItem[]> {
  const heads = new Map<string, OutboxItem>();
  for (const i of await listOutbox(db)) if (!heads.has(i.runId)) heads.set(i.runId, i);
  return [...heads.values()];
}

export async function getOutboxItem(db: LabDb, id: number): Promise<OutboxItem | undefined> {
  return db.outbox.get(id);
}

export async function updateOutboxItem(db: LabDb, id: number, changes: Partial<Omit<OutboxItem, 'id'>>): Promise<void> {
  await db.outbox.update(id, changes);
}

export async function deleteOutboxItem(db: LabDb, id: number): Promise<void> {
  await db.outbox.delete(id);
}

export async function getTracking(db: LabDb, runId: string): Promise<TrackingRecord | undefined> {
  return db.tracking.get(runId);
}

export async function putTracking(db: LabDb, rec: TrackingRecord): Promise<void> {
  await db.tracking.put(rec);
}
