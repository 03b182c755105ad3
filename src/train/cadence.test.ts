import { describe, expect, it } from 'vitest';
import { isValidationEpoch } from './cadence.ts';

describe('isValidationEpoch', () => {
  it('validates at epoch 1, every cadence-th epoch and the last', () => {
    const at = (epochs: number, cadence: number) =>
      Array.from({ length: epochs }, (_, i) => i + 1).filter((e) =>
        isValidationEpoch(e, { epochs, validationCadence: cadence }),
      );
    expect(at(12, 5)).toEqual([1, 5, 10, 12]);
    expect(at(10, 5)).toEqual([1, 5, 10]);
    expect(at(3, 1)).toEqual([1, 2, 3]);
    expect(at(4, 100)).toEqual([1, 4]);
    expect(at(1, 5)).toEqual([1]);
  });
});
