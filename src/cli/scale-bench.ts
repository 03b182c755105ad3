/**
 * `npm run bench -- --only scale [--scans N]`: LUNA16 at the size it ships, not in CI. Writes a
 * subset0-sized dataset as it is downloaded (N full-size synthetic scans of 512×512×100–400
 * slices in a Zip64 `subset0.zip` of `subset0/<uid>.mhd` + `.raw`, a 551,065-row
 * candidates.csv and the real annotations.csv beside it), then runs `luna-lab train --data` on
 * it twice, on a fresh and then the same (warm) profile, each stopped a while after its first
 * training step, and measures: ingest from the zip (MB/s of voxels), bytes on disk per raw byte
 * (IndexedDB, HTTP cache, whole profile), peak RSS of the browser's processes during ingest and
 * training, time from start to the first training step, training samples/s, and the renderer's
 * RSS after ingest. N defaults to 89 (subset0, ≈11 GB of voxels and of disk for the zip).
 */
import { spawn, execFileSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, readdirSync, writeFileSync, writeSync } from 'node:fs';
import { mkdir, rm, statfs } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { generateScan, luna16MhdHeader, synthAnnotations } from '../data/synthetic.ts';
import { createRng } from '../data/rng.ts';
import { crc32 } from '../data/zip.ts';
import { formatAnnotationsCsv, formatCandidatesCsv, type Annotation, type Candidate } from '../data/luna-csv.ts';

/** LUNA16's candidates.csv has this many rows. */
export const LUNA16_CANDIDATE_ROWS = 551_065;
const REAL_ANNOTATIONS = resolve('..', 'shared', 'ct-samples', 'luna16-annotations', 'annotations.csv');

/** A Zip64 archive written member by member (each member deflated in memory, one at a time). */
export class Zip64Writer {
  private readonly fd: number;
  private at = 0;
  private readonly central: Buffer[] = [];
  constructor(path: string) {
    this.fd = openSync(path, 'w');
  }
  private write(b: Uint8Array) {
    writeSync(this.fd, b);
    this.at += b.byteLength;
  }
  add(name: string, data: Uint8Array): void {
    const z = deflateRawSync(data, { level: 6 });
    const crc = crc32(data);
    const nameBytes = Buffer.from(name, 'utf8');
    const extra = Buffer.alloc(4 + 16);
    extra.writeUInt16LE(1, 0);
    extra.writeUInt16LE(16, 2);
    extra.writeBigUInt64LE(BigInt(data.byteLength), 4);
    extra.writeBigUInt64LE(BigInt(z.byteLength), 12);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(45, 4);
    local.writeUInt16LE(0x800, 6);
    local.writeUInt16LE(8, 8);
    local.writeUInt16LE(0, 10);
    local.writeUInt16LE(((2020 - 1980) << 9) | (1 << 5) | 1, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(0xffffffff, 18);
    local.writeUInt32LE(0xffffffff, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    local.writeUInt16LE(extra.length, 28);
    const offset = this.at;
    this.write(local);
    this.write(nameBytes);
    this.write(extra);
    this.write(z);
    const cextra = Buffer.alloc(4 + 24);
    cextra.writeUInt16LE(1, 0);
    cextra.writeUInt16LE(24, 2);
    cextra.writeBigUInt64LE(BigInt(data.byteLength), 4);
    cextra.writeBigUInt64LE(BigInt(z.byteLength), 12);
    cextra.writeBigUInt64LE(BigInt(offset), 20);
    const c = Buffer.alloc(46);
    c.writeUInt32LE(0x02014b50, 0);
    c.writeUInt16LE(45, 4);
    c.writeUInt16LE(45, 6);
    c.writeUInt16LE(0x800, 8);
    c.writeUInt16LE(8, 10);
    c.writeUInt16LE(local.readUInt16LE(12), 14);
    c.writeUInt32LE(crc, 16);
    c.writeUInt32LE(0xffffffff, 20);
    c.writeUInt32LE(0xffffffff, 24);
    c.writeUInt16LE(nameBytes.length, 28);
    c.writeUInt16LE(cextra.length, 30);
    c.writeUInt32LE(0xffffffff, 42);
    this.central.push(c, nameBytes, cextra);
  }
  close(): number {
    const cdAt = this.at;
    for (const b of this.central) this.write(b);
    const cdSize = this.at - cdAt;
    const count = this.central.length / 3;
    const z64At = this.at;
    const rec = Buffer.alloc(56);
    rec.writeUInt32LE(0x06064b50, 0);
    rec.writeBigUInt64LE(44n, 4);
    rec.writeUInt16LE(45, 12);
    rec.writeUInt16LE(45, 14);
    rec.writeBigUInt64LE(BigInt(count), 24);
    rec.writeBigUInt64LE(BigInt(count), 32);
    rec.writeBigUInt64LE(BigInt(cdSize), 40);
    rec.writeBigUInt64LE(BigInt(cdAt), 48);
    this.write(rec);
    const loc = Buffer.alloc(20);
    loc.writeUInt32LE(0x07064b50, 0);
    loc.writeBigUInt64LE(BigInt(z64At), 8);
    loc.writeUInt32LE(1, 16);
    this.write(loc);
    const end = Buffer.alloc(22);
    end.writeUInt32LE(0x06054b50, 0);
    end.writeUInt16LE(0xffff, 8);
    end.writeUInt16LE(0xffff, 10);
    end.writeUInt32LE(0xffffffff, 12);
    end.writeUInt32LE(0xffffffff, 16);
    this.write(end);
    closeSync(this.fd);
    return this.at;
  }
}

export interface ScaleDataset {
  dir: string;
  scans: number;
  voxelBytes: number;
  zipBytes: number;
  candidateRows: number;
  slices: number[];
}

/** Resample a scan's slices to `depth` (nearest), keeping its field of view. */
function restack(data: Int16Array, shape: readonly number[], depth: number): Int16Array {
  const [d, h, w] = shape;
  const plane = h * w;
  const out = new Int16Array(depth * plane);
  for (let z = 0; z < depth; z++) {
    const src = Math.min(d - 1, Math.floor(((z + 0.5) * d) / depth));
    out.set(data.subarray(src * plane, (src + 1) * plane), z * plane);
  }
  return out;
}

/** The dataset of the scale bench in `dir`: subset0.zip, candidates.csv, annotations.csv. */
export async function writeScaleDataset(
  dir: string,
  scans: number,
  seed = 1,
  log: (line: string) => void = () => undefined,
): Promise<ScaleDataset> {
  await mkdir(dir, { recursive: true });
  const zip = new Zip64Writer(join(dir, 'subset0.zip'));
  const rng = createRng(seed).fork('scale-bench');
  const annotations: Annotation[] = [];
  const candidates: Candidate[] = [];
  let voxelBytes = 0;
  const slices: number[] = [];
  for (let index = 0; index < scans; index++) {
    const scan = generateScan({ size: 'full', seed, index });
    const depth = Math.round(rng.uniform(100, 400));
    const data = restack(scan.data, scan.shape, depth);
    const spacingZ = Math.round(((scan.shape[0] * scan.spacing[2]) / depth) * 1e6) / 1e6;
    const header = luna16MhdHeader({
      shape: [depth, scan.shape[1], scan.shape[2]],
      spacing: [scan.spacing[0], scan.spacing[1], spacingZ],
      origin: scan.origin,
      dataFile: `${scan.seriesUid}.raw`,
    });
    zip.add(`subset0/${scan.seriesUid}.mhd`, new TextEncoder().encode(header));
    zip.add(`subset0/${scan.seriesUid}.raw`, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    voxelBytes += data.byteLength;
    slices.push(depth);
    if ((index + 1) % 10 === 0 && index + 1 < scans) log(`scale: wrote ${index + 1} of ${scans} scans`);
    annotations.push(...synthAnnotations(scan));
    for (const c of scan.candidates) candidates.push({ seriesUid: c.seriesUid, xyz: c.xyz, isNodule: c.isNodule });
  }
  const zipBytes = zip.close();
  // The rest of LUNA16's rows name scans of other subsets: present in the table, absent here.
  for (let k = 0; candidates.length < LUNA16_CANDIDATE_ROWS; k++) {
    candidates.push({
      seriesUid: `1.3.6.1.4.1.55555.9.${Math.floor(k / 620)}`,
      xyz: [rng.uniform(-150, 150), rng.uniform(-150, 150), rng.uniform(-350, -50)],
      isNodule: false,
    });
  }
  const real = readFileSync(REAL_ANNOTATIONS, 'utf8').trimEnd().split(/\r?\n/);
  const mine = formatAnnotationsCsv(annotations).trimEnd().split(/\r?\n/).slice(1);
  writeFileSync(join(dir, 'annotations.csv'), [...real, ...mine].join('\n') + '\n');
  writeFileSync(join(dir, 'candidates.csv'), formatCandidatesCsv(candidates));
  return { dir, scans, voxelBytes, zipBytes, candidateRows: candidates.length, slices };
}

/** Resident memory (bytes) of `root`'s descendants, split into the browser's and the rest;
 *  `browserPss` counts the pages Chromium's processes share (its libraries, mostly) once,
 *  where the RSS sum counts them in every process. */
function treeRss(root: number): { browser: number; browserPss: number; renderer: number; other: number } {
  const parent = new Map<number, number>();
  const info = new Map<number, { rss: number; cmd: string }>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parent.set(Number(name), Number(fields[1]));
      const rssPages = Number(fields[21]);
      const cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8');
      info.set(Number(name), { rss: rssPages * 4096, cmd });
    } catch {
      // gone meanwhile
    }
  }
  const under = (pid: number): boolean => {
    for (let p = pid, n = 0; p > 1 && n < 64; p = parent.get(p) ?? 0, n++) if (p === root) return true;
    return false;
  };
  const out = { browser: 0, browserPss: 0, renderer: 0, other: 0 };
  for (const [pid, { rss, cmd }] of info) {
    if (!under(pid) || pid === root) continue;
    if (/chrom/i.test(cmd.split('\0')[0] ?? '')) {
      out.browser += rss;
      out.browserPss += pssOf(pid);
      if (cmd.includes('--type=renderer')) out.renderer += rss;
    } else out.other += rss;
  }
  return out;
}

/** Proportional set size of `pid`, bytes (0 when it is gone). */
function pssOf(pid: number): number {
  try {
    return Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

function du(path: string): number {
  try {
    return Number(execFileSync('du', ['-sb', path], { encoding: 'utf8' }).split('\t')[0]);
  } catch {
    return 0;
  }
}

export interface ScaleRun {
  label: string;
  ingestSeconds: number;
  /** From the last table stored to the end of ingest: the scans alone (tables come first). */
  voxelSeconds: number;
  firstStepSeconds: number;
  samplesPerSecond: number;
  peakBrowserRssIngest: number;
  peakBrowserRssTrain: number;
  peakBrowserPssIngest: number;
  peakBrowserPssTrain: number;
  rendererRssAfterIngest: number;
  seriesIngested: number;
  alreadyCached: number;
  exit: number | null;
}

/** One `luna-lab train --data dir` run, stopped `trainSeconds` after its first training step. */
export function scaleRun(
  label: string,
  dataDir: string,
  profile: string,
  out: string,
  trainSeconds: number,
  log: (line: string) => void,
): Promise<ScaleRun> {
  const args = [
    'bin/luna-lab.js',
    'train',
    '--data',
    dataDir,
    '--cache',
    profile,
    '--out',
    out,
    '--json',
    ...['--crop', '16,24,24', '--blocks', '2', '--width', '4', '--batch-size', '16', '--epochs', '1', '--seed', '7'],
  ];
  const t0 = performance.now();
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const r: ScaleRun = {
    label,
    ingestSeconds: NaN,
    voxelSeconds: NaN,
    firstStepSeconds: NaN,
    samplesPerSecond: NaN,
    peakBrowserRssIngest: 0,
    peakBrowserRssTrain: 0,
    peakBrowserPssIngest: 0,
    peakBrowserPssTrain: 0,
    rendererRssAfterIngest: NaN,
    seriesIngested: 0,
    alreadyCached: 0,
    exit: null,
  };
  let phase: 'ingest' | 'train' = 'ingest';
  let stored = 0;
  let started = NaN;
  let tablesDone = NaN;
  const sample = setInterval(() => {
    const m = treeRss(child.pid ?? 0);
    if (phase === 'ingest') {
      r.peakBrowserRssIngest = Math.max(r.peakBrowserRssIngest, m.browser);
      r.peakBrowserPssIngest = Math.max(r.peakBrowserPssIngest, m.browserPss);
    } else {
      r.peakBrowserRssTrain = Math.max(r.peakBrowserRssTrain, m.browser);
      r.peakBrowserPssTrain = Math.max(r.peakBrowserPssTrain, m.browserPss);
    }
  }, 500);
  let buf = '';
  child.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (!line.startsWith('{')) continue;
      const e = JSON.parse(line) as Record<string, unknown>;
      const t = (performance.now() - t0) / 1000;
      if (e.event === 'start') started = tablesDone = t;
      if (e.event === 'ingest' && /\.csv$/i.test(String(e.file))) tablesDone = t;
      if (e.event === 'ingest' && e.status === 'stored' && /\.mhd$/i.test(String(e.file)) && ++stored % 10 === 0)
        log(`scale ${label}: ${stored} series stored at ${t.toFixed(0)} s`);
      if (e.event === 'ingested') {
        r.ingestSeconds = t - started;
        r.voxelSeconds = t - tablesDone;
        r.seriesIngested = Number(e.series);
        r.alreadyCached = Number(e.alreadyCached);
        r.rendererRssAfterIngest = treeRss(child.pid ?? 0).renderer;
        phase = 'train';
        log(`scale ${label}: ingested ${r.seriesIngested} series in ${r.ingestSeconds.toFixed(1)} s`);
      }
      if (e.event === 'progress' && e.phase === 'training') {
        if (Number.isNaN(r.firstStepSeconds)) {
          r.firstStepSeconds = t;
          log(`scale ${label}: first training step at ${t.toFixed(1)} s`);
          setTimeout(() => child.kill('SIGINT'), trainSeconds * 1000);
        }
        if (typeof e.samplesPerSecond === 'number') r.samplesPerSecond = e.samplesPerSecond;
      }
    }
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((ok) => {
    child.on('close', (code) => {
      clearInterval(sample);
      r.exit = code;
      if (Number.isNaN(r.firstStepSeconds)) log(`scale ${label}: no training step; stderr:\n${stderr.slice(-2000)}`);
      ok(r);
    });
  });
}

const gb = (b: number) => `${(b / 1e9).toFixed(2)} GB`;

/** Disk the bench holds at its peak: the zip (≈0.57 of the voxels at deflate 6, measured) and
 *  the profile after the fresh run (≈1.1 of them: the synthetic noise compresses little), for
 *  scans of 250 slices on average (100–400), plus the CSVs, with 20 % to spare. */
export function scaleDiskBytes(scans: number): number {
  const voxels = scans * 512 * 512 * 250 * 2;
  return Math.ceil((voxels * (0.57 + 1.1) + 60e6) * 1.2);
}

async function diskFreeBytes(path: string): Promise<number> {
  const s = await statfs(path);
  return s.bavail * s.bsize;
}

/** The whole scale bench; returns its BENCHMARKS.md section. */
export async function benchScale(tmp: string, scans: number, log: (line: string) => void): Promise<string> {
  const dir = join(tmp, 'scale-data');
  const need = scaleDiskBytes(scans);
  const free = await diskFreeBytes(tmp);
  log(
    `scale: ${scans} scans need about ${gb(need)} of disk in ${tmp} (${gb(free)} free); all of it is removed at the end`,
  );
  if (free < need)
    throw new Error(`scale bench: ${scans} scans need about ${gb(need)} in ${tmp}, only ${gb(free)} free`);
  const tGen = performance.now();
  const data = await writeScaleDataset(dir, scans, 1, log);
  log(
    `scale: wrote ${scans} scans (${gb(data.voxelBytes)} of voxels, zip ${gb(data.zipBytes)}) in ${((performance.now() - tGen) / 1000).toFixed(0)} s`,
  );
  const profile = join(tmp, 'scale-profile');
  const fresh = await scaleRun('fresh', dir, profile, join(tmp, 'scale-out-1'), 20, log);
  const disk = {
    profile: du(profile),
    indexedDb: du(join(profile, 'Default', 'IndexedDB')),
    httpCache: du(join(profile, 'Default', 'Cache')),
  };
  const warm = await scaleRun('warm', dir, profile, join(tmp, 'scale-out-2'), 10, log);
  await rm(dir, { recursive: true, force: true });
  const mb = (b: number) => (b / 1e6).toFixed(0);
  const ratio = (b: number) => (b / data.voxelBytes).toFixed(2);
  const row = (r: ScaleRun) =>
    `| ${r.label} | ${r.seriesIngested} (+${r.alreadyCached} files cached) | ${r.ingestSeconds.toFixed(1)} | ${r.voxelSeconds.toFixed(1)} | ${r.alreadyCached ? '—' : mb(data.voxelBytes / r.voxelSeconds)} | ${r.firstStepSeconds.toFixed(1)} | ${gb(r.peakBrowserRssIngest)} (${gb(r.peakBrowserPssIngest)}) | ${gb(r.peakBrowserRssTrain)} (${gb(r.peakBrowserPssTrain)}) | ${gb(r.rendererRssAfterIngest)} | ${r.samplesPerSecond.toFixed(0)} |`;
  return [
    `${scans} full-size synthetic scans (512×512×${Math.min(...data.slices)}–${Math.max(...data.slices)} slices, ${gb(data.voxelBytes)} of int16 voxels) in a Zip64 \`subset0.zip\` of ${gb(data.zipBytes)} (deflate level 6), beside a ${data.candidateRows.toLocaleString('en')}-row candidates.csv and the real annotations.csv. \`luna-lab train --data\` on the folder, a fresh profile then the same one again (warm), each stopped by SIGINT shortly after its first training step (tiny model: crop 16×24×24, 2 blocks of width 4, batch 16). Browser memory is sampled every 0.5 s over all of Chromium's processes: the sum of their RSS, which counts the pages they share (Chromium's libraries) in each, and in brackets the sum of their PSS, which counts a shared page once.`,
    '',
    '| profile | series ingested | ingest s (start → ingested) | of which scans, s (last table → ingested) | MB/s of voxels (scans) | start → first step, s | peak browser RSS (PSS), ingest | peak browser RSS (PSS), training | renderer RSS after ingest | training samples/s |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    row(fresh),
    row(warm),
    '',
    `Disk after the fresh run: whole profile ${gb(disk.profile)} (${ratio(disk.profile)} byte per raw voxel byte), IndexedDB ${gb(disk.indexedDb)} (${ratio(disk.indexedDb)}), HTTP cache ${gb(disk.httpCache)} (${ratio(disk.httpCache)}).`,
  ].join('\n');
}
