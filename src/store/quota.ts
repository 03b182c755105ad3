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
  ) {
    super(
      `Not enough browser storage for ${what}: it needs ${formatBytes(neededBytes)}, ` +
        (freeBytes === null ? 'and the free space is unknown' : `only ${formatBytes(freeBytes)} is free`) +
        '. Earlier series are kept; delete cached series or free disk space, then drop it again.',
    );
  }
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
    if (isQuotaError(e)) throw new QuotaError(what, bytes, await freeBytes());
    throw e;
  }
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
