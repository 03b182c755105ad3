/**
 * LUNA16's tables: `annotations.csv` (one row per nodule: world centre in mm and diameter) and
 * `candidates.csv` / `candidates_V2.csv` (one row per candidate location: world centre and
 * class 1 = nodule, 0 = not), parsed with papaparse, and the book's `getCandidateInfoList`
 * matching of candidates to annotations. `annotations_with_malignancy.csv` (the book's p2ch14
 * table: annotations.csv's columns plus `mal_bool` True/False per nodule) is a table of its own
 * kind, `malignancy`, told by its `mal_bool` column.
 *
 * A file whose header lacks a required column is not a table we can read: that throws a
 * `DataError`. A bad row (non-numeric coordinate, empty seriesuid, class not 0/1, negative
 * diameter) is skipped and reported as a `RowError` naming the file, line, column and value;
 * the good rows still come back. Columns are found by name (case-insensitive), so extra
 * columns (e.g. `mal_details`) and reordered columns are fine.
 */
import Papa from 'papaparse';
import { DataError } from './errors.ts';

export type LunaTableKind = 'annotations' | 'candidates' | 'malignancy';

export type Xyz = [number, number, number];

export interface Annotation {
  seriesUid: string;
  /** World centre, mm, x y z. */
  xyz: Xyz;
  diameterMm: number;
}

/** A row of `annotations_with_malignancy.csv`: a nodule and the book's malignancy label. */
export interface MalignancyAnnotation extends Annotation {
  malignant: boolean;
}

export interface Candidate {
  seriesUid: string;
  xyz: Xyz;
  isNodule: boolean;
}

export interface RowError {
  file: string;
  /** 1-based line number in the file (the header is line 1). */
  row: number;
  /** The column at fault, when one is. */
  field?: string;
  /** Self-contained, e.g. `candidates.csv:12: coordX "abc" is not a number`. */
  message: string;
}

export interface ParsedTable<T> {
  rows: T[];
  errors: RowError[];
}

export type ParsedLunaCsv =
  | { kind: 'annotations'; rows: Annotation[]; errors: RowError[] }
  | { kind: 'candidates'; rows: Candidate[]; errors: RowError[] }
  | { kind: 'malignancy'; rows: MalignancyAnnotation[]; errors: RowError[] };

/** The columns each table needs, spelled as LUNA16 spells them. */
export const LUNA_COLUMNS: Record<LunaTableKind, readonly string[]> = {
  annotations: ['seriesuid', 'coordX', 'coordY', 'coordZ', 'diameter_mm'],
  candidates: ['seriesuid', 'coordX', 'coordY', 'coordZ', 'class'],
  malignancy: ['seriesuid', 'coordX', 'coordY', 'coordZ', 'diameter_mm', 'mal_bool'],
};

function splitHeader(headerLine: string): string[] {
  return stripBom(headerLine)
    .replace(/[\r\n]+$/, '')
    .split(',')
    .map((h) =>
      h
        .trim()
        .replace(/^"(.*)"$/, '$1')
        .trim(),
    );
}

function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/**
 * Which LUNA16 table a header line belongs to: a `seriesuid` column plus `diameter_mm`
 * (annotations) or `class` (candidates, candidates_V2). Other columns are not checked here;
 * the parsers name any that are missing.
 */
export function detectLunaTable(headerLine: string): LunaTableKind | null {
  const cols = new Set(splitHeader(headerLine).map((c) => c.toLowerCase()));
  if (!cols.has('seriesuid')) return null;
  if (cols.has('mal_bool')) return 'malignancy';
  if (cols.has('diameter_mm')) return 'annotations';
  if (cols.has('class')) return 'candidates';
  return null;
}

/**
 * LUNA16 files that are not tables the lab caches, told by name: `annotations_excluded.csv`
 * has annotations.csv's very header but lists findings that are not nodules (read as
 * annotations they would replace a scan's nodules), and `seriesuids.csv` is no table at all.
 * Returns why such a file is left out of a drop (and where it is used instead), or null for
 * any other file.
 */
export function lunaFileNotCached(path: string): string | null {
  const base = (path.split('/').pop() ?? path).toLowerCase();
  if (base.startsWith('annotations_excluded')) {
    return 'LUNA16 excluded findings (not nodules): used by luna-lab eval/froc --excluded, not cached';
  }
  if (base === 'seriesuids.csv') return "LUNA16's scan list: used by luna-lab eval/froc --seriesuids, not cached";
  return null;
}

/** Up to the first line break of any convention (LF, CRLF, or old Mac CR-only). */
function firstLine(text: string): string {
  const m = /\r\n|\r|\n/.exec(text);
  return m === null ? text : text.slice(0, m.index);
}

/** A value in a message: quoted, runaway values (a 5 MB field) cut short. */
function shown(value: string, max = 60): string {
  return JSON.stringify(value.length > max ? `${value.slice(0, max - 3)}...` : value);
}

/** DICOM UIDs (PS3.5 9.1) are at most 64 characters; LUNA16's seriesuid is one. */
export const MAX_UID_LENGTH = 64;

/** Line breaks inside a row's (quoted) fields, so that line numbers stay true after it. */
function breaksIn(fields: readonly string[]): number {
  let n = 0;
  for (const f of fields) {
    if (f.indexOf('\n') < 0 && f.indexOf('\r') < 0) continue;
    n += f.match(/\r\n|\r|\n/g)?.length ?? 0;
  }
  return n;
}

/**
 * The text of a .csv: UTF-8 (BOM or not) or UTF-16 with a byte-order mark, which Excel's
 * "Unicode text" writes. UTF-32 and BOM-less UTF-16 are refused, naming the encoding, instead
 * of being decoded into NUL-riddled text that fails as a "missing column".
 */
export function decodeCsv(bytes: Uint8Array, file: string): string {
  const refuse = (encoding: string) =>
    new DataError(`${file}: the file is ${encoding}; save it as UTF-8 (or UTF-16 with a byte-order mark)`, { file });
  const b = bytes;
  if (
    b.length >= 4 &&
    ((b[0] === 0xff && b[1] === 0xfe && b[2] === 0 && b[3] === 0) ||
      (b[0] === 0 && b[1] === 0 && b[2] === 0xfe && b[3] === 0xff))
  ) {
    throw refuse('UTF-32 encoded');
  }
  if (b.length >= 2 && b[0] === 0xff && b[1] === 0xfe) return new TextDecoder('utf-16le').decode(b.subarray(2));
  if (b.length >= 2 && b[0] === 0xfe && b[1] === 0xff) return new TextDecoder('utf-16be').decode(b.subarray(2));
  // BOM-less UTF-16: ASCII text then has a NUL in every other byte of its first characters.
  if (b.length >= 4) {
    const head = b.subarray(0, Math.min(b.length, 64) & ~1);
    let even = 0;
    let odd = 0;
    for (let i = 0; i < head.length; i++) {
      if (head[i] !== 0) continue;
      if (i % 2) odd++;
      else even++;
    }
    const half = head.length / 2;
    if (odd >= half * 0.9 && even === 0) throw refuse('UTF-16 little-endian without a byte-order mark');
    if (even >= half * 0.9 && odd === 0) throw refuse('UTF-16 big-endian without a byte-order mark');
  }
  return new TextDecoder().decode(b);
}

// Plain decimal or exponent notation only: Number() would also take '0x1f', 'Infinity', ''.
const NUMBER_RE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

interface Columns {
  uid: number;
  x: number;
  y: number;
  z: number;
  last: number;
  /** diameter_mm or class */
  extra: number;
  /** mal_bool (malignancy tables only), else -1 */
  mal: number;
}

function locateColumns(header: string[], kind: LunaTableKind, file: string): Columns {
  const lower = header.map((h) => h.toLowerCase());
  const required = LUNA_COLUMNS[kind];
  const idx = required.map((name) => lower.indexOf(name.toLowerCase()));
  const missing = required.filter((_, i) => idx[i] < 0);
  if (missing.length > 0) {
    const list = missing.map((m) => `"${m}"`).join(', ');
    const text = header.join(',');
    throw new DataError(
      `${file}: missing column${missing.length > 1 ? 's' : ''} ${list} (header: ${text.length > 200 ? `${text.slice(0, 197)}...` : text})`,
      { file, field: missing.join(',') },
    );
  }
  return { uid: idx[0], x: idx[1], y: idx[2], z: idx[3], extra: idx[4], mal: idx[5] ?? -1, last: Math.max(...idx) };
}

type RowReader<T> = (
  fields: string[],
  line: number,
  cols: Columns,
  fail: (field: string | undefined, message: string) => void,
) => T | null;

/**
 * Shared driver: papaparse row by row (`step`, so 551k rows never sit in memory as string
 * arrays), without header mode; row i is line i + 1 as long as no quoted field spans lines,
 * which LUNA16's never do. Blank lines are skipped; each row is handed to `read`, which
 * reports its own problems through `fail`.
 */
function parseTable<T>(text: string, file: string, kind: LunaTableKind, read: RowReader<T>): ParsedTable<T> {
  const body = stripBom(text);
  if (body.trim() === '') throw new DataError(`${file}: empty file, expected a LUNA16 ${kind} table`, { file });

  const rows: T[] = [];
  const errors: RowError[] = [];
  let cols: Columns | null = null;
  let line = 0;
  /** Line breaks inside the previous row's quoted fields. */
  let pendingBreaks = 0;
  let failed = false;
  const fail = (field: string | undefined, message: string): void => {
    failed = true;
    errors.push(field === undefined ? { file, row: line, message } : { file, row: line, field, message });
  };

  Papa.parse<string[]>(body, {
    delimiter: ',',
    header: false,
    skipEmptyLines: false,
    step: (result) => {
      line += 1 + pendingBreaks;
      const fields = result.data;
      pendingBreaks = breaksIn(fields);
      if (cols === null) {
        // Throws out of papaparse (it does not catch) and so out of parseTable.
        cols = locateColumns(
          fields.map((h) => h.trim()),
          kind,
          file,
        );
        return;
      }
      if (fields.length === 1 && fields[0].trim() === '') return; // blank or trailing line
      failed = false;
      if (result.errors.length > 0) {
        for (const e of result.errors) fail(undefined, `${file}:${line}: ${e.message}`);
        return;
      }
      if (fields.length <= cols.last) {
        fail(undefined, `${file}:${line}: expected at least ${cols.last + 1} fields, found ${fields.length}`);
        return;
      }
      const row = read(fields, line, cols, fail);
      if (row !== null && !failed) rows.push(row);
    },
  });
  return { rows, errors };
}

function readCommon(
  fields: string[],
  line: number,
  cols: Columns,
  file: string,
  fail: (field: string, message: string) => void,
): { seriesUid: string; xyz: Xyz } | null {
  const seriesUid = fields[cols.uid].trim();
  let ok = true;
  // A UID is short printable text (DICOM: digits and dots); a NUL or line break in it is a
  // broken file, and a multi-megabyte one would be carried into every record and message.
  // eslint-disable-next-line no-control-regex -- finding control characters is the point
  const control = /[\u0000-\u001f\u007f]/.exec(seriesUid);
  if (seriesUid === '') {
    fail('seriesuid', `${file}:${line}: seriesuid is empty`);
    ok = false;
  } else if (control !== null) {
    const code = control[0].charCodeAt(0);
    const what =
      code === 0
        ? 'a NUL byte'
        : code === 10 || code === 13
          ? 'a line break'
          : `control character U+${code.toString(16).padStart(4, '0').toUpperCase()}`;
    fail(
      'seriesuid',
      `${file}:${line}: seriesuid ${shown(seriesUid)} holds ${what} at character ${control.index + 1} (column ${cols.uid + 1})`,
    );
    ok = false;
  } else if (seriesUid.length > MAX_UID_LENGTH) {
    fail(
      'seriesuid',
      `${file}:${line}: seriesuid is ${seriesUid.length} characters long (column ${cols.uid + 1}); DICOM UIDs are at most ${MAX_UID_LENGTH}`,
    );
    ok = false;
  }
  const xyz: Xyz = [0, 0, 0];
  const names = ['coordX', 'coordY', 'coordZ'] as const;
  const at = [cols.x, cols.y, cols.z];
  for (let a = 0; a < 3; a++) {
    const raw = fields[at[a]].trim();
    const v = NUMBER_RE.test(raw) ? Number(raw) : NaN;
    if (!Number.isFinite(v)) {
      fail(names[a], `${file}:${line}: ${names[a]} ${shown(raw)} is not a number`);
      ok = false;
    }
    xyz[a] = v;
  }
  return ok ? { seriesUid, xyz } : null;
}

function readDiameter(
  fields: string[],
  line: number,
  cols: Columns,
  file: string,
  fail: (field: string, message: string) => void,
): number | null {
  const raw = fields[cols.extra].trim();
  const d = NUMBER_RE.test(raw) ? Number(raw) : NaN;
  if (!Number.isFinite(d)) {
    fail('diameter_mm', `${file}:${line}: diameter_mm ${shown(raw)} is not a number`);
    return null;
  }
  if (d < 0) {
    fail('diameter_mm', `${file}:${line}: diameter_mm ${shown(raw)} is negative`);
    return null;
  }
  return d;
}

export function parseAnnotations(text: string, file: string): ParsedTable<Annotation> {
  return parseTable<Annotation>(text, file, 'annotations', (fields, line, cols, fail) => {
    const common = readCommon(fields, line, cols, file, fail);
    const d = readDiameter(fields, line, cols, file, fail);
    return common && d !== null ? { seriesUid: common.seriesUid, xyz: common.xyz, diameterMm: d } : null;
  });
}

/**
 * `annotations_with_malignancy.csv`: annotations plus `mal_bool`, which the book reads with
 * `{'False': False, 'True': True}[row[5]]` (anything else raises there); we take those two
 * words in any case and report any other value as a bad row.
 */
export function parseMalignancy(text: string, file: string): ParsedTable<MalignancyAnnotation> {
  return parseTable<MalignancyAnnotation>(text, file, 'malignancy', (fields, line, cols, fail) => {
    const common = readCommon(fields, line, cols, file, fail);
    const d = readDiameter(fields, line, cols, file, fail);
    const raw = fields[cols.mal].trim();
    const word = raw.toLowerCase();
    if (word !== 'true' && word !== 'false') {
      fail('mal_bool', `${file}:${line}: mal_bool ${shown(raw)} is not True or False`);
      return null;
    }
    return common && d !== null
      ? { seriesUid: common.seriesUid, xyz: common.xyz, diameterMm: d, malignant: word === 'true' }
      : null;
  });
}

export function parseCandidates(text: string, file: string): ParsedTable<Candidate> {
  return parseTable<Candidate>(text, file, 'candidates', (fields, line, cols, fail) => {
    const common = readCommon(fields, line, cols, file, fail);
    const raw = fields[cols.extra].trim();
    if (raw !== '0' && raw !== '1') {
      fail('class', `${file}:${line}: class ${shown(raw)} is not 0 or 1`);
      return null;
    }
    return common && { seriesUid: common.seriesUid, xyz: common.xyz, isNodule: raw === '1' };
  });
}

/** Parse whichever LUNA16 table `text` is, judged by its header. */
export function parseLunaCsv(text: string, file: string): ParsedLunaCsv {
  const header = firstLine(stripBom(text));
  const kind = detectLunaTable(header);
  if (kind === 'annotations') return { kind, ...parseAnnotations(text, file) };
  if (kind === 'candidates') return { kind, ...parseCandidates(text, file) };
  if (kind === 'malignancy') return { kind, ...parseMalignancy(text, file) };
  if (text.trim() === '') throw new DataError(`${file}: empty file, expected a LUNA16 table`, { file });
  throw new DataError(
    `${file}: not a LUNA16 table (header: ${header.length > 200 ? `${header.slice(0, 197)}...` : header}); expected ` +
      `${LUNA_COLUMNS.annotations.join(',')} (annotations.csv) or ` +
      `${LUNA_COLUMNS.candidates.join(',')} (candidates.csv, candidates_V2.csv) or ` +
      `${LUNA_COLUMNS.malignancy.join(',')} (annotations_with_malignancy.csv)`,
    { file },
  );
}

export interface CandidateInfo {
  seriesUid: string;
  xyz: Xyz;
  isNodule: boolean;
  /** The matched annotation's diameter, or 0 when no annotation matched. */
  diameterMm: number;
  /** The malignancy task's label (src/data/malignancy.ts): the nodule's mal_bool; absent in the nodule task. */
  malignant?: boolean;
}

export interface MatchResult {
  /** Every candidate, sorted as the book sorts `candidateInfo_list` (reverse tuple order). */
  candidates: CandidateInfo[];
  /** Annotations that no positive (class 1) candidate lies within d/4 of, in input order. */
  unmatchedAnnotations: Annotation[];
}

function withinQuarter(c: Xyz, a: Annotation): boolean {
  const r = a.diameterMm / 4;
  return Math.abs(c[0] - a.xyz[0]) <= r && Math.abs(c[1] - a.xyz[1]) <= r && Math.abs(c[2] - a.xyz[2]) <= r;
}

/**
 * The book's `getCandidateInfoList`: each candidate (positive or not) takes the diameter of the
 * first annotation of its series, in file order, whose centre is within diameter/4 of it on
 * every axis (x, y, z), else 0. The list is sorted like Python's
 * `sorted(tuples, reverse=True)` on (isNodule, diameter, seriesUid, xyz): nodules first,
 * largest first.
 *
 * `unmatchedAnnotations` are the nodules no class-1 candidate covers (a class-0 candidate
 * near a nodule does not make it a positive example); callers may add them as extra positives.
 */
export function matchCandidates(candidates: readonly Candidate[], annotations: readonly Annotation[]): MatchResult {
  const bySeries = new Map<string, Annotation[]>();
  for (const a of annotations) {
    const list = bySeries.get(a.seriesUid);
    if (list) list.push(a);
    else bySeries.set(a.seriesUid, [a]);
  }
  const covered = new Set<Annotation>();
  const out: CandidateInfo[] = new Array(candidates.length);
  for (let i = 0; i < candidates.length; i++) {
    const c = candidates[i];
    const list = bySeries.get(c.seriesUid);
    let diameterMm = 0;
    if (list) {
      let first = true;
      for (const a of list) {
        if (!withinQuarter(c.xyz, a)) continue;
        if (first) {
          diameterMm = a.diameterMm;
          first = false;
        }
        if (!c.isNodule) break;
        covered.add(a);
      }
    }
    out[i] = { seriesUid: c.seriesUid, xyz: [c.xyz[0], c.xyz[1], c.xyz[2]], isNodule: c.isNodule, diameterMm };
  }
  out.sort(compareCandidateInfoDesc);
  return { candidates: out, unmatchedAnnotations: annotations.filter((a) => !covered.has(a)) };
}

/** Python's reverse tuple order on (isNodule, diameterMm, seriesUid, xyz). */
export function compareCandidateInfoDesc(a: CandidateInfo, b: CandidateInfo): number {
  if (a.isNodule !== b.isNodule) return a.isNodule ? -1 : 1;
  if (a.diameterMm !== b.diameterMm) return b.diameterMm - a.diameterMm;
  // Python compares str by code point; for LUNA16's ASCII uids that is UTF-16 order too.
  if (a.seriesUid !== b.seriesUid) return a.seriesUid < b.seriesUid ? 1 : -1;
  for (let k = 0; k < 3; k++) if (a.xyz[k] !== b.xyz[k]) return b.xyz[k] - a.xyz[k];
  return 0;
}

function fmt(v: number): string {
  // Shortest round-trip decimal: what was generated or parsed is what is read back.
  return String(v);
}

/** Write annotations in LUNA16's format (header `seriesuid,coordX,coordY,coordZ,diameter_mm`, LF). */
export function formatAnnotationsCsv(rows: readonly Annotation[]): string {
  const lines = [LUNA_COLUMNS.annotations.join(',')];
  for (const r of rows)
    lines.push(`${r.seriesUid},${fmt(r.xyz[0])},${fmt(r.xyz[1])},${fmt(r.xyz[2])},${fmt(r.diameterMm)}`);
  return lines.join('\n') + '\n';
}

/** Write candidates in LUNA16's format (header `seriesuid,coordX,coordY,coordZ,class`, LF). */
export function formatCandidatesCsv(rows: readonly Candidate[]): string {
  const lines = [LUNA_COLUMNS.candidates.join(',')];
  for (const r of rows)
    lines.push(`${r.seriesUid},${fmt(r.xyz[0])},${fmt(r.xyz[1])},${fmt(r.xyz[2])},${r.isNodule ? 1 : 0}`);
  return lines.join('\n') + '\n';
}

/**
 * Write malignancy labels as the book's `annotations_with_malignancy.csv` names its columns
 * (`seriesuid,coordX,coordY,coordZ,diameter_mm,mal_bool`, True/False, LF); the book's other
 * columns (ratings, bounding boxes) are not written.
 */
export function formatMalignancyCsv(rows: readonly MalignancyAnnotation[]): string {
  const lines = [LUNA_COLUMNS.malignancy.join(',')];
  for (const r of rows)
    lines.push(
      `${r.seriesUid},${fmt(r.xyz[0])},${fmt(r.xyz[1])},${fmt(r.xyz[2])},${fmt(r.diameterMm)},${r.malignant ? 'True' : 'False'}`,
    );
  return lines.join('\n') + '\n';
}
