/**
 * The headless CLI's system metrics: every SYSTEM_METRICS_INTERVAL_MS it reads the browser's
 * process tree from /proc (the Chromium whose --user-data-dir is the run's profile, and every
 * process below it) and, where `nvidia-smi` answers, the GPUs, and hands the values under
 * MLflow's names (src/tracking/system-metrics.ts) to `onSample`. Where /proc is missing (not
 * Linux) the CPU and memory figures are left out; a sampler failure never fails the run.
 */
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import {
  NVIDIA_SMI_ARGS,
  nvidiaSmiMetrics,
  parseMemTotal,
  parseProcStat,
  parseVmRss,
  processMetrics,
  processTree,
  SYSTEM_METRICS_INTERVAL_MS,
  type ProcStat,
  type TreeReading,
} from '../tracking/system-metrics.ts';

/** Linux's USER_HZ: /proc/<pid>/stat counts CPU time in these ticks (100 on every mainstream kernel). */
const TICKS_PER_SECOND = 100;

async function readAllStats(): Promise<ProcStat[]> {
  const pids = (await readdir('/proc')).filter((d) => /^\d+$/.test(d));
  const out: ProcStat[] = [];
  for (const pid of pids) {
    const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
    if (text) out.push(parseProcStat(text));
  }
  return out;
}

/** The browser's main process: its command line names the profile, its parent's does not. */
async function browserRoot(profileDir: string, all: readonly ProcStat[]): Promise<number | null> {
  const want = resolve(profileDir);
  const named = new Set<number>();
  for (const p of all) {
    const cmd = await readFile(`/proc/${p.pid}/cmdline`, 'utf8').catch(() => '');
    const arg = cmd.split('\0').find((a) => a.startsWith('--user-data-dir='));
    if (arg && resolve(arg.slice('--user-data-dir='.length)) === want) named.add(p.pid);
  }
  return all.find((p) => named.has(p.pid) && !named.has(p.ppid))?.pid ?? null;
}

async function readTree(profileDir: string): Promise<TreeReading | null> {
  const all = await readAllStats();
  const root = await browserRoot(profileDir, all);
  if (root === null) return null;
  let rssBytes = 0;
  let cpuTicks = 0;
  for (const p of processTree(all, root)) {
    cpuTicks += p.cpuTicks;
    rssBytes += parseVmRss(await readFile(`/proc/${p.pid}/status`, 'utf8').catch(() => ''));
  }
  return { cpuTicks, rssBytes, at: performance.now() / 1000 };
}

function nvidiaSmi(): Promise<Record<string, number>> {
  return new Promise((resolve) => {
    execFile('nvidia-smi', NVIDIA_SMI_ARGS, { timeout: 5000 }, (err, stdout) =>
      resolve(err ? {} : nvidiaSmiMetrics(stdout)),
    );
  });
}

export interface SystemSampler {
  /** Take a last sample, hand it over, and stop. */
  stop(): Promise<void>;
}

export function startSystemSampler(
  profileDir: string,
  onSample: (values: Record<string, number>) => Promise<void>,
  intervalMs = SYSTEM_METRICS_INTERVAL_MS,
): SystemSampler {
  let prev: TreeReading | null = null;
  let memTotalBytes = 0;
  let chain: Promise<void> = Promise.resolve();
  const sample = async (): Promise<void> => {
    const values: Record<string, number> = { ...(await nvidiaSmi()) };
    const now = await readTree(profileDir).catch(() => null);
    if (now) {
      memTotalBytes ||= parseMemTotal(await readFile('/proc/meminfo', 'utf8'));
      const m = processMetrics(prev ?? now, now, {
        ticksPerSecond: TICKS_PER_SECOND,
        cores: availableParallelism(),
        memTotalBytes,
      });
      // The first reading has no interval yet: no CPU figure (the browser's lifetime share is not it).
      if (!prev) delete m['system/cpu_utilization_percentage'];
      Object.assign(values, m);
      prev = now;
    }
    if (Object.keys(values).length) await onSample(values);
  };
  const tick = () => {
    chain = chain.then(sample).catch(() => {});
  };
  tick(); // the baseline reading
  const timer = setInterval(tick, intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      tick();
      await chain;
    },
  };
}
