/**
 * The files of LUNA16's evaluation, read and written as `noduleCADEvaluationLUNA16.py` reads
 * them: a submission (`seriesuid,coordX,coordY,coordZ,probability`, one CAD mark a row, world
 * mm), the findings of `annotations.csv` / `annotations_excluded.csv`
 * (`seriesuid,coordX,coordY,coordZ,diameter_mm`; −1 for an unknown diameter), and
 * `seriesuids.csv` (one scan UID a line, no header). Pure: text in, rows out.
 *
 * Columns are found by name in the header, as the script finds them (`header.index`), so their
 * order is free and extra columns are ignored. Unlike the script, which stops on the first bad
 * value with a Python traceback, a bad file throws a `SubmissionError` naming the file, line and
 * column (1-based) and the value: a score is only worth reporting over every row.
 */
import type { Nodule, ScoredCandidate } from './froc.ts';

export const SUBMISSION_COLUMNS = ['seriesuid', 'coordX', 'coordY', 'coordZ', 'probability'] as const;
export const FINDING_COLUMNS = ['seriesuid', 'coordX', 'coordY', 'coordZ', 'diameter_mm'] as const;

export class SubmissionError extends Error {
  override name = 'SubmissionError';
}

// Plain decimal or exponent notation: Number() would also take '0x1f', 'Infinity', ''.
const NUMBER_RE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** Shortest round-trip decimal: the probability read back is the one written. */
const fmt = (v: number): string => String(v);

/** The marks as a submission file (LF, a trailing newline). */
export function formatSubmission(marks: readonly ScoredCandidate[]): string {
  const lines: string[] = [SUBMISSION_COLUMNS.join(',')];
  for (const m of marks) {
    if (!Number.isFinite(m.probability))
      throw new SubmissionError(
        `mark of ${m.seriesUid} at (${m.xyz.join(', ')}): probability ${m.probability} is not a number`,
      );
    lines.push(`${m.seriesUid},${fmt(m.xyz[0])},${fmt(m.xyz[1])},${fmt(m.xyz[2])},${fmt(m.probability)}`);
  }
  return lines.join('\n') + '\n';
}

/** The scan list as seriesuids.csv. */
export function formatSeriesUids(uids: readonly string[]): string {
  return uids.map((u) => `${u}\n`).join('');
}

const unquote = (f: string): string =>
  f
    .trim()
    .replace(/^"(.*)"$/, '$1')
    .trim();

/** Lines as fields, with their 1-based line numbers; blank lines skipped. */
function rows(text: string): { line: number; fields: string[] }[] {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const out: { line: number; fields: string[] }[] = [];
  body.split('\n').forEach((raw, i) => {
    const l = raw.replace(/\r$/, '');
    if (l.trim() === '') return;
    out.push({ line: i + 1, fields: l.split(',').map(unquote) });
  });
  return out;
}

function table<T>(
  text: string,
  file: string,
  columns: readonly string[],
  read: (value: (k: number) => number, uid: string) => T,
): T[] {
  const all = rows(text);
  if (all.length === 0) throw new SubmissionError(`${file}: empty file, expected the header ${columns.join(',')}`);
  const header = all[0].fields;
  const lower = header.map((h) => h.toLowerCase());
  const idx = columns.map((c) => lower.indexOf(c.toLowerCase()));
  const missing = columns.filter((_, k) => idx[k] < 0);
  if (missing.length)
    throw new SubmissionError(
      `${file}:${all[0].line}: missing column${missing.length > 1 ? 's' : ''} ${missing.map((m) => `"${m}"`).join(', ')} (header: ${header.join(',')})`,
    );
  const last = Math.max(...idx);
  return all.slice(1).map(({ line, fields }) => {
    if (fields.length <= last)
      throw new SubmissionError(`${file}:${line}: expected at least ${last + 1} fields, found ${fields.length}`);
    const uid = fields[idx[0]];
    if (uid === '') throw new SubmissionError(`${file}:${line}:${idx[0] + 1}: seriesuid is empty`);
    const value = (k: number): number => {
      const raw = fields[idx[k]];
      const v = NUMBER_RE.test(raw) ? Number(raw) : NaN;
      if (!Number.isFinite(v))
        throw new SubmissionError(`${file}:${line}:${idx[k] + 1}: ${columns[k]} "${raw}" is not a number`);
      return v;
    };
    return read(value, uid);
  });
}

/** A submission's marks, in file order. */
export function parseSubmission(text: string, file: string): ScoredCandidate[] {
  return table(text, file, SUBMISSION_COLUMNS, (v, seriesUid) => ({
    seriesUid,
    xyz: [v(1), v(2), v(3)] as const,
    probability: v(4),
  }));
}

/** annotations.csv or annotations_excluded.csv; a diameter of −1 is kept (froc reads it as 10 mm). */
export function parseFindings(text: string, file: string): Nodule[] {
  return table(text, file, FINDING_COLUMNS, (v, seriesUid) => ({
    seriesUid,
    xyz: [v(1), v(2), v(3)] as const,
    diameterMm: v(4),
  }));
}

/** seriesuids.csv: the first field of each non-blank line (a `seriesuid` header line is skipped). */
export function parseSeriesUids(text: string, file: string): string[] {
  const all = rows(text);
  const body = all.length && all[0].fields[0].toLowerCase() === 'seriesuid' ? all.slice(1) : all;
  if (body.length === 0) throw new SubmissionError(`${file}: no scan UIDs (expected one seriesuid a line)`);
  return body.map(({ line, fields }) => {
    if (fields[0] === '') throw new SubmissionError(`${file}:${line}:1: seriesuid is empty`);
    return fields[0];
  });
}
