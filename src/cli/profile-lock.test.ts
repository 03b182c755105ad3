import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LOCK_FILE, lockProfile, ownerAlive, portOwner, processStartTime, processesOnProfile } from './profile-lock.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'luna-lock-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A PID that no longer runs: a child that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((ok) => child.once('exit', ok));
  return child.pid!;
}

describe('lockProfile', () => {
  it('writes its PID and start time, refuses a second run while held, and releases', async () => {
    const lock = await lockProfile(dir);
    expect(lock.tookOverFrom).toBeNull();
    const owner = JSON.parse(await readFile(join(dir, LOCK_FILE), 'utf8')) as { pid: number; startTime: string | null };
    expect(owner.pid).toBe(process.pid);
    expect(owner.startTime).toBe(processStartTime(process.pid));
    await expect(lockProfile(dir)).rejects.toThrow(
      `the browser profile ${dir} is in use by another luna-lab run (PID ${process.pid}, since `,
    );
    await lock.release();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    const again = await lockProfile(dir);
    await again.release();
  });

  it("takes over a dead run's lock (a SIGKILLed CLI), a reused PID's and an unreadable one", async () => {
    const dead = await deadPid();
    for (const [text, from] of [
      [JSON.stringify({ pid: dead, startTime: '1', since: 5 }), dead],
      [JSON.stringify({ pid: process.pid, startTime: 'not-this-process', since: 5 }), process.pid],
      ['garbage', null],
    ] as const) {
      await writeFile(join(dir, LOCK_FILE), text);
      const lock = await lockProfile(dir);
      expect(lock.tookOverFrom?.pid ?? null).toBe(from);
      expect(JSON.parse(await readFile(join(dir, LOCK_FILE), 'utf8')).pid).toBe(process.pid);
      await lock.release();
    }
  });

  it('ends what a dead run left running on the profile (its Chromium) when it takes the lock over', async () => {
    const leftover = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)', '--', `--user-data-dir=${dir}`]);
    const exited = new Promise<NodeJS.Signals | null>((ok) => leftover.once('exit', (_code, signal) => ok(signal)));
    await new Promise((ok) => leftover.once('spawn', ok));
    expect(processesOnProfile(dir)).toEqual([leftover.pid]);
    await writeFile(join(dir, LOCK_FILE), JSON.stringify({ pid: await deadPid(), startTime: null, since: 0 }));
    const lock = await lockProfile(dir);
    expect(await exited).toBe('SIGKILL');
    await lock.release();
  });

  it('release leaves a lock that is not its own (another run took it over meanwhile)', async () => {
    const lock = await lockProfile(dir);
    const other = JSON.stringify({ pid: 1, startTime: processStartTime(1), since: 0 });
    await writeFile(join(dir, LOCK_FILE), other);
    await lock.release();
    expect(await readFile(join(dir, LOCK_FILE), 'utf8')).toBe(other);
  });
});

describe('ownerAlive and portOwner', () => {
  it('tells a live owner from a dead one', async () => {
    expect(ownerAlive({ pid: process.pid, startTime: processStartTime(process.pid), since: 0 })).toBe(true);
    expect(ownerAlive({ pid: await deadPid(), startTime: null, since: 0 })).toBe(false);
  });

  it('names the process listening on a port', async () => {
    const srv = createServer();
    await new Promise<void>((ok) => srv.listen(0, '127.0.0.1', ok));
    const port = (srv.address() as { port: number }).port;
    expect(portOwner(port)).toMatch(new RegExp(`^PID ${process.pid} \\(`));
    await new Promise((ok) => srv.close(ok));
    expect(portOwner(port)).toBeNull();
  });
});
