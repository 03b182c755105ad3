/**
 * The seed's `--profile`: the kernel timings of a few training steps, exported as a Chrome trace
 * (trace event JSON, opened by Perfetto and chrome://tracing) and a per-kernel table.
 *
 * Each profiled step runs under `tf.profile`, which records every kernel tfjs dispatches (the
 * lab's own — `LunaConv3DBiasRelu`, `LunaConv3DFilterBiasGrad`, src/model/kernels — and tfjs's)
 * with its shapes and its time: GPU time from WebGPU timestamp queries where the device has
 * them (0 where it has not, as tfjs reports it), wall time with a sync on the CPU backend. The
 * first training step is skipped: it compiles the shaders. A trace lays each step's kernels end
 * to end in dispatch order from the step's start, each as long as its time; the step itself is
 * one span on its own track with its wall time.
 */
import * as tf from '@tensorflow/tfjs';

export interface ProfiledKernel {
  name: string;
  ms: number;
  inputShapes: number[][];
  outputShapes: number[][];
  /** The backend's programs in the kernel and their times ("name: ms, …"), where it says. */
  extra: string;
}

export interface ProfiledStep {
  epoch: number;
  step: number;
  /** ms since the epoch (wall clock) the step began, and its wall time. */
  startMs: number;
  wallMs: number;
  kernels: ProfiledKernel[];
}

export interface ProfileReport {
  backend: string;
  steps: ProfiledStep[];
}

type ProfileInfo = Awaited<ReturnType<typeof tf.profile>>;

const now = () => (globalThis.performance ?? Date).now();
const wallNow = () => (globalThis.performance ? performance.timeOrigin + performance.now() : Date.now());

export class StepProfiler {
  private want = 0;
  private skip = 1;
  private step = 0;
  private current: { start: number; t0: number; end: () => void; info: Promise<ProfileInfo> } | null = null;
  private steps: ProfiledStep[] = [];

  /** Profile the next `steps` training steps after `skip` warm-up steps of the next run. */
  request(steps: number, skip = 1): void {
    this.want = steps;
    this.skip = skip;
    this.step = 0;
    this.steps = [];
  }

  /** Before a training step: starts profiling when this step is one to profile. */
  beforeStep(): void {
    this.step++;
    if (this.want <= 0 || this.step <= this.skip || this.current) return;
    let end!: () => void;
    const done = new Promise<void>((r) => (end = r));
    this.current = { start: wallNow(), t0: now(), end, info: tf.profile(() => done.then(() => [])) };
  }

  /** After the training step of `epoch`: stops profiling and keeps its kernels. */
  async afterStep(epoch: number): Promise<void> {
    const c = this.current;
    if (!c) return;
    this.current = null;
    c.end();
    const info = await c.info;
    const wallMs = now() - c.t0;
    this.want--;
    this.steps.push({
      epoch,
      step: this.step,
      startMs: c.start,
      wallMs,
      kernels: info.kernels.map((k) => ({
        name: k.name,
        ms: typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0,
        inputShapes: k.inputShapes,
        outputShapes: k.outputShapes,
        extra: typeof k.extraInfo === 'string' ? k.extraInfo : '',
      })),
    });
  }

  /** A step that failed: profiling ends (tfjs would otherwise go on profiling every kernel). */
  abort(): void {
    this.current?.end();
    this.current = null;
    this.want = 0;
  }

  report(): ProfileReport {
    return { backend: tf.getBackend(), steps: this.steps };
  }
}

/** Chrome's trace event format (the JSON object form): complete events, µs. */
export function chromeTrace(r: ProfileReport): { traceEvents: Record<string, unknown>[]; displayTimeUnit: 'ms' } {
  const ev: Record<string, unknown>[] = [
    { name: 'process_name', ph: 'M', pid: 1, tid: 0, args: { name: `luna-lab tfjs (${r.backend})` } },
    { name: 'thread_name', ph: 'M', pid: 1, tid: 1, args: { name: 'training steps' } },
    { name: 'thread_name', ph: 'M', pid: 1, tid: 2, args: { name: 'kernels' } },
  ];
  for (const s of r.steps) {
    const ts = Math.round(s.startMs * 1000);
    ev.push({
      name: `step ${s.step} (epoch ${s.epoch})`,
      cat: 'step',
      ph: 'X',
      pid: 1,
      tid: 1,
      ts,
      dur: Math.round(s.wallMs * 1000),
      args: { kernels: s.kernels.length },
    });
    let at = ts;
    for (const k of s.kernels) {
      const dur = Math.round(k.ms * 1000);
      ev.push({
        name: k.name,
        cat: 'kernel',
        ph: 'X',
        pid: 1,
        tid: 2,
        ts: at,
        dur,
        args: { inputShapes: k.inputShapes, outputShapes: k.outputShapes, ...(k.extra ? { programs: k.extra } : {}) },
      });
      at += dur;
    }
  }
  return { traceEvents: ev, displayTimeUnit: 'ms' };
}

export interface KernelRow {
  kernel: string;
  calls: number;
  totalMs: number;
  meanMs: number;
  /** Share of all kernels' time, percent. */
  share: number;
}

/** Per kernel over every profiled step, the most time first. */
export function kernelTable(r: ProfileReport): KernelRow[] {
  const by = new Map<string, { calls: number; ms: number }>();
  for (const s of r.steps)
    for (const k of s.kernels) {
      const e = by.get(k.name) ?? { calls: 0, ms: 0 };
      e.calls++;
      e.ms += k.ms;
      by.set(k.name, e);
    }
  const total = [...by.values()].reduce((a, e) => a + e.ms, 0);
  return [...by.entries()]
    .map(([kernel, e]) => ({
      kernel,
      calls: e.calls,
      totalMs: e.ms,
      meanMs: e.ms / e.calls,
      share: total > 0 ? (e.ms / total) * 100 : 0,
    }))
    .sort((a, b) => b.totalMs - a.totalMs || b.calls - a.calls || (a.kernel < b.kernel ? -1 : 1));
}

/** The table as CSV, for the run folder. */
export function kernelTableCsv(rows: readonly KernelRow[]): string {
  const fmt = (x: number) => String(Math.round(x * 1e4) / 1e4);
  return (
    [
      'kernel,calls,total_ms,mean_ms,share_percent',
      ...rows.map((r) => [r.kernel, r.calls, fmt(r.totalMs), fmt(r.meanMs), fmt(r.share)].join(',')),
    ].join('\n') + '\n'
  );
}
