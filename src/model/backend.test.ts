import * as tf from '@tensorflow/tfjs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { describeAdapter, fallbackOrder, isSoftwareAdapter, selectBackend } from './backend.ts';

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('selectBackend (in Node)', () => {
  it('tries the preferred backend, then webgl, then cpu', () => {
    expect(fallbackOrder('webgpu')).toEqual(['webgpu', 'webgl', 'cpu']);
    expect(fallbackOrder('webgl')).toEqual(['webgl', 'cpu']);
    expect(fallbackOrder('cpu')).toEqual(['cpu', 'webgl']);
  });

  it('asked for webgpu, falls back to cpu and says why for each failure', async () => {
    const noise = ['warn', 'log', 'error'].map((m) => vi.spyOn(console, m as 'warn'));
    const s = await selectBackend('webgpu');
    expect(s.backend).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect(s.fellBackFrom).toEqual(['webgpu', 'webgl']);
    expect(s.adapter).toBeNull();
    expect(s.reason).toMatch(/^webgpu: navigator\.gpu is missing.*; webgl: WebGL is not available here \(no canvas\)$/);
    // Degrades quietly: nothing was handed to tfjs that it would warn about.
    for (const spy of noise) expect(spy).not.toHaveBeenCalled();
  });

  it('reports an adapter-less WebGPU', async () => {
    vi.stubGlobal('navigator', { gpu: { requestAdapter: async () => null } });
    const s = await selectBackend('webgpu');
    expect(s.backend).toBe('cpu');
    expect(s.reason).toMatch(/^webgpu: navigator\.gpu\.requestAdapter\(\) returned no adapter/);
  });

  it('cpu as asked: no fallback, no reason', async () => {
    expect(await selectBackend('cpu')).toEqual({ backend: 'cpu', fellBackFrom: [], adapter: null });
  });
});

describe('describeAdapter', () => {
  it('joins what adapter.info says, without repeats or blanks', () => {
    expect(
      describeAdapter({
        vendor: 'google',
        architecture: 'swiftshader',
        device: '',
        description: 'SwiftShader Device (Subzero)',
      }),
    ).toBe('google swiftshader SwiftShader Device (Subzero)');
    expect(describeAdapter({ vendor: 'nvidia', architecture: 'hopper', description: 'nvidia' })).toBe('nvidia hopper');
    expect(describeAdapter({})).toBe('unknown adapter');
  });
});

describe('isSoftwareAdapter', () => {
  it('recognises CPU-emulated adapters, not real GPUs', () => {
    for (const d of [
      'google swiftshader SwiftShader Device (Subzero)',
      'mesa llvmpipe (LLVM 15.0.7, 256 bits)',
      'lavapipe',
      'Microsoft Basic Render Driver',
      'microsoft WARP',
    ]) {
      expect(isSoftwareAdapter(d), d).toBe(true);
    }
    for (const d of [
      'nvidia ampere NVIDIA H100 80GB HBM3',
      'Intel(R) UHD Graphics 630',
      'apple metal-3 Apple M2',
      'unknown adapter',
      'nvidia hopper warpspeed',
    ]) {
      expect(isSoftwareAdapter(d), d).toBe(false);
    }
  });
});

describe('selectBackend with a WebGPU adapter tfjs cannot use', () => {
  it('imports the webgpu backend, lets tfjs try, and falls back with the adapter named in the reason', async () => {
    vi.spyOn(console, 'warn').mockImplementation(() => {});
    const adapter = { info: { vendor: 'acme', architecture: 'fake', description: '' } };
    vi.stubGlobal('navigator', {
      gpu: { requestAdapter: async () => adapter, getPreferredCanvasFormat: () => 'rgba8unorm' },
    });
    const s = await selectBackend('webgpu');
    expect(tf.findBackendFactory('webgpu')).toBeTruthy();
    expect(s.backend).toBe('cpu');
    expect(s.fellBackFrom).toEqual(['webgpu', 'webgl']);
    expect(s.reason).toMatch(/^webgpu: tfjs could not initialise it on adapter "acme fake"/);
    vi.restoreAllMocks();
  });
});

describe('selectBackend with gpuFeatures', () => {
  it('off webgpu, asked features are reported unused, not claimed', async () => {
    const s = await selectBackend('cpu', ['subgroups']);
    expect(s.backend).toBe('cpu');
    expect(s.gpuFeatures).toEqual({
      enabled: [],
      warning: 'gpuFeatures subgroups not used: the run is on cpu, not webgpu',
    });
    // The cache keys on the features: asked without them, the answer has none.
    expect(await selectBackend('cpu')).toEqual({ backend: 'cpu', fellBackFrom: [], adapter: null });
  });

  it('registers a factory asking the device for offered features before tfjs makes it; a device that fails is a fallback with the reason', async () => {
    vi.spyOn(console, 'warn').mockImplementation(() => {});
    const asked: string[][] = [];
    const adapter = {
      info: { vendor: 'acme', architecture: 'sg' },
      features: new Set(['subgroups']),
      limits: {},
      requestDevice: async (d: { requiredFeatures: string[] }) => {
        asked.push(d.requiredFeatures);
        throw new Error('no device in Node');
      },
    };
    vi.stubGlobal('navigator', {
      gpu: { requestAdapter: async () => adapter, getPreferredCanvasFormat: () => 'rgba8unorm' },
    });
    const s = await selectBackend('webgpu', ['shader-f16', 'subgroups']);
    expect(asked).toEqual([['subgroups']]);
    expect(s.backend).toBe('cpu');
    expect(s.gpuFeatures?.enabled).toEqual([]);
    vi.restoreAllMocks();
  });
});
