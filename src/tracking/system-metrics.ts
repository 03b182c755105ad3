/**
 * System metrics under MLflow's names (mlflow.system_metrics: `system/cpu_utilization_percentage`,
 * `system/system_memory_usage_megabytes`, `system/gpu_0_utilization_percentage`, …), sampled every
 * SYSTEM_METRICS_INTERVAL_MS. Pure: the samplers (src/cli/system-sampler.ts for the browser's
 * processes, the train worker for what a page can tell) read their sources and hand the text or
 * numbers here.
 *
 * What the names measure here: MLflow's monitor reads the whole machine (psutil); the headless
 * CLI reads the browser's own process tree instead (its CPU share of all cores, its resident
 * memory), the machine's total memory for the percentage, and nvidia-smi's per-GPU figures as
 * MLflow does. In the page, under `system/browser_…`: the JS heap and what tfjs holds.
 */

export const SYSTEM_METRICS_INTERVAL_MS = 10_000;

const MB = 1024 * 1024;

/** One process from /proc/<pid>/stat: its parent and CPU time in clock ticks. */
export interface ProcStat {
  pid: number;
  ppid: number;
  /** utime + stime, clock ticks. */
  cpuTicks: number;
}

/** /proc/<pid>/stat; the command name (field 2) may hold spaces and parentheses. */
export function parseProcStat(text: string): ProcStat {
  const close = text.lastIndexOf(')');
  const pid = Number.parseInt(text, 10);
  const rest = text
    .slice(close + 2)
    .trim()
    .split(/\s+/);
  // rest[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
  const ppid = Number(rest[1]);
  const cpuTicks = Number(rest[11]) + Number(rest[12]);
  if (close < 0 || !Number.isFinite(pid) || !Number.isFinite(ppid) || !Number.isFinite(cpuTicks))
    throw new Error(`/proc/<pid>/stat: cannot read "${text.slice(0, 80)}"`);
  return { pid, ppid, cpuTicks };
}

/** Resident memory (VmRSS) of /proc/<pid>/status, in bytes; 0 for a process without one (a zombie). */
export function parseVmRss(status: string): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return m ? Number(m[1]) * 1024 : 0;
}

/** MemTotal of /proc/meminfo, in bytes. */
export function parseMemTotal(meminfo: string): number {
  const m = /^MemTotal:\s+(\d+)\s+kB/m.exec(meminfo);
  if (!m) throw new Error('/proc/meminfo: no MemTotal line');
  return Number(m[1]) * 1024;
}

/** `root` and every process below it, from all processes' parent links. */
export function processTree(all: readonly ProcStat[], root: number): ProcStat[] {
  const children = new Map<number, ProcStat[]>();
  for (const p of all) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p]);
  const out: ProcStat[] = [];
  const todo = all.filter((p) => p.pid === root);
  while (todo.length) {
    const p = todo.pop()!;
    out.push(p);
    todo.push(...(children.get(p.pid) ?? []));
  }
  return out;
}

/** Two readings of a process tree, `seconds` apart. */
export interface TreeReading {
  /** Summed CPU ticks of the tree (processes gone between readings simply drop out). */
  cpuTicks: number;
  rssBytes: number;
  /** Monotonic seconds of the reading. */
  at: number;
}

/**
 * MLflow's CPU and memory names for the browser's process tree: CPU as a percentage of all
 * cores (psutil's system-wide convention, 0..100), memory as megabytes and percent of MemTotal.
 */
export function processMetrics(
  prev: TreeReading,
  now: TreeReading,
  o: { ticksPerSecond: number; cores: number; memTotalBytes: number },
): Record<string, number> {
  const wall = now.at - prev.at;
  const cpu = wall > 0 ? ((now.cpuTicks - prev.cpuTicks) / o.ticksPerSecond / (wall * o.cores)) * 100 : 0;
  return {
    'system/cpu_utilization_percentage': Math.max(0, Math.min(100, cpu)),
    'system/system_memory_usage_megabytes': now.rssBytes / MB,
    'system/system_memory_usage_percentage': (now.rssBytes / o.memTotalBytes) * 100,
  };
}

/** The nvidia-smi query the sampler runs; its CSV (noheader, nounits) goes to `nvidiaSmiMetrics`. */
export const NVIDIA_SMI_ARGS = [
  '--query-gpu=index,utilization.gpu,memory.used,memory.total,power.draw',
  '--format=csv,noheader,nounits',
];

/** MLflow's per-GPU names from nvidia-smi's CSV; a field nvidia-smi reports as N/A is left out. */
export function nvidiaSmiMetrics(csv: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of csv.split('\n')) {
    const f = line.split(',').map((s) => s.trim());
    if (f.length < 4 || !/^\d+$/.test(f[0])) continue;
    const [util, used, total, power] = f.slice(1).map(Number);
    const gpu = `system/gpu_${f[0]}`;
    if (Number.isFinite(util)) out[`${gpu}_utilization_percentage`] = util;
    if (Number.isFinite(used)) out[`${gpu}_memory_usage_megabytes`] = used;
    if (Number.isFinite(used) && Number.isFinite(total) && total > 0)
      out[`${gpu}_memory_usage_percentage`] = (used / total) * 100;
    if (Number.isFinite(power)) out[`${gpu}_power_usage_watts`] = power;
  }
  return out;
}

/** What tfjs reports (tf.memory()); numBytesInGPU only on the WebGL/WebGPU backends. */
export interface TfMemory {
  numTensors: number;
  numBytes: number;
  numBytesInGPU?: number;
}

/** What a page can tell about itself, under `system/browser_…`. */
export function browserMetrics(mem: TfMemory, jsHeapBytes: number | null): Record<string, number> {
  return {
    'system/browser_tfjs_tensors': mem.numTensors,
    'system/browser_tfjs_memory_megabytes': mem.numBytes / MB,
    ...(mem.numBytesInGPU !== undefined ? { 'system/browser_tfjs_gpu_memory_megabytes': mem.numBytesInGPU / MB } : {}),
    ...(jsHeapBytes !== null ? { 'system/browser_js_heap_megabytes': jsHeapBytes / MB } : {}),
  };
}

/**
 * The per-epoch leak check: at the end of an epoch tfjs must hold no more tensors and no more
 * GPU bytes than at the end of the one before (the model, optimizer slots and kernels' caches
 * are all made in the first epoch). A warning for the run, or null.
 */
export function leakWarning(epoch: number, before: TfMemory, after: TfMemory): string | null {
  const grew: string[] = [];
  if (after.numTensors > before.numTensors)
    grew.push(`${after.numTensors - before.numTensors} more tensors (${before.numTensors} → ${after.numTensors})`);
  const gpuBefore = before.numBytesInGPU ?? 0;
  const gpuAfter = after.numBytesInGPU ?? 0;
  if (gpuAfter > gpuBefore) grew.push(`${gpuAfter - gpuBefore} more GPU bytes (${gpuBefore} → ${gpuAfter})`);
  return grew.length
    ? `tfjs memory leak: epoch ${epoch} ended with ${grew.join(' and ')} than epoch ${epoch - 1}`
    : null;
}
