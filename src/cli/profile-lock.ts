/**
 * One luna-lab run per browser profile (--cache) at a time, recoverable after a crash: the
 * run holds `luna-lab.lock` in the profile, naming its PID and the process's start time. A
 * lock whose owner is gone (killed, even with SIGKILL) is taken over, and what that run left
 * behind on the profile (a Chromium still running on it) is ended; a lock whose owner is alive
 * refuses, naming it. The start time tells a live owner from a new process that reuses its PID.
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { open, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';

export const LOCK_FILE = 'luna-lab.lock';

export interface LockOwner {
  pid: number;
  /** The kernel's start time of the process (Linux: /proc/PID/stat field 22), or null. */
  startTime: string | null;
  /** When the lock was taken, ms since the epoch. */
  since: number;
}

export interface ProfileLock {
  file: string;
  /** The owner whose lock this one replaced, if a dead run left one. */
  tookOverFrom: LockOwner | null;
  release(): Promise<void>;
}

/** The start time of a process, in clock ticks since boot; null where /proc cannot tell. */
export function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

/** Whether the process that wrote `owner` still runs (the same process, not a reused PID). */
export function ownerAlive(owner: LockOwner): boolean {
  try {
    process.kill(owner.pid, 0);
  } catch (e) {
    // EPERM: it exists, under another user.
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const now = processStartTime(owner.pid);
  return owner.startTime === null || now === null || now === owner.startTime;
}

function parseOwner(text: string): LockOwner | null {
  try {
    const o = JSON.parse(text) as Partial<LockOwner>;
    if (!Number.isInteger(o.pid) || (o.pid as number) <= 0) return null;
    return {
      pid: o.pid as number,
      startTime: typeof o.startTime === 'string' ? o.startTime : null,
      since: typeof o.since === 'number' ? o.since : 0,
    };
  } catch {
    return null;
  }
}

/** PIDs of processes (other than this one) started with `--user-data-dir=<profileDir>` (Linux). */
export function processesOnProfile(profileDir: string): number[] {
  const flag = `--user-data-dir=${profileDir}`;
  const out: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0').includes(flag)) out.push(Number(e));
    } catch {
      /* gone meanwhile, or not ours to read */
    }
  }
  return out;
}

/** Take the profile's lock, or throw naming the live run that holds it. */
export async function lockProfile(profileDir: string): Promise<ProfileLock> {
  const file = join(profileDir, LOCK_FILE);
  const me: LockOwner = { pid: process.pid, startTime: processStartTime(process.pid), since: Date.now() };
  let tookOverFrom: LockOwner | null = null;
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const fh = await open(file, 'wx');
      await fh.writeFile(`${JSON.stringify(me)}\n`);
      await fh.close();
      return {
        file,
        tookOverFrom,
        release: async () => {
          // Only our own lock: a run that took over a lock it thought dead must keep its own.
          const held = parseOwner(await readFile(file, 'utf8').catch(() => ''));
          if (held?.pid === me.pid && held.startTime === me.startTime) await unlink(file).catch(() => {});
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const text = await readFile(file, 'utf8').catch(() => null);
    if (text === null) continue; // released meanwhile
    const owner = parseOwner(text);
    if (owner && ownerAlive(owner)) {
      throw new Error(
        `the browser profile ${profileDir} is in use by another luna-lab run (PID ${owner.pid}, since ${new Date(owner.since).toISOString()}); one run per --cache at a time`,
      );
    }
    // A dead run's lock (or an unreadable one): end what it left on the profile, then take it.
    tookOverFrom = owner;
    for (const pid of processesOnProfile(profileDir)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    await unlink(file).catch(() => {});
  }
  throw new Error(`could not take the lock ${file}: other runs keep taking it`);
}

/** Who listens on 127.0.0.1:`port` (Linux, same user): "PID n (command line)", or null. */
export function portOwner(port: number): string | null {
  try {
    const hex = port.toString(16).toUpperCase().padStart(4, '0');
    const inodes = new Set<string>();
    for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
      let text = '';
      try {
        text = readFileSync(table, 'utf8');
      } catch {
        continue;
      }
      for (const line of text.split('\n').slice(1)) {
        const f = line.trim().split(/\s+/);
        // local_address is ADDR:PORT; state 0A is LISTEN; field 9 is the socket's inode.
        if (f.length > 9 && f[1].endsWith(`:${hex}`) && f[3] === '0A') inodes.add(f[9]);
      }
    }
    if (!inodes.size) return null;
    for (const e of readdirSync('/proc')) {
      if (!/^\d+$/.test(e)) continue;
      let fds: string[];
      try {
        fds = readdirSync(`/proc/${e}/fd`);
      } catch {
        continue;
      }
      for (const fd of fds) {
        let link = '';
        try {
          link = readlinkSync(`/proc/${e}/fd/${fd}`);
        } catch {
          continue;
        }
        const m = /^socket:\[(\d+)\]$/.exec(link);
        if (m && inodes.has(m[1])) {
          const cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
          return `PID ${e} (${cmd.length > 120 ? `${cmd.slice(0, 117)}...` : cmd})`;
        }
      }
    }
  } catch {
    /* best effort */
  }
  return null;
}
