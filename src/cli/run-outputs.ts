/**
 * What `luna-lab train` leaves in `--out`: run.json (what `--resume` needs), the final and
 * best checkpoints, the exported files (config, lab URL, predictions, tfjs and ONNX models),
 * metrics.csv and a TensorBoard event file. Every file is written whole to a temporary name and
 * renamed, so an interrupted process never leaves half a checkpoint.
 */
import { hostname } from 'node:os';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { LabConfig } from '../config/lab-config.ts';
import type { CheckpointOut, FileOut, SourceWeightsOut } from '../headless/headless-api.ts';
import type { WeightSpec } from '../store/records.ts';
import { parseTfjsManifest } from '../train/model-source.ts';
import type { MetricPoint } from '../store/records.ts';
import { EventFileWriter, eventFileName, writeMetricPoints } from '../tracking/tfevents.ts';
import type { Device } from './headless-session.ts';
import { chromeTrace, kernelTable, kernelTableCsv, type ProfileReport } from '../train/step-profiler.ts';

/** run.json: enough to find the run again and continue it. */
export interface RunMeta {
  runId: string;
  name: string;
  config: LabConfig;
  labUrl: string;
  dataDir: string;
  profileDir: string;
  device: Device;
  createdAt: number;
  /** Wall time (s) of the TensorBoard file, so a resumed run rewrites the same file. */
  eventsWallTime: number;
  status?: string;
  adapter?: string | null;
  backend?: string | null;
  /** The run's MLflow tags, kept while it is `starting` (a resume that starts it needs them). */
  tags?: { key: string; value: string }[];
}

/** The status of a run.json written before the page created the run: its id is reserved, and
 *  `--resume` starts the run under that id when the profile does not have it (issue 15). */
export const STARTING = 'starting';

export const OUT = {
  meta: 'run.json',
  metrics: 'metrics.csv',
  console: 'console.log',
  tensorboard: 'tensorboard',
  final: 'checkpoints/final',
  best: 'checkpoints/best',
  trace: 'profile/trace.json',
  kernels: 'profile/kernels.csv',
} as const;

async function writeAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, data);
  await rename(tmp, path);
}

export async function writeMeta(out: string, meta: RunMeta): Promise<void> {
  await writeAtomic(join(out, OUT.meta), JSON.stringify(meta, null, 2) + '\n');
}

/** The run.json of `out`; errors name it under `shownAs`, the folder as the user gave it. */
export async function readMeta(out: string, shownAs = out): Promise<RunMeta> {
  const path = join(shownAs, OUT.meta);
  let text: string;
  try {
    text = await readFile(join(out, OUT.meta), 'utf8');
  } catch {
    throw new Error(`${path} is missing: --resume needs the --out folder of an earlier luna-lab train`);
  }
  let meta: Partial<RunMeta>;
  try {
    meta = JSON.parse(text) as Partial<RunMeta>;
  } catch (e) {
    throw new Error(`${path}: not JSON (${(e as Error).message})`, { cause: e });
  }
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta))
    throw new Error(`${path}: expected a JSON object`);
  for (const k of ['runId', 'config', 'dataDir', 'profileDir'] as const) {
    if (!meta[k]) throw new Error(`${path}: field "${k}" is missing`);
  }
  return meta as RunMeta;
}

/** A checkpoint as three files: checkpoint.json (epoch, specs, sampler/RNG state), weights.bin, optimizer.bin. */
export async function writeCheckpoint(dir: string, cp: CheckpointOut): Promise<void> {
  const { weights, optimizer, ...meta } = cp;
  // The three files go to a fresh folder that then replaces the old one, so weights, optimizer
  // and sampler state always belong to one epoch (at worst the old folder is left as .old).
  const tmp = `${dir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  await writeFile(join(tmp, 'weights.bin'), Buffer.from(weights, 'base64'));
  await writeFile(join(tmp, 'optimizer.bin'), Buffer.from(optimizer, 'base64'));
  await writeFile(
    join(tmp, 'checkpoint.json'),
    JSON.stringify({ format: 'luna-lab-checkpoint/1', ...meta }, null, 2) + '\n',
  );
  const old = `${dir}.old`;
  await rm(old, { recursive: true, force: true });
  await rename(dir, old).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'ENOENT') throw e;
  });
  await rename(tmp, dir);
  await rm(old, { recursive: true, force: true });
}

/**
 * The weights of a `--out` folder for `--from`: its final checkpoint, else its exported tfjs
 * model, with tags that name the folder, its run and epoch. Errors name the folder as given.
 */
export async function readRunFolderWeights(dir: string, shownAs = dir): Promise<SourceWeightsOut> {
  const tags = [{ key: 'luna.finetune.source_folder', value: dir }];
  const meta = await readMeta(dir, shownAs).catch(() => null);
  if (meta) tags.push({ key: 'luna.finetune.source_run', value: meta.runId });
  const cpJson = join(dir, OUT.final, 'checkpoint.json');
  const text = await readFile(cpJson, 'utf8').catch(() => null);
  if (text !== null) {
    let cp: { epoch?: number; weightSpecs?: WeightSpec[] };
    try {
      cp = JSON.parse(text) as typeof cp;
    } catch (e) {
      throw new Error(`${join(shownAs, OUT.final, 'checkpoint.json')}: not JSON (${(e as Error).message})`, {
        cause: e,
      });
    }
    if (!Array.isArray(cp.weightSpecs))
      throw new Error(`${join(shownAs, OUT.final, 'checkpoint.json')}: field "weightSpecs" is missing`);
    const data = await readFile(join(dir, OUT.final, 'weights.bin'));
    if (cp.epoch !== undefined) tags.push({ key: 'luna.finetune.source_epoch', value: String(cp.epoch) });
    return { specs: cp.weightSpecs, base64: data.toString('base64'), tags };
  }
  const modelJson = await readFile(join(dir, 'tfjs', 'model.json'), 'utf8').catch(() => null);
  if (modelJson === null)
    throw new Error(
      `--from ${shownAs}: neither ${OUT.final}/checkpoint.json nor tfjs/model.json is there (expected the --out folder of a luna-lab train)`,
    );
  const manifest = parseTfjsManifest(modelJson, join(shownAs, 'tfjs', 'model.json'));
  const data = await readFile(join(dir, 'tfjs', manifest.path));
  return { specs: manifest.specs, base64: data.toString('base64'), tags };
}

export async function writeFiles(out: string, files: readonly FileOut[]): Promise<string[]> {
  // Every path checked before any is written: a refused export leaves nothing half-written.
  for (const f of files) {
    if (f.path.split('/').some((p) => p === '..' || p === ''))
      throw new Error(`refusing to write ${f.path} outside ${out}`);
  }
  for (const f of files) await writeAtomic(join(out, f.path), Buffer.from(f.base64, 'base64'));
  return files.map((f) => f.path);
}

/** Metrics as a wide CSV: one row per point (training and validation rows per epoch). */
export function metricsCsv(history: readonly MetricPoint[]): string {
  const keys = [...new Set(history.flatMap((p) => Object.keys(p.values)))].sort();
  const rows = history.map((p) =>
    [p.epoch, p.step, ...keys.map((k) => (k in p.values ? String(p.values[k]) : ''))].join(','),
  );
  return [['epoch', 'step', ...keys].join(','), ...rows].join('\n') + '\n';
}

/** The whole history as one event file (rewritten each epoch: a resumed run drops what its
 *  checkpoint dropped, instead of leaving TensorBoard two values for one step). */
export async function writeHistory(
  out: string,
  history: readonly MetricPoint[],
  wallTimeSec: number,
): Promise<{ csv: string; events: string }> {
  const csv = join(out, OUT.metrics);
  await writeAtomic(csv, metricsCsv(history));
  const writer = new EventFileWriter(wallTimeSec);
  writeMetricPoints(writer, history);
  const events = join(out, OUT.tensorboard, eventFileName(wallTimeSec, hostname().replace(/[/\\]/g, '_')));
  await writeAtomic(events, writer.bytes());
  return { csv, events };
}

/** `--profile`: the Chrome trace (Perfetto, chrome://tracing) and the per-kernel table; the
 *  files written, none when no step was profiled. */
export async function writeProfile(out: string, report: ProfileReport): Promise<string[]> {
  if (!report.steps.length) return [];
  await writeAtomic(join(out, OUT.trace), JSON.stringify(chromeTrace(report)) + '\n');
  await writeAtomic(join(out, OUT.kernels), kernelTableCsv(kernelTable(report)));
  return [OUT.trace, OUT.kernels];
}

/** The seed's names, final values: the last training and the last validation point. */
export function finalMetrics(history: readonly MetricPoint[]): {
  training: Record<string, number>;
  validating: Record<string, number>;
} {
  const last = (prefix: string) => {
    const p = history.findLast((h) => Object.keys(h.values).some((k) => k.startsWith(prefix)));
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries(p?.values ?? {})) if (k.startsWith(prefix)) out[k.slice(prefix.length)] = v;
    return out;
  };
  return { training: last('training/'), validating: last('validating/') };
}
