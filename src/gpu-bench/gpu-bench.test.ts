/**
 * The GPU bench's pure seams: which variants it measures, the FLOP count behind its GFLOP/s, its
 * options, the ICD it picks, and a report that says so when the adapter is a software one.
 */
import { describe, expect, test } from 'vitest';
import { forwardConvFlops, lunaConvLayers, variantName, variants } from './measure.ts';
import { measureOptions } from './main.ts';
import { defaultIcd, NVIDIA_ICD, SWIFTSHADER_ICD } from './dawn.ts';
import { markdown, type GpuBenchResult } from './report.ts';

describe('variants', () => {
  test('stock, then lab f32, then lab with each subset of the device features', () => {
    expect(variants([]).map(variantName)).toEqual(['stock', 'lab']);
    expect(variants(['subgroups', 'shader-f16']).map(variantName)).toEqual([
      'stock',
      'lab',
      'lab+shader-f16',
      'lab+subgroups',
      'lab+shader-f16+subgroups',
    ]);
    expect(variants(['subgroups'], ['lab']).map(variantName)).toEqual(['lab', 'lab+subgroups']);
  });
});

test('LunaModel layers and forward FLOPs per sample (the book model: 8/16/32/64 channels)', () => {
  const layers = lunaConvLayers();
  expect(layers.map((l) => `${l.layer} ${l.dhw.join('×')} ${l.cin}→${l.cout}`)).toEqual([
    'block1.conv1 32×48×48 1→8',
    'block1.conv2 32×48×48 8→8',
    'block2.conv1 16×24×24 8→16',
    'block2.conv2 16×24×24 16→16',
    'block3.conv1 8×12×12 16→32',
    'block3.conv2 8×12×12 32→32',
    'block4.conv1 4×6×6 32→64',
    'block4.conv2 4×6×6 64→64',
  ]);
  // 2 × voxels × 27 × Cin × Cout, summed: 73728 voxels in block 1, /8 per block.
  const v = 32 * 48 * 48;
  const expected =
    2 * 27 * (v * (8 + 64) + (v / 8) * (128 + 256) + (v / 64) * (512 + 1024) + (v / 512) * (2048 + 4096));
  expect(forwardConvFlops()).toBe(expected);
});

test('options: full defaults, --quick, and errors that name the flag', () => {
  const full = measureOptions({});
  expect(full.batches).toEqual([32, 256]);
  expect(full.trainKernels).toEqual(['lab', 'stock']);
  const quick = measureOptions({ quick: true });
  expect([quick.batches, quick.steps, quick.kernelBatch, quick.kernelReps, quick.trainKernels]).toEqual([
    [2],
    1,
    1,
    1,
    ['lab'],
  ]);
  expect(measureOptions({ batches: '4,8', only: 'train' }).parts).toEqual({
    kernels: false,
    train: true,
    inference: false,
    profile: false,
    augment: false,
  });
  expect(() => measureOptions({ steps: '0' })).toThrow(/--steps 0: expecting an integer ≥ 1/);
  expect(() => measureOptions({ 'train-kernels': 'fast' })).toThrow(/--train-kernels: unknown 'fast'/);
});

test('the ICD: NVIDIA when present, else SwiftShader, else none', () => {
  expect(defaultIcd((p) => p === NVIDIA_ICD || p === SWIFTSHADER_ICD)).toBe(NVIDIA_ICD);
  expect(defaultIcd((p) => p === SWIFTSHADER_ICD)).toBe(SWIFTSHADER_ICD);
  expect(defaultIcd(() => false)).toBeNull();
});

function result(adapter: GpuBenchResult['adapter']): GpuBenchResult {
  return {
    kind: 'luna-lab gpu-bench',
    version: 1,
    measuredAt: '2026-12-01T00:00:00Z',
    quick: true,
    host: { node: 'v20', platform: 'linux', cpu: 'cpu', cores: 2, memGiB: 24 },
    vulkanIcd: SWIFTSHADER_ICD,
    adapter,
    deviceFeatures: [],
    options: {},
    measurements: {
      kernels: [],
      training: [{ batch: 32, variant: 'lab', stepSeconds: [2, 1], warmup: 1, samplesPerSecond: 32, gflops: 1 }],
      inference: [],
      profile: null,
      errors: [],
    },
    pytorch: {
      device: 'cpu',
      deviceName: 'x86_64',
      torch: '2.13',
      rows: [{ batch: 32, amp: false, channels_last: false, train_samples_per_s: 64, infer_samples_per_s: 100 }],
      reference: 'ref.py',
    },
    seconds: 1,
  };
}

test('the report says a software adapter is no GPU, and gives the ratio to PyTorch fp32', () => {
  const limits = { maxComputeInvocationsPerWorkgroup: 256 };
  const sw = markdown(
    result({
      available: true,
      description: 'google swiftshader SwiftShader',
      vendor: 'google',
      architecture: 'swiftshader',
      device: '',
      software: true,
      features: ['subgroups'],
      limits,
    }),
  );
  expect(sw).toMatch(/Software adapter: google swiftshader SwiftShader\*\* — SwiftShader Vulkan on the CPU \(no GPU\)/);
  expect(sw).toMatch(/\| 32 \| lab \| \*\*32\.0\*\* \| 1\.00 \| 0\.500× \|/);
  const hw = markdown(
    result({
      available: true,
      description: 'nvidia hopper NVIDIA H200',
      vendor: 'nvidia',
      architecture: 'hopper',
      device: '',
      software: false,
      features: [],
      limits,
    }),
  );
  expect(hw).toMatch(/Adapter: \*\*nvidia hopper NVIDIA H200\*\*/);
  expect(hw).not.toMatch(/Software adapter/);
  expect(markdown({ ...result({ available: false, reason: 'no ICD' }), measurements: null })).toMatch(
    /\*\*No WebGPU adapter\*\*: no ICD/,
  );
});
