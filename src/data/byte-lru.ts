/**
 * In-memory caches for crop and slab reads: a least-recently-used map bounded in bytes, and
 * `SharedLoads`, which puts one behind a loader so that concurrent requests for the same key
 * (a prefetched batch asks for many crops of one scan at once) share one read.
 */

/** A least-recently-used map of typed arrays, bounded in bytes. */
export class ByteLru<V extends { byteLength: number }> {
  private readonly map = new Map<string, V>();
  private bytes = 0;

  constructor(private readonly budgetBytes: number) {}

  get(key: string): V | undefined {
    const hit = this.map.get(key);
    if (hit) {
      this.map.delete(key);
      this.map.set(key, hit);
    }
    return hit;
  }

  set(key: string, value: V): void {
    const old = this.map.get(key);
    if (old) this.bytes -= old.byteLength;
    this.map.delete(key);
    this.map.set(key, value);
    this.bytes += value.byteLength;
    while (this.bytes > this.budgetBytes && this.map.size > 1) {
      const [k, v] = this.map.entries().next().value as [string, V];
      this.map.delete(k);
      this.bytes -= v.byteLength;
    }
  }
}

/** Loads by key through a `ByteLru`; a load in flight is shared, a failed one is not kept. */
export class SharedLoads<V extends { byteLength: number }> {
  private readonly lru: ByteLru<V>;
  private readonly pending = new Map<string, Promise<V>>();

  constructor(budgetBytes: number) {
    this.lru = new ByteLru(budgetBytes);
  }

  get(key: string, load: () => Promise<V>): Promise<V> {
    const hit = this.lru.get(key);
    if (hit) return Promise.resolve(hit);
    let p = this.pending.get(key);
    if (!p) {
      p = load().then(
        (v) => {
          this.lru.set(key, v);
          this.pending.delete(key);
          return v;
        },
        (e: unknown) => {
          this.pending.delete(key);
          throw e;
        },
      );
      this.pending.set(key, p);
    }
    return p;
  }
}
