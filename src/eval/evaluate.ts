/**
 * The evaluation job, for the page (inference worker) and `luna-lab eval` alike: every
 * candidate of every listed scan is cropped from a `CropSource` at the classifier's crop size,
 * scored in batches, and the scores judged against the annotations as LUNA16 does (FROC, CPM;
 * froc.ts). Candidates outside their scan are left out with candidate-selection's warning.
 *
 * Scans are taken one at a time in the order listed, and the next is asked for only when the
 * previous is scored, so a caller streaming scans from disk (an async iterable) holds one
 * volume. Predictions come back in the order the candidates were given. The classifier is a
 * function of a batch of crops (clamped HU as float32, [N, D, H, W], x fastest) to p(nodule),
 * so onnxruntime-web, tfjs or a test's fake fit alike.
 *
 * The FROC is LUNA16's official one (froc.ts): excluded findings, the 100-mark limit per scan,
 * the bootstrap band. `scanList` (seriesuids.csv) is what it divides false positives by; a listed
 * scan that was never scored (it failed to load, or is not in the data) counts with no marks, as
 * the official script counts it, and is named in `unscored`.
 */
import type { CropSize } from '../data/crop.ts';
import type { CropSource } from '../data/crop-source.ts';
import { isInsideScan, outsideWarning } from '../data/candidate-selection.ts';
import { xyzToIrc } from '../data/geometry.ts';
import type { Xyz } from '../data/luna-csv.ts';
import { froc, type FrocOptions, type FrocResult, type Nodule } from './froc.ts';

/** Crops per classifier call, the page's and the CLI's. */
export const EVAL_BATCH = 16;

/** p(nodule) for `n` crops laid out one after the other in `x`. */
export type Classifier = (x: Float32Array, n: number) => Promise<ArrayLike<number>>;

export interface EvalCandidate {
  seriesUid: string;
  xyz: Xyz;
  /** The table's class. */
  isNodule: boolean;
}

export interface CandidatePrediction {
  seriesUid: string;
  xyz: readonly [number, number, number];
  /** candidates.csv's class. */
  isNodule: boolean;
  probability: number;
}

export interface EvaluateProgress {
  /** Candidates scored so far, all scans. */
  done: number;
  /** Candidates of the listed scans, when the list is an array; null for a stream. */
  total: number | null;
  seriesUid: string;
  /** Of this scan's candidates (inside it), scored so far; equal once the scan is done. */
  seriesDone: number;
  seriesTotal: number;
}

export interface EvaluateJob {
  source: CropSource;
  /** The scans scored, in order: without `scanList`, FROC counts exactly these (false positives per scan). */
  series: Iterable<string> | AsyncIterable<string>;
  /** Candidates to score; those of scans not listed are ignored. */
  candidates: readonly EvalCandidate[];
  annotations: readonly Nodule[];
  /** annotations_excluded.csv's findings, the mark limit and the band, as froc() takes them. */
  froc?: FrocOptions;
  /** The scans FROC counts (seriesuids.csv); default the scans scored. */
  scanList?: readonly string[];
  classify: Classifier;
  crop: CropSize;
  /** Crops per `classify` call (default `EVAL_BATCH`). */
  batch?: number;
  /** Once per batch, and once for a scan with no candidates. */
  progress?: (p: EvaluateProgress) => void;
}

export interface EvaluateResult {
  froc: FrocResult;
  predictions: CandidatePrediction[];
  scans: string[];
  /** Scans of `scanList` that were not scored: they count with no marks. */
  unscored: string[];
  /** Candidates left out because they lie outside their scan. */
  outside: number;
  /** The outside-scan warning, when any were. */
  warnings: string[];
  /** Time spent cropping and scoring (not waiting for the next scan of a stream). */
  scoreSeconds: number;
}

export async function evaluate(job: EvaluateJob): Promise<EvaluateResult> {
  const batch = Math.max(1, job.batch ?? EVAL_BATCH);
  const vox = job.crop[0] * job.crop[1] * job.crop[2];
  // Candidates by scan, each with its place in the caller's order.
  const byScan = new Map<string, { c: EvalCandidate; at: number }[]>();
  job.candidates.forEach((c, at) => {
    const list = byScan.get(c.seriesUid);
    if (list) list.push({ c, at });
    else byScan.set(c.seriesUid, [{ c, at }]);
  });
  const listed = Array.isArray(job.series) ? (job.series as readonly string[]) : null;
  const total = listed ? [...new Set(listed)].reduce((n, uid) => n + (byScan.get(uid)?.length ?? 0), 0) : null;

  const scans: string[] = [];
  const seen = new Set<string>();
  const scored: { at: number; p: CandidatePrediction }[] = [];
  let outside = 0;
  let seconds = 0;
  for await (const uid of job.series) {
    if (seen.has(uid)) continue; // a scan listed twice counts once
    seen.add(uid);
    scans.push(uid);
    const t = performance.now();
    const geometry = await job.source.series(uid);
    const mine = byScan.get(uid) ?? [];
    const inside = mine.filter(({ c }) => isInsideScan(c.xyz, geometry));
    outside += mine.length - inside.length;
    if (!inside.length) job.progress?.({ done: scored.length, total, seriesUid: uid, seriesDone: 0, seriesTotal: 0 });
    for (let from = 0; from < inside.length; from += batch) {
      const part = inside.slice(from, from + batch);
      const crops = await Promise.all(part.map(({ c }) => job.source.crop(uid, xyzToIrc(c.xyz, geometry), job.crop)));
      const x = new Float32Array(part.length * vox);
      crops.forEach((c, i) => x.set(c, i * vox));
      const p = await job.classify(x, part.length);
      part.forEach(({ c, at }, i) =>
        scored.push({ at, p: { seriesUid: c.seriesUid, xyz: c.xyz, isNodule: c.isNodule, probability: p[i] } }),
      );
      job.progress?.({
        done: scored.length,
        total,
        seriesUid: uid,
        seriesDone: from + part.length,
        seriesTotal: inside.length,
      });
    }
    seconds += (performance.now() - t) / 1000;
  }
  const predictions = scored.sort((a, b) => a.at - b.at).map((s) => s.p);
  const scanList = job.scanList ? [...new Set(job.scanList)] : scans;
  return {
    froc: froc(predictions, job.annotations, scanList, job.froc),
    predictions,
    scans,
    unscored: scanList.filter((uid) => !seen.has(uid)),
    outside,
    warnings: outside ? [outsideWarning(outside)] : [],
    scoreSeconds: seconds,
  };
}
