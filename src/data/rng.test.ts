import { describe, expect, it } from 'vitest';
import { createRng, rngFromState } from './rng.ts';

function draws(seed: number | string, n = 8): number[] {
  const rng = createRng(seed);
  return Array.from({ length: n }, () => rng.next());
}

describe('createRng', () => {
  it('is deterministic for a seed and differs between seeds', () => {
    expect(draws(42)).toEqual(draws(42));
    expect(draws('run-a')).toEqual(draws('run-a'));
    expect(draws(42)).not.toEqual(draws(43));
    expect(draws('42')).not.toEqual(draws(42));
    expect(draws(0)).not.toEqual(draws(1));
  });

  it('pins the sequence so a change of algorithm cannot go unnoticed', () => {
    // Recorded from this implementation; checkpoints and synthetic data depend on it.
    const rng = createRng(1234);
    const ints = Array.from({ length: 6 }, () => rng.int(0, 1_000_000));
    expect(ints).toMatchInlineSnapshot(`
      [
        362026,
        429648,
        129781,
        208474,
        469236,
        322826,
      ]
    `);
  });

  it('next() stays in [0, 1) and is roughly uniform', () => {
    const rng = createRng('uniform');
    const bins = new Array(10).fill(0);
    const n = 100_000;
    let sum = 0;
    let outside = 0;
    for (let i = 0; i < n; i++) {
      const v = rng.next();
      if (!(v >= 0 && v < 1)) outside++;
      bins[Math.floor(v * 10)]++;
      sum += v;
    }
    expect(outside).toBe(0);
    expect(sum / n).toBeCloseTo(0.5, 2);
    for (const b of bins) expect(Math.abs(b - n / 10)).toBeLessThan(n / 100);
  });

  it('int() covers [lo, hi) and rejects bad ranges', () => {
    const rng = createRng(7);
    const seen = new Set<number>();
    for (let i = 0; i < 1000; i++) {
      const v = rng.int(-3, 4);
      expect(Number.isInteger(v)).toBe(true);
      expect(v).toBeGreaterThanOrEqual(-3);
      expect(v).toBeLessThan(4);
      seen.add(v);
    }
    expect(seen.size).toBe(7);
    expect(() => rng.int(5, 5)).toThrow(RangeError);
    expect(() => rng.int(0, 1.5)).toThrow(RangeError);
  });

  it('normal() has the requested mean and sd', () => {
    const rng = createRng('gauss');
    const n = 50_000;
    let s = 0;
    let s2 = 0;
    for (let i = 0; i < n; i++) {
      const v = rng.normal(10, 3);
      s += v;
      s2 += v * v;
    }
    const mean = s / n;
    const sd = Math.sqrt(s2 / n - mean * mean);
    expect(mean).toBeCloseTo(10, 1);
    expect(Math.abs(sd - 3)).toBeLessThan(0.05);
  });

  it('pick() and shuffle() are deterministic; shuffle is an in-place permutation', () => {
    const a = createRng(9);
    const b = createRng(9);
    const items = ['a', 'b', 'c', 'd', 'e'];
    expect(a.pick(items)).toBe(b.pick(items));
    expect(() => a.pick([])).toThrow(RangeError);

    const arr = Array.from({ length: 50 }, (_, i) => i);
    const same = a.shuffle(arr);
    expect(same).toBe(arr);
    expect([...arr].sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(arr).not.toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(b.shuffle(Array.from({ length: 50 }, (_, i) => i))).toEqual(arr);
  });

  it('shuffle() is unbiased enough: every position sees every element', () => {
    const rng = createRng('fy');
    const counts = Array.from({ length: 4 }, () => new Array(4).fill(0));
    for (let t = 0; t < 8000; t++) {
      const arr = rng.shuffle([0, 1, 2, 3]);
      arr.forEach((v, pos) => counts[pos][v]++);
    }
    for (const row of counts) for (const c of row) expect(Math.abs(c - 2000)).toBeLessThan(200);
  });
});

describe('fork', () => {
  it('depends on seed and purpose only, not on how much the parent was used', () => {
    const a = createRng(5);
    const b = createRng(5);
    for (let i = 0; i < 100; i++) b.next();
    expect(draws2(a.fork('augment'))).toEqual(draws2(b.fork('augment')));
    expect(draws2(a.fork('augment'))).not.toEqual(draws2(a.fork('split')));
    expect(draws2(a.fork('augment'))).not.toEqual(draws2(createRng(6).fork('augment')));
    // A child differs from its parent and can fork further.
    expect(draws2(a.fork('x'))).not.toEqual(draws2(createRng(5)));
    expect(draws2(a.fork('x').fork('y'))).toEqual(draws2(createRng(5).fork('x').fork('y')));
  });
});

describe('state / restore', () => {
  it('round-trips through JSON and resumes the same sequence, forks included', () => {
    const rng = createRng('checkpoint');
    for (let i = 0; i < 37; i++) rng.next();
    const saved = JSON.parse(JSON.stringify(rng.state()));
    const expected = draws2(rng);
    const expectedFork = draws2(rng.fork('later'));

    const other = createRng('something else');
    other.restore(saved);
    expect(draws2(other)).toEqual(expected);
    expect(draws2(other.fork('later'))).toEqual(expectedFork);

    const fresh = rngFromState(saved);
    expect(draws2(fresh)).toEqual(expected);
  });

  it('state is plain uint32 numbers and restore rejects garbage', () => {
    const st = createRng(1).state();
    for (const w of [...st.key, ...st.s]) {
      expect(Number.isInteger(w) && w >= 0 && w < 2 ** 32).toBe(true);
    }
    const rng = createRng(1);
    expect(() => rng.restore({ key: [1, 2, 3, 4], s: [1, 2, 3, -1] })).toThrow(RangeError);
    expect(() => rng.restore({ key: [1, 2, 3, 4], s: [1, 2, 3, 0.5] })).toThrow(RangeError);
  });
});

function draws2(rng: { next(): number }, n = 6): number[] {
  return Array.from({ length: n }, () => rng.next());
}
