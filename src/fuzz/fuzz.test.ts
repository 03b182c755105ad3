/**
 * A short seeded run of the fuzz harness (`npm run fuzz` runs hundreds): mutated real samples
 * through `loadFiles`, every family represented, and not one failure (no exception, stack
 * trace, hang, unbounded memory, silent wrong value or unnamed file).
 */
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { createRng } from '../data/rng.ts';
import { FAILURES, formatTable, loadBases, runFuzz } from './harness.ts';
import { MUTATIONS, makeCases, type Base } from './mutations.ts';

const SAMPLES = fileURLToPath(new URL('../../../shared/ct-samples/', import.meta.url));

describe('fuzz harness, seeded', () => {
  let bases: Base[] = [];
  beforeAll(async () => {
    bases = await loadBases(SAMPLES);
  });

  it('60 cases over every mutation family: zero failures', async () => {
    const results = await runFuzz({ seed: 17, cases: 60, samplesDir: SAMPLES, bases });
    expect(results).toHaveLength(60);
    expect(new Set(results.map((r) => r.case.family))).toEqual(new Set(Object.keys(MUTATIONS)));
    const failures = results
      .filter((r) => FAILURES.has(r.outcome))
      .map((r) => `${r.case.family}: ${r.case.detail}: ${r.outcome}: ${r.note}`);
    expect(failures, formatTable(results)).toEqual([]);
    // The run exercised both sides: files that load and files that are refused.
    expect(results.some((r) => r.outcome === 'valid')).toBe(true);
    expect(results.some((r) => r.outcome === 'refused')).toBe(true);
  });

  it('is reproducible: the same seed makes the same cases', () => {
    const a = makeCases(createRng(5), bases, 30).map((c) => c.detail);
    const b = makeCases(createRng(5), bases, 30).map((c) => c.detail);
    expect(a).toEqual(b);
  });
});
