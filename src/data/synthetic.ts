/**
 * Seeded synthetic LUNA16: chest CTs written as real files in LUNA16's layout
 * (`subsetK/<seriesuid>.mhd` + `.raw`, `annotations.csv`, `candidates.csv`), so that the very
 * code path that reads the real dataset can be tested and benchmarked without it.
 *
 * Each scan is a caricature of a chest CT in HU: air outside the body, an elliptical body with
 * skin, subcutaneous fat and soft tissue, two lungs (domed diaphragm, heart and trachea carved
 * out) with a density gradient, branching tapering vessel trees from each hilum, spine and ribs,
 * and 1-4 nodules (solid, or part-solid: a solid core in a ground-glass halo) inside the lungs,
 * all under Gaussian noise. `candidates.csv` holds positives (jittered within d/4 of their
 * nodule, so the book's matching finds them) and several times as many negatives: on vessel
 * cross-sections (which look like small nodules), in the chest wall and mediastinum, and in
 * empty lung.
 *
 * Nodules are 3-30 mm, but never so small that the voxel nearest an annotated centre misses
 * the solid part: the minimum grows with voxel size (about 4.5 mm at full size, 10 mm tiny).
 *
 * With `malignancy`, the book's `annotations_with_malignancy.csv` is written too (after the
 * other files, which stay byte for byte what they are without it): part-solid nodules are
 * malignant, solid ones benign — a difference the crops show (the ground-glass halo), while
 * both kinds share one diameter distribution, so the diameter baseline has little to go on.
 *
 * Deterministic: the same options give the same bytes. Scan n depends only on (seed, n, size),
 * not on how many scans are generated. Only one scan is held at a time.
 */
import { createRng, type Rng } from './rng.ts';
import {
  formatAnnotationsCsv,
  formatCandidatesCsv,
  formatMalignancyCsv,
  type Annotation,
  type Candidate,
  type MalignancyAnnotation,
  type Xyz,
} from './luna-csv.ts';
import { IDENTITY, type Irc, type Vec3, type Volume } from './volume.ts';

export type SynthSize = 'tiny' | 'small' | 'full';

export interface SynthOptions {
  scans: number;
  size: SynthSize;
  seed: number;
  /** Spread scans round-robin over subset0..subset{N-1}; default 1. */
  subsets?: number;
  /** Also write `annotations_with_malignancy.csv` (last); default false. */
  malignancy?: boolean;
}

export interface SynthFile {
  /** Relative path in LUNA16's layout, '/'-separated. */
  path: string;
  bytes: Uint8Array;
}

/** Tissue values (HU) before noise. */
export const SYNTH_HU = {
  air: -1000,
  /** Lung parenchyma runs from LUNG_ANTERIOR (front) to LUNG_POSTERIOR (back, dependent). */
  lungAnterior: -875,
  lungPosterior: -825,
  fat: -100,
  soft: 40,
  vessel: 40,
  solidNodule: 30,
  groundGlass: -500,
  cancellousBone: 350,
  rib: 500,
  spinousProcess: 600,
  corticalBone: 700,
} as const;

interface SizeSpec {
  shape: [number, number, number];
  spacingXy: number;
  spacingZ: number;
}

const SIZES: Record<SynthSize, SizeSpec> = {
  // Coarse: a small field of view, for unit tests.
  tiny: { shape: [40, 64, 64], spacingXy: 4, spacingZ: 6 },
  small: { shape: [64, 128, 128], spacingXy: 2.5, spacingZ: 4 },
  // A typical LUNA16 scan: 512x512, ~0.7 mm pixels, 2.5 mm slices.
  full: { shape: [120, 512, 512], spacingXy: 0.7, spacingZ: 2.5 },
};

/** Reference field of view the anatomy is designed for (full size), mm. */
const REF_FOV_XY = 512 * 0.7;
const REF_FOV_Z = 120 * 2.5;

/** Half-width of every structure's soft edge, mm. */
const EDGE = 0.6;

/** [index, row, col] of every scan of a size. */
export function synthScanShape(size: SynthSize): [number, number, number] {
  const spec = SIZES[size];
  if (!spec) throw new RangeError(`unknown synthetic size "${String(size)}" (tiny, small, full)`);
  return [spec.shape[0], spec.shape[1], spec.shape[2]];
}

export type SynthNoduleKind = 'solid' | 'part-solid';

export interface SynthNodule {
  /** World centre, mm (as written to annotations.csv). */
  xyz: Xyz;
  /** As written to annotations.csv: twice the mean semi-axis. */
  diameterMm: number;
  kind: SynthNoduleKind;
  /** Ellipsoid semi-axes, mm, in the nodule's own frame. */
  semiAxesMm: [number, number, number];
  /** Solid core size relative to the whole (1 for solid nodules). */
  coreRatio: number;
  /** HU of the solid part, and of the ground-glass halo for part-solid nodules. */
  solidHu: number;
  haloHu: number;
}

export type SynthCandidateKind = 'nodule' | 'vessel' | 'wall' | 'lung';

export interface SynthCandidate extends Candidate {
  /** What the candidate lies on (not in candidates.csv; for tests and inspection). */
  kind: SynthCandidateKind;
}

export type SynthTissue = 'air' | 'fat' | 'soft' | 'lung' | 'bone';

export interface SynthScan {
  seriesUid: string;
  subset: number;
  size: SynthSize;
  /** [index, row, col] */
  shape: [number, number, number];
  /** mm, x y z, exactly as written to the header. */
  spacing: [number, number, number];
  origin: [number, number, number];
  /** HU, int16, x fastest. */
  data: Int16Array;
  nodules: SynthNodule[];
  /** In the order written to candidates.csv. */
  candidates: SynthCandidate[];
  /** World points well inside each tissue (checked before noise), for tests and sanity checks. */
  landmarks: Record<SynthTissue, Xyz[]>;
}

// ---------------------------------------------------------------------------------------------
// Small vector helpers (tuples, no allocation-heavy classes).

type V3 = [number, number, number];

function add(a: V3, b: V3): V3 {
  return [a[0] + b[0], a[1] + b[1], a[2] + b[2]];
}
function scale(a: V3, s: number): V3 {
  return [a[0] * s, a[1] * s, a[2] * s];
}
function dot(a: V3, b: V3): number {
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}
function cross(a: V3, b: V3): V3 {
  return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
}
function norm(a: V3): V3 {
  const l = Math.sqrt(dot(a, a));
  return l > 0 ? [a[0] / l, a[1] / l, a[2] / l] : [0, 0, 1];
}
function dist(a: V3, b: V3): number {
  const dx = a[0] - b[0];
  const dy = a[1] - b[1];
  const dz = a[2] - b[2];
  return Math.sqrt(dx * dx + dy * dy + dz * dz);
}
/** Rotate unit vector v by angle around unit axis k perpendicular to v. */
function rotatePerp(v: V3, k: V3, angle: number): V3 {
  return add(scale(v, Math.cos(angle)), scale(cross(k, v), Math.sin(angle)));
}
function randomPerp(rng: Rng, v: V3): V3 {
  for (;;) {
    const u: V3 = [rng.normal(), rng.normal(), rng.normal()];
    const p: V3 = add(u, scale(v, -dot(u, v)));
    if (dot(p, p) > 1e-6) return norm(p);
  }
}
/** Round to 6 decimals: what goes into headers and CSVs is what the generator used. */
function r6(v: number): number {
  const r = Math.round(v * 1e6) / 1e6;
  return r === 0 ? 0 : r; // no "-0" in files
}
function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

// ---------------------------------------------------------------------------------------------
// The voxel grid: world <-> index for an axis-aligned volume (identity direction, as LUNA16).

class Grid {
  readonly nx: number;
  readonly ny: number;
  readonly nz: number;
  readonly data: Int16Array;
  readonly origin: V3;
  readonly spacing: V3;
  constructor(shape: [number, number, number], origin: V3, spacing: V3) {
    [this.nz, this.ny, this.nx] = shape;
    this.origin = origin;
    this.spacing = spacing;
    this.data = new Int16Array(this.nx * this.ny * this.nz);
  }

  /** Flat index of the voxel nearest a world point, or -1 outside the volume. */
  at(p: V3): number {
    const i = Math.round((p[0] - this.origin[0]) / this.spacing[0]);
    const j = Math.round((p[1] - this.origin[1]) / this.spacing[1]);
    const k = Math.round((p[2] - this.origin[2]) / this.spacing[2]);
    if (i < 0 || j < 0 || k < 0 || i >= this.nx || j >= this.ny || k >= this.nz) return -1;
    return (k * this.ny + j) * this.nx + i;
  }

  value(p: V3): number {
    const idx = this.at(p);
    return idx < 0 ? NaN : this.data[idx];
  }

  world(idx: number): V3 {
    const i = idx % this.nx;
    const j = Math.floor(idx / this.nx) % this.ny;
    const k = Math.floor(idx / (this.nx * this.ny));
    return [
      this.origin[0] + i * this.spacing[0],
      this.origin[1] + j * this.spacing[1],
      this.origin[2] + k * this.spacing[2],
    ];
  }

  /** Index ranges [lo, hi] (inclusive, clamped) covering world interval [a, b] on an axis. */
  range(axis: 0 | 1 | 2, a: number, b: number): [number, number] {
    const n = axis === 0 ? this.nx : axis === 1 ? this.ny : this.nz;
    const lo = Math.max(0, Math.ceil((a - this.origin[axis]) / this.spacing[axis]));
    const hi = Math.min(n - 1, Math.floor((b - this.origin[axis]) / this.spacing[axis]));
    return [lo, hi];
  }

  /** Fill row `rowStart` between world x in [xLo, xHi]. */
  span(rowStart: number, xLo: number, xHi: number, v: number): void {
    const [lo, hi] = this.range(0, xLo, xHi);
    if (lo <= hi) this.data.fill(v, rowStart + lo, rowStart + hi + 1);
  }
}

/** Half-width of an axis-aligned ellipse (centre cx, cy; semi-axes a, b) at height y, or -1. */
function ellipseHalf(cy: number, a: number, b: number, y: number): number {
  const t = (y - cy) / b;
  const q = 1 - t * t;
  return q > 0 ? a * Math.sqrt(q) : -1;
}

function coverage(d: number): number {
  // Signed distance to the surface (negative inside) -> smooth 1..0 over [-EDGE, EDGE].
  if (d <= -EDGE) return 1;
  if (d >= EDGE) return 0;
  const t = (EDGE - d) / (2 * EDGE);
  return t * t * (3 - 2 * t);
}

// ---------------------------------------------------------------------------------------------
// Anatomy: sampled once per scan, then painted slice by slice, row by row, as spans.

interface Lung {
  cx: number;
  cy: number;
  cz: number;
  a: number;
  b: number;
  c: number;
  /** +1 when the midline is toward +x (the patient's right lung), -1 for the left. */
  medial: 1 | -1;
}

interface Ellipsoid {
  x: number;
  y: number;
  z: number;
  a: number;
  b: number;
  c: number;
}

interface Rib {
  x: number;
  y: number;
  a: number;
  b: number;
  /** z shift of this rib's bands (ribs slope down toward the front). */
  phase: number;
}

interface Anatomy {
  bx: number;
  by: number;
  A: number;
  B: number;
  skin: number;
  fat: number;
  wall: number;
  lungs: Lung[];
  heart: Ellipsoid;
  vertebra: { x: number; y: number; a: number; b: number };
  spinous: { x: number; y: number; a: number; b: number };
  trachea: { x: number; y: number; r: number; zFrom: number };
  ribs: Rib[];
  ribPeriod: number;
  ribWidth: number;
  ribZ: [number, number];
}

function sampleAnatomy(rng: Rng, grid: Grid): Anatomy {
  const fovX = grid.nx * grid.spacing[0];
  const fovY = grid.ny * grid.spacing[1];
  const fovZ = grid.nz * grid.spacing[2];
  const s = Math.min(fovX, fovY) / REF_FOV_XY;
  const sz = fovZ / REF_FOV_Z;
  const cx = grid.origin[0] + ((grid.nx - 1) * grid.spacing[0]) / 2;
  const cy = grid.origin[1] + ((grid.ny - 1) * grid.spacing[1]) / 2;
  const cz = grid.origin[2] + ((grid.nz - 1) * grid.spacing[2]) / 2;

  const A = (148 + rng.uniform(-12, 12)) * s;
  const B = (105 + rng.uniform(-10, 8)) * s;
  const bx = cx + rng.uniform(-8, 8) * s;
  const by = cy + rng.uniform(-8, 8) * s;
  const skin = Math.max(2.5, grid.spacing[0]);
  const fat = rng.uniform(10, 24) * Math.max(s, 0.8);
  const muscle = rng.uniform(10, 14) * s;
  const wall = skin + fat + muscle;

  const L = A - wall; // inner lateral limit
  const m = rng.uniform(16, 24) * s; // half the mediastinum's width
  const aBoth = ((L - m) / 2) * 0.97;
  const bIn = B - wall;
  const c = 0.42 * fovZ * rng.uniform(0.95, 1.02);
  const lcz = cz + rng.uniform(-0.03, 0.03) * fovZ;
  const lungs: Lung[] = [
    // Patient's right lung lies at smaller x (LPS): its midline side is +x. Slightly larger,
    // its base a little higher (the liver).
    { cx: bx - (m + aBoth), cy: by + 0.06 * bIn, cz: lcz + 0.03 * c, a: aBoth, b: 0.88 * bIn, c: c * 0.98, medial: 1 },
    { cx: bx + (m + aBoth * 0.95), cy: by + 0.06 * bIn, cz: lcz, a: aBoth * 0.95, b: 0.86 * bIn, c, medial: -1 },
  ];
  const heart: Ellipsoid = {
    x: bx + 15 * s,
    y: by - 0.15 * bIn,
    z: lcz - 0.45 * c,
    a: 55 * s,
    b: Math.min(42 * s, 0.8 * bIn),
    c: 50 * sz,
  };
  const vertebra = { x: bx, y: by + bIn - 35 * s, a: 17 * s, b: 15 * s };
  const spinous = { x: bx, y: by + bIn - 10 * s, a: 5 * s, b: 9 * s };
  const trachea = { x: bx + rng.uniform(-3, 3) * s, y: by - 0.1 * bIn, r: 9 * s, zFrom: lcz + 0.25 * c };

  // Ribs: cross-sections on a ring inside the fat, in bands that recur every ribPeriod mm.
  const ringA = A - skin - fat - 0.45 * muscle;
  const ringB = B - skin - fat - 0.45 * muscle;
  const ribs: Rib[] = [];
  for (const side of [-1, 1]) {
    for (let k = 0; k < 7; k++) {
      // Angles from just off the sternum (front, -y) round to just off the spine (back, +y).
      const th = -Math.PI / 2 + 0.35 + (k * (Math.PI - 0.7)) / 6;
      const x = bx + side * ringA * Math.cos(th);
      const y = by + ringB * Math.sin(th);
      ribs.push({ x, y, a: 7 * s, b: 5 * s, phase: 25 * sz * Math.sin(th) });
    }
  }
  return {
    bx,
    by,
    A,
    B,
    skin,
    fat,
    wall,
    lungs,
    heart,
    vertebra,
    spinous,
    trachea,
    ribs,
    ribPeriod: 24 * sz,
    ribWidth: 10 * sz,
    ribZ: [lcz - c - 10 * sz, lcz + c + 5 * sz],
  };
}

/** Lung density: denser toward the back (dependent lung), constant along a row. */
function lungHu(lung: Lung, y: number): number {
  const f = clamp((y - (lung.cy - lung.b)) / (2 * lung.b), 0, 1);
  return Math.round(SYNTH_HU.lungAnterior + f * (SYNTH_HU.lungPosterior - SYNTH_HU.lungAnterior));
}

/** Paint the static anatomy (everything but vessels and nodules), span by span. */
function paintAnatomy(grid: Grid, an: Anatomy): void {
  const { data, nx, ny, nz } = grid;
  data.fill(SYNTH_HU.air);
  const [, oy, oz] = grid.origin;
  const [, sy, sz] = grid.spacing;
  const inner = an.skin + an.fat;
  for (let k = 0; k < nz; k++) {
    const z = oz + k * sz;
    // Per-slice: each lung's allowed range of q = (dx/a)^2 + (dy/b)^2. Above the centre the
    // lung is an ellipsoid (q <= 1 - t^2); below, a cylinder cut by the domed diaphragm, whose
    // top is at t = -0.65 in the middle and t = -1 at the edges (the costophrenic recess).
    const qRange = an.lungs.map((l) => {
      const t = (z - l.cz) / l.c;
      if (t >= 1 || t <= -1) return null;
      if (t >= 0) return [0, 1 - t * t] as const;
      return [Math.max(0, 1 - (t + 1) / 0.35), 1] as const;
    });
    const h = an.heart;
    const hz = (z - h.z) / h.c;
    const heartK = hz * hz < 1 ? Math.sqrt(1 - hz * hz) : 0;
    const ribsOn = z >= an.ribZ[0] && z <= an.ribZ[1];
    const tracheaOn = z >= an.trachea.zFrom;

    for (let j = 0; j < ny; j++) {
      const y = oy + j * sy;
      const row = (k * ny + j) * nx;
      const bodyH = ellipseHalf(an.by, an.A, an.B, y);
      if (bodyH < 0) continue;
      grid.span(row, an.bx - bodyH, an.bx + bodyH, SYNTH_HU.soft); // skin
      const fatH = ellipseHalf(an.by, an.A - an.skin, an.B - an.skin, y);
      if (fatH >= 0) grid.span(row, an.bx - fatH, an.bx + fatH, SYNTH_HU.fat);
      const inH = ellipseHalf(an.by, an.A - inner, an.B - inner, y);
      if (inH >= 0) grid.span(row, an.bx - inH, an.bx + inH, SYNTH_HU.soft);

      for (let li = 0; li < an.lungs.length; li++) {
        const qr = qRange[li];
        if (!qr) continue;
        const l = an.lungs[li];
        const ry = ((y - l.cy) / l.b) ** 2;
        if (qr[1] - ry <= 0) continue;
        const hi = l.a * Math.sqrt(qr[1] - ry);
        const hu = lungHu(l, y);
        if (qr[0] - ry > 0) {
          const lo = l.a * Math.sqrt(qr[0] - ry);
          grid.span(row, l.cx - hi, l.cx - lo, hu);
          grid.span(row, l.cx + lo, l.cx + hi, hu);
        } else {
          grid.span(row, l.cx - hi, l.cx + hi, hu);
        }
      }
      if (heartK > 0) {
        const hh = ellipseHalf(h.y, h.a * heartK, h.b * heartK, y);
        if (hh >= 0) grid.span(row, h.x - hh, h.x + hh, SYNTH_HU.soft);
      }
      if (tracheaOn) {
        const th = ellipseHalf(an.trachea.y, an.trachea.r, an.trachea.r, y);
        if (th >= 0) grid.span(row, an.trachea.x - th, an.trachea.x + th, SYNTH_HU.air);
      }
      const v = an.vertebra;
      const vh = ellipseHalf(v.y, v.a, v.b, y);
      if (vh >= 0) {
        grid.span(row, v.x - vh, v.x + vh, SYNTH_HU.corticalBone);
        const vi = ellipseHalf(v.y, v.a - 2.5, v.b - 2.5, y);
        if (vi >= 0) grid.span(row, v.x - vi, v.x + vi, SYNTH_HU.cancellousBone);
      }
      const sp = an.spinous;
      const sh = ellipseHalf(sp.y, sp.a, sp.b, y);
      if (sh >= 0) grid.span(row, sp.x - sh, sp.x + sh, SYNTH_HU.spinousProcess);
      if (ribsOn) {
        for (const rib of an.ribs) {
          const ph = (((z + rib.phase) % an.ribPeriod) + an.ribPeriod) % an.ribPeriod;
          if (ph > an.ribWidth) continue;
          const rh = ellipseHalf(rib.y, rib.a, rib.b, y);
          if (rh >= 0) grid.span(row, rib.x - rh, rib.x + rh, SYNTH_HU.rib);
        }
      }
    }
  }
}

/** A base-anatomy voxel is lung parenchyma (valid before vessels and nodules are painted). */
function isLungHu(v: number): boolean {
  return v >= SYNTH_HU.lungAnterior - 1 && v <= SYNTH_HU.lungPosterior + 1;
}

// ---------------------------------------------------------------------------------------------
// Vessels: tapering capsule segments branching from each hilum.

interface Segment {
  p0: V3;
  p1: V3;
  r0: number;
  r1: number;
  hu: number;
}

function growVessels(rng: Rng, grid: Grid, an: Anatomy, rMin: number): Segment[] {
  const segs: Segment[] = [];
  const inLung = (p: V3): boolean => isLungHu(grid.value(p));
  for (const l of an.lungs) {
    const hilum: V3 = [l.cx + l.medial * 0.8 * l.a, l.cy - 0.05 * l.b, l.cz + 0.15 * l.c];
    const root: V3 = [l.cx + l.medial * (l.a + 6), hilum[1], hilum[2]];
    const r0 = rng.uniform(5, 6.5);
    const hu = SYNTH_HU.vessel;
    segs.push({ p0: root, p1: hilum, r0: r0 * 1.1, r1: r0, hu });
    const lat = -l.medial;
    // Lobar trunks: up-front, up-back, lateral, down-front, down-back, and two to the front.
    const queue: { p: V3; dir: V3; r: number; depth: number }[] = [
      { p: hilum, dir: [lat * 0.3, -0.2, 1], r: r0 * 0.8, depth: 1 },
      { p: hilum, dir: [lat * 0.3, 0.6, 0.8], r: r0 * 0.7, depth: 1 },
      { p: hilum, dir: [lat * 1, 0.1, 0.05], r: r0 * 0.75, depth: 1 },
      { p: hilum, dir: [lat * 0.4, -0.4, -1], r: r0 * 0.75, depth: 1 },
      { p: hilum, dir: [lat * 0.4, 0.6, -1], r: r0 * 0.8, depth: 1 },
      { p: hilum, dir: [lat * 0.5, -1, 0.3], r: r0 * 0.65, depth: 1 },
      { p: hilum, dir: [lat * 0.5, -1, -0.5], r: r0 * 0.65, depth: 1 },
    ];
    for (const st of queue)
      st.dir = norm(add(norm(st.dir), [rng.normal(0, 0.15), rng.normal(0, 0.15), rng.normal(0, 0.15)]));
    // Breadth-first, so that the cap on segments trims the thinnest twigs, not whole lobes.
    let count = 0;
    for (let head = 0; head < queue.length && count < 1500; head++) {
      const node = queue[head];
      const { p, r, depth } = node;
      if (r < rMin || depth > 24) continue;
      // Thin branches stay long enough to reach into the periphery.
      let len = Math.max(r * rng.uniform(5, 8), rng.uniform(6, 12));
      let dir = node.dir;
      let end: V3 | null = null;
      // At the lung's edge, bend away rather than stop: trees fill the lung.
      for (let attempt = 0; attempt < 5 && !end; attempt++) {
        if (attempt > 0) {
          dir = rotatePerp(dir, randomPerp(rng, dir), rng.uniform(0.3, 1.0));
          len *= 0.8;
        }
        const e = add(p, scale(dir, len));
        if (inLung(e) && inLung(add(p, scale(dir, len / 2)))) end = e;
      }
      if (!end) continue;
      const rEnd = r * rng.uniform(0.95, 0.99);
      segs.push({ p0: p, p1: end, r0: r, r1: rEnd, hu });
      count++;
      // Mostly monopodial branching: the vessel goes on nearly straight and a thinner side
      // branch leaves at a wider angle; now and then a symmetric split into two.
      const k = randomPerp(rng, dir);
      const outward = norm(add(end, scale(hilum, -1)));
      const children: { angle: number; ratio: number }[] = rng.chance(0.2)
        ? [
            { angle: rng.uniform(0.3, 0.6), ratio: rng.uniform(0.74, 0.84) },
            { angle: -rng.uniform(0.3, 0.6), ratio: rng.uniform(0.74, 0.84) },
          ]
        : [
            { angle: rng.uniform(-0.2, 0.2), ratio: rng.uniform(0.92, 0.98) },
            { angle: (rng.chance(0.5) ? 1 : -1) * rng.uniform(0.6, 1.1), ratio: rng.uniform(0.55, 0.8) },
          ];
      for (const ch of children) {
        const d = norm(add(scale(rotatePerp(dir, k, ch.angle), 0.85), scale(outward, 0.15)));
        queue.push({ p: end, dir: d, r: rEnd * ch.ratio, depth: depth + 1 });
      }
    }
  }
  return segs;
}

function renderSegment(grid: Grid, s: Segment): void {
  const rMax = Math.max(s.r0, s.r1) + EDGE;
  const [x0, x1] = grid.range(0, Math.min(s.p0[0], s.p1[0]) - rMax, Math.max(s.p0[0], s.p1[0]) + rMax);
  const [y0, y1] = grid.range(1, Math.min(s.p0[1], s.p1[1]) - rMax, Math.max(s.p0[1], s.p1[1]) + rMax);
  const [z0, z1] = grid.range(2, Math.min(s.p0[2], s.p1[2]) - rMax, Math.max(s.p0[2], s.p1[2]) + rMax);
  const dx = s.p1[0] - s.p0[0];
  const dy = s.p1[1] - s.p0[1];
  const dz = s.p1[2] - s.p0[2];
  const l2 = dx * dx + dy * dy + dz * dz || 1e-9;
  const dr = s.r1 - s.r0;
  const { data, nx, ny, origin, spacing } = grid;
  const hu = s.hu;
  for (let k = z0; k <= z1; k++) {
    const wz = origin[2] + k * spacing[2] - s.p0[2];
    for (let j = y0; j <= y1; j++) {
      const wy = origin[1] + j * spacing[1] - s.p0[1];
      const row = (k * ny + j) * nx;
      for (let i = x0; i <= x1; i++) {
        const wx = origin[0] + i * spacing[0] - s.p0[0];
        let t = (wx * dx + wy * dy + wz * dz) / l2;
        t = t < 0 ? 0 : t > 1 ? 1 : t;
        const ex = wx - t * dx;
        const ey = wy - t * dy;
        const ez = wz - t * dz;
        const d = Math.sqrt(ex * ex + ey * ey + ez * ez) - (s.r0 + t * dr);
        if (d >= EDGE) continue;
        const cur = data[row + i];
        if (hu > cur) data[row + i] = Math.round(cur + coverage(d) * (hu - cur));
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Nodules: rotated ellipsoids with soft edges; part-solid ones have a ground-glass halo.

interface PlacedNodule extends SynthNodule {
  /** Rows of the rotation: world offset -> nodule frame. */
  rot: [V3, V3, V3];
}

function randomRotation(rng: Rng): [V3, V3, V3] {
  let w = rng.normal();
  let x = rng.normal();
  let y = rng.normal();
  let z = rng.normal();
  const n = Math.sqrt(w * w + x * x + y * y + z * z) || 1;
  w /= n;
  x /= n;
  y /= n;
  z /= n;
  return [
    [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
    [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
    [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
  ];
}

/** Offsets (unit-ish) probed to check that a nodule sits inside the lung. */
const PROBES: V3[] = [
  [1, 0, 0],
  [-1, 0, 0],
  [0, 1, 0],
  [0, -1, 0],
  [0, 0, 1],
  [0, 0, -1],
  ...[-1, 1].flatMap((a) => [-1, 1].flatMap((b) => [-1, 1].map((c) => scale([a, b, c], 1 / Math.sqrt(3))))),
];

function placeNodules(rng: Rng, grid: Grid, an: Anatomy, minSemi: number): PlacedNodule[] {
  const count = rng.pick([1, 1, 1, 2, 2, 3, 4]);
  const out: PlacedNodule[] = [];
  for (let n = 0; n < count; n++) {
    const kind: SynthNoduleKind = rng.chance(0.35) ? 'part-solid' : 'solid';
    const coreRatio = kind === 'solid' ? 1 : rng.uniform(0.45, 0.65);
    // Log-uniform diameter, 3..30 mm, then grown where needed so that the voxel nearest the
    // centre always lies in the solid part (the generator's promise to tests and users).
    const d = Math.exp(rng.uniform(Math.log(3), Math.log(30)));
    let semi: V3 = [0, 1, 2].map(() => (d / 2) * rng.uniform(0.88, 1.12)) as V3;
    const needed = minSemi / coreRatio;
    const smallest = Math.min(...semi);
    if (smallest < needed) semi = scale(semi, needed / smallest);
    const mean = (semi[0] + semi[1] + semi[2]) / 3;
    if (mean > 15) semi = scale(semi, Math.max(15 / mean, needed / Math.min(...semi)));
    const rMax = Math.max(...semi);
    const juxtapleural = rng.chance(0.25);
    const probeFrac = juxtapleural ? 0.35 : 1.1;
    for (let attempt = 0; attempt < 300; attempt++) {
      const l = rng.chance(0.55) ? an.lungs[0] : an.lungs[1];
      const c: V3 = [
        r6(l.cx + l.a * rng.uniform(-0.9, 0.9)),
        r6(l.cy + l.b * rng.uniform(-0.9, 0.9)),
        r6(l.cz + l.c * rng.uniform(-0.75, 0.85)),
      ];
      if (!isLungHu(grid.value(c))) continue;
      if (!PROBES.every((pr) => isLungHu(grid.value(add(c, scale(pr, rMax * probeFrac)))))) continue;
      if (out.some((o) => dist(o.xyz, c) < rMax + Math.max(...o.semiAxesMm) + 4)) continue;
      const diameterMm = r6((2 * (semi[0] + semi[1] + semi[2])) / 3);
      out.push({
        xyz: c,
        diameterMm,
        kind,
        semiAxesMm: semi,
        coreRatio,
        solidHu: Math.round(SYNTH_HU.solidNodule + rng.normal(0, 8)),
        haloHu: Math.round(clamp(SYNTH_HU.groundGlass + rng.normal(0, 40), -650, -350)),
        rot: randomRotation(rng),
      });
      break;
    }
  }
  return out;
}

function renderNodule(grid: Grid, n: PlacedNodule): void {
  const [a, b, c] = n.semiAxesMm;
  const minSemi = Math.min(a, b, c);
  const reach = Math.max(a, b, c) + EDGE * 2;
  const [x0, x1] = grid.range(0, n.xyz[0] - reach, n.xyz[0] + reach);
  const [y0, y1] = grid.range(1, n.xyz[1] - reach, n.xyz[1] + reach);
  const [z0, z1] = grid.range(2, n.xyz[2] - reach, n.xyz[2] + reach);
  const [r0, r1, r2] = n.rot;
  const { data, nx, ny, origin, spacing } = grid;
  const partSolid = n.kind === 'part-solid';
  // Surface distance approximated as (q - 1) * smallest semi-axis: never overstates how far
  // inside a point is, so the solid core really covers what the generator promises.
  for (let k = z0; k <= z1; k++) {
    const wz = origin[2] + k * spacing[2] - n.xyz[2];
    for (let j = y0; j <= y1; j++) {
      const wy = origin[1] + j * spacing[1] - n.xyz[1];
      const row = (k * ny + j) * nx;
      for (let i = x0; i <= x1; i++) {
        const wx = origin[0] + i * spacing[0] - n.xyz[0];
        const lx = (r0[0] * wx + r0[1] * wy + r0[2] * wz) / a;
        const ly = (r1[0] * wx + r1[1] * wy + r1[2] * wz) / b;
        const lz = (r2[0] * wx + r2[1] * wy + r2[2] * wz) / c;
        const q = Math.sqrt(lx * lx + ly * ly + lz * lz);
        const dOuter = (q - 1) * minSemi;
        if (dOuter >= EDGE) continue;
        let cur = data[row + i];
        if (partSolid) {
          if (n.haloHu > cur) cur = cur + coverage(dOuter) * (n.haloHu - cur);
          const dCore = (q / n.coreRatio - 1) * minSemi * n.coreRatio;
          if (n.solidHu > cur) cur = cur + coverage(dCore) * (n.solidHu - cur);
        } else if (n.solidHu > cur) {
          cur = cur + coverage(dOuter) * (n.solidHu - cur);
        }
        data[row + i] = Math.round(cur);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Candidates and landmarks.

function nearNodule(p: V3, nodules: readonly PlacedNodule[], extra: number): boolean {
  return nodules.some((n) => dist(p, n.xyz) < Math.max(...n.semiAxesMm) + extra);
}

/** Chest wall / mediastinum points: march from inside a lung out through its surface. */
function wallCandidates(rng: Rng, grid: Grid, an: Anatomy, nodules: PlacedNodule[], count: number): V3[] {
  const out: V3[] = [];
  const step = Math.min(...grid.spacing) * 0.5;
  for (let attempt = 0; attempt < count * 40 && out.length < count; attempt++) {
    const l = rng.pick(an.lungs);
    const start: V3 = [l.cx, l.cy, l.cz + l.c * rng.uniform(-0.5, 0.7)];
    if (!isLungHu(grid.value(start))) continue;
    const phi = rng.uniform(0, 2 * Math.PI);
    const dir: V3 = [Math.cos(phi), Math.sin(phi), 0];
    let p = start;
    let guard = 0;
    while (isLungHu(grid.value(p)) && guard++ < 10000) p = add(p, scale(dir, step));
    p = add(p, scale(dir, rng.uniform(3, 12)));
    const v = grid.value(p);
    if (!(v > -200) || nearNodule(p, nodules, 8)) continue;
    out.push(p.map(r6) as V3);
  }
  return out;
}

/**
 * Vessel cross-sections: voxel centres close enough to a vessel's axis that the voxel lies
 * wholly inside it (snapped to the grid so that thin vessels in coarse scans qualify too),
 * inside the lung. These are the negatives that look most like small nodules.
 */
function vesselCandidates(rng: Rng, grid: Grid, segs: Segment[], nodules: PlacedNodule[], count: number): V3[] {
  const usable = segs.filter((s) => Math.min(s.r0, s.r1) >= 1);
  const out: V3[] = [];
  if (usable.length === 0) return out;
  for (let attempt = 0; attempt < count * 60 && out.length < count; attempt++) {
    const s = rng.pick(usable);
    const axis = add(s.p0, scale(add(s.p1, scale(s.p0, -1)), rng.uniform(0.15, 0.85)));
    const idx = grid.at(axis);
    if (idx < 0 || !isLungHu(grid.data[idx])) continue;
    const p = grid.world(idx).map(r6) as V3;
    const d = add(s.p1, scale(s.p0, -1));
    const t = clamp(dot(add(p, scale(s.p0, -1)), d) / dot(d, d), 0, 1);
    const off = dist(p, add(s.p0, scale(d, t)));
    if (off > s.r0 + t * (s.r1 - s.r0) - EDGE - 0.1) continue;
    if (nearNodule(p, nodules, 8) || out.some((o) => dist(o, p) < 4)) continue;
    out.push(p);
  }
  return out;
}

/** Voxel offsets (flat) reaching about `mm` along each axis. */
function neighbourOffsets(grid: Grid, mm: number, withZ: boolean): number[] {
  const di = Math.max(1, Math.ceil(mm / grid.spacing[0]));
  const dj = Math.max(1, Math.ceil(mm / grid.spacing[1])) * grid.nx;
  const out = [di, -di, dj, -dj];
  if (withZ) {
    const dk = Math.max(1, Math.ceil(mm / grid.spacing[2])) * grid.nx * grid.ny;
    out.push(dk, -dk);
  }
  return out;
}

function sampleVoxels(rng: Rng, grid: Grid, count: number, attempts: number, ok: (idx: number) => boolean): number[] {
  const n = grid.data.length;
  const found: number[] = [];
  for (let a = 0; a < attempts && found.length < count; a++) {
    const idx = rng.int(0, n);
    if (ok(idx)) found.push(idx);
  }
  return found;
}

function findLandmarks(rng: Rng, grid: Grid, nodules: PlacedNodule[]): Record<SynthTissue, V3[]> {
  const { data } = grid;
  const n = data.length;
  const ring = neighbourOffsets(grid, 0, false);
  const all = (idx: number, pred: (v: number) => boolean): boolean =>
    pred(data[idx]) && ring.every((o) => idx + o >= 0 && idx + o < n && pred(data[idx + o]));
  const lungNbrs = neighbourOffsets(grid, 3, true);
  const emptyLung = (idx: number): boolean =>
    isLungHu(data[idx]) && lungNbrs.every((o) => idx + o >= 0 && idx + o < n && isLungHu(data[idx + o]));
  const pick = (pred: (idx: number) => boolean): V3[] =>
    sampleVoxels(rng, grid, 16, 40_000, pred).map((i) => grid.world(i).map(r6) as V3);
  return {
    air: pick((i) => all(i, (v) => v === SYNTH_HU.air)),
    fat: pick((i) => all(i, (v) => v === SYNTH_HU.fat)),
    soft: pick((i) => all(i, (v) => v === SYNTH_HU.soft)),
    lung: pick((i) => emptyLung(i) && !nearNodule(grid.world(i), nodules, 5)),
    bone: pick((i) => all(i, (v) => v >= SYNTH_HU.cancellousBone)),
  };
}

// ---------------------------------------------------------------------------------------------
// Noise: a table of Gaussian samples indexed by a counter-based hash (fast, exact integers).

function addNoise(rng: Rng, data: Int16Array, sd: number): void {
  const table = new Int16Array(65536);
  for (let i = 0; i < table.length; i++) table[i] = Math.round(rng.normal(0, sd));
  const seed = rng.int(0, 2 ** 32) | 0;
  const n = data.length;
  let i = 0;
  for (let k = 0; i < n; k++) {
    // murmur3's fmix32 of a Weyl sequence: two 16-bit table indices per hash.
    let h = (Math.imul(k, 0x9e3779b1) ^ seed) | 0;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    h ^= h >>> 16;
    data[i] += table[h & 0xffff];
    i++;
    if (i < n) {
      data[i] += table[h >>> 16];
      i++;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Scans.

export interface GenerateScanOptions {
  size: SynthSize;
  seed: number | string;
  /** Scan number within the dataset (0-based); scan n is the same whatever the scan count. */
  index: number;
  subsets?: number;
}

function makeUid(rng: Rng, index: number): string {
  // LUNA16-like: a dotted numeric DICOM UID under a made-up root, unique by index, random tail.
  let tail = String(rng.int(1, 10));
  for (let i = 0; i < 23; i++) tail += String(rng.int(0, 10));
  return `1.3.6.1.4.1.55555.1.2.${index + 1}.${tail}`;
}

export function generateScan(opts: GenerateScanOptions): SynthScan {
  const { size, index } = opts;
  const subsets = opts.subsets ?? 1;
  const spec = SIZES[size];
  if (!spec) throw new RangeError(`unknown synthetic size "${String(size)}" (tiny, small, full)`);
  if (!Number.isInteger(index) || index < 0) throw new RangeError(`scan index must be an integer >= 0, got ${index}`);
  const rng = createRng(opts.seed).fork(`synthetic/${size}/scan/${index}`);
  const geo = rng.fork('geometry');

  const sxy = r6(spec.spacingXy * geo.uniform(0.95, 1.06));
  const spacing: V3 = [sxy, sxy, spec.spacingZ];
  const fov: V3 = [spec.shape[2] * sxy, spec.shape[1] * sxy, spec.shape[0] * spec.spacingZ];
  const origin: V3 = [
    r6(Math.round((-fov[0] / 2 + geo.uniform(-10, 10)) * 1000) / 1000),
    r6(Math.round((-fov[1] / 2 + geo.uniform(-25, 10)) * 1000) / 1000),
    r6(Math.round(geo.uniform(-380, -220) * 4) / 4),
  ];
  const shape = synthScanShape(size);
  const grid = new Grid(shape, origin, spacing);
  const seriesUid = makeUid(rng.fork('uid'), index);

  const anatomy = sampleAnatomy(rng.fork('anatomy'), grid);
  paintAnatomy(grid, anatomy);

  // A voxel's centre is at most half its diagonal from any point; structures at least this
  // thick (plus the soft edge) have full intensity at the voxel nearest their centre.
  const halfDiag = 0.5 * Math.sqrt(spacing[0] ** 2 + spacing[1] ** 2 + spacing[2] ** 2);
  const solidMin = halfDiag + EDGE + 0.25;

  const nodules = placeNodules(rng.fork('nodules'), grid, anatomy, solidMin);
  const vesselRng = rng.fork('vessels');
  const segs = growVessels(vesselRng, grid, anatomy, Math.max(0.8, 0.3 * sxy));

  // Candidates that need the bare anatomy (lung vs not) are found before painting structures.
  const cr = rng.fork('candidates');
  const wall = wallCandidates(cr, grid, anatomy, nodules, cr.int(4, 9));
  const vessel = vesselCandidates(cr, grid, segs, nodules, cr.int(8, 15));

  for (const s of segs) renderSegment(grid, s);
  for (const n of nodules) renderNodule(grid, n);

  const lungNbrs = neighbourOffsets(grid, 3, true);
  const emptyLung = (idx: number): boolean =>
    isLungHu(grid.data[idx]) &&
    lungNbrs.every((o) => idx + o >= 0 && idx + o < grid.data.length && isLungHu(grid.data[idx + o])) &&
    !nearNodule(grid.world(idx), nodules, 8);
  const lung = sampleVoxels(cr, grid, cr.int(4, 9), 20_000, emptyLung).map((i) => grid.world(i).map(r6) as V3);

  const candidates: SynthCandidate[] = [];
  for (const n of nodules) {
    const copies = cr.chance(0.25) ? 2 : 1;
    for (let c = 0; c < copies; c++) {
      // Strictly inside the d/4 box, with room for decimal rounding.
      const j = (n.diameterMm / 4) * 0.8;
      const xyz = n.xyz.map((v) => r6(v + cr.uniform(-j, j))) as Xyz;
      candidates.push({ seriesUid, xyz, isNodule: true, kind: 'nodule' });
    }
  }
  for (const p of vessel) candidates.push({ seriesUid, xyz: p, isNodule: false, kind: 'vessel' });
  for (const p of wall) candidates.push({ seriesUid, xyz: p, isNodule: false, kind: 'wall' });
  for (const p of lung) candidates.push({ seriesUid, xyz: p, isNodule: false, kind: 'lung' });
  cr.shuffle(candidates);

  const landmarks = findLandmarks(rng.fork('landmarks'), grid, nodules);
  addNoise(rng.fork('noise'), grid.data, rng.fork('noise-level').uniform(18, 24));

  return {
    seriesUid,
    subset: index % subsets,
    size,
    shape,
    spacing,
    origin,
    data: grid.data,
    nodules: nodules.map(({ rot: _rot, ...n }) => n),
    candidates,
    landmarks,
  };
}

// ---------------------------------------------------------------------------------------------
// Files.

function num(v: number): string {
  return String(r6(v));
}

/** A LUNA16 `.mhd` header, field for field as the dataset writes them (LF line ends). */
export function luna16MhdHeader(opts: {
  dataFile: string;
  /** [index, row, col] */
  shape: Irc;
  /** mm, x y z */
  spacing: Vec3;
  origin: Vec3;
}): string {
  const [nz, ny, nx] = opts.shape;
  return [
    'ObjectType = Image',
    'NDims = 3',
    'BinaryData = True',
    'BinaryDataByteOrderMSB = False',
    'CompressedData = False',
    'TransformMatrix = 1 0 0 0 1 0 0 0 1',
    `Offset = ${opts.origin.map(num).join(' ')}`,
    'CenterOfRotation = 0 0 0',
    'AnatomicalOrientation = RAI',
    `ElementSpacing = ${opts.spacing.map(num).join(' ')}`,
    `DimSize = ${nx} ${ny} ${nz}`,
    'ElementType = MET_SHORT',
    `ElementDataFile = ${opts.dataFile}`,
    '',
  ].join('\n');
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** int16 little-endian bytes of a volume (a view, no copy, on little-endian hosts). */
export function int16LeBytes(data: Int16Array): Uint8Array {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (LITTLE_ENDIAN) return bytes;
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i += 2) {
    out[i] = bytes[i + 1];
    out[i + 1] = bytes[i];
  }
  return out;
}

/** The scan's `.mhd` and `.raw`, at their LUNA16 paths. */
export function synthScanFiles(scan: SynthScan): [SynthFile, SynthFile] {
  const dir = `subset${scan.subset}`;
  const header = luna16MhdHeader({
    dataFile: `${scan.seriesUid}.raw`,
    shape: scan.shape,
    spacing: scan.spacing,
    origin: scan.origin,
  });
  return [
    { path: `${dir}/${scan.seriesUid}.mhd`, bytes: new TextEncoder().encode(header) },
    { path: `${dir}/${scan.seriesUid}.raw`, bytes: int16LeBytes(scan.data) },
  ];
}

/** The scan as the readers would return it, without a round trip through bytes. */
export function synthVolume(scan: SynthScan): Volume<Int16Array> {
  return {
    seriesUid: scan.seriesUid,
    format: 'metaimage',
    shape: scan.shape,
    spacing: scan.spacing,
    origin: scan.origin,
    direction: IDENTITY,
    data: scan.data,
    files: [`${scan.seriesUid}.mhd`, `${scan.seriesUid}.raw`],
    warnings: [],
  };
}

export function synthAnnotations(scan: SynthScan): Annotation[] {
  return scan.nodules.map((n) => ({ seriesUid: scan.seriesUid, xyz: [...n.xyz] as Xyz, diameterMm: n.diameterMm }));
}

/** The scan's nodules with the generator's malignancy label: part-solid is malignant. */
export function synthMalignancy(scan: SynthScan): MalignancyAnnotation[] {
  return scan.nodules.map((n) => ({
    seriesUid: scan.seriesUid,
    xyz: [...n.xyz] as Xyz,
    diameterMm: n.diameterMm,
    malignant: n.kind === 'part-solid',
  }));
}

function validateOptions(opts: SynthOptions): void {
  if (!Number.isInteger(opts.scans) || opts.scans < 0)
    throw new RangeError(`scans must be an integer >= 0, got ${opts.scans}`);
  const subsets = opts.subsets ?? 1;
  if (!Number.isInteger(subsets) || subsets < 1)
    throw new RangeError(`subsets must be an integer >= 1, got ${subsets}`);
  if (!(opts.size in SIZES)) throw new RangeError(`unknown synthetic size "${String(opts.size)}" (tiny, small, full)`);
  if (!Number.isFinite(opts.seed)) throw new RangeError(`seed must be a finite number, got ${opts.seed}`);
}

/**
 * The dataset as files: each scan's `.mhd` then `.raw` (one scan in memory at a time), then
 * `annotations.csv` and `candidates.csv` (and `annotations_with_malignancy.csv` with `malignancy`).
 */
export function* generateSynthetic(opts: SynthOptions): Generator<SynthFile> {
  validateOptions(opts);
  const annotations: Annotation[] = [];
  const candidates: Candidate[] = [];
  const malignancy: MalignancyAnnotation[] = [];
  for (let index = 0; index < opts.scans; index++) {
    const scan = generateScan({ size: opts.size, seed: opts.seed, index, subsets: opts.subsets });
    annotations.push(...synthAnnotations(scan));
    if (opts.malignancy) malignancy.push(...synthMalignancy(scan));
    for (const c of scan.candidates) candidates.push({ seriesUid: c.seriesUid, xyz: c.xyz, isNodule: c.isNodule });
    const [mhd, raw] = synthScanFiles(scan);
    yield mhd;
    yield raw;
  }
  const enc = new TextEncoder();
  yield { path: 'annotations.csv', bytes: enc.encode(formatAnnotationsCsv(annotations)) };
  yield { path: 'candidates.csv', bytes: enc.encode(formatCandidatesCsv(candidates)) };
  if (opts.malignancy) {
    yield { path: 'annotations_with_malignancy.csv', bytes: enc.encode(formatMalignancyCsv(malignancy)) };
  }
}
