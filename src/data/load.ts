/**
 * From a set of dropped files to volumes and LUNA16 tables, one item at a time. This is the
 * single loading path: the ingest worker (browser) and the CLI (Node) both iterate it, so a
 * drop and `luna-lab inspect` read data identically.
 *
 * Promises: a bad file yields an `error` item naming it and loading goes on with the rest;
 * volumes are yielded one by one so memory holds one scan at a time (per DICOM folder);
 * voxel values are HU as stored (clamping is the cache's business).
 */
import { detectKind, dirName, joinPath, DETECT_HEAD_BYTES, type FileKind } from './detect.ts';
import { isZipName, loadableMember, memberSource, randomAccessOf, readZipIndex, type ZipTiming } from './zip.ts';
import { fingerprint, type SourceFile } from './source.ts';
import { toHex } from './hex.ts';
import type { Volume } from './volume.ts';
import { isDataError } from './errors.ts';
import { parseMetaHeader, metaDataFileName, readMetaImage } from './metaimage.ts';
import { readDicomSeries } from './dicom.ts';
import {
  decodeCsv,
  lunaFileNotCached,
  parseLunaCsv,
  type Annotation,
  type Candidate,
  type MalignancyAnnotation,
  type RowError,
} from './luna-csv.ts';

export type LoadItem =
  | { type: 'volume'; volume: Volume; subset: string | null; sources: readonly SourceFile[] }
  | { type: 'annotations'; file: string; rows: Annotation[]; rowErrors: RowError[]; table?: TableIdentity }
  | { type: 'candidates'; file: string; rows: Candidate[]; rowErrors: RowError[]; table?: TableIdentity }
  /** `annotations_with_malignancy.csv`: the book's malignancy label per nodule. */
  | { type: 'malignancy'; file: string; rows: MalignancyAnnotation[]; rowErrors: RowError[]; table?: TableIdentity }
  /** `internal`: the cause was not a `DataError` (a reader bug, not the file's fault). */
  | { type: 'error'; file: string; message: string; internal?: true }
  /** `table`: a CSV whose content is cached already (under another fingerprint, or this one). */
  | { type: 'skipped'; file: string; reason: string; table?: TableIdentity }
  /** Emitted before a file's bytes are read, for per-file progress. */
  | { type: 'reading'; files: readonly string[] };

export interface LoadOptions {
  /** Skip files for which this returns true (already cached); they yield `skipped`. */
  isKnown?: (f: SourceFile) => boolean;
  /** CSVs whose content digest this knows are not parsed again (a copy, or a touched file). */
  isKnownTable?: (digest: string) => boolean;
  /** Told the files as loaded: the given ones, each zip replaced by its members (whose
   *  fingerprints the cache keeps). */
  onFiles?: (files: readonly SourceFile[]) => void;
  /** Where zip members add the time spent inflating and checking CRCs (the ingest's stages). */
  zipTiming?: ZipTiming;
}

/** A CSV as the cache recognises it: by its bytes' sha-256, and the file it came from. */
export interface TableIdentity {
  digest: string;
  fingerprint: string;
}

/** LUNA16 keeps scans in subset0..subset9; otherwise the top dropped folder names the group. */
export function subsetOf(path: string): string | null {
  // An archive counts as the folder it unpacks to: "subset0.zip:x.mhd" is in subset0.
  const parts = path.replace(/\.zip:/gi, '/').split('/');
  parts.pop();
  const subset = parts.find((p) => /^subset\d+$/i.test(p));
  if (subset) return subset.toLowerCase();
  return parts.length > 0 ? parts[0] : null;
}

/** Marks errors that are not `DataError`s, so that the fuzz harness can tell bugs from refusals. */
function internal(e: unknown): { internal?: true } {
  return isDataError(e) ? {} : { internal: true };
}

function describe(e: unknown, file: string): string {
  if (isDataError(e)) return e.message;
  const msg = e instanceof Error ? e.message : String(e);
  return `${file}: ${msg}`;
}

/**
 * Zip archives replaced by their members (as sources named `archive.zip:member`), read by
 * random access. An unreadable archive is an `error` item; a damaged one whose members could
 * still be listed from their local headers gives those members and an `error` saying so.
 */
async function* expandArchives(
  files: readonly SourceFile[],
  out: SourceFile[],
  timing?: ZipTiming,
): AsyncGenerator<LoadItem> {
  for (const f of files) {
    if (!isZipName(f.path)) {
      out.push(f);
      continue;
    }
    const src = randomAccessOf(f);
    if (!src) {
      yield {
        type: 'error',
        file: f.path,
        message: `${f.path}: this source cannot be read as an archive (no random access)`,
      };
      continue;
    }
    try {
      const index = await readZipIndex(src, f.path);
      if (index.damage) yield { type: 'error', file: f.path, message: index.damage };
      for (const m of index.members) if (loadableMember(m)) out.push(memberSource(src, f, m, timing));
    } catch (e) {
      yield { type: 'error', file: f.path, message: describe(e, f.path), ...internal(e) };
    }
  }
}

export async function* loadFiles(given: readonly SourceFile[], opts: LoadOptions = {}): AsyncGenerator<LoadItem> {
  const files: SourceFile[] = [];
  yield* expandArchives(given, files, opts.zipTiming);
  opts.onFiles?.(files);
  const byKind = new Map<FileKind, SourceFile[]>();
  for (const f of files) {
    let head: Uint8Array = new Uint8Array();
    if (kindNeedsHead(f.path)) {
      try {
        head = await f.head(DETECT_HEAD_BYTES);
      } catch (e) {
        // A zip member can fail here already (truncated, corrupt): name it and go on.
        yield { type: 'error', file: f.path, message: describe(e, f.path), ...internal(e) };
        continue;
      }
    }
    const kind = detectKind(f.path, head);
    const list = byKind.get(kind) ?? [];
    list.push(f);
    byKind.set(kind, list);
  }
  const take = (k: FileKind) => byKind.get(k) ?? [];

  for (const f of take('ignored')) yield { type: 'skipped', file: f.path, reason: 'not CT data' };
  for (const f of take('zip'))
    yield { type: 'skipped', file: f.path, reason: 'an archive inside an archive (unpack the outer one)' };
  for (const f of take('unknown')) {
    yield {
      type: 'error',
      file: f.path,
      message: `${f.path}: not a recognised CT file (expected .mhd + .raw/.zraw, .mha, DICOM, or a LUNA16 .csv)`,
    };
  }

  // Tables first: they are small, and the page can show counts as scans arrive.
  for (const f of take('csv')) {
    const notCached = lunaFileNotCached(f.path);
    if (notCached) {
      yield { type: 'skipped', file: f.path, reason: notCached };
      continue;
    }
    if (opts.isKnown?.(f)) {
      yield { type: 'skipped', file: f.path, reason: 'already cached' };
      continue;
    }
    yield { type: 'reading', files: [f.path] };
    try {
      const bytes = await f.bytes();
      const table = {
        digest: toHex(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>)),
        fingerprint: fingerprint(f),
      };
      if (opts.isKnownTable?.(table.digest)) {
        yield { type: 'skipped', file: f.path, reason: 'already cached', table };
        continue;
      }
      const text = decodeCsv(bytes, f.path);
      const parsed = parseLunaCsv(text, f.path);
      if (parsed.kind === 'annotations') {
        yield { type: 'annotations', file: f.path, rows: parsed.rows, rowErrors: parsed.errors, table };
      } else if (parsed.kind === 'candidates') {
        yield { type: 'candidates', file: f.path, rows: parsed.rows, rowErrors: parsed.errors, table };
      } else {
        yield { type: 'malignancy', file: f.path, rows: parsed.rows, rowErrors: parsed.errors, table };
      }
    } catch (e) {
      yield { type: 'error', file: f.path, message: describe(e, f.path), ...internal(e) };
    }
  }

  // MetaImage: each .mhd claims its data file by ElementDataFile, in its own folder.
  const dataFiles = new Map(take('metadata').map((f) => [f.path, f]));
  const claimed = new Set<string>();
  for (const f of [...take('mhd'), ...take('mha')]) {
    let data: SourceFile | undefined;
    if (opts.isKnown?.(f)) {
      yield { type: 'skipped', file: f.path, reason: 'already cached' };
      const name = await pairedName(f);
      if (name) claimed.add(joinPath(dirName(f.path), name));
      continue;
    }
    try {
      const bytes = await f.bytes();
      const header = parseMetaHeader(bytes, f.path);
      const name = metaDataFileName(header);
      if (name !== null) {
        const wanted = joinPath(dirName(f.path), name);
        data = dataFiles.get(wanted) ?? findCaseInsensitive(dataFiles, wanted);
        if (data) claimed.add(data.path);
      }
      yield { type: 'reading', files: data ? [f.path, data.path] : [f.path] };
      const volume = readMetaImage({
        file: f.path,
        bytes,
        data: data ? { file: data.path, bytes: await data.bytes() } : undefined,
      });
      yield { type: 'volume', volume, subset: subsetOf(f.path), sources: data ? [f, data] : [f] };
    } catch (e) {
      // The pair failed together: both files get the message.
      const message = describe(e, f.path);
      yield { type: 'error', file: f.path, message, ...internal(e) };
      if (data) yield { type: 'error', file: data.path, message, ...internal(e) };
    }
  }
  for (const f of dataFiles.values()) {
    if (!claimed.has(f.path)) {
      yield { type: 'error', file: f.path, message: `${f.path}: no .mhd header in the drop names this data file` };
    }
  }

  // DICOM: one folder at a time bounds memory; series are grouped by UID inside it.
  const folders = new Map<string, SourceFile[]>();
  for (const f of take('dicom')) {
    const d = dirName(f.path);
    folders.set(d, [...(folders.get(d) ?? []), f]);
  }
  for (const group of folders.values()) {
    const fresh = group.filter((f) => !opts.isKnown?.(f));
    for (const f of group) if (!fresh.includes(f)) yield { type: 'skipped', file: f.path, reason: 'already cached' };
    if (fresh.length === 0) continue;
    yield { type: 'reading', files: fresh.map((f) => f.path) };
    const inputs = [];
    for (const f of fresh) inputs.push({ file: f.path, bytes: await f.bytes() });
    const { volumes, errors } = readDicomSeries(inputs);
    for (const err of errors)
      yield {
        type: 'error',
        file: err.file,
        message: err.message,
        ...(err.internal ? { internal: true as const } : {}),
      };
    for (const volume of volumes) {
      const mine = new Set(volume.files);
      yield {
        type: 'volume',
        volume,
        subset: subsetOf(volume.files[0] ?? ''),
        sources: fresh.filter((f) => mine.has(f.path)),
      };
    }
  }
}

function kindNeedsHead(path: string): boolean {
  return detectKind(path, new Uint8Array()) === 'unknown';
}

async function pairedName(f: SourceFile): Promise<string | null> {
  try {
    return metaDataFileName(parseMetaHeader(await f.head(4096), f.path));
  } catch {
    return null;
  }
}

function findCaseInsensitive(files: Map<string, SourceFile>, wanted: string): SourceFile | undefined {
  const lower = wanted.toLowerCase();
  for (const [p, f] of files) if (p.toLowerCase() === lower) return f;
  return undefined;
}
