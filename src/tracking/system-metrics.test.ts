import { describe, expect, it } from 'vitest';
import {
  browserMetrics,
  leakWarning,
  nvidiaSmiMetrics,
  parseMemTotal,
  parseProcStat,
  parseVmRss,
  processMetrics,
  processTree,
} from './system-metrics.ts';

describe('system metrics under MLflow names', () => {
  it('reads /proc/<pid>/stat, a command name with spaces and parentheses included', () => {
    const line =
      '4242 (chrome (renderer) x) S 4200 4200 4200 0 -1 4194560 1000 0 0 0 150 25 0 0 20 0 12 0 900 1000000 5000';
    expect(parseProcStat(line)).toEqual({ pid: 4242, ppid: 4200, cpuTicks: 175 });
    expect(() => parseProcStat('garbage')).toThrow(/cannot read "garbage"/);
  });

  it('reads VmRSS and MemTotal in bytes', () => {
    expect(parseVmRss('Name:\tchrome\nVmRSS:\t  20480 kB\nThreads: 9\n')).toBe(20480 * 1024);
    expect(parseVmRss('Name:\tzombie\n')).toBe(0);
    expect(parseMemTotal('MemTotal:       16384000 kB\nMemFree: 1 kB\n')).toBe(16384000 * 1024);
    expect(() => parseMemTotal('')).toThrow(/MemTotal/);
  });

  it('walks the browser process tree from its root only', () => {
    const all = [
      { pid: 1, ppid: 0, cpuTicks: 9 },
      { pid: 10, ppid: 1, cpuTicks: 1 }, // the browser
      { pid: 11, ppid: 10, cpuTicks: 2 }, // zygote
      { pid: 12, ppid: 11, cpuTicks: 3 }, // renderer
      { pid: 20, ppid: 1, cpuTicks: 100 }, // someone else
    ];
    expect(
      processTree(all, 10)
        .map((p) => p.pid)
        .sort(),
    ).toEqual([10, 11, 12]);
    expect(processTree(all, 99)).toEqual([]);
  });

  it("gives CPU as a share of all cores and memory as MB and percent, MLflow's names", () => {
    const m = processMetrics(
      { cpuTicks: 1000, rssBytes: 0, at: 50 },
      { cpuTicks: 1000 + 300, rssBytes: 512 * 1024 * 1024, at: 60 },
      { ticksPerSecond: 100, cores: 2, memTotalBytes: 4096 * 1024 * 1024 },
    );
    // 3 CPU-seconds over 10 s on 2 cores.
    expect(m).toEqual({
      'system/cpu_utilization_percentage': 15,
      'system/system_memory_usage_megabytes': 512,
      'system/system_memory_usage_percentage': 12.5,
    });
  });

  it('reads nvidia-smi per GPU, leaving out what it says is N/A', () => {
    const csv = '0, 87, 4096, 81920, 250.5\n1, 0, 10, 81920, [N/A]\n';
    expect(nvidiaSmiMetrics(csv)).toEqual({
      'system/gpu_0_utilization_percentage': 87,
      'system/gpu_0_memory_usage_megabytes': 4096,
      'system/gpu_0_memory_usage_percentage': 5,
      'system/gpu_0_power_usage_watts': 250.5,
      'system/gpu_1_utilization_percentage': 0,
      'system/gpu_1_memory_usage_megabytes': 10,
      'system/gpu_1_memory_usage_percentage': (10 / 81920) * 100,
    });
    expect(nvidiaSmiMetrics('No devices were found\n')).toEqual({});
  });

  it('names what the page can tell under system/browser_', () => {
    expect(
      browserMetrics({ numTensors: 40, numBytes: 2 * 1024 * 1024, numBytesInGPU: 1024 * 1024 }, 3 * 1024 * 1024),
    ).toEqual({
      'system/browser_tfjs_tensors': 40,
      'system/browser_tfjs_memory_megabytes': 2,
      'system/browser_tfjs_gpu_memory_megabytes': 1,
      'system/browser_js_heap_megabytes': 3,
    });
    expect(Object.keys(browserMetrics({ numTensors: 1, numBytes: 4 }, null))).toEqual([
      'system/browser_tfjs_tensors',
      'system/browser_tfjs_memory_megabytes',
    ]);
  });

  it('the leak check: growth in tensors or GPU bytes warns, equal or less does not', () => {
    const a = { numTensors: 50, numBytes: 100, numBytesInGPU: 1000 };
    expect(leakWarning(3, a, a)).toBeNull();
    expect(leakWarning(3, a, { ...a, numTensors: 49, numBytesInGPU: 900 })).toBeNull();
    expect(leakWarning(3, a, { ...a, numTensors: 52 })).toBe(
      'tfjs memory leak: epoch 3 ended with 2 more tensors (50 → 52) than epoch 2',
    );
    expect(leakWarning(2, a, { ...a, numBytesInGPU: 1400 })).toBe(
      'tfjs memory leak: epoch 2 ended with 400 more GPU bytes (1000 → 1400) than epoch 1',
    );
  });
});
