/**
 * The fuzz harness: runs mutated real samples (see `mutations.ts`) through `loadFiles`, the
 * loader the page's ingest worker and the CLI use, and classifies every outcome:
 *
 * - `valid`: volumes, no errors; `partial`: volumes plus clear errors for some files (a DICOM
 *   folder with one broken slice); `refused`: clear errors only. A clear error names its file
 *   and comes from a `DataError`.
 * - failures: `crash` (an exception out of the loader, a non-DataError, a stack trace in a
 *   message), `hang` (past the per-case time bound), `memory` (peak RSS growth past the bound),
 *   `silent` (a volume that disagrees with its header: voxel count vs DimSize or
 *   Rows × Columns, pixel data length vs Rows × Columns × BitsAllocated, non-finite geometry or
 *   values, or a file whose edit must be refused yet became a volume; or nothing at all came
 *   back), `unclear` (an error not naming its file).
 *
 * Time is measured after each case; a case that never ends is caught by `main.ts`, which runs
 * this in a worker thread and terminates it past a watchdog. Memory is the growth of the process's peak RSS
 * (`process.resourceUsage().maxRSS`) over the RSS before the case, counted only when the case
 * raised the peak.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createRng } from '../data/rng.ts';
import { loadFiles, type LoadItem } from '../data/load.ts';
import { sourceFromBytes } from '../data/source.ts';
import type { Volume } from '../data/volume.ts';
import { findElement, getU16 } from './dicom-edit.ts';
import { makeCases, type Base, type FuzzCase, type FuzzFile } from './mutations.ts';

export const OUTCOMES = ['valid', 'partial', 'refused', 'crash', 'hang', 'memory', 'silent', 'unclear'] as const;
export type Outcome = (typeof OUTCOMES)[number];
export const FAILURES: ReadonlySet<Outcome> = new Set(['crash', 'hang', 'memory', 'silent', 'unclear']);

export interface CaseResult {
  readonly case: FuzzCase;
  readonly outcome: Outcome;
  /** Why, for failures (and the first error message otherwise). */
  readonly note: string;
  readonly ms: number;
  /** Peak RSS growth in bytes when the case raised the process's peak, else 0. */
  readonly peakGrowth: number;
}

/** A result without the case's file bytes: what the CLI's worker posts back. */
export interface CaseSummary {
  readonly case: Omit<FuzzCase, 'files'>;
  readonly outcome: Outcome;
  readonly note: string;
  readonly ms: number;
  readonly peakGrowth: number;
}

export function summarize(r: CaseResult): CaseSummary {
  const { files: _files, ...rest } = r.case;
  return { case: rest, outcome: r.outcome, note: r.note, ms: r.ms, peakGrowth: r.peakGrowth };
}

export interface FuzzOptions {
  seed: number | string;
  cases: number;
  /** Skip the cases before this id (the CLI resumes after a hung case this way). */
  startAt?: number;
  /** ../shared/ct-samples */
  samplesDir: string;
  /** Bases already loaded from `samplesDir` (tests reuse them). */
  bases?: readonly Base[];
  /** Per-case wall-clock bound (default 10 s). */
  timeBoundMs?: number;
  /** Called before each case runs (the CLI prints it, so a stall shows where). */
  onStart?: (c: FuzzCase) => void;
  onResult?: (r: CaseResult) => void;
}

// ---------------------------------------------------------------------------------------------
// Bases: the real samples, plus a small uncompressed MetaImage cut from the real LUNA16 .zraw
// (its real header with DimSize z = 8), so that most MetaImage cases stay cheap.

const SEG = 'luna16-seg-lungs/1.3.6.1.4.1.14519.5.2.1.6279.6001.105756658031515062000744821260';

export async function loadBases(samplesDir: string): Promise<Base[]> {
  const read = (rel: string): FuzzFile => ({
    path: rel,
    bytes: new Uint8Array(fs.readFileSync(path.join(samplesDir, rel))),
  });
  const folder = (rel: string, take = Infinity): FuzzFile[] =>
    fs
      .readdirSync(path.join(samplesDir, rel))
      .sort()
      .slice(0, take)
      .map((n) => read(`${rel}/${n}`));
  const bases: Base[] = [];
  const mhd = read(`${SEG}.mhd`);
  const zraw = read(`${SEG}.zraw`);
  bases.push({ name: 'luna16 .mhd + .zraw', kind: 'metaimage', files: [mhd, zraw] });

  // The small one: first 8 slices of the same scan as raw voxels, header edited to match.
  const volume = await loadOne([mhd, zraw]);
  const slice = 512 * 512 * 2;
  const raw = new Uint8Array(volume.data.buffer, volume.data.byteOffset, 8 * slice).slice();
  const header = new TextDecoder()
    .decode(mhd.bytes)
    .replace(/^CompressedData = .*\n/m, 'CompressedData = False\n')
    .replace(/^CompressedDataSize = .*\n/m, '')
    .replace(/^DimSize = .*$/m, 'DimSize = 512 512 8')
    .replace(/^ElementDataFile = .*$/m, 'ElementDataFile = small.raw');
  bases.push({
    name: 'luna16 .mhd + .raw (8 slices)',
    kind: 'metaimage',
    files: [
      { path: 'cut/small.mhd', bytes: new TextEncoder().encode(header) },
      { path: 'cut/small.raw', bytes: raw },
    ],
  });

  bases.push({ name: 'pydicom CT_small.dcm', kind: 'dicom', files: [read('pydicom/CT_small.dcm')] });
  bases.push({ name: 'pydicom CT5N', kind: 'dicom', files: folder('pydicom/dicomdirtests/98892001/CT5N') });
  bases.push({ name: 'dcmqi implicit VR', kind: 'dicom', files: folder('dcmqi/ct-3slice') });
  bases.push({ name: 'rt-utils phantom', kind: 'dicom', files: folder('rt-utils-phantom') });
  const lidc = fs
    .readdirSync(path.join(samplesDir, 'lidc-idri-0001'), { recursive: true, encoding: 'utf8' })
    .filter((p) => p.endsWith('.dcm'))
    .sort()
    .slice(0, 4)
    .map((p) => read(`lidc-idri-0001/${p}`));
  bases.push({ name: 'LIDC-IDRI 4 slices', kind: 'dicom', files: lidc });
  return bases;
}

async function loadOne(files: readonly FuzzFile[]): Promise<Volume> {
  for await (const item of loadFiles(files.map((f) => sourceFromBytes(f.path, f.bytes)))) {
    if (item.type === 'volume') return item.volume;
  }
  throw new Error(`fuzz: base ${files[0].path} does not load`);
}

// ---------------------------------------------------------------------------------------------
// Checks

function product(a: readonly number[]): number {
  return a.reduce((p, v) => p * v, 1);
}

/** Why a volume is wrong for the (mutated) files it came from, or null. */
function volumeProblem(v: Volume, c: FuzzCase): string | null {
  if (v.data.length !== product(v.shape)) return `data holds ${v.data.length} voxels, shape ${v.shape.join('×')}`;
  if (!v.spacing.every((s) => Number.isFinite(s) && s >= 1e-4 && s <= 1e3)) return `spacing ${v.spacing.join(', ')}`;
  if (!v.origin.every(Number.isFinite)) return `origin ${v.origin.join(', ')}`;
  if (!v.direction.every(Number.isFinite)) return `direction ${v.direction.join(', ')}`;
  if (v.data instanceof Float32Array || v.data instanceof Float64Array) {
    for (let i = 0; i < v.data.length; i++) if (!Number.isFinite(v.data[i])) return `voxel ${i} is ${v.data[i]}`;
  }
  const byPath = new Map(c.files.map((f) => [f.path, f.bytes]));
  if (v.format === 'metaimage') {
    const header = byPath.get(v.files[0]);
    const dims =
      header &&
      /^DimSize\s*=(.*)$/m
        .exec(new TextDecoder().decode(header.subarray(0, 65536)))?.[1]
        .trim()
        .split(/\s+/)
        .map(Number);
    if (dims && dims.length === 3 && (dims[0] !== v.shape[2] || dims[1] !== v.shape[1] || dims[2] !== v.shape[0])) {
      return `shape ${v.shape.join('×')} (z y x) but DimSize ${dims.join(' ')}`;
    }
  } else {
    for (const file of v.files) {
      const bytes = byPath.get(file);
      if (!bytes) continue;
      const rows = getU16(bytes, [0x0028, 0x0010]);
      const cols = getU16(bytes, [0x0028, 0x0011]);
      const bits = getU16(bytes, [0x0028, 0x0100]);
      const pixels = findElement(bytes, [0x7fe0, 0x0010]);
      if (rows === undefined || cols === undefined || bits === undefined || pixels === undefined) continue; // walker lost
      if (rows !== v.shape[1] || cols !== v.shape[2])
        return `${file}: Rows ${rows} Columns ${cols} but shape ${v.shape.join('×')}`;
      const needed = (rows * cols * bits) / 8;
      if (pixels.length !== 0xffffffff && (pixels.length < needed || pixels.length > needed + 1)) {
        return `${file}: pixel data ${pixels.length} bytes, Rows ${rows} × Columns ${cols} × ${bits} bits needs ${needed}`;
      }
    }
  }
  return null;
}

function classify(c: FuzzCase, items: readonly LoadItem[]): { outcome: Outcome; note: string } {
  const volumes = items.flatMap((i) => (i.type === 'volume' ? [i.volume] : []));
  const errors = items.flatMap((i) => (i.type === 'error' ? [i] : []));
  for (const e of errors) {
    if (e.internal) return { outcome: 'crash', note: `not a DataError: ${e.message}` };
    if (/\n\s+at /.test(e.message))
      return { outcome: 'crash', note: `stack trace in message: ${e.message.slice(0, 200)}` };
    // A .mhd and its data file fail together with one message, which names the one at fault.
    if (!e.message.includes(e.file) && !c.files.some((f) => e.message.includes(f.path))) {
      return { outcome: 'unclear', note: `does not name ${e.file}: ${e.message.slice(0, 200)}` };
    }
  }
  for (const v of volumes) {
    const problem = volumeProblem(v, c);
    if (problem) return { outcome: 'silent', note: problem };
    if (c.mustRefuse && v.files.includes(c.target)) return { outcome: 'silent', note: `${c.detail} was accepted` };
  }
  const first = errors[0]?.message.slice(0, 160) ?? '';
  if (volumes.length > 0) return { outcome: errors.length > 0 ? 'partial' : 'valid', note: first };
  if (errors.length > 0) return { outcome: 'refused', note: first };
  return { outcome: 'silent', note: 'no volume and no error' };
}

// ---------------------------------------------------------------------------------------------
// Run

const MIB = 1024 * 1024;

export async function runCase(c: FuzzCase, timeBoundMs: number, memBoundBytes: number): Promise<CaseResult> {
  const peakBefore = process.resourceUsage().maxRSS * 1024;
  const rssBefore = process.memoryUsage().rss;
  const t0 = performance.now();
  let verdict: { outcome: Outcome; note: string };
  try {
    const items: LoadItem[] = [];
    for await (const item of loadFiles(c.files.map((f) => sourceFromBytes(f.path, f.bytes)))) items.push(item);
    verdict = classify(c, items);
  } catch (e) {
    verdict = {
      outcome: 'crash',
      note: `thrown out of loadFiles: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`,
    };
  }
  const ms = performance.now() - t0;
  const peakAfter = process.resourceUsage().maxRSS * 1024;
  const peakGrowth = peakAfter > peakBefore ? Math.max(0, peakAfter - rssBefore) : 0;
  if (!FAILURES.has(verdict.outcome)) {
    if (ms > timeBoundMs) verdict = { outcome: 'hang', note: `${Math.round(ms)} ms > ${timeBoundMs} ms` };
    else if (peakGrowth > memBoundBytes) {
      verdict = {
        outcome: 'memory',
        note: `peak RSS grew ${Math.round(peakGrowth / MIB)} MiB > ${Math.round(memBoundBytes / MIB)} MiB`,
      };
    }
  }
  return { case: c, ...verdict, ms, peakGrowth };
}

/** Bytes a base's volume takes, for its memory bound (2× that plus slack for the inputs). */
function volumeBytes(base: Base): number {
  if (base.kind === 'metaimage') {
    const m = /^DimSize\s*=\s*(\d+)\s+(\d+)\s+(\d+)/m.exec(new TextDecoder().decode(base.files[0].bytes));
    return m ? Number(m[1]) * Number(m[2]) * Number(m[3]) * 2 : 0;
  }
  return base.files.reduce((s, f) => s + f.bytes.length, 0) * 2;
}

export async function runFuzz(opts: FuzzOptions): Promise<CaseResult[]> {
  const bases = opts.bases ?? (await loadBases(opts.samplesDir));
  const cases = makeCases(createRng(opts.seed), bases, opts.cases).slice(opts.startAt ?? 0);
  const byName = new Map(bases.map((b) => [b.name, b]));
  const results: CaseResult[] = [];
  for (const c of cases) {
    opts.onStart?.(c);
    const base = byName.get(c.base);
    const bound = 2 * (base ? volumeBytes(base) : 0) + 192 * MIB;
    const r = await runCase(c, opts.timeBoundMs ?? 10_000, bound);
    results.push(r);
    opts.onResult?.(r);
  }
  return results;
}

/** The classification table: one row per mutation family, one column per outcome. */
export function formatTable(results: readonly Pick<CaseSummary, 'case' | 'outcome' | 'ms'>[]): string {
  const families = [...new Set(results.map((r) => r.case.family))].sort();
  const head = ['mutation', ...OUTCOMES, 'total', 'max ms'];
  const rows = families.map((f) => {
    const mine = results.filter((r) => r.case.family === f);
    return [
      f,
      ...OUTCOMES.map((o) => String(mine.filter((r) => r.outcome === o).length)),
      String(mine.length),
      String(Math.round(Math.max(...mine.map((r) => r.ms)))),
    ];
  });
  rows.push([
    '**all**',
    ...OUTCOMES.map((o) => String(results.filter((r) => r.outcome === o).length)),
    String(results.length),
    String(Math.round(Math.max(0, ...results.map((r) => r.ms)))),
  ]);
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}
