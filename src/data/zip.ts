/**
 * ZIP archives as LUNA16 ships them (`subset0.zip`: Zip64, `subset0/<uid>.mhd` + `.raw`), read
 * by random access: the central directory from the end of the archive, then each member's
 * bytes from its offset, streamed through the inflater into a buffer of the member's declared
 * size. Nothing is unpacked to disk and the archive is never held whole in memory: one member
 * at a time, as a loose file would be.
 *
 * Members become `SourceFile`s named `archive.zip:member/path`, so they go down the same
 * loading path as loose files and every error names the archive and the member.
 *
 * Promises: a member that lies about its size is refused after at most its declared size plus
 * one chunk of output (never an unbounded inflation); a bad CRC, a truncated member, an
 * unsupported method or encryption is a `DataError` naming `archive.zip:member`. An archive
 * whose central directory is missing (a truncated download) or corrupt is read from its local
 * headers up to the first member that cannot be read, so what was before it still loads.
 */
import { Inflate } from 'fflate';
import { DataError } from './errors.ts';
import type { SourceFile } from './source.ts';

/** What the reader needs of an archive: its size and reads at an offset. */
export interface RandomAccess {
  readonly size: number;
  /** Up to `length` bytes from `offset` (fewer only at the end). */
  read(offset: number, length: number): Promise<Uint8Array>;
}

export interface ZipMember {
  /** The name in the archive, '/'-separated (e.g. "subset0/1.2.3.mhd"). */
  name: string;
  /** 0 stored, 8 deflated; anything else is refused when read. */
  method: number;
  flags: number;
  compressedSize: number;
  size: number;
  crc32: number;
  localHeaderOffset: number;
  /** ms since the epoch, from the DOS date and time (local time read as UTC). */
  lastModified: number;
  /** Found by walking local headers, with its sizes only in a data descriptor: unreadable. */
  sizesUnknown?: true;
}

export interface ZipIndex {
  members: ZipMember[];
  /** Set when the central directory could not be read and members came from local headers:
   *  the reason, naming the archive (the members found are still usable). */
  damage?: string;
}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const EOCD_BYTES = 22;
const MAX_COMMENT = 0xffff;
/** Largest member read into memory. LUNA16's largest .raw is ~0.5 GB; a claim past this is a lie
 *  or a file the page could not hold anyway. */
export const MAX_MEMBER_BYTES = 2 ** 31 - 1;
/** Deflate's best ratio is ~1032:1; a member claiming more than this per compressed byte lies. */
const MAX_DEFLATE_RATIO = 1032;
/** Compressed bytes read per step when streaming a member. */
const READ_CHUNK = 4 << 20;

export function isZipName(path: string): boolean {
  return /\.zip$/i.test(path);
}

/** The path a member gets as a source: the archive's path, ':', the member's name. */
export function memberPath(archivePath: string, member: string): string {
  return `${archivePath}:${member}`;
}

function u16(b: Uint8Array, o: number): number {
  return b[o] | (b[o + 1] << 8);
}
function u32(b: Uint8Array, o: number): number {
  return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
}
function u64(b: Uint8Array, o: number): number {
  const v = u32(b, o) + u32(b, o + 4) * 2 ** 32;
  if (!Number.isSafeInteger(v)) throw new RangeError('a 64-bit field past 2^53');
  return v;
}

const utf8 = new TextDecoder('utf-8');
/** Names are UTF-8 when flag bit 11 says so, else CP437; LUNA16 names are ASCII either way. */
function decodeName(bytes: Uint8Array, flags: number): string {
  if (flags & 0x800) return utf8.decode(bytes);
  let s = '';
  for (const c of bytes) s += c < 0x80 ? String.fromCharCode(c) : '\ufffd';
  return s;
}

function dosTime(time: number, date: number): number {
  const y = 1980 + (date >> 9);
  const mo = ((date >> 5) & 15) - 1;
  const d = date & 31;
  return Date.UTC(y, Math.max(0, mo), Math.max(1, d), time >> 11, (time >> 5) & 63, (time & 31) * 2);
}

/** The Zip64 extended-information extra field (0x0001): the 64-bit values whose 32-bit fields
 *  are all ones, in this order. */
function applyZip64(extra: Uint8Array, m: { size: number; compressedSize: number; localHeaderOffset: number }) {
  for (let o = 0; o + 4 <= extra.length;) {
    const id = u16(extra, o);
    const len = u16(extra, o + 2);
    if (id === 0x0001) {
      let p = o + 4;
      const end = p + len;
      const take = (): number => {
        if (p + 8 > end) throw new RangeError('Zip64 extra field too short');
        const v = u64(extra, p);
        p += 8;
        return v;
      };
      if (m.size === 0xffffffff) m.size = take();
      if (m.compressedSize === 0xffffffff) m.compressedSize = take();
      if (m.localHeaderOffset === 0xffffffff) m.localHeaderOffset = take();
      return;
    }
    o += 4 + len;
  }
}

/** Read the member list of an archive. Throws a `DataError` naming `label` when nothing at all
 *  can be read from it. */
export async function readZipIndex(src: RandomAccess, label: string): Promise<ZipIndex> {
  try {
    return { members: await readCentralDirectory(src, label) };
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    const members = await scanLocalHeaders(src).catch(() => [] as ZipMember[]);
    if (members.length === 0) {
      throw new DataError(`${label}: not a readable zip archive (${why})`, { file: label });
    }
    return {
      members,
      damage: `${label}: ${why}; ${members.length} member(s) read from their local headers`,
    };
  }
}

async function readCentralDirectory(src: RandomAccess, label: string): Promise<ZipMember[]> {
  const tailLen = Math.min(src.size, EOCD_BYTES + MAX_COMMENT);
  const tailAt = src.size - tailLen;
  const tail = await src.read(tailAt, tailLen);
  let e = -1;
  for (let o = tail.length - EOCD_BYTES; o >= 0; o--) {
    if (u32(tail, o) === SIG_EOCD && o + EOCD_BYTES + u16(tail, o + 20) <= tail.length) {
      e = o;
      break;
    }
  }
  if (e < 0) throw new Error('no end-of-central-directory record: the archive is truncated or not a zip');
  let count = u16(tail, e + 10);
  let cdSize = u32(tail, e + 12);
  let cdOffset = u32(tail, e + 16);
  const eocdAt = tailAt + e;
  // Zip64: the locator sits just before the EOCD and points at the Zip64 EOCD record.
  if (eocdAt >= 20) {
    const loc = e >= 20 ? tail.subarray(e - 20, e) : await src.read(eocdAt - 20, 20);
    if (u32(loc, 0) === SIG_ZIP64_LOCATOR) {
      const at = u64(loc, 8);
      const rec = await src.read(at, 56);
      if (rec.length < 56 || u32(rec, 0) !== SIG_ZIP64_EOCD) {
        throw new Error(
          `the Zip64 locator points at byte ${at}, where there is no Zip64 end-of-central-directory record`,
        );
      }
      count = u64(rec, 32);
      cdSize = u64(rec, 40);
      cdOffset = u64(rec, 48);
    }
  }
  if (cdOffset + cdSize > eocdAt) {
    throw new Error(
      `the central directory (${cdSize} bytes at ${cdOffset}) runs past its end record at byte ${eocdAt}`,
    );
  }
  const cd = await src.read(cdOffset, cdSize);
  const members: ZipMember[] = [];
  let o = 0;
  for (let i = 0; i < count; i++) {
    if (o + 46 > cd.length || u32(cd, o) !== SIG_CENTRAL) {
      throw new Error(`central directory entry ${i + 1} of ${count} (byte ${cdOffset + o}) is corrupt`);
    }
    const flags = u16(cd, o + 8);
    const nameLen = u16(cd, o + 28);
    const extraLen = u16(cd, o + 30);
    const commentLen = u16(cd, o + 32);
    if (o + 46 + nameLen + extraLen + commentLen > cd.length) {
      throw new Error(`central directory entry ${i + 1} of ${count} runs past the directory`);
    }
    const m: ZipMember = {
      name: decodeName(cd.subarray(o + 46, o + 46 + nameLen), flags),
      method: u16(cd, o + 10),
      flags,
      lastModified: dosTime(u16(cd, o + 12), u16(cd, o + 14)),
      crc32: u32(cd, o + 16),
      compressedSize: u32(cd, o + 20),
      size: u32(cd, o + 24),
      localHeaderOffset: u32(cd, o + 42),
    };
    applyZip64(cd.subarray(o + 46 + nameLen, o + 46 + nameLen + extraLen), m);
    if (m.localHeaderOffset + 30 > cdOffset) {
      throw new Error(`central directory entry ${i + 1} (${label}:${m.name}) points past the members`);
    }
    members.push(m);
    o += 46 + nameLen + extraLen + commentLen;
  }
  return members;
}

/**
 * Walk the local headers from the start: for an archive whose end is missing. Stops at the
 * first header that is not one, or whose sizes are only in a data descriptor (unknowable
 * without inflating); the member it stops in is returned too, so reading it names it.
 */
async function scanLocalHeaders(src: RandomAccess): Promise<ZipMember[]> {
  const members: ZipMember[] = [];
  let at = 0;
  while (at + 30 <= src.size) {
    const h = await src.read(at, 30);
    if (u32(h, 0) !== SIG_LOCAL) break;
    const flags = u16(h, 6);
    const nameLen = u16(h, 26);
    const extraLen = u16(h, 28);
    const rest = await src.read(at + 30, nameLen + extraLen);
    const m: ZipMember = {
      name: decodeName(rest.subarray(0, nameLen), flags),
      method: u16(h, 8),
      flags,
      lastModified: dosTime(u16(h, 10), u16(h, 12)),
      crc32: u32(h, 14),
      compressedSize: u32(h, 18),
      size: u32(h, 22),
      localHeaderOffset: at,
    };
    applyZip64(rest.subarray(nameLen), m);
    if (flags & 0x8 && m.compressedSize === 0) {
      members.push({ ...m, sizesUnknown: true }); // its sizes follow its data: no way past it
      break;
    }
    members.push(m);
    at += 30 + nameLen + extraLen + m.compressedSize;
  }
  return members;
}

function memberError(label: string, message: string): DataError {
  return new DataError(`${label}: ${message}`, { file: label });
}

/** Where a member's data starts, and checks that the archive holds all of it. */
async function dataOffset(src: RandomAccess, m: ZipMember, label: string): Promise<number> {
  const h = await src.read(m.localHeaderOffset, 30);
  if (h.length < 30 || u32(h, 0) !== SIG_LOCAL) {
    throw memberError(label, `no local header at byte ${m.localHeaderOffset} (corrupt or truncated archive)`);
  }
  const at = m.localHeaderOffset + 30 + u16(h, 26) + u16(h, 28);
  if (at + m.compressedSize > src.size) {
    throw memberError(
      label,
      `truncated: its ${m.compressedSize} bytes of data run past the archive's end (${src.size} bytes)`,
    );
  }
  return at;
}

/** Refusals that need no reading: method, encryption, sizes no honest member has. */
function checkClaims(m: ZipMember, label: string): void {
  if (m.sizesUnknown) {
    throw memberError(label, 'cannot be read: the central directory is missing and its sizes are in a data descriptor');
  }
  if (m.flags & 0x1) throw memberError(label, 'is encrypted; only unencrypted archives can be read');
  if (m.method !== 0 && m.method !== 8) {
    throw memberError(label, `uses compression method ${m.method}; only stored (0) and deflated (8) are supported`);
  }
  if (m.size > MAX_MEMBER_BYTES) {
    throw memberError(label, `declares ${m.size} bytes, more than the ${MAX_MEMBER_BYTES} a member may hold`);
  }
  if (m.method === 0 && m.size !== m.compressedSize) {
    throw memberError(label, `is stored, yet declares ${m.size} bytes from ${m.compressedSize} stored bytes`);
  }
  if (m.method === 8 && m.size > m.compressedSize * MAX_DEFLATE_RATIO + 1024) {
    throw memberError(
      label,
      `declares ${m.size} bytes from ${m.compressedSize} compressed bytes, more than deflate can produce`,
    );
  }
}

/** Streams compressed chunks into `out`. `strict`: the member must fill `out` exactly, so any
 *  output past it is an overflow; otherwise (a head) it stops once `out` is full. */
interface Inflater {
  push(chunk: Uint8Array, final: boolean): Promise<void>;
  /** Whether no more input is wanted (full, or an overflow was seen). */
  done(): boolean;
  /** Bytes written to `out`, whether output past its end was seen, and the CRC-32 of what was written. */
  result(): Promise<{ length: number; overflow: boolean; crc: number }>;
  cancel(): void;
}

/** fflate inflates a whole push at once: small pushes bound what a lying member costs. */
const FFLATE_CHUNK = 64 << 10;

/**
 * The platform's `DecompressionStream('deflate-raw')` (native zlib) where there is one, else
 * fflate. Measured in Node 20 on this loaded 2-core VM: raw inflate of 31 MB of CT-like int16,
 * fflate 35 MB/s vs DecompressionStream 54–109 MB/s; a 105 MB full-size scan through loadFiles
 * from a zip, 28 vs 73 MB/s. (Chromium's DecompressionStream is the same native zlib.)
 */
function makeInflater(out: Uint8Array, strict: boolean, timing?: ZipTiming): Inflater {
  let length = 0;
  let overflow = false;
  let crc = 0;
  const take = (c: Uint8Array) => {
    const room = out.length - length;
    const part = c.length > room ? c.subarray(0, room) : c;
    if (c.length > room && strict) overflow = true;
    out.set(part, length);
    length += part.length;
    // Each piece's CRC while it is still in cache: a second pass over the whole member costs
    // as much again (it comes from memory).
    if (strict) crc = timedCrc(part, timing, crc);
  };
  const done = () => overflow || (!strict && length >= out.length);
  if (typeof DecompressionStream === 'function') {
    const ds = new DecompressionStream('deflate-raw');
    const writer = ds.writable.getWriter();
    const reader = ds.readable.getReader();
    let failure: unknown = null;
    const pump = (async () => {
      for (;;) {
        const { value, done: end } = await reader.read();
        if (end) return;
        take(value);
        if (done()) return void reader.cancel().catch(() => undefined);
      }
    })().catch((e: unknown) => {
      failure ??= e;
    });
    return {
      async push(chunk, final) {
        if (done() || failure) return;
        // A stalled pump (it stopped reading) would leave the write pending for ever.
        await Promise.race([writer.write(chunk as Uint8Array<ArrayBuffer>), pump]).catch(
          (e: unknown) => (failure ??= e),
        );
        if (final && !done() && !failure) await writer.close().catch((e: unknown) => (failure ??= e));
      },
      done: () => done() || failure !== null,
      async result() {
        await pump;
        if (failure && !done()) throw failure;
        return { length, overflow, crc };
      },
      cancel() {
        void writer.abort().catch(() => undefined);
        void reader.cancel().catch(() => undefined);
      },
    };
  }
  const inf = new Inflate((c) => take(c));
  return {
    async push(chunk, final) {
      for (let o = 0; o < chunk.length || o === 0; o += FFLATE_CHUNK) {
        if (done()) return;
        const end = Math.min(chunk.length, o + FFLATE_CHUNK);
        inf.push(chunk.subarray(o, end), final && end === chunk.length);
        if (chunk.length === 0) return;
      }
    },
    done,
    async result() {
      return { length, overflow, crc };
    },
    cancel() {},
  };
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256 * 8);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    for (let k = 1; k < 8; k++) t[k * 256 + n] = (t[(k - 1) * 256 + n] >>> 8) ^ t[t[(k - 1) * 256 + n] & 0xff];
  }
  return t;
})();

/** CRC-32 (zip's), slicing by eight; `crc` continues an earlier part's (0 to begin). */
export function crc32(b: Uint8Array, crc = 0): number {
  const t = CRC_TABLE;
  let c = ~crc;
  let i = 0;
  const n8 = b.length & ~7;
  for (; i < n8; i += 8) {
    c ^= b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24);
    const d = b[i + 4] | (b[i + 5] << 8) | (b[i + 6] << 16) | (b[i + 7] << 24);
    c =
      t[1792 + (c & 0xff)] ^
      t[1536 + ((c >>> 8) & 0xff)] ^
      t[1280 + ((c >>> 16) & 0xff)] ^
      t[1024 + (c >>> 24)] ^
      t[768 + (d & 0xff)] ^
      t[512 + ((d >>> 8) & 0xff)] ^
      t[256 + ((d >>> 16) & 0xff)] ^
      t[d >>> 24];
  }
  for (; i < b.length; i++) c = t[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

/** Time (ms) spent inflating members and checking their CRC-32s, for the ingest's stage split. */
export interface ZipTiming {
  inflate: number;
  crc: number;
}

const clock = () => (globalThis.performance ?? Date).now();

function timedCrc(b: Uint8Array, timing?: ZipTiming, crc = 0): number {
  const t = clock();
  const c = crc32(b, crc);
  if (timing) timing.crc += clock() - t;
  return c;
}

/** Inflating's share of `step` (the CRC-32s of its output are counted apart). */
async function timedInflate<T>(step: () => Promise<T>, timing?: ZipTiming): Promise<T> {
  const t = clock();
  const crcBefore = timing?.crc ?? 0;
  const r = await step();
  if (timing) timing.inflate += clock() - t - (timing.crc - crcBefore);
  return r;
}

/**
 * A member's bytes (all of them, or the first `limit`). Reads the compressed data in chunks;
 * a deflated member is inflated into a buffer of its declared size and refused if it inflates
 * to more or less, or its CRC-32 disagrees.
 */
export async function readMember(
  src: RandomAccess,
  m: ZipMember,
  label: string,
  limit?: number,
  timing?: ZipTiming,
): Promise<Uint8Array> {
  checkClaims(m, label);
  const start = await dataOffset(src, m, label);
  const want = limit === undefined ? m.size : Math.min(limit, m.size);
  if (m.method === 0) {
    const bytes = await src.read(start, want);
    if (bytes.length < want) throw memberError(label, `truncated: ${bytes.length} of ${want} bytes`);
    if (want === m.size && timedCrc(bytes, timing) !== m.crc32) {
      throw memberError(label, 'CRC-32 mismatch: the stored data is corrupt');
    }
    return bytes;
  }
  const strict = want === m.size;
  const out = new Uint8Array(want);
  const inf = makeInflater(out, strict, timing);
  let got: { length: number; overflow: boolean; crc: number };
  try {
    // Reading a whole member, the next range is fetched while this one inflates (two chunks
    // in memory at most); a head reads only what it needs.
    const fetchAt = (at: number) => {
      const n = Math.min(READ_CHUNK, m.compressedSize - at);
      const p = n > 0 ? src.read(start + at, n) : Promise.resolve(new Uint8Array(0));
      p.catch(() => undefined); // awaited below, or abandoned when the inflater stops early
      return { n, p };
    };
    let next: ReturnType<typeof fetchAt> | null = null;
    for (let at = 0; ;) {
      const { n, p } = next ?? fetchAt(at);
      const chunk = await p;
      if (chunk.length < n) throw memberError(label, 'truncated: the archive ends inside its data');
      at += n;
      const final = at >= m.compressedSize;
      next = strict && !final ? fetchAt(at) : null;
      await timedInflate(() => inf.push(chunk, final), timing);
      if (final || inf.done()) break;
    }
    got = await timedInflate(() => inf.result(), timing);
  } catch (e) {
    inf.cancel();
    if (e instanceof DataError) throw e;
    throw memberError(label, `corrupt deflate data (${e instanceof Error ? e.message : String(e)})`);
  }
  if (got.overflow) throw memberError(label, `inflates to more than its declared ${m.size} bytes`);
  if (!strict) return out.subarray(0, got.length);
  if (got.length !== m.size) throw memberError(label, `inflates to ${got.length} bytes, not its declared ${m.size}`);
  if (got.crc !== m.crc32) throw memberError(label, 'CRC-32 mismatch: the member is corrupt');
  return out;
}

/** A member as a source file of the loading path: `archive.zip:name`. */
export function memberSource(src: RandomAccess, archive: SourceFile, m: ZipMember, timing?: ZipTiming): SourceFile {
  const path = memberPath(archive.path, m.name);
  return {
    path,
    size: m.size,
    // The archive's own time, so a re-downloaded archive counts as new; the CRC tells members apart.
    lastModified: (archive.lastModified ?? 0) + (m.crc32 % 1000),
    bytes: () => readMember(src, m, path, undefined, timing),
    head: (n) => readMember(src, m, path, n, timing),
  };
}

/** Members worth loading: files, not folders, and not macOS resource forks. */
export function loadableMember(m: ZipMember): boolean {
  return !m.name.endsWith('/') && !/(^|\/)__MACOSX\//.test(m.name);
}

/** A source file's random access, for reading it as an archive. */
export function randomAccessOf(f: SourceFile): RandomAccess | null {
  const read = f.read;
  return read ? { size: f.size, read: (o, n) => read(o, n) } : null;
}
