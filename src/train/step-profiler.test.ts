import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { chromeTrace, kernelTable, kernelTableCsv, StepProfiler } from './step-profiler.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** One "training step": a few kernels, freed after. */
function step(): void {
  tf.tidy(() =>
    tf
      .matMul(tf.ones([8, 8]), tf.ones([8, 8]))
      .relu()
      .sum(),
  );
}

describe('StepProfiler (--profile)', () => {
  it('records the kernels of the requested steps after the warm-up one, and stops', async () => {
    const p = new StepProfiler();
    p.request(2);
    for (let i = 0; i < 5; i++) {
      p.beforeStep();
      step();
      await p.afterStep(1);
    }
    const r = p.report();
    expect(r.backend).toBe('cpu');
    expect(r.steps.map((s) => s.step)).toEqual([2, 3]);
    for (const s of r.steps) {
      expect(s.kernels.map((k) => k.name)).toEqual(expect.arrayContaining(['BatchMatMul', 'Relu', 'Sum']));
      for (const k of s.kernels) expect(k.ms).toBeGreaterThanOrEqual(0);
    }
    const mm = r.steps[0].kernels.find((k) => k.name === 'BatchMatMul')!;
    expect(mm.outputShapes).toEqual([[8, 8]]);
  });

  it('exports Chrome trace events: one span per step, its kernels end to end on their track', async () => {
    const p = new StepProfiler();
    p.request(1, 0);
    p.beforeStep();
    step();
    await p.afterStep(3);
    const trace = JSON.parse(JSON.stringify(chromeTrace(p.report()))) as {
      traceEvents: { name: string; ph: string; ts?: number; dur?: number; tid: number; cat?: string }[];
    };
    const spans = trace.traceEvents.filter((e) => e.ph === 'X');
    const [stepSpan, ...kernels] = spans;
    expect(stepSpan).toMatchObject({ name: 'step 1 (epoch 3)', cat: 'step', tid: 1 });
    expect(kernels.length).toBeGreaterThanOrEqual(3);
    for (const [i, k] of kernels.entries()) {
      expect(k).toMatchObject({ cat: 'kernel', tid: 2 });
      expect(Number.isInteger(k.ts) && Number.isInteger(k.dur)).toBe(true);
      expect(k.ts).toBe(i === 0 ? stepSpan.ts : kernels[i - 1].ts! + kernels[i - 1].dur!);
    }
  });

  it('tabulates calls and time per kernel, the most time first', () => {
    const k = (name: string, ms: number) => ({ name, ms, inputShapes: [], outputShapes: [], extra: '' });
    const report = {
      backend: 'webgpu',
      steps: [
        { epoch: 1, step: 2, startMs: 0, wallMs: 9, kernels: [k('Conv3D', 1), k('LunaConv3DBiasRelu', 4)] },
        { epoch: 1, step: 3, startMs: 9, wallMs: 9, kernels: [k('LunaConv3DBiasRelu', 2), k('Conv3D', 1)] },
      ],
    };
    const rows = kernelTable(report);
    expect(rows).toEqual([
      { kernel: 'LunaConv3DBiasRelu', calls: 2, totalMs: 6, meanMs: 3, share: 75 },
      { kernel: 'Conv3D', calls: 2, totalMs: 2, meanMs: 1, share: 25 },
    ]);
    expect(kernelTableCsv(rows)).toBe(
      'kernel,calls,total_ms,mean_ms,share_percent\nLunaConv3DBiasRelu,2,6,3,75\nConv3D,2,2,1,25\n',
    );
  });
});
