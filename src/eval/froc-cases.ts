/**
 * From a point of the FROC curve to the cases behind it: at an operating point (a threshold t,
 * marks with p ≥ t), which marks are false positives and which nodules are missed — judged by
 * froc.ts's rules (the per-scan mark limit first, a hit strictly inside the radius, excluded
 * findings ignored, diameter below 0 = 10 mm), so the counts here are the curve's counts there.
 * Pure: the page's eval panel lists them and moves the viewer to each.
 */
import {
  LUNA16_MAX_MARKS,
  UNKNOWN_DIAMETER_MM,
  limitMarks,
  type FrocOptions,
  type Nodule,
  type ScoredCandidate,
  type Xyz,
} from './froc.ts';

export interface FalsePositiveCase {
  seriesUid: string;
  xyz: Xyz;
  probability: number;
}

export interface MissedCase {
  seriesUid: string;
  xyz: Xyz;
  diameterMm: number;
  /** The best p of the marks that hit it (below the threshold), or null when no mark hits it. */
  bestProbability: number | null;
}

export interface FrocCases {
  threshold: number;
  /** False positives with p ≥ threshold, highest p first. */
  falsePositives: FalsePositiveCase[];
  /** Nodules without a hit at p ≥ threshold, the nearest-to-found first (best p, descending). */
  missed: MissedCase[];
  /** Nodules hit at p ≥ threshold. */
  hit: number;
}

const r2Of = (d: number) => ((d < 0 ? UNKNOWN_DIAMETER_MM : d) / 2) ** 2;

function inside(c: { xyz: Xyz }, f: Nodule, r2: number): boolean {
  const dx = f.xyz[0] - c.xyz[0];
  const dy = f.xyz[1] - c.xyz[1];
  const dz = f.xyz[2] - c.xyz[2];
  return dx * dx + dy * dy + dz * dz < r2;
}

/** The cases at `threshold` over the listed scans (marks and nodules of other scans are ignored, as froc() ignores them). */
export function frocCasesAt(
  candidates: readonly ScoredCandidate[],
  nodules: readonly Nodule[],
  scans: readonly string[],
  threshold: number,
  opts: Pick<FrocOptions, 'excluded' | 'maxMarksPerScan'> = {},
): FrocCases {
  const asked = opts.maxMarksPerScan ?? LUNA16_MAX_MARKS;
  const max = asked > 0 ? asked : Infinity;
  const listed = new Set(scans);
  const group = <T extends { seriesUid: string }>(xs: readonly T[]) => {
    const m = new Map<string, T[]>();
    for (const x of xs) {
      if (!listed.has(x.seriesUid)) continue;
      const l = m.get(x.seriesUid);
      if (l) l.push(x);
      else m.set(x.seriesUid, [x]);
    }
    return m;
  };
  const marksBy = group(candidates);
  const nodulesBy = group(nodules);
  const excludedBy = group(opts.excluded ?? []);
  const falsePositives: FalsePositiveCase[] = [];
  const missed: MissedCase[] = [];
  let hit = 0;
  for (const uid of listed) {
    const kept = limitMarks(marksBy.get(uid) ?? [], max);
    const taken = new Uint8Array(kept.length);
    for (const n of nodulesBy.get(uid) ?? []) {
      const r2 = r2Of(n.diameterMm);
      let best = -Infinity;
      kept.forEach((c, i) => {
        if (!inside(c, n, r2)) return;
        taken[i] = 1;
        best = Math.max(best, c.probability);
      });
      if (best >= threshold) hit++;
      else
        missed.push({
          seriesUid: uid,
          xyz: n.xyz,
          diameterMm: n.diameterMm,
          bestProbability: best === -Infinity ? null : best,
        });
    }
    for (const f of excludedBy.get(uid) ?? []) {
      const r2 = r2Of(f.diameterMm);
      kept.forEach((c, i) => {
        if (!taken[i] && inside(c, f, r2)) taken[i] = 2;
      });
    }
    kept.forEach((c, i) => {
      if (!taken[i] && c.probability >= threshold)
        falsePositives.push({ seriesUid: uid, xyz: c.xyz, probability: c.probability });
    });
  }
  falsePositives.sort((a, b) => b.probability - a.probability);
  missed.sort((a, b) => (b.bestProbability ?? -1) - (a.bestProbability ?? -1));
  return { threshold, falsePositives, missed, hit };
}

/** The curve point nearest `fpsPerScan` (on the log axis the chart draws), for a click on it; of
 *  points at one rate, the last (highest sensitivity), which is where the interpolant stands. */
export function nearestPoint<P extends { fpsPerScan: number }>(curve: readonly P[], fpsPerScan: number): P | null {
  let best: P | null = null;
  let dist = Infinity;
  const lx = Math.log2(Math.max(fpsPerScan, 1e-6));
  for (const p of curve) {
    const d = Math.abs(Math.log2(Math.max(p.fpsPerScan, 1e-6)) - lx);
    if (d <= dist) {
      dist = d;
      best = p;
    }
  }
  return best;
}
