/**
 * World (x, y, z mm) <-> voxel (index, row, col) conversion, exactly as the book's
 * `util.xyz2irc` / `util.irc2xyz`, including numpy's round-half-to-even and the book's
 * use of `(xyz - origin) @ inv(direction)` (a row vector times the inverse).
 */
import type { Irc, Mat3, Vec3 } from './volume.ts';

export interface Geometry {
  readonly origin: Vec3;
  readonly spacing: Vec3;
  readonly direction: Mat3;
}

/** numpy.round / Python 3 round: halves go to the even neighbour. */
export function roundHalfEven(v: number): number {
  const r = Math.round(v);
  // Math.round rounds halves up; step back when that landed on an odd number.
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export function invert3(m: Mat3): Mat3 {
  const [a, b, c, d, e, f, g, h, i] = m;
  const A = e * i - f * h;
  const B = -(d * i - f * g);
  const C = d * h - e * g;
  const det = a * A + b * B + c * C;
  if (!Number.isFinite(det) || Math.abs(det) < 1e-12) {
    throw new Error(`direction matrix is singular: [${m.join(', ')}]`);
  }
  const s = 1 / det;
  return [
    A * s,
    -(b * i - c * h) * s,
    (b * f - c * e) * s,
    B * s,
    (a * i - c * g) * s,
    -(a * f - c * d) * s,
    C * s,
    -(a * h - b * g) * s,
    (a * e - b * d) * s,
  ];
}

/** Continuous (unrounded) col, row, index of a world point. */
export function xyzToCriFloat(xyz: Vec3, g: Geometry): Vec3 {
  const inv = invert3(g.direction);
  const d0 = xyz[0] - g.origin[0];
  const d1 = xyz[1] - g.origin[1];
  const d2 = xyz[2] - g.origin[2];
  // Row vector (1x3) times inv (3x3), as numpy's `a @ inv` with a 1-D `a`.
  return [
    (d0 * inv[0] + d1 * inv[3] + d2 * inv[6]) / g.spacing[0],
    (d0 * inv[1] + d1 * inv[4] + d2 * inv[7]) / g.spacing[1],
    (d0 * inv[2] + d1 * inv[5] + d2 * inv[8]) / g.spacing[2],
  ];
}

export function xyzToIrc(xyz: Vec3, g: Geometry): Irc {
  const cri = xyzToCriFloat(xyz, g);
  return [roundHalfEven(cri[2]), roundHalfEven(cri[1]), roundHalfEven(cri[0])];
}

export function ircToXyz(irc: Irc, g: Geometry): Vec3 {
  const c = irc[2] * g.spacing[0];
  const r = irc[1] * g.spacing[1];
  const i = irc[0] * g.spacing[2];
  const m = g.direction;
  // direction @ (cri * spacing) + origin, a matrix times a column vector.
  return [
    m[0] * c + m[1] * r + m[2] * i + g.origin[0],
    m[3] * c + m[4] * r + m[5] * i + g.origin[1],
    m[6] * c + m[7] * r + m[8] * i + g.origin[2],
  ];
}
