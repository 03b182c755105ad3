/**
 * `luna-lab eval --model FILE.onnx --data DIR [--json]`: LUNA16's FROC/CPM of an ONNX
 * classifier over a LUNA16 folder, in Node with onnxruntime-web (wasm).
 *
 * Every candidate of every scan found under DIR (candidates.csv, else candidates_V2.csv:
 * src/data/candidate-selection.ts) is cropped as the lab crops for training (clamped HU, the
 * book's window shifted inside the volume) at the size the model's input names, scored, and
 * evaluated against annotations.csv by the lab's one evaluation job (src/eval/evaluate.ts, which
 * the page's inference worker runs too). Scans are read and scored one at a time, so memory
 * holds one volume. The model's signature is checked before any data is read.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import * as ort from 'onnxruntime-web';
import type { ParsedArgs } from './args.ts';
import { parseInteger, UsageError } from './args.ts';
import type { Io } from './main.ts';
import { sourcesAt } from './node-source.ts';
import { loadFiles, type LoadItem } from '../data/load.ts';
import type { Annotation, Candidate } from '../data/luna-csv.ts';
import type { Volume } from '../data/volume.ts';
import { preferredTable } from '../data/candidate-selection.ts';
import { VolumeCropSource } from '../data/crop-source.ts';
import type { FrocResult, ScoredCandidate } from '../eval/froc.ts';
import { evaluate, EVAL_BATCH } from '../eval/evaluate.ts';
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
  const clf = await OnnxClassifier.open(bytes, { source: name, preferred: 'wasm', maxBatch: EVAL_BATCH });
  try {
    const annotations: Annotation[] = [];
    const tables: { file: string; rows: Candidate[] }[] = [];
    const errors: string[] = [];
    const warnings: string[] = [];
    const take = (item: LoadItem): Volume | null => {
      if (item.type === 'annotations') {
        annotations.push(...item.rows);
        for (const e of item.rowErrors) warnings.push(e.message);
      } else if (item.type === 'candidates') {
        const file = basename(item.file);
        const same = tables.findIndex((t) => t.file === file); // a later file of the same name replaces it
        if (same >= 0) tables[same] = { file, rows: item.rows };
        else tables.push({ file, rows: item.rows });
        for (const e of item.rowErrors) warnings.push(e.message);
      } else if (item.type === 'error') {
        errors.push(item.message);
      } else if (item.type === 'volume') {
        return item.volume;
      }
      return null;
    };
    const items = loadFiles(files)[Symbol.asyncIterator]();
    const nextVolume = async (): Promise<Volume | null> => {
      for (let r = await items.next(); !r.done; r = await items.next()) {
        const v = take(r.value);
        if (v) return v;
      }
      return null;
    };
    // Tables come before scans (load.ts): the candidate table is known by the first scan.
    const first = await nextVolume();
    if (!first) {
      throw new EvalError(`no CT scans found in ${dataPath} (expected subsetN/*.mhd + .raw)${errors.length ? `; errors: ${errors.join('; ')}` : ''}`);
    }
    // By exact name (candidates.csv, else candidates_V2.csv), else the first table read.
    const table = preferredTable(tables, (t) => t.file.replace(/\.csv$/, ''));
    if (!table) throw new EvalError(`no candidates.csv in ${dataPath}: eval scores LUNA16's candidates`);

    // One scan in memory at a time: the next is read once the previous is scored.
    const source = new VolumeCropSource();
    async function* scans(): AsyncGenerator<string> {
      const loaded: string[] = [];
      for (let v: Volume | null = first; v; v = await nextVolume()) {
        source.clear();
        source.add(v);
        loaded.push(v.seriesUid);
        yield v.seriesUid;
      }
      source.clear();
      const uids = new Set(loaded);
      if (!annotations.some((a) => uids.has(a.seriesUid))) {
        throw new EvalError(
          annotations.length
            ? `annotations.csv has no nodules for the ${uids.size} scan(s) in ${dataPath}: FROC needs at least one`
            : `no annotations.csv in ${dataPath}: FROC needs LUNA16's nodule annotations`,
        );
      }
    }
    const r = await evaluate({
      source,
      series: scans(),
      candidates: table.rows,
      annotations,
      classify: (x, n) => clf.predict(x, n),
      crop: clf.crop,
      progress: (p) => {
        if (p.seriesDone === p.seriesTotal) opts.progress?.(`scored ${p.seriesTotal} candidates of ${p.seriesUid}`);
      },
    });
    const seconds = (performance.now() - t0) / 1000;
    return {
      ...r.froc,
      model: modelPath,
      provider: clf.provider,
      crop: clf.crop,
      outputKind: `${clf.signature.output} (${clf.signature.outputKind})`,
      candidatesFile: table.file,
      outside: r.outside,
      seconds,
      cropsPerSecond: r.predictions.length / Math.max(r.scoreSeconds, 1e-9),
      // JSON has no Infinity: the (0, 0) point's threshold becomes null.
      curve: r.froc.curve.map((p) => ({ ...p, threshold: Number.isFinite(p.threshold) ? p.threshold : null })),
      warnings: [...warnings, ...errors, ...r.warnings],
      ...(opts.withPredictions ? { predictions: r.predictions } : {}),
    };
  } finally {
    await clf.release();
  }
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
