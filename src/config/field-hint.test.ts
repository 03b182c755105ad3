import { describe, expect, it } from 'vitest';
import { FIELDS, FIELD_BY_KEY } from './lab-config.ts';
import { fieldHint } from './field-hint.ts';

describe('fieldHint', () => {
  it('gives help, range and default from the table row', () => {
    expect(fieldHint(FIELD_BY_KEY.get('model.blocks')!)).toBe('LunaBlocks (conv, conv, max-pool) · 1–4 · default 4');
    expect(fieldHint(FIELD_BY_KEY.get('optimizer.lr')!)).toMatch(/· > 0, ≤ 10 · default 0\.001$/);
    expect(fieldHint(FIELD_BY_KEY.get('optimizer.name')!)).toMatch(/· sgd \| adamw · default sgd$/);
    expect(fieldHint(FIELD_BY_KEY.get('model.blockNorm')!)).toMatch(/· on \| off · default off$/);
    expect(fieldHint(FIELD_BY_KEY.get('data.subsets')!)).toMatch(/default empty$/);
  });

  it('every field has help text', () => {
    for (const f of FIELDS) expect(f.help.length, f.key).toBeGreaterThan(3);
  });
});
