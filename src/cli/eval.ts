/**
 * `luna-lab eval --model FILE.onnx --data DIR [--excluded FILE] [--seriesuids FILE] [--out DIR]
 * [--json]`: LUNA16's official FROC/CPM (src/eval/froc.ts: excluded findings, 100 marks per
 * scan, the bootstrap band) of an ONNX classifier over a LUNA16 folder, in Node with
 * onnxruntime-web (wasm).
 *
 * Every candidate of every scan found under DIR (candidates.csv, else candidates_V2.csv:
 * src/data/candidate-selection.ts) is cropped as the lab crops for training (clamped HU, the
 * book's window shifted inside the volume) at the size the model's input names, scored, and
 * evaluated against annotations.csv by the lab's one evaluation job (src/eval/evaluate.ts, which
 * the page's inference worker runs too). Scans are read and scored one at a time, so memory
 * holds one volume. The model's signature is checked before any data is read.
 *
 * The FP rate divides by the scan list: `--seriesuids` (LUNA16's seriesuids.csv; listed scans
 * absent from DIR count with no marks, scans not listed are not scored), else every scan found
 * under DIR, those that failed to load included (named by their .mhd, as LUNA16 names scans):
 * a scan that cannot be read is not silently left out of the divisor. `--out DIR` writes the
 * marks as an official submission (submission.csv, which `luna-lab froc` and LUNA16's script
 * score alike), the scan list (seriesuids.csv), the summary (eval.json) and the plot (froc.svg).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
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
import type { FrocResult, Nodule, ScoredCandidate } from '../eval/froc.ts';
import { frocSvg } from '../eval/froc-plot.ts';
import { formatSeriesUids, formatSubmission, parseFindings, parseSeriesUids } from '../eval/submission.ts';
import { evaluate, EVAL_BATCH } from '../eval/evaluate.ts';
import { OnnxClassifier } from '../inference/onnx-classifier.ts';
import { readClassifierSignature } from '../inference/onnx-signature.ts';
import { mlflowModelOnnx } from '../train/model-source.ts';

export class EvalError extends Error {
  override name = 'EvalError';
}

export interface EvalReport extends Omit<FrocResult, 'curve' | 'maxMarksPerScan'> {
  model: string;
  provider: string;
  crop: [number, number, number];
  outputKind: string;
  candidatesFile: string;
  /** Candidates left out because they lie outside their scan. */
  outside: number;
  /** Where the scan list came from: the --seriesuids file, or "scans found in DIR". */
  scanListSource: string;
  /** Listed scans that were not scored (failed to load, or absent): counted with no marks. */
  unscored: string[];
  excludedFile: string | null;
  seconds: number;
  cropsPerSecond: number;
  curve: { fpsPerScan: number; sensitivity: number; threshold: number | null }[];
  /** The per-scan limit; null for none (JSON has no Infinity). */
  maxMarksPerScan: number | null;
  warnings: string[];
  /** Every scored candidate, only with `withPredictions` (tests compare them with the page's). */
  predictions?: ScoredCandidate[];
}

const USAGE =
  'Usage: luna-lab eval --model FILE.onnx|models:/NAME/VERSION --data DIR [--mlflow URL] [--excluded FILE] [--seriesuids FILE] [--out DIR] [--json]';

export async function evalCommand(args: ParsedArgs, io: Io): Promise<number> {
  const modelPath = args.values.model as string | undefined;
  const dataPath = args.values.data as string | undefined;
  if (!modelPath) throw new UsageError(`Missing --model FILE.onnx (or models:/NAME/VERSION). ${USAGE}`);
  if (!dataPath) throw new UsageError(`Missing --data DIR. ${USAGE}`);
  const threads = parseInteger(args.values.threads as string | undefined, 'threads', 1, 1, 64);
  const out = args.values.out as string | undefined;
  // A registered or logged MLflow model: its model/model.onnx, from the tracking server.
  const mlflow = (args.values.mlflow as string | undefined) ?? process.env.MLFLOW_TRACKING_URI ?? '';
  const modelBytes = /^(runs|models):/.test(modelPath)
    ? await mlflowModelOnnx(modelPath, mlflow).catch((e: unknown) => {
        throw new EvalError(`--model ${e instanceof Error ? e.message : String(e)}`);
      })
    : undefined;
  const report = await evaluateFolder(modelPath, dataPath, {
    modelBytes,
    threads,
    progress: (s) => (args.values.json ? undefined : io.err(s)),
    excludedPath: args.values.excluded as string | undefined,
    seriesUidsPath: args.values.seriesuids as string | undefined,
    withPredictions: out !== undefined,
  });
  const { predictions, scanList, ...summary } = report;
  if (out !== undefined) {
    await writeEvalOutputs(out, report, basename(modelPath));
    if (!args.values.json) io.err(`wrote submission.csv, seriesuids.csv, eval.json and froc.svg to ${out}`);
  }
  if (args.values.json) io.out(JSON.stringify(summary, null, 2));
  else io.out(formatReport(report));
  return 0;
}

/** An evaluation's files in `out`: submission.csv (needs `predictions`), seriesuids.csv,
 *  eval.json (the report without marks and scan list) and froc.svg titled `title`. */
export async function writeEvalOutputs(
  out: string,
  report: EvalReport & { scanList: string[] },
  title: string,
): Promise<void> {
  const { predictions, scanList, ...summary } = report;
  await mkdir(out, { recursive: true });
  await writeFile(join(out, 'submission.csv'), formatSubmission(predictions ?? []));
  await writeFile(join(out, 'seriesuids.csv'), formatSeriesUids(scanList));
  await writeFile(join(out, 'eval.json'), JSON.stringify(summary, null, 2) + '\n');
  await writeFile(
    join(out, 'froc.svg'),
    frocSvg(
      {
        ...report,
        curve: report.curve.map((p) => ({ ...p, threshold: p.threshold ?? Infinity })),
        maxMarksPerScan: report.maxMarksPerScan ?? Infinity,
      },
      title,
    ),
  );
}

/** Whether a file of a `sourcesAt` listing (paths "DATA/subsetN/…") is kept by a subset filter:
 *  tables (.csv) always; anything else only inside one of `subsets` (a folder of that name). */
export function inSubsets(path: string, subsets: ReadonlySet<string>): boolean {
  if (/\.csv$/i.test(path)) return true;
  // A zip counts as the folder it unpacks to ("DATA/subset3.zip" holds subset3/).
  const folders = path
    .replace(/\.zip$/i, '/')
    .split('/')
    .slice(1, -1);
  return folders.some((f) => subsets.has(f));
}

/** A text file the command needs, its error naming the flag. */
async function readText(flag: string, path: string): Promise<string> {
  return readFile(path, 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw new EvalError(e.code === 'ENOENT' ? `--${flag} ${path}: no such file` : `--${flag} ${path}: ${e.message}`);
  });
}

export async function evaluateFolder(
  modelPath: string,
  dataPath: string,
  opts: {
    threads?: number;
    progress?: (line: string) => void;
    withPredictions?: boolean;
    excludedPath?: string;
    seriesUidsPath?: string;
    /** Only the scans in these subset folders of DIR (its tables still count): a cv fold's held-out subset. */
    subsets?: readonly string[];
    /** The model's bytes when they do not come from the file `modelPath` (an MLflow model URI). */
    modelBytes?: Uint8Array;
  } = {},
): Promise<EvalReport & { scanList: string[] }> {
  const t0 = performance.now();
  const bytes =
    opts.modelBytes ??
    (await readFile(modelPath).catch((e: NodeJS.ErrnoException) => {
      throw new EvalError(
        e.code === 'ENOENT' ? `model file ${modelPath}: no such file` : `model file ${modelPath}: ${e.message}`,
      );
    }));
  const name = opts.modelBytes ? modelPath : basename(modelPath);
  readClassifierSignature(bytes, name); // fail on a wrong model before reading any scan
  const excluded: Nodule[] = opts.excludedPath
    ? parseFindings(await readText('excluded', opts.excludedPath), opts.excludedPath)
    : [];
  const listed = opts.seriesUidsPath
    ? parseSeriesUids(await readText('seriesuids', opts.seriesUidsPath), opts.seriesUidsPath)
    : null;
  const found = await sourcesAt(dataPath).catch((e: NodeJS.ErrnoException) => {
    throw new EvalError(
      e.code === 'ENOENT' ? `--data ${dataPath}: no such file or folder` : `--data ${dataPath}: ${e.message}`,
    );
  });
  const only = opts.subsets ? new Set(opts.subsets) : null;
  const files = only ? found.filter((f) => inSubsets(f.path, only)) : found;
  ort.env.wasm.numThreads = opts.threads ?? 1;
  const clf = await OnnxClassifier.open(bytes, { source: name, preferred: 'wasm', maxBatch: EVAL_BATCH });
  try {
    const annotations: Annotation[] = [];
    const tables: { file: string; rows: Candidate[] }[] = [];
    const errors: string[] = [];
    const warnings: string[] = [];
    /** Scans whose header was found but that could not be read: LUNA16 names a scan by its .mhd. */
    const failedScans: string[] = [];
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
        const scan = /([^/\\]+)\.(?:mhd|mha)$/i.exec(item.file);
        if (scan) failedScans.push(scan[1]);
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
      throw new EvalError(
        `no CT scans found in ${dataPath} (expected subsetN/*.mhd + .raw)${errors.length ? `; errors: ${errors.join('; ')}` : ''}`,
      );
    }
    // By exact name (candidates.csv, else candidates_V2.csv), else the first table read.
    const table = preferredTable(tables, (t) => t.file.replace(/\.csv$/, ''));
    if (!table) throw new EvalError(`no candidates.csv in ${dataPath}: eval scores LUNA16's candidates`);

    // One scan in memory at a time: the next is read once the previous is scored.
    const source = new VolumeCropSource();
    const wanted = listed ? new Set(listed) : null;
    const loaded: string[] = [];
    async function* scans(): AsyncGenerator<string> {
      for (let v: Volume | null = first; v; v = await nextVolume()) {
        if (wanted && !wanted.has(v.seriesUid)) continue; // not on the scan list: not scored
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
    // Without a list, every scan found counts; the scan list is complete once the stream ends.
    const scanList: string[] = listed ?? [];
    const r = await evaluate({
      source,
      series: (async function* () {
        yield* scans();
        if (!listed) scanList.push(...loaded, ...failedScans);
      })(),
      scanList,
      candidates: table.rows,
      annotations,
      froc: { excluded },
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
      scanListSource: opts.seriesUidsPath ?? `scans found in ${dataPath}${only ? ` (${[...only].join(', ')})` : ''}`,
      unscored: r.unscored,
      excludedFile: opts.excludedPath ?? null,
      scanList: [...new Set(scanList)],
      seconds,
      cropsPerSecond: r.predictions.length / Math.max(r.scoreSeconds, 1e-9),
      // JSON has no Infinity: the (0, 0) point's threshold becomes null.
      curve: r.froc.curve.map((p) => ({ ...p, threshold: Number.isFinite(p.threshold) ? p.threshold : null })),
      maxMarksPerScan: Number.isFinite(r.froc.maxMarksPerScan) ? r.froc.maxMarksPerScan : null,
      warnings: [
        ...warnings,
        ...errors,
        ...r.warnings,
        ...r.froc.warnings,
        ...(r.unscored.length
          ? [
              `${r.unscored.length} listed scan(s) not scored (failed to load or not in ${dataPath}): they count with no marks, as LUNA16 counts them`,
            ]
          : []),
      ],
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
    `  ${r.scans} scans (${r.scanListSource}${r.unscored.length ? `; ${r.unscored.length} not scored, counted with no marks` : ''}), ${r.candidates} candidates (${r.candidatesFile}${r.outside ? `, ${r.outside} outside their scan left out` : ''}), ${r.nodules} nodules`,
    `  LUNA16's rules: at most ${r.maxMarksPerScan ?? 'any number of'} marks per scan (${r.overLimit} beyond it dropped); ${r.excludedFile ? `${r.excludedMarks} marks on excluded findings of ${r.excludedFile} ignored` : 'no --excluded findings'}`,
    `  detected ${r.detected} of ${r.nodules} nodules with every mark kept; ${r.falsePositives} false positives (${(r.falsePositives / r.scans).toFixed(2)} per scan)`,
    '',
    '  FPs/scan  sensitivity',
    ...r.sensitivities.map((s) => `  ${String(s.fpsPerScan).padStart(8)}  ${pct(s.sensitivity)}`),
    '',
    `  CPM ${r.cpm.toFixed(4)}${r.band ? ` (${pct(r.band.confidence)} band ${r.band.cpm.lower.toFixed(4)}–${r.band.cpm.upper.toFixed(4)}, ${r.band.samples} bootstrap samples)` : ''}`,
    `  ${r.seconds.toFixed(1)} s in all; ${r.cropsPerSecond.toFixed(0)} crops/s cropped and scored`,
    ...r.warnings.map((w) => `  warning: ${w}`),
  ].join('\n');
}
