/**
 * `luna-lab`: the lab's command line. Each command validates its arguments before any
 * work; failures print `luna-lab: <what>` once each (diagnostics.ts; the stack only with
 * LUNA_DEBUG set). Exit codes: 0 success, 1 failure, 2 usage, 130 interrupted.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { formatIssue } from '../config/lab-config.ts';
import { decodeLabUrl, encodeLabUrl } from '../config/lab-url.ts';
import { resolveTrainConfig } from './train-config.ts';
import { dirname, join } from 'node:path';
import { readFileSync } from 'node:fs';
import { parseArgs, parseChoice, parseInteger, parseTriple, helpText, UsageError, type ParsedArgs } from './args.ts';
import { sourcesAt } from './node-source.ts';
import { loadFiles } from '../data/load.ts';
import { clampHu, huStats, type Volume } from '../data/volume.ts';
import { xyzToIrc } from '../data/geometry.ts';
import { cropWindow, extractCrop, DEFAULT_CROP } from '../data/crop.ts';
import { generateSynthetic, type SynthSize } from '../data/synthetic.ts';
import { describeError, errorLine, exitCodeOf, noteLine, onceIo } from './diagnostics.ts';

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
}

const stdio: Io = { out: (s) => process.stdout.write(s + '\n'), err: (s) => process.stderr.write(s + '\n') };

export async function main(argv: readonly string[], given: Io = stdio): Promise<number> {
  const io = onceIo(given);
  let args: ParsedArgs;
  try {
    args = parseArgs(argv);
  } catch (e) {
    io.err(describeError(e));
    return 2;
  }
  try {
    switch (args.command) {
      case 'help':
        io.out(helpText(args.positionals[0]));
        return 0;
      case 'version':
        io.out(version());
        return 0;
      case 'inspect':
        return await inspect(args, io);
      case 'crop':
        return await crop(args, io);
      case 'synth':
        return await synth(args, io);
      case 'mlflow':
        return await mlflow(args, io);
      case 'eval': {
        const { evalCommand } = await import('./eval.ts');
        return await evalCommand(args, io);
      }
      case 'froc': {
        const { frocCommand } = await import('./froc.ts');
        return await frocCommand(args, io);
      }
      case 'url':
        return await url(args, io);
      case 'train': {
        const { train } = await import('./train.ts');
        return await train(args, io);
      }
      case 'sweep': {
        const { sweep } = await import('./sweep.ts');
        return await sweep(args, io);
      }
      case 'cv': {
        const { cv } = await import('./cv.ts');
        return await cv(args, io);
      }
      case 'bench': {
        const { bench } = await import('./bench.ts');
        return await bench(args, io);
      }
    }
  } catch (e) {
    io.err(describeError(e));
    return exitCodeOf(e);
  }
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

interface LoadedSeries {
  volumes: Volume[];
  errors: { file: string; message: string }[];
}

async function loadPath(path: string): Promise<LoadedSeries> {
  const files = await sourcesAt(path).catch((e: NodeJS.ErrnoException) => {
    throw new Error(e.code === 'ENOENT' ? `${path}: no such file or folder` : `${path}: ${e.message}`);
  });
  const out: LoadedSeries = { volumes: [], errors: [] };
  const given = asGiven(
    path,
    files.map((f) => f.path),
  );
  for await (const item of loadFiles(files)) {
    if (item.type === 'volume') out.volumes.push(item.volume);
    else if (item.type === 'error') out.errors.push({ file: item.file, message: given(item.message) });
  }
  return out;
}

/**
 * Messages name a file by its source path, relative to the folder above the one given
 * (node-source.ts); on the terminal the user should see it as they named it: the path given,
 * then the file below it.
 */
export function asGiven(given: string, sourcePaths: readonly string[]): (message: string) => string {
  const base = dirname(given.replace(/[\\/]+$/, ''));
  if (base === '.') return (m) => m;
  const paths = [...new Set(sourcePaths)].sort((a, b) => b.length - a.length);
  return (m) => {
    const p = paths.find((q) => m.startsWith(q) && !/[\w.-]/.test(m.charAt(q.length)));
    return p ? join(base, p) + m.slice(p.length) : m;
  };
}

function reportErrors(errors: LoadedSeries['errors'], io: Io) {
  for (const e of errors) io.err(errorLine(e.message));
}

async function inspect(args: ParsedArgs, io: Io): Promise<number> {
  const { volumes, errors } = await loadPath(args.positionals[0]);
  const series = volumes.map((v) => ({
    format: v.format,
    seriesUid: v.seriesUid,
    shape: [...v.shape],
    spacing: [...v.spacing],
    origin: [...v.origin],
    direction: [...v.direction],
    hu: huStats(v.data),
    files: v.files.length,
    warnings: [...v.warnings],
  }));
  if (args.values.json) {
    io.out(JSON.stringify({ series, errors }, null, 2));
  } else {
    for (const s of series) {
      io.out(`${s.seriesUid} (${s.format}, ${s.files} file${s.files === 1 ? '' : 's'})`);
      io.out(`  shape [index,row,col]  ${s.shape.join(' × ')}`);
      io.out(`  spacing x,y,z (mm)     ${s.spacing.map((n) => +n.toFixed(4)).join(', ')}`);
      io.out(`  origin  x,y,z (mm)     ${s.origin.map((n) => +n.toFixed(3)).join(', ')}`);
      io.out(`  direction              ${s.direction.map((n) => +n.toFixed(4)).join(' ')}`);
      io.out(`  HU min/max/mean        ${s.hu.min} / ${s.hu.max} / ${s.hu.mean.toFixed(1)}`);
      for (const w of s.warnings) io.out(`  warning: ${w}`);
    }
  }
  reportErrors(errors, io);
  if (!series.length && !errors.length) io.err(errorLine(`no CT series found in ${args.positionals[0]}`));
  return series.length && !errors.length ? 0 : 1;
}

async function crop(args: ParsedArgs, io: Io): Promise<number> {
  if (args.values.xyz === undefined) throw new UsageError('Missing --xyz X,Y,Z (the centre in world mm)');
  const xyz = parseTriple(args.values.xyz as string, 'xyz');
  const size = args.values.size === undefined ? DEFAULT_CROP : parseTriple(args.values.size as string, 'size', true);
  const { volumes, errors } = await loadPath(args.positionals[0]);
  reportErrors(errors, io);
  if (volumes.length === 0) {
    io.err(errorLine(`no CT series found in ${args.positionals[0]}`));
    return 1;
  }
  if (volumes.length > 1)
    io.err(noteLine(`${volumes.length} series found; cropping the first, ${volumes[0].seriesUid}`));
  const v = volumes[0];
  const center = xyzToIrc(xyz, v);
  const inside = center.every((c, axis) => c >= 0 && c < v.shape[axis]);
  if (!inside) {
    io.err(
      errorLine(
        `world point ${xyz.join(', ')} is voxel ${center.join(', ')} (index,row,col), outside the volume of shape ${v.shape.join('×')}`,
      ),
    );
    return 1;
  }
  const win = cropWindow(center, v.shape, size);
  const hu = clampHu(v.data);
  const voxels = extractCrop(hu, v.shape, win);
  const mid =
    ((center[0] - win.start[0]) * size[1] + (center[1] - win.start[1])) * size[2] + (center[2] - win.start[2]);
  const result = {
    seriesUid: v.seriesUid,
    xyz,
    centerIrc: [...center],
    start: [...win.start],
    size: [...size],
    shifted: win.shifted,
    padded: win.padded,
    centerHu: voxels[mid],
    hu: huStats(voxels),
  };
  if (args.values.json) io.out(JSON.stringify(result, null, 2));
  else {
    io.out(`${v.seriesUid}: world (${xyz.join(', ')}) mm → voxel [${center.join(', ')}] (index,row,col)`);
    io.out(
      `  crop ${size.join('×')} from [${win.start.join(', ')}]${win.shifted ? ' (shifted inside the volume)' : ''}${win.padded ? ' (volume shorter than the crop: padded with air)' : ''}`,
    );
    io.out(
      `  HU at centre ${result.centerHu}; crop min/max/mean ${result.hu.min} / ${result.hu.max} / ${result.hu.mean.toFixed(1)}`,
    );
  }
  return 0;
}

async function synth(args: ParsedArgs, io: Io): Promise<number> {
  const out = args.values.out as string | undefined;
  if (!out)
    throw new UsageError(
      'Missing --out DIR. Usage: luna-lab synth --out DIR [--scans N] [--size tiny|small|full] [--seed S]',
    );
  const scans = parseInteger(args.values.scans as string | undefined, 'scans', 4, 1, 10_000);
  const size = parseChoice<SynthSize>(
    args.values.size as string | undefined,
    'size',
    ['tiny', 'small', 'full'],
    'small',
  );
  const seed = parseInteger(args.values.seed as string | undefined, 'seed', 1, 1, 2 ** 31 - 1);
  const subsets = parseInteger(args.values.subsets as string | undefined, 'subsets', 1, 1, 10);
  let files = 0;
  let bytes = 0;
  const malignancy = args.values.malignancy === true;
  for (const f of generateSynthetic({ scans, size, seed, subsets, malignancy })) {
    const abs = join(out, f.path);
    await mkdir(dirname(abs), { recursive: true });
    await writeFile(abs, f.bytes);
    files++;
    bytes += f.bytes.byteLength;
  }
  io.out(`wrote ${files} files (${(bytes / 1e6).toFixed(1)} MB) to ${out}: ${scans} ${size} scans, seed ${seed}`);
  return 0;
}

async function url(args: ParsedArgs, io: Io): Promise<number> {
  const decode = args.values.decode as string | undefined;
  const configPath = args.values.config as string | undefined;
  if ((decode === undefined) === (configPath === undefined))
    throw new UsageError(
      'Give --config FILE or --decode LAB_URL. Usage: luna-lab url --config FILE [--base URL] | --decode LAB_URL',
    );
  if (decode !== undefined) {
    const { config, issues, notes } = decodeLabUrl(decode);
    if (issues.length) throw new UsageError(`the lab URL cannot be used: ${issues.map(formatIssue).join('; ')}`);
    // stdout stays the config alone (JSON to pipe on); what an older link means differently goes to stderr.
    for (const n of notes) io.err(`note: ${n}`);
    io.out(JSON.stringify(config, null, 2));
    return 0;
  }
  const text = await readFile(configPath!, 'utf8').catch(() => {
    throw new UsageError(`--config ${configPath}: cannot read the file`);
  });
  const base = (args.values.base as string | undefined) ?? 'http://127.0.0.1:4173/';
  if (!/^https?:\/\/[^\s#]+$/.test(base)) throw new UsageError(`--base "${base}" is not an http(s) URL`);
  io.out(encodeLabUrl(resolveTrainConfig({ configFile: { name: configPath!, text } }), base));
  return 0;
}

async function mlflow(args: ParsedArgs, io: Io): Promise<number> {
  const port = parseInteger(args.values.port as string | undefined, 'port', 5000, 1, 65535);
  const { startMlflowServer } = await import('./mlflow-server.ts');
  const server = await startMlflowServer({ port, dir: args.values.dir as string | undefined });
  io.out(
    `MLflow ${await fetch(`${server.url}/version`).then((r) => r.text())} serving on ${server.url} (Ctrl-C stops it)`,
  );
  io.out(`In the lab, set Tracking → server to ${server.url}`);
  await new Promise<void>((resolve) => {
    const stop = () => void server.stop().then(resolve);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return 130;
}
