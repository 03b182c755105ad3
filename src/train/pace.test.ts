import { describe, expect, it } from 'vitest';
import { isValidationEpoch } from './cadence.ts';
import { RunPace } from './pace.ts';

describe('isValidationEpoch', () => {
  it('validates at epoch 1, every Nth epoch and the last', () => {
    const train = { epochs: 7, validationCadence: 3 };
    expect([1, 2, 3, 4, 5, 6, 7].filter((e) => isValidationEpoch(e, train))).toEqual([1, 3, 6, 7]);
    expect([1, 2, 3].filter((e) => isValidationEpoch(e, { epochs: 3, validationCadence: 1 }))).toEqual([1, 2, 3]);
  });
});

describe('RunPace', () => {
  it('restarts the rate with each phase and counts validation in every epoch left', () => {
    let t = 0;
    const pace = new RunPace(2, 10, () => t);
    pace.startEpoch(40);
    t = 1000;
    // First step of epoch 1's training: 8 samples in the 1 s the step took.
    expect(pace.step({ epoch: 1, phase: 'training', samples: 8, stepSeconds: 1 })).toEqual({
      total: 40,
      samplesPerSecond: 8,
      etaSeconds: (40 - 8 + 10 + 50) / 8,
    });
    t = 3000;
    expect(pace.step({ epoch: 1, phase: 'training', samples: 24, stepSeconds: 2 }).samplesPerSecond).toBe(8);
    t = 4000;
    const v = pace.step({ epoch: 1, phase: 'validating', samples: 5, stepSeconds: 0.5 });
    expect(v).toEqual({ total: 10, samplesPerSecond: 10, etaSeconds: (10 - 5 + 50) / 10 });
  });
});
