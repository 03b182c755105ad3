import { describe, expect, it } from 'vitest';
import { stratifiedSubset } from './stratified-subset.ts';

/** `pos` positives and `neg` negatives, interleaved so order is checkable. */
function list(pos: number, neg: number): { id: number; isNodule: boolean }[] {
  const out = [];
  for (let i = 0; i < pos + neg; i++) out.push({ id: i, isNodule: i < pos });
  return out.sort((a, b) => (a.id % 7) - (b.id % 7) || a.id - b.id);
}
const count = (l: { isNodule: boolean }[]) => ({
  pos: l.filter((c) => c.isNodule).length,
  neg: l.filter((c) => !c.isNodule).length,
});

describe('stratifiedSubset (the seed --training-length)', () => {
  it('keeps each class in proportion, N in all, in the input order', () => {
    const all = list(20, 180);
    const sub = stratifiedSubset(all, 50, 1);
    expect(sub).toHaveLength(50);
    expect(count(sub)).toEqual({ pos: 5, neg: 45 });
    const at = new Map(all.map((c, i) => [c, i]));
    const idx = sub.map((c) => at.get(c)!);
    expect(idx).toEqual([...idx].sort((a, b) => a - b));
  });

  it('at least two of each class, even where the share rounds to fewer', () => {
    const sub = stratifiedSubset(list(3, 997), 10, 1);
    expect(count(sub)).toEqual({ pos: 2, neg: 8 });
    expect(count(stratifiedSubset(list(3, 997), 4, 9))).toEqual({ pos: 2, neg: 2 });
    // Fewer negatives than two: all of them, positives fill N.
    expect(count(stratifiedSubset(list(50, 1), 10, 1))).toEqual({ pos: 9, neg: 1 });
  });

  it('is seeded: the same seed the same subset, another seed another', () => {
    const all = list(40, 400);
    const ids = (s: number) => stratifiedSubset(all, 30, s).map((c) => c.id);
    expect(ids(7)).toEqual(ids(7));
    expect(ids(7)).not.toEqual(ids(8));
  });

  it('0 or N at least the list length keeps the whole list', () => {
    const all = list(5, 20);
    expect(stratifiedSubset(all, 0, 1)).toEqual(all);
    expect(stratifiedSubset(all, 25, 1)).toEqual(all);
    expect(stratifiedSubset(all, 1000, 1)).toEqual(all);
  });

  it('refuses a negative or fractional length', () => {
    expect(() => stratifiedSubset(list(2, 2), -1, 1)).toThrow(/training length -1/);
    expect(() => stratifiedSubset(list(2, 2), 2.5, 1)).toThrow(/training length 2.5/);
  });
});
