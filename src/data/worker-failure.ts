/**
 * Fails the jobs a worker holds when it fails to load or crashes (comlink alone would leave them
 * waiting for ever), and fails every later job at once. Not `Promise.race([job, failed])` with
 * one never-settling `failed`: each race leaves a reaction on `failed` that holds the race's
 * promise, and so the job's result, for as long as the worker lives. Measured in Chromium: every
 * encoded tile of an ingest (≈24 MB a scan) stayed in memory until the drop ended. Here a job's
 * reject function is held only while the job is in flight.
 */

/** What a worker's failure is heard from (a `Worker`; any `EventTarget` in tests). */
export interface FailureSource {
  addEventListener(type: 'error', listener: (e: Event) => void): void;
}

export interface WorkerFailure {
  /** `job`, rejected as soon as the worker fails (at once if it failed already). */
  guard<T>(job: Promise<T>): Promise<T>;
  /** Jobs in flight (held until they settle, then let go). */
  readonly inFlight: number;
}

/** `what` names the worker in the error ("slab encode worker"). */
export function workerFailure(source: FailureSource, what: string): WorkerFailure {
  const rejects = new Set<(e: Error) => void>();
  let failure: Error | null = null;
  source.addEventListener('error', (e) => {
    const message = (e as Partial<ErrorEvent>).message;
    failure ??= new Error(`${what} failed: ${message || 'it could not be loaded'}`);
    for (const reject of rejects) reject(failure);
    rejects.clear();
  });
  return {
    guard<T>(job: Promise<T>): Promise<T> {
      if (failure) {
        job.catch(() => undefined);
        return Promise.reject(failure);
      }
      return new Promise<T>((resolve, reject) => {
        rejects.add(reject);
        job.then(resolve, reject).finally(() => rejects.delete(reject));
      });
    },
    get inFlight() {
      return rejects.size;
    },
  };
}
