/**
 * The scheduling both worker pools share (data workers for augmentation, encode workers for
 * slabs): endpoints spawned lazily, at most `size`, each job given to an idle endpoint or else
 * to the one with the fewest jobs in flight; `dispose` ends them all. It knows nothing of
 * Worker: it is given a function that spawns one endpoint, so it is tested in Node.
 */
export interface Disposable {
  dispose(): void;
}

export interface EndpointPool<E extends Disposable> {
  /** Run `job` on an endpoint (refused after `dispose`). */
  use<T>(job: (endpoint: E) => Promise<T>): Promise<T>;
  dispose(): void;
}

/** `size` ≥ 1 endpoints at most from `spawn`; `what` (e.g. "data worker pool") names the pool. */
export function endpointPool<E extends Disposable>(spawn: () => E, size: number, what: string): EndpointPool<E> {
  const workers: { endpoint: E; busy: number }[] = [];
  let disposed = false;
  const pick = () => {
    const idle = workers.find((w) => w.busy === 0);
    if (idle) return idle;
    if (workers.length < size) {
      const w = { endpoint: spawn(), busy: 0 };
      workers.push(w);
      return w;
    }
    return workers.reduce((a, b) => (b.busy < a.busy ? b : a));
  };
  return {
    async use(job) {
      if (disposed) throw new Error(`${what} was disposed: nothing more can run on it`);
      const w = pick();
      w.busy++;
      try {
        return await job(w.endpoint);
      } finally {
        w.busy--;
      }
    },
    dispose() {
      disposed = true;
      for (const w of workers.splice(0)) w.endpoint.dispose();
    },
  };
}
