/**
 * `luna-lab eval --model FILE.onnx --data DIR [--json]`: LUNA16's FROC/CPM of an ONNX
 * classifier over a LUNA16 folder, in Node with onnxruntime-web (wasm).
 *
 * Every candidate of every scan found under DIR (candidates.csv, else candidates_V2.csv) is
 * cropped as the lab crops for training (clamped HU, the book's window shifted inside the
 * volume; src/data/crop.ts) at the size the model's input names, scored, and evaluated against
 * annotations.csv (src/eval/froc.ts). Scans are read and scored one at a time, so memory holds
 * one volume. The model's signature is checked before any data is read.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import * as ort from 'onnxruntime-web';
import type { ParsedArgs } from './args.ts';
import { parseInteger, UsageError } from './args.ts';
import type { Io } from './main.ts';
import { sourcesAt } from './node-source.ts';
import { loadFiles } from '../data/load.ts';
import type { Annotation, Candidate } from '../data/luna-csv.ts';
import { clampHu, type Volume } from '../data/volume.ts';
import { xyzToIrc } from '../data/geometry.ts';
import { cropWindow, extractCrop } from '../data/crop.ts';
import { froc, type FrocResult, type ScoredCandidate } from '../eval/froc.ts';
import { OnnxClassifier } from '../inference/onnx-classifier.ts';
import { readClassifierSignature } from '../inference/onnx-signature.ts';

export class EvalError extends Error {
  override name = 'EvalError';
}

export interface EvalReport extends Omit<FrocResult, 'curve'> {
  model: string;
  provider: string;
  crop: [number, number, number];
  outputKind: string;
  candidatesFile: string;
  /** Candidates left out because they lie outside their scan. */
  outside: number;
  seconds: number;
  cropsPerSecond: number;
  curve: { fpsPerScan: number; sensitivity: number; threshold: number | null }[];
  warnings: string[];
  /** Every scored candidate, only with `withPredictions` (tests compare them with the page's). */
  predictions?: ScoredCandidate[];
}

const BATCH = 32;

export async function evalCommand(args: ParsedArgs, io: Io): Promise<number> {
  const modelPath = args.values.model as string | undefined;
  const dataPath = args.values.data as string | undefined;
  if (!modelPath) throw new UsageError('Missing --model FILE.onnx. Usage: luna-lab eval --model FILE.onnx --data DIR [--json]');
  if (!dataPath) throw new UsageError('Missing --data DIR. Usage: luna-lab eval --model FILE.onnx --data DIR [--json]');
  const threads = parseInteger(args.values.threads as string | undefined, 'threads', 1, 1, 64);
  const report = await evaluateFolder(modelPath, dataPath, { threads, progress: (s) => (args.values.json ? undefined : io.err(s)) });
  if (args.values.json) io.out(JSON.stringify(report, null, 2));
  else io.out(formatReport(report));
  return 0;
}

export async function evaluateFolder(
  modelPath: string,
  dataPath: string,
  opts: { threads?: number; progress?: (line: string) => void; withPredictions?: boolean } = {},
): Promise<EvalReport> {
  const t0 = performance.now();
  const bytes = await readFile(modelPath).catch((e: NodeJS.ErrnoException) => {
    throw new EvalError(e.code === 'ENOENT' ? `model file ${modelPath}: no such file` : `model file ${modelPath}: ${e.message}`);
  });
  const name = basename(modelPath);
  readClassifierSignature(bytes, name); // fail on a wrong model before reading any scan
  const files = await sourcesAt(dataPath).catch((e: NodeJS.ErrnoException) => {
    throw new EvalError(e.code === 'ENOENT' ? `--data ${dataPath}: no such file or folder` : `--data ${dataPath}: ${e.message}`);
  });
  ort.env.wasm.numThreads = opts.threads ?? 1;
  const clf = await OnnxClassifier.open(bytes, { source: name, preferred: 'wasm', maxBatch: BATCH });
  try {
    const annotations: Annotation[] = [];
    const tables = new Map<string, Candidate[]>();
    const errors: string[] = [];
    const warnings: string[] = [];
    const scans: string[] = [];
    const scored: ScoredCandidate[] = [];
    let candidatesFile = '';
    let byUid: Map<string, Candidate[]> | null = null;
    let outside = 0;
    let cropSeconds = 0;

    for await (const item of loadFiles(files)) {
      if (item.type === 'annotations') {
        annotations.push(...item.rows);
        for (const e of item.rowErrors) warnings.push(e.message);
      } else if (item.type === 'candidates') {
        tables.set(basename(item.file), item.rows);
        for (const e of item.rowErrors) warnings.push(e.message);
      } else if (item.type === 'error') {
        errors.push(item.message);
      } else if (item.type === 'volume') {
        byUid ??= pickCandidates(tables, dataPath, (f) => (candidatesFile = f));
        const rows = byUid.get(item.volume.seriesUid) ?? [];
        const t = performance.now();
        const r = await scoreVolume(item.volume, rows, clf);
        cropSeconds += (performance.now() - t) / 1000;
        scans.push(item.volume.seriesUid);
        scored.push(...r.scored);
        outside += r.outside;
        opts.progress?.(`scored ${r.scored.length} candidates of ${item.volume.seriesUid}`);
      }
    }
    if (!scans.length) {
      throw new EvalError(`no CT scans found in ${dataPath} (expected subsetN/*.mhd + .raw)${errors.length ? `; errors: ${errors.join('; ')}` : ''}`);
    }
    for (const e of errors) warnings.push(e);
    if (outside) warnings.push(`${outside} candidates lie outside their scan's volume and are left out`);
    const loaded = new Set(scans);
    const nodules = annotations.filter((a) => loaded.has(a.seriesUid));
    if (!nodules.length) {
      throw new EvalError(
        annotations.length
          ? `annotations.csv has no nodules for the ${scans.length} scan(s) in ${dataPath}: FROC needs at least one`
          : `no annotations.csv in ${dataPath}: FROC needs LUNA16's nodule annotations`,
      );
    }
    const result = froc(scored, nodules, scans);
    const seconds = (performance.now() - t0) / 1000;
    return {
      ...result,
      model: modelPath,
      provider: clf.provider,
      crop: clf.crop,
      outputKind: `${clf.signature.output} (${clf.signature.outputKind})`,
      candidatesFile,
      outside,
      seconds,
      cropsPerSecond: scored.length / Math.max(cropSeconds, 1e-9),
      // JSON has no Infinity: the (0, 0) point's threshold becomes null.
      curve: result.curve.map((p) => ({ ...p, threshold: Number.isFinite(p.threshold) ? p.threshold : null })),
      warnings,
      ...(opts.withPredictions ? { predictions: scored } : {}),
    };
  } finally {
    await clf.release();
  }
}

/** candidates.csv as the book uses it, else candidates_V2.csv, by series. */
function pickCandidates(tables: Map<string, Candidate[]>, dataPath: string, chosen: (file: string) => void): Map<string, Candidate[]> {
  const file = ['candidates.csv', 'candidates_V2.csv'].find((f) => tables.has(f)) ?? [...tables.keys()][0];
  if (file === undefined) throw new EvalError(`no candidates.csv in ${dataPath}: eval scores LUNA16's candidates`);
  chosen(file);
  const out = new Map<string, Candidate[]>();
  for (const c of tables.get(file)!) {
    const list = out.get(c.seriesUid);
    if (list) list.push(c);
    else out.set(c.seriesUid, [c]);
  }
  return out;
}

/** Crop (clamped HU) and score every candidate of one scan. */
async function scoreVolume(v: Volume, rows: readonly Candidate[], clf: OnnxClassifier): Promise<{ scored: ScoredCandidate[]; outside: number }> {
  const hu = clampHu(v.data);
  const crop = clf.crop;
  const vox = crop[0] * crop[1] * crop[2];
  const inside = rows.filter((c) => xyzToIrc(c.xyz, v).every((x, a) => x >= 0 && x < v.shape[a]));
  const scored: ScoredCandidate[] = [];
  for (let from = 0; from < inside.length; from += BATCH) {
    const part = inside.slice(from, from + BATCH);
    const x = new Float32Array(part.length * vox);
    part.forEach((c, i) => x.set(extractCrop(hu, v.shape, cropWindow(xyzToIrc(c.xyz, v), v.shape, crop)), i * vox));
    const p = await clf.predict(x, part.length);
    part.forEach((c, i) => scored.push({ seriesUid: c.seriesUid, xyz: c.xyz, probability: p[i] }));
  }
  return { scored, outside: rows.length - inside.length };
}

export function formatReport(r: EvalReport): string {
  const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
  return [
    `${r.model}: ${r.outputKind}, crops ${r.crop.join('×')}, onnxruntime-web ${r.provider}`,
    `  ${r.scans} scans, ${r.candidates} candidates (${r.candidatesFile}${r.outside ? `, ${r.outside} outside their scan left out` : ''}), ${r.nodules} nodules`,
    `  detected ${r.detected} of ${r.nodules} nodules with every candidate; ${r.falsePositives} false positives (${(r.falsePositives / r.scans).toFixed(2)} per scan)`,
    '',
    '  FPs/scan  sensitivity',
    ...r.sensitivities.map((s) => `  ${String(s.fpsPerScan).padStart(8)}  ${pct(s.sensitivity)}`),
    '',
    `  CPM ${r.cpm.toFixed(4)}`,
    `  ${r.seconds.toFixed(1)} s in all; ${r.cropsPerSecond.toFixed(0)} crops/s cropped and scored`,
    ...r.warnings.map((w) => `  warning: ${w}`),
  ].join('\n');
}
