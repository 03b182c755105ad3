/**
 * Browser storage limits, in words and numbers: a write that hits the quota becomes a
 * `QuotaError` naming what was written, the bytes it needed and the bytes free. No IndexedDB
 * here (the store's modules wrap their writes in `guardQuota`), so the page may import it.
 */

export class QuotaError extends Error {
  override name = 'QuotaError';
  constructor(
    readonly what: string,
    readonly neededBytes: number,
    readonly freeBytes: number | null,
    /** The estimate the free space came from, for the message. */
    readonly room: StorageRoom | null = null,
  ) {
    super(
      `Not enough browser storage for ${what}: it needs ${formatBytes(neededBytes)}, ` +
        (freeBytes === null ? 'and the free space is unknown' : `only ${formatBytes(freeBytes)} is free`) +
        (room ? ` (${describeRoom(room)})` : '') +
        '. Earlier series are kept; delete cached series or free disk space, then drop it again.',
    );
  }
}

/** What the browser says of this origin's storage: usage and quota, and whether it is kept. */
export interface StorageRoom {
  usage: number;
  quota: number;
  /** `navigator.storage.persisted()`; null where the browser cannot say. */
  persisted: boolean | null;
  /** Free space on the disk holding the profile, where known (the page alone cannot know). */
  diskFree?: number;
}

export function describeRoom(r: StorageRoom): string {
  return `the browser reports ${formatBytes(r.usage)} used of a ${formatBytes(r.quota)} quota${
    r.persisted === null ? '' : r.persisted ? ', persistent' : ', not persistent'
  }${r.diskFree === undefined ? '' : `; the disk has ${formatBytes(r.diskFree)} free`}`;
}

export async function storageRoom(): Promise<StorageRoom | null> {
  const est = await storageEstimate();
  if (!est || est.quota === undefined || est.usage === undefined) return null;
  const storage = (globalThis.navigator as Navigator | undefined)?.storage;
  const persisted = storage?.persisted ? await storage.persisted().catch(() => null) : null;
  return { usage: est.usage, quota: est.quota, persisted };
}

/** Refuse, before anything is written, `bytes` of `what` that cannot fit in the space left:
 *  the browser's quota less its usage, or the disk's free space where known and smaller. */
export async function refuseIfNoRoom(what: string, bytes: number, diskFree: number | null = null): Promise<void> {
  if (bytes <= 0) return;
  const room = await storageRoom();
  const known = room ? { ...room, ...(diskFree === null ? {} : { diskFree }) } : null;
  const free = Math.min(room ? room.quota - room.usage : Infinity, diskFree ?? Infinity);
  if (bytes > free) throw new QuotaError(what, bytes, Math.max(0, free), known);
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`;
}

/** Run `write`; a quota failure in it becomes a `QuotaError` for `what` needing `bytes`. */
export async function guardQuota(what: string, bytes: number, write: () => Promise<unknown>): Promise<void> {
  try {
    await write();
  } catch (e) {
    if (isQuotaError(e)) throw await quotaErrorFor(what, bytes);
    throw e;
  }
}

/** The `QuotaError` for a write the browser refused, with the numbers it reports now. */
export async function quotaErrorFor(what: string, bytes: number): Promise<QuotaError> {
  const room = await storageRoom().catch(() => null);
  return new QuotaError(what, bytes, room ? Math.max(0, room.quota - room.usage) : null, room);
}

export function isQuotaError(e: unknown): boolean {
  if (!(e instanceof Error) && !(typeof e === 'object' && e !== null)) return false;
  const err = e as { name?: string; inner?: unknown };
  return err.name === 'QuotaExceededError' || (err.inner !== undefined && isQuotaError(err.inner));
}

export async function freeBytes(): Promise<number | null> {
  const est = await storageEstimate();
  return est && est.quota !== undefined && est.usage !== undefined ? est.quota - est.usage : null;
}

export async function storageEstimate(): Promise<StorageEstimate | null> {
  const storage = (globalThis.navigator as Navigator | undefined)?.storage;
  return storage?.estimate ? storage.estimate() : null;
}
