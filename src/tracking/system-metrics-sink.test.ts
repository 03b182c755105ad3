import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { defaultConfig } from '../config/lab-config.ts';
import type { LabStore } from '../store/lab-store.ts';
import type { OutboxItem, RunRecord } from '../store/records.ts';
import { SystemMetricsSink, systemMetricItems } from './system-metrics-sink.ts';

const T0 = 1_780_000_000_000;

function run(tracked: boolean): RunRecord {
  const config = defaultConfig();
  return {
    runId: 'r1',
    createdAt: T0,
    trackingQueued: tracked,
    config: { ...config, tracking: { server: tracked ? 'http://127.0.0.1:9' : '', experiment: 'x' } },
  } as RunRecord;
}

function batches(items: OutboxItem[]) {
  return items.flatMap((i) => (i.payload.kind === 'batch' ? i.payload.metrics : []));
}

describe('system metrics to MLflow', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: T0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('a sample becomes metric points, step = 10 s periods since the run was created', () => {
    const items = systemMetricItems(
      run(true),
      { 'system/cpu_utilization_percentage': 12, 'system/x': NaN },
      T0 + 30_000,
    );
    expect(batches(items)).toEqual([
      { key: 'system/cpu_utilization_percentage', value: 12, timestamp: T0 + 30_000, step: 3 },
    ]);
    expect(systemMetricItems(run(false), { 'system/cpu_utilization_percentage': 12 }, T0)).toEqual([]);
  });

  it('the sink samples every interval while a tracked run trains, and once as it ends', async () => {
    const queued: OutboxItem[] = [];
    const db = { enqueue: (items: OutboxItem[]) => (queued.push(...items), Promise.resolve()) } as unknown as LabStore;
    let n = 0;
    const deliver = vi.fn();
    const sink = new SystemMetricsSink(db, () => ({ 'system/browser_tfjs_tensors': ++n }), deliver);
    await sink.onStart(run(true));
    await vi.advanceTimersByTimeAsync(25_000);
    await sink.onEnd();
    sink.onClose();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(batches(queued).map((m) => [m.value, m.step])).toEqual([
      [1, 1],
      [2, 2],
      [3, 3], // the last, at 25 s
    ]);
    expect(deliver).toHaveBeenCalledTimes(3);
  });

  it('an untracked run logs nothing', async () => {
    const db = { enqueue: vi.fn() } as unknown as LabStore;
    const sink = new SystemMetricsSink(db, () => ({ 'system/a': 1 }));
    await sink.onStart(run(false));
    await vi.advanceTimersByTimeAsync(60_000);
    await sink.onEnd();
    expect(db.enqueue).not.toHaveBeenCalled();
  });
});
