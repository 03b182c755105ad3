import { describe, expect, it } from 'vitest';
import { endpointPool } from './endpoint-pool.ts';

/** An endpoint whose jobs wait until released, so the test sees what is in flight where. */
function gatedEndpoints() {
  const spawned: { id: number; disposed: boolean }[] = [];
  const spawn = () => {
    const e = { id: spawned.length, disposed: false, dispose: () => void (e.disposed = true) };
    spawned.push(e);
    return e;
  };
  return { spawned, spawn };
}

describe('endpointPool', () => {
  it('spawns lazily up to its size, gives each job an idle endpoint, else the least busy', async () => {
    const { spawned, spawn } = gatedEndpoints();
    const pool = endpointPool(spawn, 2, 'test pool');
    expect(spawned).toHaveLength(0);
    const gates: (() => void)[] = [];
    const on: number[] = [];
    const job = () =>
      pool.use((e) => {
        on.push(e.id);
        return new Promise<number>((r) => gates.push(() => r(e.id)));
      });
    const a = job();
    const b = job();
    const c = job(); // both busy with one job: the first of the least busy
    expect(on).toEqual([0, 1, 0]);
    expect(spawned).toHaveLength(2);
    gates[1]!(); // endpoint 1 is idle again
    await b;
    const d = job();
    expect(on.at(-1)).toBe(1);
    gates[0]!();
    gates[2]!();
    gates[3]!();
    expect(await Promise.all([a, c, d])).toEqual([0, 0, 1]);
    // Sequential jobs reuse the idle endpoint: no third spawn.
    await pool.use(async () => 0);
    expect(spawned).toHaveLength(2);
  });

  it('disposes every endpoint and refuses jobs after, naming the pool', async () => {
    const { spawned, spawn } = gatedEndpoints();
    const pool = endpointPool(spawn, 3, 'test pool');
    await Promise.all([pool.use(async () => 1), pool.use(async () => 2)]);
    pool.dispose();
    expect(spawned.every((e) => e.disposed)).toBe(true);
    await expect(pool.use(async () => 3)).rejects.toThrow('test pool was disposed');
  });
});
