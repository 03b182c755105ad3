import { describe, expect, it } from 'vitest';
import { featureBackendFactory, grantFeatures, hoistDirectives } from './gpu-features.ts';

describe('grantFeatures', () => {
  it('grants what is asked and offered, names the rest', () => {
    const offered = new Set(['subgroups', 'subgroup-size-control', 'timestamp-query']);
    expect(grantFeatures(['subgroups', 'shader-f16'], offered)).toEqual({
      granted: ['subgroups'],
      missing: ['shader-f16'],
    });
    expect(grantFeatures(['subgroups', 'subgroups'], offered)).toEqual({ granted: ['subgroups'], missing: [] });
    expect(grantFeatures([], offered)).toEqual({ granted: [], missing: [] });
    // Only the lab's features, whatever else the adapter offers.
    expect(grantFeatures(['timestamp-query'], offered)).toEqual({ granted: [], missing: ['timestamp-query'] });
  });
});

describe('hoistDirectives', () => {
  it('moves enable/diagnostic lines to the top, once each, and leaves other code alone', () => {
    const code =
      'struct vec5 {x: i32};\n// enable nothing here\n  fn a() {}\n    enable subgroups;\n    diagnostic(off, subgroup_uniformity);\nfn b() {}\n enable subgroups;\n';
    const out = hoistDirectives(code);
    expect(out.split('\n').slice(0, 2)).toEqual(['enable subgroups;', 'diagnostic(off, subgroup_uniformity);']);
    expect(out.match(/enable subgroups;/g)).toHaveLength(1);
    expect(out).toContain('// enable nothing here');
    expect(out).toContain('struct vec5 {x: i32};');
    expect(hoistDirectives('fn main() {}')).toBe('fn main() {}');
  });
});

describe('featureBackendFactory', () => {
  it('asks the device for the granted and the stock features with the adapter limits, and hoists directives in its shaders', async () => {
    const seen: { features?: string[]; limits?: Record<string, number>; code?: string } = {};
    const device = {
      features: new Set(['subgroups']),
      createShaderModule: (d: { code: string }) => (seen.code = d.code),
    };
    const adapter = {
      features: new Set(['subgroups', 'timestamp-query']),
      limits: { maxBufferSize: 1024, maxComputeWorkgroupStorageSize: 32768 } as Record<string, number>,
      info: { vendor: 'acme' },
      requestDevice: async (d: { requiredFeatures: string[]; requiredLimits: Record<string, number> }) => {
        seen.features = d.requiredFeatures;
        seen.limits = d.requiredLimits;
        return device;
      },
    };
    // WebGPUBackend itself needs a browser: the factory gets as far as making it.
    await expect(featureBackendFactory(adapter, ['subgroups'])()).rejects.toThrow(/WebGPU is not supported/);
    expect(seen.features).toEqual(['subgroups', 'timestamp-query']);
    expect(seen.limits).toMatchObject({ maxBufferSize: 1024, maxComputeWorkgroupStorageSize: 32768 });
    device.createShaderModule({ code: 'struct S {x: f32};\n  enable subgroups;\nfn main() {}' });
    expect(seen.code!.startsWith('enable subgroups;\nstruct S')).toBe(true);
  });
});
