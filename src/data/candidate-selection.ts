/**
 * Which candidates a job uses, decided once: the candidate table (the book's candidates.csv
 * before candidates_V2.csv), the match to annotations (the book's `getCandidateInfoList`, in
 * luna-csv.ts), and dropping candidates whose centre lies outside their scan's volume, with
 * the warning every caller shows. Pure: the page's cache, the trainer and the CLI's folder
 * reader all call it with what they have read.
 */
import type { CandidateTable } from '../config/lab-config.ts';
import { xyzToIrc, type Geometry } from './geometry.ts';
import {
  matchCandidates,
  type Annotation,
  type Candidate,
  type CandidateInfo,
  type MalignancyAnnotation,
  type Xyz,
} from './luna-csv.ts';
import { malignancyCandidates } from './malignancy.ts';
import type { Irc, Vec3 } from './volume.ts';

/** The tables in order of preference: the book trains and evaluates on candidates.csv. */
export const CANDIDATE_TABLES: readonly CandidateTable[] = ['candidates', 'candidates_V2'];

/** The table a candidates file holds, by its name: `candidates_V2.csv` (any case), else `candidates.csv`. */
export function candidateTableOf(fileName: string): CandidateTable {
  return /candidates_v2/i.test(fileName) ? 'candidates_V2' : 'candidates';
}

/**
 * The preferred of several tables (files, cached records): the first in `CANDIDATE_TABLES`
 * order that is present, else the first given; undefined when none is.
 */
export function preferredTable<T>(items: readonly T[], tableOf: (item: T) => string): T | undefined {
  for (const t of CANDIDATE_TABLES) {
    const hit = items.find((i) => tableOf(i) === t);
    if (hit !== undefined) return hit;
  }
  return items[0];
}

/**
 * The one table choice: a run's configured table where it has one (it trained and validated
 * on it), else the preferred of those cached (a model file brings no table of its own).
 */
export function chooseCandidateTable(configured: CandidateTable | null, cached: readonly string[]): CandidateTable {
  if (configured) return configured;
  return CANDIDATE_TABLES.find((t) => cached.includes(t)) ?? CANDIDATE_TABLES[0];
}

/** What the outside-scan test needs of a scan: its shape and world geometry. */
export interface ScanGeometry extends Geometry {
  readonly shape: Irc;
}

/** Whether a world point's voxel (xyzToIrc, the crop centre) lies inside the scan. */
export function isInsideScan(xyz: Vec3, scan: ScanGeometry): boolean {
  const irc = xyzToIrc(xyz, scan);
  return irc.every((v, a) => v >= 0 && v < scan.shape[a]);
}

/** The warning for candidates left out by `insideScans`. */
export function outsideWarning(outside: number): string {
  return `${outside} candidates lie outside their scan's volume and are left out`;
}

export interface InsideResult<C> {
  inside: C[];
  /** How many were left out. */
  outside: number;
  /** `outsideWarning(outside)` when any were, else empty. */
  warnings: string[];
}

/**
 * The candidates whose centre lies inside their scan, in the given order. Every candidate's
 * scan must be known to `scanOf` (a candidate of an unknown scan is a caller's bug and throws).
 */
export function insideScans<C extends { seriesUid: string; xyz: Xyz | Vec3 }>(
  candidates: readonly C[],
  scanOf: (seriesUid: string) => ScanGeometry | undefined,
): InsideResult<C> {
  const inside = candidates.filter((c) => {
    const s = scanOf(c.seriesUid);
    if (!s) throw new Error(`candidate of series ${c.seriesUid}: the series' geometry is not known`);
    return isInsideScan(c.xyz, s);
  });
  const outside = candidates.length - inside.length;
  return { inside, outside, warnings: outside ? [outsideWarning(outside)] : [] };
}

/**
 * A training or evaluation candidate list: the table's rows matched to annotations (diameters,
 * the book's order), then those outside their scan left out.
 */
export function selectCandidates(
  rows: readonly Candidate[],
  annotations: readonly Annotation[],
  scanOf: (seriesUid: string) => ScanGeometry | undefined,
): InsideResult<CandidateInfo> {
  return insideScans(matchCandidates(rows, annotations).candidates, scanOf);
}

/**
 * The malignancy task's list (src/data/malignancy.ts: the malignancy table's nodules and the
 * table's not-nodules, the book's p2ch14 order), then those outside their scan left out.
 */
export function selectMalignancyCandidates(
  rows: readonly Candidate[],
  malignancy: readonly MalignancyAnnotation[],
  scanOf: (seriesUid: string) => ScanGeometry | undefined,
): InsideResult<CandidateInfo> {
  return insideScans(malignancyCandidates(rows, malignancy), scanOf);
}
