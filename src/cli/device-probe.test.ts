import { describe, expect, it } from 'vitest';
import { chooseAuto, probeGpu } from './device-probe.ts';
import { pageDidNotLoad } from './headless-session.ts';

describe('chooseAuto', () => {
  it('keeps the GPU flags only for a hardware adapter', () => {
    expect(chooseAuto({ adapter: 'nvidia hopper NVIDIA H200', fallback: false, error: null })).toMatchObject({
      gpu: true,
      reason: 'the GPU flags give a GPU adapter (nvidia hopper NVIDIA H200)',
    });
  });

  it('takes SwiftShader for a software or fallback adapter, no adapter, or no answer, and says why', () => {
    for (const [probe, why] of [
      [{ adapter: 'google swiftshader', fallback: false, error: null }, 'only a software adapter (google swiftshader)'],
      [
        { adapter: 'mesa llvmpipe (LLVM 15.0.6, 256 bits)', fallback: false, error: null },
        'only a software adapter (mesa llvmpipe',
      ],
      [{ adapter: 'some vendor', fallback: true, error: null }, 'only a software adapter (some vendor)'],
      [{ adapter: null, fallback: false, error: 'no answer within 15 s' }, 'no WebGPU adapter (no answer within 15 s)'],
      [{ adapter: null, fallback: false, error: null }, 'no WebGPU adapter (requestAdapter() returned null)'],
    ] as const) {
      const c = chooseAuto(probe);
      expect(c.gpu).toBe(false);
      expect(c.reason).toContain(why);
      expect(c.reason).toContain("using Chromium's SwiftShader, as --device cpu does");
    }
  });
});

describe('probeGpu', () => {
  it('reports a Chromium that cannot start as an error, without throwing', async () => {
    const p = await probeGpu('/nonexistent/chromium', ['--no-sandbox'], 5000);
    expect(p.adapter).toBeNull();
    expect(p.error).toMatch(/nonexistent\/chromium|ENOENT|Failed to launch/);
  });
});

describe('pageDidNotLoad', () => {
  it('names the Vulkan driver and --device cpu when the GPU flags were used', () => {
    const m = pageDidNotLoad(new Error('page.goto: Timeout 30000ms exceeded.\nCall log: …'), true, 'out/console.log');
    expect(m).toContain('the lab page did not load in Chromium (page.goto: Timeout 30000ms exceeded.)');
    expect(m).toContain('the likely cause is the Vulkan driver');
    expect(m).toContain('--device cpu avoids it');
    expect(m).toContain('out/console.log');
    expect(pageDidNotLoad(new Error('x'), false, 'c.log')).not.toContain('Vulkan');
  });
});
