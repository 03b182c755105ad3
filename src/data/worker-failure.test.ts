import { describe, expect, it } from 'vitest';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { workerFailure } from './worker-failure.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const crash = (t: EventTarget, message: string) => t.dispatchEvent(Object.assign(new Event('error'), { message }));

/** Whether the result of a job settled through `wrap` is still reachable after a collection. */
async function resultRetained(wrap: (job: Promise<object>) => Promise<object>): Promise<boolean> {
  let ref!: WeakRef<object>;
  await (async () => {
    const result = { bytes: new Uint8Array(1 << 20) };
    ref = new WeakRef(result);
    await wrap(Promise.resolve(result));
  })();
  for (let i = 0; i < 5 && ref.deref(); i++) {
    await new Promise((r) => setTimeout(r, 0));
    gc();
  }
  return ref.deref() !== undefined;
}

describe('workerFailure', () => {
  it("settles with the job's result and then lets the job go", async () => {
    const f = workerFailure(new EventTarget(), 'test worker');
    const p = f.guard(Promise.resolve(7));
    expect(f.inFlight).toBe(1);
    await expect(p).resolves.toBe(7);
    expect(f.inFlight).toBe(0);
    await expect(f.guard(Promise.reject(new Error('job failed')))).rejects.toThrow('job failed');
    expect(f.inFlight).toBe(0);
  });

  it('fails the jobs in flight when the worker fails, and every later job at once', async () => {
    const worker = new EventTarget();
    const f = workerFailure(worker, 'slab encode worker');
    const never = new Promise<number>(() => undefined);
    const a = f.guard(never);
    const b = f.guard(never);
    crash(worker, 'boom');
    await expect(a).rejects.toThrow('slab encode worker failed: boom');
    await expect(b).rejects.toThrow('slab encode worker failed: boom');
    expect(f.inFlight).toBe(0);
    await expect(f.guard(Promise.resolve(1))).rejects.toThrow('slab encode worker failed: boom');
  });

  it('names a worker that could not be loaded', async () => {
    const worker = new EventTarget();
    const f = workerFailure(worker, 'data worker');
    const p = f.guard(new Promise(() => undefined));
    crash(worker, '');
    await expect(p).rejects.toThrow('data worker failed: it could not be loaded');
  });

  it('does not keep a settled result alive while the worker lives', async () => {
    const worker = new EventTarget();
    const f = workerFailure(worker, 'test worker');
    expect(await resultRetained((job) => f.guard(job))).toBe(false);
    // The check itself sees the leak it guards against: racing every job with one pending
    // promise keeps each result as long as that promise lives.
    const failed = new Promise<never>(() => undefined);
    expect(await resultRetained((job) => Promise.race([job, failed]))).toBe(true);
  });
});
