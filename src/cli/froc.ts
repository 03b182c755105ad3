/**
 * `luna-lab froc --submission FILE --annotations FILE [--excluded FILE] [--seriesuids FILE]
 * [--json]`: scores any system's LUNA16 submission (`seriesuid,coordX,coordY,coordZ,probability`)
 * as LUNA16's `noduleCADEvaluationLUNA16.py` does (src/eval/froc.ts): CPM, the seven
 * sensitivities and the bootstrap band. Without `--seriesuids` the scan list is the scans the
 * submission marks, and the report says so: the official list is LUNA16's seriesuids.csv.
 */
import { readFile } from 'node:fs/promises';
import type { ParsedArgs } from './args.ts';
import { UsageError } from './args.ts';
import type { Io } from './main.ts';
import { froc, type FrocResult } from '../eval/froc.ts';
import { parseFindings, parseSeriesUids, parseSubmission } from '../eval/submission.ts';

const USAGE =
  'Usage: luna-lab froc --submission FILE --annotations FILE [--excluded FILE] [--seriesuids FILE] [--json]';

export interface FrocReport extends Omit<FrocResult, 'curve' | 'maxMarksPerScan'> {
  submission: string;
  annotations: string;
  excludedFile: string | null;
  scanListSource: string;
  marks: number;
  /** JSON has no Infinity: the (0, 0) point's threshold is null. */
  curve: { fpsPerScan: number; sensitivity: number; threshold: number | null }[];
  maxMarksPerScan: number | null;
}

export class FrocCommandError extends Error {
  override name = 'FrocCommandError';
}

async function readText(flag: string, path: string): Promise<string> {
  return readFile(path, 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw new FrocCommandError(
      e.code === 'ENOENT' ? `--${flag} ${path}: no such file` : `--${flag} ${path}: ${e.message}`,
    );
  });
}

export async function scoreSubmission(opts: {
  submission: string;
  annotations: string;
  excluded?: string;
  seriesuids?: string;
}): Promise<FrocReport> {
  const marks = parseSubmission(await readText('submission', opts.submission), opts.submission);
  const nodules = parseFindings(await readText('annotations', opts.annotations), opts.annotations);
  const excluded = opts.excluded ? parseFindings(await readText('excluded', opts.excluded), opts.excluded) : [];
  const scans = opts.seriesuids
    ? parseSeriesUids(await readText('seriesuids', opts.seriesuids), opts.seriesuids)
    : [...new Set(marks.map((m) => m.seriesUid))];
  const r = froc(marks, nodules, scans, { excluded });
  return {
    ...r,
    submission: opts.submission,
    annotations: opts.annotations,
    excludedFile: opts.excluded ?? null,
    scanListSource: opts.seriesuids ?? `the ${scans.length} scans the submission marks (no --seriesuids)`,
    marks: marks.length,
    curve: r.curve.map((p) => ({ ...p, threshold: Number.isFinite(p.threshold) ? p.threshold : null })),
    maxMarksPerScan: Number.isFinite(r.maxMarksPerScan) ? r.maxMarksPerScan : null,
  };
}

export async function frocCommand(args: ParsedArgs, io: Io): Promise<number> {
  const submission = args.values.submission as string | undefined;
  const annotations = args.values.annotations as string | undefined;
  if (!submission) throw new UsageError(`Missing --submission FILE. ${USAGE}`);
  if (!annotations) throw new UsageError(`Missing --annotations FILE. ${USAGE}`);
  const r = await scoreSubmission({
    submission,
    annotations,
    excluded: args.values.excluded as string | undefined,
    seriesuids: args.values.seriesuids as string | undefined,
  });
  io.out(args.values.json ? JSON.stringify(r, null, 2) : formatFroc(r));
  return 0;
}

export function formatFroc(r: FrocReport): string {
  const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
  const band = r.band;
  return [
    `${r.submission}: ${r.marks} marks; ${r.scans} scans (${r.scanListSource}), ${r.nodules} nodules (${r.annotations})`,
    `  at most ${r.maxMarksPerScan ?? 'any number of'} marks per scan (${r.overLimit} beyond it dropped); ${r.excludedFile ? `${r.excludedMarks} marks on excluded findings (${r.excludedFile}) ignored` : 'no --excluded findings'}`,
    `  detected ${r.detected} of ${r.nodules} nodules; ${r.falsePositives} false positives (${(r.falsePositives / r.scans).toFixed(2)} per scan); ${r.duplicateHits} double hits ignored`,
    '',
    `  FPs/scan  sensitivity${band ? `  ${pct(band.confidence)} band (${band.samples} bootstrap samples)` : ''}`,
    ...r.sensitivities.map(
      (s, i) =>
        `  ${String(s.fpsPerScan).padStart(8)}  ${pct(s.sensitivity).padStart(11)}${band ? `  ${pct(band.sensitivities[i].lower)}–${pct(band.sensitivities[i].upper)}` : ''}`,
    ),
    '',
    `  CPM ${r.cpm.toFixed(4)}${band ? `  (band ${band.cpm.lower.toFixed(4)}–${band.cpm.upper.toFixed(4)})` : ''}`,
    ...r.warnings.map((w) => `  warning: ${w}`),
  ].join('\n');
}
