/**
 * LUNA16's evaluation: the FROC curve and the CPM (Competition Performance Metric) of scored
 * candidates against the nodules of `annotations.csv`, as the challenge's
 * `noduleCADEvaluationLUNA16.py` computes them. Pure: runs in Node and the browser.
 *
 * Rules (the script's, with the script's names in brackets):
 * - Only the listed scans count [seriesUIDs]; candidates and nodules of other scans are ignored.
 * - A candidate HITS a nodule of its own scan when its Euclidean distance (world mm) to the
 *   nodule's centre is strictly below the nodule's radius, diameter_mm / 2 (`dist < radius²`).
 * - A nodule hit by several candidates counts once, with their highest probability; the other
 *   hits are neither true nor false positives [doubleCandidatesIgnored]. A candidate that hits
 *   two nodules counts for both.
 * - A nodule no candidate hits is a miss: it stays in the sensitivity's denominator only.
 * - Every candidate that hits no nodule is a false positive.
 * - The curve: for each distinct probability t (descending; ties form one point), TP(t) = nodules
 *   whose best hit has p ≥ t, FP(t) = false positives with p ≥ t; sensitivity = TP/nodules and
 *   FPs per scan = FP/scans, plus the point (0, 0). This is sklearn's `roc_curve` rescaled as the
 *   script rescales it (`fps = fpr · negatives / scans`, `sens = tpr · detected / nodules`), with
 *   those very operations so the doubles agree; with no false positives at all fps is 0.
 * - Sensitivity at a FP rate x is the script's `np.interp(x, fps, sens)`: linear interpolation
 *   between the curve's neighbouring points; at a run of equal fps the last (highest) point;
 *   left of the curve its first value, right of it its last (the sensitivity with every
 *   candidate). The script samples that interpolant on a 10001-point grid for its plot; we
 *   evaluate it at the seven rates themselves. (The leaderboard's later `getCPM` took the raw
 *   point nearest each rate instead; the difference is at most one step of the curve.)
 * - CPM = mean sensitivity at 1/8, 1/4, 1/2, 1, 2, 4, 8 FPs per scan.
 * Not modelled: `annotations_excluded.csv` (marks on excluded findings are ignored by LUNA16,
 * here they are false positives) and the bootstrap confidence bands.
 */

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
  diameterMm: number;
}

export interface FrocPoint {
  fpsPerScan: number;
  sensitivity: number;
  /** Candidates with p ≥ threshold are marks (Infinity for the (0, 0) point). */
  threshold: number;
}

export interface FrocResult {
  /** The curve, FPs per scan non-decreasing, from (0, 0). */
  curve: FrocPoint[];
  /** Sensitivity at each of `CPM_FPS`, in order. */
  sensitivities: { fpsPerScan: number; sensitivity: number }[];
  cpm: number;
  scans: number;
  nodules: number;
  /** Nodules hit by at least one candidate (the sensitivity with every candidate, times nodules). */
  detected: number;
  candidates: number;
  falsePositives: number;
  /** Hits beyond the best one per nodule, ignored as the script ignores them. */
  duplicateHits: number;
}

/** LUNA16's operating points, false positives per scan. */
export const CPM_FPS = [0.125, 0.25, 0.5, 1, 2, 4, 8] as const;

export class FrocError extends Error {
  override name = 'FrocError';
}

export function froc(candidates: readonly ScoredCandidate[], nodules: readonly Nodule[], scans: readonly string[]): FrocResult {
  const scanSet = new Set(scans);
  if (scanSet.size === 0) throw new FrocError('no scans to evaluate');
  const bySeries = new Map<string, { nodules: Nodule[]; candidates: ScoredCandidate[] }>();
  for (const uid of scanSet) bySeries.set(uid, { nodules: [], candidates: [] });
  for (const n of nodules) {
    if (!(n.diameterMm > 0)) throw new FrocError(`nodule of ${n.seriesUid} at (${n.xyz.join(', ')}): diameter_mm ${n.diameterMm} is not positive`);
    bySeries.get(n.seriesUid)?.nodules.push(n);
  }
  let counted = 0;
  for (const c of candidates) {
    if (!Number.isFinite(c.probability)) throw new FrocError(`candidate of ${c.seriesUid} at (${c.xyz.join(', ')}): probability ${c.probability} is not a number`);
    const s = bySeries.get(c.seriesUid);
    if (s) {
      s.candidates.push(c);
      counted++;
    }
  }
  const totalNodules = [...bySeries.values()].reduce((k, s) => k + s.nodules.length, 0);
  if (totalNodules === 0) throw new FrocError(`the ${scanSet.size} scan(s) have no annotated nodules: FROC needs annotations.csv rows for them`);

  // Best probability per hit nodule, and the false positives' probabilities.
  const tpProbs: number[] = [];
  const fpProbs: number[] = [];
  let duplicateHits = 0;
  for (const { nodules: ns, candidates: cs } of bySeries.values()) {
    const hitSomething = new Uint8Array(cs.length);
    for (const n of ns) {
      const r2 = (n.diameterMm / 2) ** 2;
      let best = -Infinity;
      let hits = 0;
      for (let i = 0; i < cs.length; i++) {
        const c = cs[i];
        const dx = n.xyz[0] - c.xyz[0];
        const dy = n.xyz[1] - c.xyz[1];
        const dz = n.xyz[2] - c.xyz[2];
        if (dx * dx + dy * dy + dz * dz < r2) {
          hitSomething[i] = 1;
          hits++;
          if (c.probability > best) best = c.probability;
        }
      }
      if (hits > 0) {
        tpProbs.push(best);
        duplicateHits += hits - 1;
      }
    }
    for (let i = 0; i < cs.length; i++) if (!hitSomething[i]) fpProbs.push(cs[i].probability);
  }

  const curve = frocCurve(tpProbs, fpProbs, totalNodules, scanSet.size);
  const sensitivities = CPM_FPS.map((x) => ({ fpsPerScan: x, sensitivity: interp(x, curve) }));
  return {
    curve,
    sensitivities,
    cpm: sensitivities.reduce((a, s) => a + s.sensitivity, 0) / sensitivities.length,
    scans: scanSet.size,
    nodules: totalNodules,
    detected: tpProbs.length,
    candidates: counted,
    falsePositives: fpProbs.length,
    duplicateHits,
  };
}

/** sklearn's roc_curve points (every distinct threshold, plus (0, 0)), rescaled as the script does. */
export function frocCurve(tpProbs: readonly number[], fpProbs: readonly number[], totalNodules: number, scans: number): FrocPoint[] {
  const marks = [...tpProbs.map((p) => ({ p, tp: 1 })), ...fpProbs.map((p) => ({ p, tp: 0 }))].sort((a, b) => b.p - a.p);
  const detected = tpProbs.length;
  const negatives = fpProbs.length;
  const point = (tp: number, fp: number, threshold: number): FrocPoint => {
    // The script's arithmetic, operation for operation: fpr·negatives/scans, tpr·detected/total.
    const fps = negatives === 0 ? 0 : ((fp / negatives) * negatives) / scans;
    const sens = detected === 0 ? 0 : ((tp / detected) * detected) / totalNodules;
    return { fpsPerScan: fps, sensitivity: sens, threshold };
  };
  const out: FrocPoint[] = [point(0, 0, Infinity)];
  let tp = 0;
  let fp = 0;
  for (let i = 0; i < marks.length; i++) {
    tp += marks[i].tp;
    fp += 1 - marks[i].tp;
    if (i + 1 < marks.length && marks[i + 1].p === marks[i].p) continue; // ties: one threshold
    out.push(point(tp, fp, marks[i].p));
  }
  return out;
}

/** `np.interp(x, xp, fp)` for non-decreasing xp: the last point with xp ≤ x, linear to the next. */
export function interp(x: number, curve: readonly FrocPoint[]): number {
  if (curve.length === 0) return 0;
  if (x < curve[0].fpsPerScan) return curve[0].sensitivity;
  let lo = 0;
  let hi = curve.length - 1;
  if (x >= curve[hi].fpsPerScan) return curve[hi].sensitivity;
  // Largest j with xp[j] ≤ x (binary search); then xp[j] ≤ x < xp[j+1].
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (curve[mid].fpsPerScan <= x) lo = mid;
    else hi = mid;
  }
  const a = curve[lo];
  const b = curve[lo + 1];
  const slope = (b.sensitivity - a.sensitivity) / (b.fpsPerScan - a.fpsPerScan);
  return slope * (x - a.fpsPerScan) + a.sensitivity;
}
