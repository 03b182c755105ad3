import { describe, expect, it } from 'vitest';
import { resolveConfigOrThrow, FIELDS } from '../config/lab-config.ts';
import { seedParams } from './seed-params.ts';
import { LOG_BATCH_LIMITS } from './mlflow-client.ts';

const asMap = (c = {}) => Object.fromEntries(seedParams(resolveConfigOrThrow(c)).map((p) => [p.key, p.value]));

describe('seedParams', () => {
  it("uses the seed's names for the book's SGD setup", () => {
    const p = asMap();
    expect(p).toMatchObject({
      model: 'LunaModel',
      'model/n_block': '4',
      'model/dropout_rate': '0',
      optimizer: 'SGD',
      'optimizer/lr': '0.001',
      'optimizer/momentum': '0.99',
      lr_scheduler: 'none',
      'nodule/ratio': '1',
      epochs: '10',
      batch_size: '32',
      seed: '1',
      'augmentation/noise': '25',
    });
    expect(p['optimizer/betas']).toBeUndefined();
  });

  it('names AdamW, its betas and weight decay, StepLR and dropout', () => {
    const p = asMap({
      optimizer: { name: 'adamw', weightDecay: 1e-4 },
      scheduler: { name: 'step', gamma: 0.5, stepSize: 3 },
      model: { dropout: 'dropout3d', dropoutRate: 0.2 },
    });
    expect(p).toMatchObject({
      optimizer: 'AdamW',
      'optimizer/weight_decay': '0.0001',
      'optimizer/betas': '(0.9, 0.999)',
      lr_scheduler: 'StepLR',
      'lr_scheduler/gamma': '0.5',
      'lr_scheduler/step_size': '3',
      'model/dropout_rate': '0.2',
    });
    expect(p['optimizer/momentum']).toBeUndefined();
  });

  it('logs every lab setting too, never an empty value, within one request', () => {
    const params = seedParams(resolveConfigOrThrow({}));
    for (const f of FIELDS) expect(params.some((p) => p.key === `lab/${f.key}`)).toBe(true);
    expect(params.every((p) => p.value !== '')).toBe(true);
    expect(params.length).toBeLessThanOrEqual(LOG_BATCH_LIMITS.params);
    expect(new Set(params.map((p) => p.key)).size).toBe(params.length);
  });
});
