/**
 * LUNA16's evaluation: the FROC curve, the CPM (Competition Performance Metric) and the bootstrap
 * confidence band of CAD marks against the nodules of `annotations.csv`, as the challenge's
 * `noduleCADEvaluationLUNA16.py` (evaluateCAD, computeFROC, computeFROC_bootstrap) computes
 * them. Pure: runs in Node and the browser.
 *
 * Rules (the script's, with the script's names in brackets):
 * - Only the listed scans count [seriesUIDs, from seriesuids.csv]; marks and nodules of other
 *   scans are ignored. A listed scan without marks (none given, or it failed to load) still
 *   counts in the FP rate's divisor and its nodules are misses. A scan listed twice counts once
 *   (the script would count it twice; seriesuids.csv lists each once).
 * - The per-scan mark limit [maxNumberOfCADMarks = 100], applied before any matching: a scan with
 *   more than 100 marks keeps only those whose probability is STRICTLY above the 101st highest
 *   probability. So marks tied at the cut all go, and such a scan keeps fewer than 100 (101 marks
 *   of equal probability keep none), exactly as the script does.
 * - A mark HITS a finding of its own scan when its squared Euclidean distance (world mm) to the
 *   finding's centre is strictly below the squared radius, (diameter_mm / 2)²; a diameter below
 *   0 (annotations_excluded.csv's −1) means 10 mm.
 * - A nodule hit by several marks counts once, with their highest probability; the other hits
 *   are neither true nor false positives [doubleCandidatesIgnored]. A mark that hits two nodules
 *   counts for both.
 * - Excluded findings [annotations_excluded.csv, bOtherNodulesAsIrrelevant]: a mark that hits no
 *   nodule but lies inside an excluded finding is ignored [irrelevantCandidates]: neither hit nor
 *   false positive. A mark inside both a nodule and an excluded finding is the nodule's hit (the
 *   script matches the included findings first).
 * - A nodule no mark hits is a miss: it stays in the sensitivity's denominator only.
 * - Every other mark is a false positive.
 * - The curve: for each distinct probability t (descending; ties form one point), TP(t) = nodules
 *   whose best hit has p ≥ t, FP(t) = false positives with p ≥ t; sensitivity = TP/nodules and
 *   FPs per scan = FP/scans, plus the point (0, 0). This is sklearn's `roc_curve` rescaled as the
 *   script rescales it (`fps = fpr · negatives / scans`, `sens = tpr · detected / nodules`), with
 *   those very operations so the doubles agree; with no false positives at all fps is 0 (the
 *   script's border case). We keep every threshold; sklearn's drop_intermediate drops collinear
 *   points, which does not move the interpolant.
 * - Sensitivity at a FP rate x is the script's `np.interp(x, fps, sens)`: linear interpolation
 *   between the curve's neighbouring points; at a run of equal fps the last (highest) point;
 *   left of the curve its first value, right of it its last. The script samples that interpolant
 *   on a 10001-point grid for its plot; we evaluate it at the seven rates themselves. (The
 *   leaderboard's later `getCPM` took the raw point nearest each rate instead; the difference is
 *   at most one step of the curve.)
 * - CPM = mean sensitivity at 1/8, 1/4, 1/2, 1, 2, 4, 8 FPs per scan.
 * - The band [computeFROC_bootstrap, 1000 samples, confidence 0.95]: each sample draws as many
 *   scans as are listed, with replacement, and pools their FROC entries (hit nodules, misses,
 *   false positives; a scan drawn twice counts twice, a drawn scan with no entries adds nothing
 *   but the divisor stays the number of listed scans); the sample's curve is built as above. Per
 *   rate the sorted sample sensitivities give mean, lower = sorted[⌊0.025·n⌋], upper =
 *   sorted[⌊0.975·n⌋] (the script's indices, same arithmetic). The draws come from the lab's
 *   seeded RNG (src/data/rng.ts), not NumPy's global one, so a band is reproducible.
 *
 * Where the lab still differs from the script, and why:
 * - No detection at all (no mark hits any nodule): the script's sensitivities are NaN (sklearn's
 *   tpr is 0/0) and with no marks at all it stops with sklearn's ValueError. The lab gives
 *   sensitivity 0 (the true TP/nodules) and says so in `warnings`: NaN would travel into JSON as
 *   null and into MLflow and run lists as a missing value. A bootstrap sample without a detection
 *   likewise counts as 0 where the script's NaN would make the mean NaN.
 * - The band is computed at the seven rates (and the CPM's band from each sample's CPM, which the
 *   script does not report), in float64; the script interpolates each sample on a 10000-point
 *   grid from 0.125 to 8 (which misses 0.25 … 4) and keeps float32.
 * - A diameter of exactly 0 or not a number is refused (the script would keep a nodule nobody can
 *   hit); a probability that is not a finite number is refused (the script would sort NaN).
 * - No listed scan has a nodule: refused (the script divides by zero and plots nothing).
 */

import { createRng } from '../data/rng.ts';

export type Xyz = readonly [number, number, number];

export interface ScoredCandidate {
  seriesUid: string;
  /** World centre, mm, x y z. */
  xyz: Xyz;
  /** The model's p(nodule). */
  probability: number;
}

export interface Nodule {
  seriesUid: string;
  xyz: Xyz;
  /** Below 0 (annotations_excluded.csv's −1): 10 mm, as the script reads it. */
  diameterMm: number;
}

export interface FrocPoint {
  fpsPerScan: number;
  sensitivity: number;
  /** Candidates with p ≥ threshold are marks (Infinity for the (0, 0) point). */
  threshold: number;
}

/** The bootstrap band at one FP rate. */
export interface FrocBandPoint {
  fpsPerScan: number;
  mean: number;
  lower: number;
  upper: number;
}

export interface FrocBand {
  samples: number;
  confidence: number;
  seed: number | string;
  /** At each of `CPM_FPS`, in order. */
  sensitivities: FrocBandPoint[];
  /** The same statistics of each sample's CPM (the lab's addition; the script has none). */
  cpm: { mean: number; lower: number; upper: number };
}

export interface FrocResult {
  /** The curve, FPs per scan non-decreasing, from (0, 0). */
  curve: FrocPoint[];
  /** Sensitivity at each of `CPM_FPS`, in order. */
  sensitivities: { fpsPerScan: number; sensitivity: number }[];
  cpm: number;
  scans: number;
  nodules: number;
  /** Nodules hit by at least one mark (the sensitivity with every mark, times nodules). */
  detected: number;
  /** Marks given for the listed scans, before the per-scan limit. */
  candidates: number;
  falsePositives: number;
  /** Hits beyond the best one per nodule, ignored as the script ignores them. */
  duplicateHits: number;
  /** Marks inside an excluded finding (and no nodule): neither hit nor false positive. */
  excludedMarks: number;
  /** Marks dropped by the per-scan limit. */
  overLimit: number;
  /** The per-scan limit applied (Infinity: none). */
  maxMarksPerScan: number;
  /** The bootstrap band, unless turned off. */
  band: FrocBand | null;
  /** Where this result departs from what the script would print (the degenerate cases). */
  warnings: string[];
}

export interface FrocOptions {
  /** annotations_excluded.csv's findings (default none). */
  excluded?: readonly Nodule[];
  /** The script's maxNumberOfCADMarks: default `LUNA16_MAX_MARKS`; 0, below 0 (the script's −1) or Infinity: no limit. */
  maxMarksPerScan?: number;
  /** The band: `false` for none; default 1000 samples, confidence 0.95, seed `FROC_BOOTSTRAP_SEED`. */
  bootstrap?: false | { samples?: number; confidence?: number; seed?: number | string };
}

/** LUNA16's operating points, false positives per scan. */
export const CPM_FPS = [0.125, 0.25, 0.5, 1, 2, 4, 8] as const;
/** The script's maxNumberOfCADMarks. */
export const LUNA16_MAX_MARKS = 100;
/** The script's bNumberOfBootstrapSamples and bConfidence. */
export const LUNA16_BOOTSTRAP_SAMPLES = 1000;
export const LUNA16_CONFIDENCE = 0.95;
export const FROC_BOOTSTRAP_SEED = 0;
/** What the script takes a diameter below 0 for. */
export const UNKNOWN_DIAMETER_MM = 10;

export class FrocError extends Error {
  override name = 'FrocError';
}

/** FROC entries, sorted by probability, descending: the best hit of each detected nodule, and each false positive. */
interface Entries {
  p: Float64Array;
  tp: Uint8Array;
  scan: Uint32Array;
}

function radiusSquared(f: Nodule, what: string): number {
  const d = f.diameterMm;
  if (!Number.isFinite(d) || d === 0)
    throw new FrocError(
      `${what} of ${f.seriesUid} at (${f.xyz.join(', ')}): diameter_mm ${d} is not a positive number (or −1 for unknown)`,
    );
  return ((d < 0 ? UNKNOWN_DIAMETER_MM : d) / 2) ** 2;
}

function inside(c: ScoredCandidate, f: Nodule, r2: number): boolean {
  const dx = f.xyz[0] - c.xyz[0];
  const dy = f.xyz[1] - c.xyz[1];
  const dz = f.xyz[2] - c.xyz[2];
  return dx * dx + dy * dy + dz * dz < r2;
}

/** The script's per-scan limit: more than `max` marks keep those strictly above the (max+1)-th highest p. */
export function limitMarks<T extends { probability: number }>(marks: readonly T[], max: number): T[] {
  if (!(marks.length > max)) return [...marks];
  const probs = marks.map((m) => m.probability).sort((a, b) => b - a);
  const cut = probs[max];
  return marks.filter((m) => m.probability > cut);
}

export function froc(
  candidates: readonly ScoredCandidate[],
  nodules: readonly Nodule[],
  scans: readonly string[],
  opts: FrocOptions = {},
): FrocResult {
  const scanList = [...new Set(scans)];
  if (scanList.length === 0) throw new FrocError('no scans to evaluate');
  const asked = opts.maxMarksPerScan ?? LUNA16_MAX_MARKS;
  if (Number.isNaN(asked)) throw new FrocError('maxMarksPerScan NaN is not a count');
  const max = asked > 0 ? asked : Infinity; // the script's `maxNumberOfCADMarks > 0` test
  const index = new Map(scanList.map((uid, i) => [uid, i]));
  const per = scanList.map(() => ({
    nodules: [] as Nodule[],
    excluded: [] as Nodule[],
    marks: [] as ScoredCandidate[],
  }));
  for (const n of nodules) {
    radiusSquared(n, 'nodule');
    const i = index.get(n.seriesUid);
    if (i !== undefined) per[i].nodules.push(n);
  }
  for (const n of opts.excluded ?? []) {
    radiusSquared(n, 'excluded finding');
    const i = index.get(n.seriesUid);
    if (i !== undefined) per[i].excluded.push(n);
  }
  let counted = 0;
  for (const c of candidates) {
    if (!Number.isFinite(c.probability))
      throw new FrocError(
        `candidate of ${c.seriesUid} at (${c.xyz.join(', ')}): probability ${c.probability} is not a number`,
      );
    const i = index.get(c.seriesUid);
    if (i !== undefined) {
      per[i].marks.push(c);
      counted++;
    }
  }
  const lesions = per.map((s) => s.nodules.length);
  const totalNodules = lesions.reduce((a, b) => a + b, 0);
  if (totalNodules === 0)
    throw new FrocError(
      `the ${scanList.length} scan(s) have no annotated nodules: FROC needs annotations.csv rows for them`,
    );

  const raw: { p: number; tp: number; scan: number }[] = [];
  let duplicateHits = 0;
  let excludedMarks = 0;
  let overLimit = 0;
  let detected = 0;
  let falsePositives = 0;
  per.forEach((s, scan) => {
    const cs = limitMarks(s.marks, max);
    overLimit += s.marks.length - cs.length;
    const taken = new Uint8Array(cs.length); // hit a nodule, or ignored on an excluded finding
    for (const n of s.nodules) {
      const r2 = radiusSquared(n, 'nodule');
      let best = -Infinity;
      let hits = 0;
      for (let i = 0; i < cs.length; i++) {
        if (!inside(cs[i], n, r2)) continue;
        taken[i] = 1;
        hits++;
        if (cs[i].probability > best) best = cs[i].probability;
      }
      if (hits > 0) {
        raw.push({ p: best, tp: 1, scan });
        detected++;
        duplicateHits += hits - 1;
      }
    }
    for (const f of s.excluded) {
      const r2 = radiusSquared(f, 'excluded finding');
      for (let i = 0; i < cs.length; i++) {
        if (taken[i] || !inside(cs[i], f, r2)) continue;
        taken[i] = 2;
        excludedMarks++;
      }
    }
    for (let i = 0; i < cs.length; i++) {
      if (taken[i]) continue;
      raw.push({ p: cs[i].probability, tp: 0, scan });
      falsePositives++;
    }
  });
  raw.sort((a, b) => b.p - a.p);
  const entries: Entries = {
    p: Float64Array.from(raw, (e) => e.p),
    tp: Uint8Array.from(raw, (e) => e.tp),
    scan: Uint32Array.from(raw, (e) => e.scan),
  };

  const arrays = newCurveArrays(raw.length);
  const points = weightedCurve(entries, null, totalNodules, scanList.length, arrays);
  const curve: FrocPoint[] = [];
  for (let i = 0; i < points; i++)
    curve.push({ fpsPerScan: arrays.fps[i], sensitivity: arrays.sens[i], threshold: arrays.thr[i] });
  const sensitivities = CPM_FPS.map((x) => ({
    fpsPerScan: x,
    sensitivity: interpArrays(x, arrays.fps, arrays.sens, points),
  }));

  const warnings: string[] = [];
  if (detected === 0) {
    warnings.push(
      counted === 0
        ? "no marks on the listed scans: sensitivity 0 at every rate (LUNA16's script stops with a ValueError from sklearn here)"
        : "no mark hits any nodule: sensitivity 0 at every rate (LUNA16's script prints NaN here, sklearn's tpr being 0/0)",
    );
  }
  const band = opts.bootstrap === false ? null : bootstrapBand(entries, lesions, scanList.length, opts.bootstrap ?? {});
  return {
    curve,
    sensitivities,
    cpm: sensitivities.reduce((a, s) => a + s.sensitivity, 0) / sensitivities.length,
    scans: scanList.length,
    nodules: totalNodules,
    detected,
    candidates: counted,
    falsePositives,
    duplicateHits,
    excludedMarks,
    overLimit,
    maxMarksPerScan: max,
    band,
    warnings,
  };
}

interface CurveArrays {
  fps: Float64Array;
  sens: Float64Array;
  thr: Float64Array;
}

function newCurveArrays(entries: number): CurveArrays {
  return {
    fps: new Float64Array(entries + 1),
    sens: new Float64Array(entries + 1),
    thr: new Float64Array(entries + 1),
  };
}

/**
 * sklearn's roc_curve points (every distinct threshold among the entries present, plus (0, 0)),
 * rescaled as the script does; each entry counts `w[its scan]` times (null: once). Fills `out`,
 * returns the number of points.
 */
function weightedCurve(e: Entries, w: Float64Array | null, lesions: number, scans: number, out: CurveArrays): number {
  const n = e.p.length;
  let detected = 0;
  let negatives = 0;
  for (let i = 0; i < n; i++) {
    const k = w ? w[e.scan[i]] : 1;
    if (e.tp[i]) detected += k;
    else negatives += k;
  }
  // The script's arithmetic, operation for operation: fpr·negatives/scans, tpr·detected/lesions.
  // No false positives: fps 0 (its border case). No detection: 0 where the script has NaN.
  let points = 0;
  const push = (tp: number, fp: number, threshold: number) => {
    out.fps[points] = negatives === 0 ? 0 : ((fp / negatives) * negatives) / scans;
    out.sens[points] = detected === 0 ? 0 : ((tp / detected) * detected) / lesions;
    out.thr[points] = threshold;
    points++;
  };
  push(0, 0, Infinity);
  let tp = 0;
  let fp = 0;
  let present = false;
  for (let i = 0; i < n; i++) {
    const k = w ? w[e.scan[i]] : 1;
    if (k > 0) {
      present = true;
      if (e.tp[i]) tp += k;
      else fp += k;
    }
    if (i + 1 < n && e.p[i + 1] === e.p[i]) continue; // ties: one threshold
    if (present) push(tp, fp, e.p[i]);
    present = false;
  }
  return points;
}

/** The script's FROC of best-hit probabilities and false-positive probabilities (every threshold, plus (0, 0)). */
export function frocCurve(
  tpProbs: readonly number[],
  fpProbs: readonly number[],
  totalNodules: number,
  scans: number,
): FrocPoint[] {
  const raw = [...tpProbs.map((p) => ({ p, tp: 1 })), ...fpProbs.map((p) => ({ p, tp: 0 }))].sort((a, b) => b.p - a.p);
  const e: Entries = {
    p: Float64Array.from(raw, (r) => r.p),
    tp: Uint8Array.from(raw, (r) => r.tp),
    scan: new Uint32Array(raw.length),
  };
  const a = newCurveArrays(raw.length);
  const points = weightedCurve(e, null, totalNodules, scans, a);
  return Array.from({ length: points }, (_, i) => ({
    fpsPerScan: a.fps[i],
    sensitivity: a.sens[i],
    threshold: a.thr[i],
  }));
}

/** `np.interp(x, xp, fp)` for non-decreasing xp, point i being (xp(i), fp(i)): the last point with xp ≤ x, linear to the next. */
function interpBy(x: number, n: number, xp: (i: number) => number, fp: (i: number) => number): number {
  if (n === 0) return 0;
  if (x < xp(0)) return fp(0);
  let lo = 0;
  let hi = n - 1;
  if (x >= xp(hi)) return fp(hi);
  // Largest j with xp[j] ≤ x (binary search); then xp[j] ≤ x < xp[j+1].
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (xp(mid) <= x) lo = mid;
    else hi = mid;
  }
  const slope = (fp(lo + 1) - fp(lo)) / (xp(lo + 1) - xp(lo));
  return slope * (x - xp(lo)) + fp(lo);
}

function interpArrays(x: number, xp: Float64Array, fp: Float64Array, n: number): number {
  return interpBy(
    x,
    n,
    (i) => xp[i],
    (i) => fp[i],
  );
}

/** `np.interp` on a FROC curve. */
export function interp(x: number, curve: readonly FrocPoint[]): number {
  return interpBy(
    x,
    curve.length,
    (i) => curve[i].fpsPerScan,
    (i) => curve[i].sensitivity,
  );
}

/**
 * The scans each bootstrap sample draws (indices into the scan list, `scans` draws per sample,
 * with replacement), from the lab's RNG: what `froc`'s band uses, exported so a reference can be
 * fed the very same draws.
 */
export function bootstrapDraws(scans: number, samples: number, seed: number | string): Uint32Array[] {
  const rng = createRng(seed).fork('froc-bootstrap');
  return Array.from({ length: samples }, () => {
    const d = new Uint32Array(scans);
    for (let k = 0; k < scans; k++) d[k] = rng.int(0, scans);
    return d;
  });
}

/** The script's compute_mean_ci on one rate's sample values (sorted in place). */
function meanCi(v: Float64Array, confidence: number): { mean: number; lower: number; upper: number } {
  v.sort();
  const pz = (1 - confidence) / 2;
  let sum = 0;
  for (const x of v) sum += x;
  return { mean: sum / v.length, lower: v[Math.floor(pz * v.length)], upper: v[Math.floor((1 - pz) * v.length)] };
}

function bootstrapBand(
  e: Entries,
  lesions: readonly number[],
  scans: number,
  o: { samples?: number; confidence?: number; seed?: number | string },
): FrocBand {
  const samples = o.samples ?? LUNA16_BOOTSTRAP_SAMPLES;
  const confidence = o.confidence ?? LUNA16_CONFIDENCE;
  const seed = o.seed ?? FROC_BOOTSTRAP_SEED;
  if (!(Number.isInteger(samples) && samples >= 1))
    throw new FrocError(`bootstrap samples ${samples} is not a positive integer`);
  if (!(confidence > 0 && confidence < 1))
    throw new FrocError(`bootstrap confidence ${confidence} is not between 0 and 1`);
  const at = CPM_FPS.map(() => new Float64Array(samples));
  const cpm = new Float64Array(samples);
  const w = new Float64Array(scans);
  const arrays = newCurveArrays(e.p.length);
  bootstrapDraws(scans, samples, seed).forEach((draw, b) => {
    w.fill(0);
    for (const s of draw) w[s]++;
    let total = 0;
    for (let s = 0; s < scans; s++) total += w[s] * lesions[s];
    const points = weightedCurve(e, w, total, scans, arrays);
    let sum = 0;
    CPM_FPS.forEach((x, i) => {
      at[i][b] = interpArrays(x, arrays.fps, arrays.sens, points);
      sum += at[i][b];
    });
    cpm[b] = sum / CPM_FPS.length;
  });
  return {
    samples,
    confidence,
    seed,
    sensitivities: CPM_FPS.map((x, i) => ({ fpsPerScan: x, ...meanCi(at[i], confidence) })),
    cpm: meanCi(cpm, confidence),
  };
}
