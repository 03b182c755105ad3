import { describe, expect, it } from 'vitest';
import { huStats } from './volume.ts';
import { labelMaskWarning } from './label-mask.ts';

describe('labelMaskWarning', () => {
  it('names a lung mask with its values', () => {
    const mask = Int16Array.from({ length: 1000 }, (_, i) => [0, 3, 4, 5][i % 4]);
    const w = labelMaskWarning(mask, huStats(mask), 'subset0/a.mhd');
    expect(w).toContain('subset0/a.mhd');
    expect(w).toContain('{0, 3, 4, 5}');
    expect(w).toMatch(/label mask/);
  });

  it('leaves CT alone: air present, or many values', () => {
    const ct = Int16Array.from({ length: 1000 }, (_, i) => (i % 2000) - 1000);
    expect(labelMaskWarning(ct, huStats(ct), 'ct.mhd')).toBeNull();
    const noAir = Int16Array.from({ length: 1000 }, (_, i) => i % 200);
    expect(labelMaskWarning(noAir, huStats(noAir), 'x.mhd')).toBeNull();
  });
});
