/**
 * Ingest: the items `loadFiles` yields, written to the cache. Runs in the ingest worker (and
 * in Node tests against fake-indexeddb). Reports per-file status as it goes; a bad file or a
 * full disk fails only the series concerned, and the report says so by file.
 */
import { loadFiles, type LoadItem } from '../data/load.ts';
import { inThreadEncoder, type SlabEncoder } from '../data/slab-encoder.ts';
import type { SlabCodec } from '../data/slab-codec.ts';
import { fingerprint, type SourceFile } from '../data/source.ts';
import { clampHuWithStats, type HuStats, type Volume } from '../data/volume.ts';
import { baseName } from '../data/detect.ts';
import type { Annotation, Candidate, LunaTableKind, MalignancyAnnotation } from '../data/luna-csv.ts';
import type { AnnotationsRecord, CandidatesRecord, MalignancyRecord } from './records.ts';
import { labelMaskWarning } from '../data/label-mask.ts';
import type { LabStore } from './lab-store.ts';
import { toHex } from '../data/hex.ts';
import { candidateTableOf } from '../data/candidate-selection.ts';
import { MIN_STORED_RATIO } from '../data/slab-codec.ts';
import { formatBytes, QuotaError, refuseIfNoRoom } from './quota.ts';

export type FileStatus = 'reading' | 'stored' | 'skipped' | 'error';

export interface FileProgress {
  file: string;
  status: FileStatus;
  /** Error text, skip reason, or what was stored. */
  message?: string;
  /** Stored, but with this caveat (a label mask read as CT). */
  warning?: string;
  seriesUid?: string;
}

export interface IngestReport {
  /** Series stored by this ingest. */
  series: string[];
  /** Every cached series the files hold: stored now, or already cached from them before. */
  dropSeries: string[];
  /** Subsets where this drop's series now sit beside cached series from elsewhere: a run on
   *  the subset would mix the two (the page says so). */
  mixed: { subset: string; fromDrop: number; others: number }[];
  tables: { file: string; kind: LunaTableKind; rows: number; series: number; rowErrors: number }[];
  errors: { file: string; message: string }[];
  skipped: { file: string; reason: string }[];
  /** Bytes of voxel data (as stored) written, and the time spent, for throughput figures. */
  voxelBytes: number;
  ms: number;
  /** Time per stage, ms. `load` is the loading path's whole time (read + inflate + CRC +
   *  parse); of it, `fetch` waited on the files' bytes (HTTP ranges or File reads), `inflate`
   *  and `crc` were spent on zip members. Then, per series: clamp + HU stats, sha-256 digest,
   *  slab encoding (first slab sent → last slab back) and the IndexedDB transaction. A series is
   *  encoded and written while the next one loads, so the stages overlap: they add up to more
   *  than `ms` when the overlap works. */
  stages: IngestStages;
}

export interface IngestStages {
  load: number;
  fetch: number;
  inflate: number;
  crc: number;
  clamp: number;
  digest: number;
  encode: number;
  write: number;
}

export interface IngestOptions {
  /** Read files again even if the same file (path, size, mtime) is cached. */
  force?: boolean;
  onProgress?: (p: FileProgress) => void;
  /** Free space on the disk holding the browser profile, where known (the CLI measures it):
   *  the browser's quota may exceed it. */
  diskFreeBytes?: number | null;
  /** Where slabs are encoded (the ingest worker passes a pool of encode workers); default: here. */
  encoder?: SlabEncoder;
  /** Store a series while the next one loads (default); false: one after the other (benches). */
  overlap?: boolean;
  /** How slabs are stored (default: STORED_CODEC; benches compare codecs). */
  codec?: SlabCodec;
}

const now = () => (globalThis.performance ?? Date).now();

export async function ingestFiles(
  store: LabStore,
  files: readonly SourceFile[],
  opts: IngestOptions = {},
): Promise<IngestReport> {
  const t0 = now();
  const report: IngestReport = {
    series: [],
    dropSeries: [],
    mixed: [],
    tables: [],
    errors: [],
    skipped: [],
    voxelBytes: 0,
    ms: 0,
    stages: { load: 0, fetch: 0, inflate: 0, crc: 0, clamp: 0, digest: 0, encode: 0, write: 0 },
  };
  const encoder = opts.encoder ?? inThreadEncoder();
  // Files announced as "reading" that no later item settles (the second of two refused scouts)
  // are settled at the end, so no file stays "reading" after the ingest.
  const unsettled = new Set<string>();
  const emit = (p: FileProgress) => {
    if (p.status === 'reading') unsettled.add(p.file);
    else unsettled.delete(p.file);
    opts.onProgress?.(p);
  };
  const known = opts.force ? new Set<string>() : await store.knownFingerprints();
  const isKnown = (f: SourceFile) => known.has(fingerprint(f));
  const knownTables = opts.force ? new Map<string, string>() : await store.knownTableDigests();
  const refused = await refuseDropIfNoRoom(
    files.filter((f) => !isKnown(f)),
    opts.diskFreeBytes ?? null,
  );
  if (refused) {
    for (const f of files) {
      report.errors.push({ file: f.path, message: refused });
      emit({ file: f.path, status: 'error', message: refused });
    }
    report.ms = now() - t0;
    return report;
  }
  // A zip's series are cached under its members' fingerprints, not the archive's.
  let loaded: readonly SourceFile[] = files;
  const it = loadFiles(timedSources(files, report.stages), {
    isKnown,
    isKnownTable: (d) => knownTables.has(d),
    onFiles: (f) => (loaded = f),
    zipTiming: report.stages,
  });
  // The series being encoded and written while the next one loads (at most one: memory holds
  // two scans, not the drop).
  let pending: Promise<void> = Promise.resolve();
  const storeVolume = async (item: Extract<LoadItem, { type: 'volume' }>): Promise<void> => {
    const paths = item.sources.map((s) => s.path);
    try {
      const t1 = now();
      const { voxels, hu } = clampHuWithStats(item.volume.data, true);
      const t2 = now();
      const record = seriesRecord(item.volume, hu, await volumeDigest(voxels, item.volume));
      const mask = labelMaskWarning(voxels, hu, paths[0]);
      if (mask) record.warnings.push(mask);
      const t3 = now();
      const timed = spanTimed(encoder);
      await store.putSeries(
        {
          record: { ...record, subset: item.subset ?? '' },
          voxels,
          fingerprints: item.sources.map(fingerprint),
        },
        timed.encoder,
        opts.codec,
      );
      report.stages.clamp += t2 - t1;
      report.stages.digest += t3 - t2;
      report.stages.encode += timed.span();
      report.stages.write += now() - t3 - timed.span();
      report.voxelBytes += voxels.byteLength;
      report.series.push(item.volume.seriesUid);
      for (const file of paths)
        emit({ file, status: 'stored', seriesUid: item.volume.seriesUid, ...(mask ? { warning: mask } : {}) });
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      for (const file of paths) {
        report.errors.push({ file, message });
        emit({ file, status: 'error', message });
      }
    }
  };
  let tLoad = now();
  for (;;) {
    const { value: item, done } = await it.next();
    if (done) break;
    switch (item.type) {
      case 'reading':
        for (const file of item.files) emit({ file, status: 'reading' });
        continue; // still loading: keep the load clock running
      case 'skipped':
        // The same CSV under another name or mtime: found by this fingerprint next time.
        if (item.table) await store.putTableFile({ ...item.table, table: knownTables.get(item.table.digest)! });
        report.skipped.push({ file: item.file, reason: item.reason });
        emit({ file: item.file, status: 'skipped', message: item.reason });
        break;
      case 'error':
        report.errors.push({ file: item.file, message: item.message });
        emit({ file: item.file, status: 'error', message: item.message });
        break;
      case 'annotations':
      case 'candidates':
      case 'malignancy': {
        report.stages.load += now() - tLoad;
        const t = now();
        const n = await storeTable(store, item.type, item.file, item.rows);
        if (item.table) {
          const table = item.type === 'candidates' ? candidateTableOf(baseName(item.file)) : item.type;
          await store.putTableFile({ ...item.table, table });
          knownTables.set(item.table.digest, table);
        }
        report.stages.write += now() - t;
        report.tables.push({
          file: item.file,
          kind: item.type,
          rows: item.rows.length,
          series: n,
          rowErrors: item.rowErrors.length,
        });
        for (const re of item.rowErrors.slice(0, 20)) report.errors.push({ file: item.file, message: re.message });
        if (item.rowErrors.length > 20) {
          report.errors.push({
            file: item.file,
            message: `${item.file}: ${item.rowErrors.length - 20} more bad rows skipped`,
          });
        }
        emit({
          file: item.file,
          status: 'stored',
          message:
            `${item.rows.length} ${item.type} rows for ${n} series` +
            (item.rowErrors.length ? `, ${item.rowErrors.length} bad rows skipped` : ''),
        });
        tLoad = now();
        continue;
      }
      case 'volume': {
        report.stages.load += now() - tLoad;
        await pending;
        pending = storeVolume(item);
        if (opts.overlap === false) await pending;
        tLoad = now();
        continue;
      }
    }
  }
  report.stages.load += now() - tLoad;
  await pending;
  for (const file of [...unsettled]) {
    // A refused series names its files in one error: point to it.
    const named = report.errors.find((e) => e.message.includes(baseName(file)));
    const message = named
      ? `${file}: not stored, its series was refused (see ${named.file})`
      : `${file}: not stored (no volume or table was made from it)`;
    report.errors.push({ file, message });
    emit({ file, status: 'error', message });
  }
  report.dropSeries = await store.seriesOfFiles(loaded.map(fingerprint));
  report.mixed = mixedSubsets(await store.listSeries(), new Set(report.dropSeries));
  report.ms = now() - t0;
  return report;
}

/**
 * Why a drop cannot fit, before any of it is read or written: its scan files (everything but
 * the CSVs, whose tables are small) take at least `MIN_STORED_RATIO` of their size stored.
 * Null when it may fit; each series is checked again with its exact size before its write.
 */
async function refuseDropIfNoRoom(files: readonly SourceFile[], diskFree: number | null): Promise<string | null> {
  const scanBytes = files.filter((f) => !/\.csv$/i.test(f.path)).reduce((n, f) => n + f.size, 0);
  try {
    await refuseIfNoRoom(
      `this drop (${formatBytes(scanBytes)} of scan files)`,
      Math.ceil(scanBytes * MIN_STORED_RATIO),
      diskFree,
    );
    return null;
  } catch (e) {
    if (e instanceof QuotaError)
      return `${e.message.replace(/it needs /, `stored, it needs at least `)} Nothing was written.`;
    throw e;
  }
}

/** The files with the time spent waiting on their bytes added to `stages.fetch` (a zip's
 *  ranged reads included; its members read through these). */
function timedSources(files: readonly SourceFile[], stages: IngestStages): SourceFile[] {
  const timed =
    <A extends unknown[]>(f: (...a: A) => Promise<Uint8Array>) =>
    async (...a: A) => {
      const t = now();
      try {
        return await f(...a);
      } finally {
        stages.fetch += now() - t;
      }
    };
  return files.map((f) => {
    const read = f.read;
    return {
      ...f,
      bytes: timed(() => f.bytes()),
      head: timed((n: number) => f.head(n)),
      ...(read ? { read: timed((o: number, n: number) => read.call(f, o, n)) } : {}),
    };
  });
}

/** `e`, and the time from its first slab sent to its last slab back. */
function spanTimed(e: SlabEncoder): { encoder: SlabEncoder; span: () => number } {
  let first = NaN;
  let last = NaN;
  return {
    encoder: {
      size: e.size,
      dispose: () => e.dispose(),
      async encode(v, c) {
        if (Number.isNaN(first)) first = now();
        try {
          return await e.encode(v, c);
        } finally {
          last = now();
        }
      },
    },
    span: () => (Number.isNaN(first) ? 0 : last - first),
  };
}

/** Subsets holding both series of `mine` and other cached series. */
export function mixedSubsets(
  cached: readonly { seriesUid: string; subset: string }[],
  mine: ReadonlySet<string>,
): IngestReport['mixed'] {
  const counts = new Map<string, { fromDrop: number; others: number }>();
  for (const s of cached) {
    const c = counts.get(s.subset) ?? { fromDrop: 0, others: 0 };
    if (mine.has(s.seriesUid)) c.fromDrop++;
    else c.others++;
    counts.set(s.subset, c);
  }
  return [...counts].filter(([, c]) => c.fromDrop > 0 && c.others > 0).map(([subset, c]) => ({ subset, ...c }));
}

/** The cache's description of a volume (without where it was dropped). */
export function seriesRecord(v: Volume, hu: HuStats, digest: string) {
  return {
    seriesUid: v.seriesUid,
    format: v.format,
    shape: v.shape,
    spacing: v.spacing,
    origin: v.origin,
    direction: v.direction,
    hu,
    files: v.files.map(baseName),
    warnings: [...v.warnings],
    digest,
  };
}

/** Voxels are hashed in slabs of this many bytes, concurrently, then the slab hashes once
 *  more with the geometry: no 60 MB concatenation, and WebCrypto may use several threads. */
const DIGEST_SLAB_BYTES = 8 << 20;

/** sha-256 over geometry and voxels: identical data, identical digest, on any machine. */
export async function volumeDigest(
  voxels: Int16Array,
  v: Pick<Volume, 'shape' | 'spacing' | 'origin' | 'direction'>,
): Promise<string> {
  const bytes = new Uint8Array(voxels.buffer as ArrayBuffer, voxels.byteOffset, voxels.byteLength);
  const slabs: Promise<ArrayBuffer>[] = [];
  for (let o = 0; o < bytes.byteLength || o === 0; o += DIGEST_SLAB_BYTES) {
    slabs.push(crypto.subtle.digest('SHA-256', bytes.subarray(o, o + DIGEST_SLAB_BYTES)));
  }
  const geom = new TextEncoder().encode(JSON.stringify([v.shape, v.spacing, v.origin, v.direction]));
  const hashes = await Promise.all(slabs);
  const all = new Uint8Array(geom.byteLength + 32 * hashes.length);
  all.set(geom, 0);
  hashes.forEach((h, i) => all.set(new Uint8Array(h), geom.byteLength + 32 * i));
  return toHex(await crypto.subtle.digest('SHA-256', all));
}

async function storeTable(
  store: LabStore,
  kind: LunaTableKind,
  file: string,
  rows: (Annotation | Candidate | MalignancyAnnotation)[],
): Promise<number> {
  const bySeries = new Map<string, (Annotation | Candidate | MalignancyAnnotation)[]>();
  for (const r of rows) {
    const list = bySeries.get(r.seriesUid);
    if (list) list.push(r);
    else bySeries.set(r.seriesUid, [r]);
  }
  if (kind === 'annotations') {
    const records: AnnotationsRecord[] = [...bySeries].map(([seriesUid, list]) => ({
      seriesUid,
      file,
      rows: (list as Annotation[]).map((a) => ({ xyz: a.xyz, diameterMm: a.diameterMm })),
    }));
    await store.putAnnotations(records);
  } else if (kind === 'malignancy') {
    const records: MalignancyRecord[] = [...bySeries].map(([seriesUid, list]) => ({
      seriesUid,
      file,
      rows: (list as MalignancyAnnotation[]).map((a) => ({
        xyz: a.xyz,
        diameterMm: a.diameterMm,
        malignant: a.malignant,
      })),
    }));
    await store.putMalignancy(records);
  } else {
    const source = candidateTableOf(baseName(file));
    const records: CandidatesRecord[] = [...bySeries].map(([seriesUid, list]) => ({
      seriesUid,
      source,
      file,
      rows: (list as Candidate[]).map((c) => ({ xyz: c.xyz, isNodule: c.isNodule })),
    }));
    await store.putCandidates(records);
  }
  return bySeries.size;
}
