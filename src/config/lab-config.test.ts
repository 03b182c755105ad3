import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  FIELDS,
  FIELD_BY_KEY,
  defaultConfig,
  flattenConfig,
  parseFieldText,
  resolveConfig,
  resolveConfigOrThrow,
  withField,
  randomSeed,
  ConfigError,
  fieldValue,
  type FieldKey,
  type LabConfig,
  type LabConfigInput,
} from './lab-config.ts';

describe('the config schema', () => {
  it('has one row per key and defaults that resolve cleanly', () => {
    expect(FIELD_BY_KEY.size).toBe(FIELDS.length);
    const { config, issues } = resolveConfig({});
    expect(issues).toEqual([]);
    expect(config).toEqual(defaultConfig());
    // the book's LunaModel and training defaults
    expect(config.crop).toEqual([32, 48, 48]);
    expect(config.model).toMatchObject({ blocks: 4, width: 8, blockNorm: false, dropout: 'none' });
    expect(config.optimizer).toMatchObject({ name: 'sgd', lr: 0.001, momentum: 0.99 });
    expect(config.sampling).toMatchObject({ valStride: 10, ratio: 1 });
    expect(config.augment).toEqual({ flip: true, offset: 0.1, scale: 0.2, rotate: true, noise: 25, device: 'cpu' });
    expect(Object.isFrozen(config.model)).toBe(true);
  });

  it('resolves a partial nested input and keeps its values', () => {
    const c = resolveConfigOrThrow({
      model: { blocks: 2, width: 4 },
      crop: [8, 16, 16],
      optimizer: { name: 'adamw', weightDecay: 1e-4 },
    });
    expect(c.model.blocks).toBe(2);
    expect(c.optimizer).toMatchObject({ name: 'adamw', weightDecay: 1e-4, lr: 0.001 });
    expect(withField(c, 'train.epochs', 3).train.epochs).toBe(3);
  });

  it('reports every bad value and unknown key by name, never defaulting silently', () => {
    const { issues } = resolveConfig({
      model: { blocks: 9, widht: 4 },
      optimizer: { lr: 0, name: 'rmsprop' },
      train: { epochs: 2.5, seed: 0 },
      augment: { flip: 'yes' },
      crop: [32, 48],
      colour: 'red',
    });
    const byKey = Object.fromEntries(issues.map((i) => [i.key, i.reason]));
    expect(byKey['model.blocks']).toMatch(/out of range/);
    expect(byKey['model.widht']).toBe('unknown setting');
    expect(byKey['optimizer.lr']).toMatch(/> 0/);
    expect(byKey['optimizer.name']).toMatch(/expected one of sgd, adamw/);
    expect(byKey['train.epochs']).toBe('not an integer');
    expect(byKey['train.seed']).toMatch(/out of range/); // tfjs reads seed 0 as "unseeded"
    expect(byKey['augment.flip']).toBe('expected true or false');
    expect(byKey['crop']).toMatch(/three integers/);
    expect(byKey['colour']).toBe('unknown setting');
    expect(() => resolveConfigOrThrow({ train: { epochs: -1 } })).toThrow(ConfigError);
  });

  it('checks the crop against the number of blocks', () => {
    const { issues } = resolveConfig({ crop: [12, 48, 48], model: { blocks: 4 } });
    expect(issues).toEqual([
      { key: 'crop', raw: '12,48,48', reason: 'each size must be divisible by 2^model.blocks = 16' },
    ]);
  });

  it('parses text strictly: no hex, no empty numbers, only true/false', () => {
    const lr = FIELD_BY_KEY.get('optimizer.lr')!;
    expect(parseFieldText(lr, '1e-3')).toEqual({ value: 0.001 });
    expect(parseFieldText(lr, '0x10')).toEqual({ reason: 'not a number' });
    expect(parseFieldText(lr, '')).toEqual({ reason: 'not a number' });
    expect(parseFieldText(lr, 'NaN')).toEqual({ reason: 'not a number' });
    expect(parseFieldText(FIELD_BY_KEY.get('augment.flip')!, '1')).toEqual({ reason: 'expected true or false' });
    expect(parseFieldText(FIELD_BY_KEY.get('crop')!, '16, 24,24')).toEqual({ value: [16, 24, 24] });
    expect(parseFieldText(FIELD_BY_KEY.get('data.subsets')!, 'subset1,subset0,subset1')).toEqual({
      value: ['subset0', 'subset1'],
    });
    expect(parseFieldText(FIELD_BY_KEY.get('data.subsets')!, '<script>')).toMatchObject({
      reason: expect.stringContaining('not a valid name'),
    });
    const gpu = FIELD_BY_KEY.get('gpuFeatures')!;
    expect(parseFieldText(gpu, 'subgroups, shader-f16')).toEqual({ value: ['shader-f16', 'subgroups'] });
    expect(parseFieldText(gpu, '')).toEqual({ value: [] });
    expect(parseFieldText(gpu, 'subgroups,shader-f32')).toEqual({
      reason: '"shader-f32" is not one of: shader-f16 or subgroups',
    });
  });

  it('flattens to one text value per key (params) and draws seeds in range', () => {
    const flat = flattenConfig(defaultConfig());
    expect(Object.keys(flat)).toEqual(FIELDS.map((f) => f.key));
    expect(flat['crop']).toBe('32,48,48');
    for (let i = 0; i < 100; i++) {
      const s = randomSeed();
      expect(s).toBeGreaterThanOrEqual(1);
      expect(s).toBeLessThanOrEqual(2 ** 31 - 1);
    }
  });
});

describe('the config type, read off the table', () => {
  it("nests the dotted keys with each kind's value type", () => {
    expectTypeOf<LabConfig['model']['blocks']>().toEqualTypeOf<number>();
    expectTypeOf<LabConfig['model']['blockNorm']>().toEqualTypeOf<boolean>();
    expectTypeOf<LabConfig['backend']>().toEqualTypeOf<'webgpu' | 'webgl' | 'cpu'>();
    expectTypeOf<LabConfig['kernels']>().toEqualTypeOf<'lab' | 'stock'>();
    expectTypeOf<LabConfig['gpuFeatures']>().toEqualTypeOf<readonly ('shader-f16' | 'subgroups')[]>();
    expectTypeOf<LabConfig['data']['subsets']>().toEqualTypeOf<readonly string[]>();
    expectTypeOf<LabConfig['crop']>().toEqualTypeOf<readonly [number, number, number]>();
    expectTypeOf<LabConfig['tracking']['server']>().toEqualTypeOf<string>();
    expectTypeOf<keyof LabConfig>().toEqualTypeOf<
      | 'data'
      | 'crop'
      | 'model'
      | 'finetune'
      | 'optimizer'
      | 'scheduler'
      | 'sampling'
      | 'augment'
      | 'train'
      | 'backend'
      | 'kernels'
      | 'gpuFeatures'
      | 'task'
      | 'tracking'
    >();
    expectTypeOf<keyof LabConfig['optimizer']>().toEqualTypeOf<
      'name' | 'lr' | 'momentum' | 'weightDecay' | 'beta1' | 'beta2'
    >();
    expectTypeOf<FieldKey>().toEqualTypeOf<(typeof FIELDS)[number]['key']>();
    // An input names the table's keys at their levels, and may carry anything else (reported).
    expectTypeOf<{ model: { blocks: 2; widht: 3 }; colour: 'red' }>().toMatchTypeOf<LabConfigInput>();
  });

  it('every key of the table is a path of the resolved config, typed by fieldValue', () => {
    const c = defaultConfig();
    for (const f of FIELDS) expect(fieldValue(c, f.key), f.key).toEqual(f.spec.default);
    expectTypeOf(fieldValue(c, 'optimizer.name')).toEqualTypeOf<'sgd' | 'adamw'>();
  });

  it("names a form group for every row, and a list's choices are exactly what its pattern accepts", () => {
    for (const f of FIELDS) expect(f.group, f.key).toMatch(/^[A-Z]/);
    expect(FIELDS.filter((f) => ['backend', 'kernels', 'gpuFeatures'].includes(f.key)).map((f) => f.group)).toEqual([
      'Device',
      'Device',
      'Device',
    ]);
    for (const f of FIELDS) {
      if (f.spec.kind !== 'list' || !f.spec.choices) continue;
      for (const c of f.spec.choices) expect(f.spec.pattern.test(c), `${f.key}: ${c}`).toBe(true);
      expect(f.spec.pattern.test(f.spec.choices.join(',')), f.key).toBe(false);
    }
  });
});
