/**
 * The commands that read scans on the command line itself (no browser): inspect, crop, synth.
 * Their own module, imported when one of them runs, so `--help` and `url` do not load the
 * readers (daikon, fflate, papaparse).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parseChoice, parseInteger, parseTriple, UsageProblems, type ParsedArgs } from './args.ts';
import { sourcesAt } from './node-source.ts';
import { loadFiles } from '../data/load.ts';
import { clampHu, huStats, type Volume } from '../data/volume.ts';
import { xyzToIrc } from '../data/geometry.ts';
import { cropWindow, extractCrop, DEFAULT_CROP } from '../data/crop.ts';
import { generateSynthetic, type SynthSize } from '../data/synthetic.ts';
import { errorLine, noteLine } from './diagnostics.ts';
import type { Io } from './main.ts';

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

export async function inspect(args: ParsedArgs, io: Io): Promise<number> {
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

export async function crop(args: ParsedArgs, io: Io): Promise<number> {
  const problems = new UsageProblems();
  if (args.values.xyz === undefined) problems.add('Missing --xyz X,Y,Z (the centre in world mm)');
  const xyz =
    args.values.xyz === undefined ? undefined : problems.take(() => parseTriple(args.values.xyz as string, 'xyz'));
  const size = problems.take(() =>
    args.values.size === undefined ? DEFAULT_CROP : parseTriple(args.values.size as string, 'size', true),
  );
  problems.done();
  if (!xyz || !size) throw new Error('unreachable: checked above');
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

export async function synth(args: ParsedArgs, io: Io): Promise<number> {
  const out = args.values.out as string | undefined;
  const problems = new UsageProblems();
  if (!out)
    problems.add('Missing --out DIR. Usage: luna-lab synth --out DIR [--scans N] [--size tiny|small|full] [--seed S]');
  const str = (k: string) => args.values[k] as string | undefined;
  const scans = problems.take(() => parseInteger(str('scans'), 'scans', 4, 1, 10_000));
  const size = problems.take(() => parseChoice<SynthSize>(str('size'), 'size', ['tiny', 'small', 'full'], 'small'));
  const seed = problems.take(() => parseInteger(str('seed'), 'seed', 1, 1, 2 ** 31 - 1));
  const subsets = problems.take(() => parseInteger(str('subsets'), 'subsets', 1, 1, 10));
  problems.done();
  if (!out || !scans || !size || !seed || !subsets) throw new Error('unreachable: checked above');
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
