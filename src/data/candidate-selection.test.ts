/**
 * The candidate decisions made once: which table (by file name, among cached records, a run's
 * configured one), and which candidates lie inside their scan (the crop centre's voxel), with
 * the warning text callers show.
 */
import { describe, expect, it } from 'vitest';
import {
  CANDIDATE_TABLES,
  candidateTableOf,
  chooseCandidateTable,
  insideScans,
  isInsideScan,
  outsideWarning,
  preferredTable,
  selectCandidates,
  type ScanGeometry,
} from './candidate-selection.ts';
import { matchCandidates, type Annotation, type Candidate } from './luna-csv.ts';
import { IDENTITY } from './volume.ts';

// 10 slices of 20×30 voxels, 1 mm in x/y and 2 mm in z, from the origin: x ∈ [0, 30), y ∈ [0, 20), z ∈ [0, 20).
const scan: ScanGeometry = { shape: [10, 20, 30], spacing: [1, 1, 2], origin: [0, 0, 0], direction: IDENTITY };
const cand = (seriesUid: string, x: number, y: number, z: number, isNodule = false): Candidate => ({
  seriesUid,
  xyz: [x, y, z],
  isNodule,
});

describe('the candidate table', () => {
  it('is named by the file: candidates_V2 in any case, else candidates', () => {
    expect(candidateTableOf('candidates.csv')).toBe('candidates');
    expect(candidateTableOf('CANDIDATES_V2.csv')).toBe('candidates_V2');
    expect(candidateTableOf('candidates_V2.csv')).toBe('candidates_V2');
    expect(candidateTableOf('my_candidates.csv')).toBe('candidates');
  });

  it('prefers candidates.csv, then candidates_V2.csv, then the first given', () => {
    expect(CANDIDATE_TABLES).toEqual(['candidates', 'candidates_V2']);
    const byName = (f: string) => f.replace(/\.csv$/, '');
    expect(preferredTable(['candidates_V2.csv', 'candidates.csv'], byName)).toBe('candidates.csv');
    expect(preferredTable(['other.csv', 'candidates_V2.csv'], byName)).toBe('candidates_V2.csv');
    expect(preferredTable(['other.csv', 'more.csv'], byName)).toBe('other.csv');
    expect(preferredTable([], byName)).toBeUndefined();
    const records = [
      { source: 'candidates_V2', n: 1 },
      { source: 'candidates', n: 2 },
    ];
    expect(preferredTable(records, (r) => r.source)?.n).toBe(2);
  });

  it("is a run's configured table, else the preferred of those cached", () => {
    expect(chooseCandidateTable('candidates_V2', ['candidates', 'candidates_V2'])).toBe('candidates_V2');
    expect(chooseCandidateTable('candidates', ['candidates_V2'])).toBe('candidates'); // the run's, even if not cached
    expect(chooseCandidateTable(null, ['candidates_V2', 'candidates'])).toBe('candidates');
    expect(chooseCandidateTable(null, ['candidates_V2'])).toBe('candidates_V2');
    expect(chooseCandidateTable(null, [])).toBe('candidates');
  });
});

describe('candidates outside their scan', () => {
  it('are judged by the crop centre voxel (xyzToIrc, half to even)', () => {
    expect(isInsideScan([0, 0, 0], scan)).toBe(true);
    expect(isInsideScan([29.4, 19.4, 18.9], scan)).toBe(true); // col 29, row 19, index 9 (9.45 → 9)
    expect(isInsideScan([29.5, 0, 0], scan)).toBe(false); // col 30 (29.5 → 30, even)
    expect(isInsideScan([28.5, 0, 0], scan)).toBe(true); // col 28
    expect(isInsideScan([0, -0.6, 0], scan)).toBe(false);
    expect(isInsideScan([0, 0, 19], scan)).toBe(false); // index 9.5 → 10
  });

  it('are left out, in order, with the one warning text', () => {
    const list = [cand('A', 1, 1, 1), cand('A', 40, 1, 1), cand('B', 2, 2, 2), cand('B', 2, 2, -3), cand('A', 3, 3, 3)];
    const r = insideScans(list, () => scan);
    expect(r.inside).toEqual([list[0], list[2], list[4]]);
    expect(r.outside).toBe(2);
    expect(r.warnings).toEqual(["2 candidates lie outside their scan's volume and are left out"]);
    expect(outsideWarning(2)).toBe(r.warnings[0]);
    expect(insideScans(list.slice(0, 1), () => scan)).toEqual({ inside: [list[0]], outside: 0, warnings: [] });
  });

  it("throw for a candidate whose scan's geometry is unknown", () => {
    expect(() => insideScans([cand('Z', 0, 0, 0)], () => undefined)).toThrow(/series Z/);
  });
});

describe('selectCandidates', () => {
  it("is the book's matching (diameters, order) followed by the outside-scan filter", () => {
    const rows = [cand('A', 5, 5, 5), cand('A', 10, 10, 10, true), cand('A', 100, 5, 5, true), cand('B', 7, 7, 7)];
    const annotations: Annotation[] = [{ seriesUid: 'A', xyz: [10.5, 10, 10], diameterMm: 8 }];
    const r = selectCandidates(rows, annotations, () => scan);
    const matched = matchCandidates(rows, annotations).candidates;
    expect(r.inside).toEqual(matched.filter((c) => c.xyz[0] !== 100));
    expect(r.inside[0]).toMatchObject({ seriesUid: 'A', xyz: [10, 10, 10], isNodule: true, diameterMm: 8 });
    expect(r.outside).toBe(1);
    expect(r.warnings).toEqual([outsideWarning(1)]);
  });
});
