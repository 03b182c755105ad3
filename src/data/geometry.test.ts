import { describe, expect, it } from 'vitest';
import { invert3, ircToXyz, roundHalfEven, xyzToCriFloat, xyzToIrc, type Geometry } from './geometry.ts';
import { IDENTITY, type Mat3 } from './volume.ts';

describe('roundHalfEven (numpy.round)', () => {
  it.each([
    [0.5, 0],
    [1.5, 2],
    [2.5, 2],
    [-0.5, -0],
    [-1.5, -2],
    [-2.5, -2],
    [2.4999, 2],
    [2.5001, 3],
    [7, 7],
  ])('%f → %f', (v, want) => {
    expect(roundHalfEven(v) === want || (roundHalfEven(v) === 0 && want === 0)).toBe(true);
  });
});

describe('xyz ↔ irc as the book', () => {
  const g: Geometry = { origin: [-198.1, -195, -335.21], spacing: [0.7617, 0.7617, 2.5], direction: IDENTITY };

  it('converts a LUNA16 point and back within half a voxel', () => {
    const xyz = [-100.568, 67.261, -231.817] as const;
    const irc = xyzToIrc(xyz, g);
    // (x - ox)/sx etc., reversed to index,row,col
    expect(irc).toEqual([
      roundHalfEven((xyz[2] - g.origin[2]) / 2.5),
      roundHalfEven((xyz[1] - g.origin[1]) / 0.7617),
      roundHalfEven((xyz[0] - g.origin[0]) / 0.7617),
    ]);
    const back = ircToXyz(irc, g);
    for (let a = 0; a < 3; a++) expect(Math.abs(back[a] - xyz[a])).toBeLessThanOrEqual(g.spacing[a] / 2 + 1e-9);
  });

  it('rounds exact halves to even like numpy', () => {
    const h: Geometry = { origin: [0, 0, 0], spacing: [1, 1, 1], direction: IDENTITY };
    expect(xyzToIrc([2.5, 3.5, 0.5], h)).toEqual([0, 4, 2]);
  });

  it('uses (xyz - origin) @ inv(direction), as the book', () => {
    // A flipped, rotated direction: the row-vector product differs from the column one.
    const d: Mat3 = [0, -1, 0, 1, 0, 0, 0, 0, -1];
    const h: Geometry = { origin: [10, 20, 30], spacing: [2, 3, 4], direction: d };
    const cri = xyzToCriFloat([14, 26, 22], h);
    const inv = invert3(d);
    const delta = [4, 6, -8];
    const want = [0, 1, 2].map(
      (j) => (delta[0] * inv[j] + delta[1] * inv[3 + j] + delta[2] * inv[6 + j]) / h.spacing[j],
    );
    expect(cri).toEqual(want);
  });

  it('inverts 3×3 matrices and refuses singular ones', () => {
    const m: Mat3 = [2, 0, 1, 1, 3, 0, 0, 1, 4];
    const inv = invert3(m);
    for (let r = 0; r < 3; r++) {
      for (let c = 0; c < 3; c++) {
        const v = m[r * 3] * inv[c] + m[r * 3 + 1] * inv[3 + c] + m[r * 3 + 2] * inv[6 + c];
        expect(v).toBeCloseTo(r === c ? 1 : 0, 12);
      }
    }
    expect(() => invert3([1, 2, 3, 2, 4, 6, 0, 0, 1])).toThrow(/singular/);
  });
});
