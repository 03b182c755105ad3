/**
 * ITK MetaImage reader: `.mhd` + `.raw`, `.mhd` + `.zraw` (zlib) and single-file `.mha`
 * (`ElementDataFile = LOCAL`), turned into a `Volume`. Pure: bytes in, values out, so the
 * ingest worker and the Node CLI run the same code. The paired data file is handed in by the
 * caller (`metaDataFileName` says which one); this module never opens files.
 *
 * Promises:
 * - every failure the user can fix is a `DataError` naming the file, the field, the value and
 *   what was expected; oddities that do not stop the read go to `Volume.warnings`;
 * - voxels keep their element type (MET_SHORT -> Int16Array, ...) in a fresh, aligned buffer in
 *   host (little-endian) order, never a view into the caller's bytes;
 * - the data must match DimSize × ElementType exactly: short and long data are both errors,
 *   and compressed data must pass zlib's Adler-32 check;
 * - bounded work whatever the header says: the header is capped at `MAX_HEADER_BYTES`, numbers
 *   must be finite and plausible, and inflating stops soon after the size DimSize implies
 *   (`inflateBounded`), so a zlib bomb costs no more memory than the volume it claims to be.
 *
 * Geometry: `Volume.direction` is ITK's direction matrix (SimpleITK `GetDirection()`,
 * row-major, columns = world directions of the x, y, z voxel axes). MetaIO writes that matrix
 * one axis after another, so `direction` is the *transpose* of TransformMatrix read row by row;
 * `MetaHeader.transformMatrix` keeps the numbers in file order. (Identity for LUNA16.)
 *
 * 2-D images (NDims = 2) are read as one slice: DimSize z = 1, spacing z = 1 mm, offset z = 0,
 * the 2×2 matrix embedded in an identity 3×3, with a warning. Other NDims are errors.
 */
import { Unzlib } from 'fflate';
import { DataError } from './errors.ts';
import type { Mat3, Vec3, Volume, VoxelArray } from './volume.ts';

export type MetaElementType =
  'MET_SHORT' | 'MET_USHORT' | 'MET_UCHAR' | 'MET_CHAR' | 'MET_INT' | 'MET_UINT' | 'MET_FLOAT' | 'MET_DOUBLE';

/** Bytes per element of each supported ElementType. */
export const META_ELEMENT_BYTES: Readonly<Record<MetaElementType, number>> = {
  MET_SHORT: 2,
  MET_USHORT: 2,
  MET_UCHAR: 1,
  MET_CHAR: 1,
  MET_INT: 4,
  MET_UINT: 4,
  MET_FLOAT: 4,
  MET_DOUBLE: 8,
};

export const META_ELEMENT_TYPES = Object.keys(META_ELEMENT_BYTES) as readonly MetaElementType[];

export interface MetaHeader {
  /** ObjectType; only "Image" is accepted. */
  objectType: string;
  /** NDims as written (2 or 3); the arrays below are always 3-D. */
  nDims: number;
  /** Voxels along x, y, z. */
  dimSize: number[];
  elementType: MetaElementType;
  /** mm, x y z (ElementSpacing, else ElementSize, else 1 with a warning). */
  elementSpacing: number[];
  /** mm, x y z: world position of voxel 0 (Offset, alias Origin / Position). */
  offset: number[];
  /** 9 numbers in file order (TransformMatrix, alias Rotation / Orientation). */
  transformMatrix: number[];
  /** Data is big-endian (BinaryDataByteOrderMSB or ElementByteOrderMSB = True). */
  msb: boolean;
  compressed: boolean;
  compressedDataSize?: number;
  /** The ElementDataFile value: a file name or "LOCAL". */
  elementDataFile: string;
  /** HeaderSize: bytes to skip at the start of the data; -1 means the data ends the file. */
  headerSize: number;
  /** Byte length of the header up to and including the ElementDataFile line. */
  headerBytes: number;
  /** Every `Key = Value` line up to ElementDataFile, values trimmed. */
  raw: Record<string, string>;
  /** Oddities found in the header that do not stop the read. */
  warnings: string[];
}

const textDecoder = new TextDecoder('utf-8', { fatal: true });

const HOST_MSB = new Uint8Array(new Uint16Array([1]).buffer)[0] === 0;

/** The file name without directories (either slash, as drops from Windows may carry), nor the
 *  archive a zip member is in ("subset0.zip:x.mhd"). */
function baseName(path: string): string {
  const zip = /\.zip:(?!.*\.zip:)/i.exec(path);
  const i = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'), zip ? zip.index + 4 : -1);
  return i < 0 ? path : path.slice(i + 1);
}

/** LUNA16's seriesuid is the .mhd name without its last extension. */
function stem(path: string): string {
  const name = baseName(path);
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(0, dot) : name;
}

/** A header value in quotes; only runaway values (a junk line) are shortened. */
function quote(value: string, max = 200): string {
  const shown = value.length > max ? `${value.slice(0, max - 3)}...` : value;
  return JSON.stringify(shown);
}

function fieldError(file: string, field: string, value: string, expected: string): DataError {
  return new DataError(`${field} ${quote(value)} in ${file} (expected ${expected})`, { file, field });
}

/**
 * Header size cap: 64 KiB. LUNA16 headers are about 400 bytes and ITK/Slicer headers with
 * extra fields a few KiB, so 64 KiB is far above any real header, while a runaway file (8 MB,
 * 500k lines) is refused after scanning at most 64 KiB instead of being parsed line by line.
 */
export const MAX_HEADER_BYTES = 64 * 1024;

/** Plausible voxel spacing, mm (as for DICOM): 0.1 µm to 1 m. */
export const PLAUSIBLE_SPACING_MM = { min: 1e-4, max: 1e3 } as const;
/** Offsets beyond 1 km from the origin are header faults, not patients. */
const MAX_OFFSET_MM = 1e6;
/** Direction cosines are at most 1; a skewed matrix may exceed that a little, never by 10×. */
const MAX_MATRIX_ENTRY = 10;
/** Voxels along one axis: 2^20 is beyond any scanner; larger is a header fault. */
const MAX_DIM = 2 ** 20;

const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

function parseNumbers(file: string, field: string, value: string, count: number): number[] {
  const words = value.split(/\s+/).filter((w) => w !== '');
  const what = `${count} number${count === 1 ? '' : 's'}`;
  if (words.length !== count) throw fieldError(file, field, value, what);
  return words.map((w) => {
    const v = Number(w);
    // Number() alone would take "", "0x10" and "Infinity"; the regex keeps to decimal text.
    if (!NUMBER.test(w) || !Number.isFinite(v)) throw fieldError(file, field, value, what);
    return v;
  });
}

function parseBool(file: string, field: string, value: string): boolean {
  const v = value.toLowerCase();
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw fieldError(file, field, value, 'True or False');
}

/**
 * Splits the header into `Key = Value` lines, stopping after ElementDataFile (in a .mha the
 * voxels follow that line). Binary bytes or a line without `=` mean this is not a header.
 */
function scanHeader(
  bytes: Uint8Array,
  file: string,
): { raw: Record<string, string>; headerBytes: number; sawDataFile: boolean } {
  const raw: Record<string, string> = {};
  // Only the header is capped: a .mha's voxels after ElementDataFile can be any size.
  const limit = Math.min(bytes.length, MAX_HEADER_BYTES);
  const tooLong = () =>
    new DataError(
      `${file}: MetaImage header runs past ${MAX_HEADER_BYTES / 1024} KiB without an ElementDataFile line ` +
        `(real headers are a few hundred bytes; ElementDataFile must end the header)`,
      { file, field: 'ElementDataFile' },
    );
  let pos = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0; // UTF-8 BOM
  let lineNo = 0;
  const notHeader = (why: string) =>
    new DataError(`${file} is not a MetaImage header: ${why} (expected "Key = Value" text lines such as "NDims = 3")`, {
      file,
    });
  while (pos < limit) {
    lineNo++;
    let end = bytes.indexOf(10, pos);
    const crosses = end < 0 ? bytes.length > limit : end >= limit;
    const next = end < 0 ? bytes.length : end + 1;
    if (end < 0) end = bytes.length;
    if (end > pos && bytes[end - 1] === 13) end--;
    for (let i = pos, stop = Math.min(end, limit); i < stop; i++) {
      const b = bytes[i];
      if ((b < 0x20 && b !== 9) || b === 0x7f) throw notHeader(`line ${lineNo} holds binary data`);
    }
    if (crosses) throw tooLong();
    let line: string;
    try {
      line = textDecoder.decode(bytes.subarray(pos, end));
    } catch {
      throw notHeader(`line ${lineNo} is not UTF-8 text`);
    }
    pos = next;
    if (line.trim() === '') continue;
    const eq = line.indexOf('=');
    const key = eq < 0 ? '' : line.slice(0, eq).trim();
    if (key === '') throw notHeader(`line ${lineNo} ${quote(line.trim(), 60)} is not "Key = Value"`);
    const value = line.slice(eq + 1).trim();
    raw[key] = value;
    if (key === 'ElementDataFile') return { raw, headerBytes: pos, sawDataFile: true };
  }
  if (bytes.length > limit) throw tooLong();
  return { raw, headerBytes: pos, sawDataFile: false };
}

/** The first of `keys` present in the header (ITK accepts several names for some fields). */
function pick(raw: Record<string, string>, keys: readonly string[]): [string, string] | undefined {
  for (const k of keys) if (k in raw) return [k, raw[k]];
  return undefined;
}

/**
 * Parses a MetaImage header. For a .mhd, `bytes` is the whole file; for a .mha the header
 * ends at the ElementDataFile line and the rest is voxel data (a leading slice of the file is
 * enough). Validates every field this reader relies on.
 */
export function parseMetaHeader(bytes: Uint8Array, file: string): MetaHeader {
  const { raw, headerBytes, sawDataFile } = scanHeader(bytes, file);
  const warnings: string[] = [];
  if (Object.keys(raw).length === 0) {
    throw new DataError(`${file} is empty, not a MetaImage header (expected "Key = Value" lines such as "NDims = 3")`, {
      file,
    });
  }
  const missing = ['NDims', 'DimSize', 'ElementType', 'ElementDataFile'].filter((k) => !(k in raw));
  if (missing.length > 0) {
    // ITK stops reading at ElementDataFile; say so when a missing field is written after it.
    const after = sawDataFile ? new TextDecoder().decode(bytes.subarray(headerBytes, headerBytes + 4096)) : '';
    const late = missing.some((k) => new RegExp(`^${k}\\s*=`, 'm').test(after));
    throw new DataError(
      `${file} lacks ${missing.join(', ')} (required MetaImage field${missing.length > 1 ? 's' : ''}${
        late ? '; ElementDataFile must be the last header line' : ''
      })`,
      { file, field: missing[0] },
    );
  }

  const objectType = raw.ObjectType ?? 'Image';
  if (objectType !== 'Image') throw fieldError(file, 'ObjectType', objectType, 'Image');

  const nDims = parseNumbers(file, 'NDims', raw.NDims, 1)[0];
  if (nDims !== 2 && nDims !== 3) throw fieldError(file, 'NDims', raw.NDims, '3, or 2 for a single slice');

  const channels = raw.ElementNumberOfChannels;
  if (channels !== undefined && parseNumbers(file, 'ElementNumberOfChannels', channels, 1)[0] !== 1) {
    throw fieldError(file, 'ElementNumberOfChannels', channels, '1: one value per voxel');
  }

  const elementType = raw.ElementType;
  if (!(META_ELEMENT_TYPES as readonly string[]).includes(elementType)) {
    throw fieldError(file, 'ElementType', elementType, `one of ${META_ELEMENT_TYPES.join(', ')}`);
  }

  const dims = parseNumbers(file, 'DimSize', raw.DimSize, nDims);
  if (!dims.every((d) => Number.isSafeInteger(d) && d > 0)) {
    throw fieldError(file, 'DimSize', raw.DimSize, `${nDims} positive integers`);
  }
  if (dims.some((d) => d > MAX_DIM))
    throw fieldError(file, 'DimSize', raw.DimSize, `at most ${MAX_DIM} voxels per axis`);

  let spacing: number[];
  const spacingField = pick(raw, ['ElementSpacing', 'ElementSize']);
  if (spacingField) {
    const [key, value] = spacingField;
    spacing = parseNumbers(file, key, value, nDims);
    if (!spacing.every((s) => s > 0)) throw fieldError(file, key, value, `${nDims} positive numbers (mm)`);
    if (!spacing.every((s) => s >= PLAUSIBLE_SPACING_MM.min && s <= PLAUSIBLE_SPACING_MM.max)) {
      throw fieldError(
        file,
        key,
        value,
        `${nDims} plausible spacings, ${PLAUSIBLE_SPACING_MM.min} to ${PLAUSIBLE_SPACING_MM.max} mm`,
      );
    }
  } else {
    spacing = new Array<number>(nDims).fill(1);
    warnings.push(`${file} has no ElementSpacing; assuming 1 mm voxels`);
  }

  let offset: number[];
  const offsetField = pick(raw, ['Offset', 'Origin', 'Position']);
  if (offsetField) {
    offset = parseNumbers(file, offsetField[0], offsetField[1], nDims);
    if (offset.some((v) => Math.abs(v) > MAX_OFFSET_MM)) {
      throw fieldError(
        file,
        offsetField[0],
        offsetField[1],
        `${nDims} positions within ${MAX_OFFSET_MM} mm of the origin`,
      );
    }
  } else {
    offset = new Array<number>(nDims).fill(0);
    warnings.push(`${file} has no Offset; assuming the origin is at 0`);
  }

  let matrix: number[];
  const matrixField = pick(raw, ['TransformMatrix', 'Rotation', 'Orientation']);
  if (matrixField) {
    const [key, value] = matrixField;
    matrix = parseNumbers(file, key, value, nDims * nDims);
    if (matrix.some((v) => Math.abs(v) > MAX_MATRIX_ENTRY)) {
      throw fieldError(
        file,
        key,
        value,
        `direction cosines (entries between -${MAX_MATRIX_ENTRY} and ${MAX_MATRIX_ENTRY})`,
      );
    }
    checkMatrix(file, key, value, nDims, matrix, warnings);
  } else {
    matrix = nDims === 3 ? [1, 0, 0, 0, 1, 0, 0, 0, 1] : [1, 0, 0, 1];
  }

  const msbFields = (['BinaryDataByteOrderMSB', 'ElementByteOrderMSB'] as const)
    .filter((k) => k in raw)
    .map((k) => [k, parseBool(file, k, raw[k])] as const);
  if (msbFields.length === 2 && msbFields[0][1] !== msbFields[1][1]) {
    throw new DataError(
      `${file} says BinaryDataByteOrderMSB = ${raw.BinaryDataByteOrderMSB} but ElementByteOrderMSB = ${raw.ElementByteOrderMSB} (expected them to agree)`,
      { file, field: 'BinaryDataByteOrderMSB' },
    );
  }
  const msb = msbFields.length > 0 && msbFields[0][1];

  if ('BinaryData' in raw && !parseBool(file, 'BinaryData', raw.BinaryData)) {
    throw fieldError(file, 'BinaryData', raw.BinaryData, 'True: ASCII voxel data is not supported');
  }

  const compressed = 'CompressedData' in raw && parseBool(file, 'CompressedData', raw.CompressedData);
  let compressedDataSize: number | undefined;
  if (compressed && 'CompressedDataSize' in raw) {
    compressedDataSize = parseNumbers(file, 'CompressedDataSize', raw.CompressedDataSize, 1)[0];
    if (!Number.isSafeInteger(compressedDataSize) || compressedDataSize <= 0) {
      throw fieldError(file, 'CompressedDataSize', raw.CompressedDataSize, 'a positive byte count');
    }
  }

  let headerSize = 0;
  if ('HeaderSize' in raw) {
    headerSize = parseNumbers(file, 'HeaderSize', raw.HeaderSize, 1)[0];
    if (!Number.isSafeInteger(headerSize) || headerSize < -1) {
      throw fieldError(file, 'HeaderSize', raw.HeaderSize, 'a byte count, or -1 for data at the end of the file');
    }
    if (headerSize === -1 && compressed) {
      throw fieldError(file, 'HeaderSize', raw.HeaderSize, 'a byte count: -1 cannot locate compressed data');
    }
  }

  const elementDataFile = raw.ElementDataFile;
  const words = elementDataFile.split(/\s+/);
  if (elementDataFile === '' || words[0] === 'LIST' || (words.length > 1 && words[0].includes('%'))) {
    throw fieldError(
      file,
      'ElementDataFile',
      elementDataFile,
      'LOCAL or one data file name: multi-file data is not supported',
    );
  }

  const orientation = raw.AnatomicalOrientation;
  if (orientation !== undefined && orientation.toUpperCase() !== 'RAI') {
    warnings.push(
      `AnatomicalOrientation ${quote(orientation)} in ${file} (expected RAI); the geometry follows TransformMatrix`,
    );
  }
  const center = raw.CenterOfRotation;
  if (center !== undefined) {
    const c = parseNumbers(file, 'CenterOfRotation', center, nDims);
    if (c.some((v) => v !== 0)) warnings.push(`CenterOfRotation ${quote(center)} in ${file} is not 0 and is ignored`);
  }

  if (nDims === 2) {
    // One slice: z gets one voxel, 1 mm, at 0, and the in-plane matrix sits in an identity.
    dims.push(1);
    spacing.push(1);
    offset.push(0);
    const [a, b, c, d] = matrix;
    matrix = [a, b, 0, c, d, 0, 0, 0, 1];
  }

  return {
    objectType,
    nDims,
    dimSize: dims,
    elementType: elementType as MetaElementType,
    elementSpacing: spacing,
    offset,
    transformMatrix: matrix,
    msb,
    compressed,
    ...(compressedDataSize !== undefined ? { compressedDataSize } : {}),
    elementDataFile,
    headerSize,
    headerBytes,
    raw,
    warnings,
  };
}

function checkMatrix(file: string, key: string, value: string, n: number, m: number[], warnings: string[]): void {
  const det =
    n === 2
      ? m[0] * m[3] - m[1] * m[2]
      : m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) + m[2] * (m[3] * m[7] - m[4] * m[6]);
  if (!(Math.abs(det) > 1e-6)) throw fieldError(file, key, value, 'a non-singular direction matrix');
  // Direction cosines should be orthonormal; a skewed matrix still maps voxels, so only warn.
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let dot = 0;
      for (let k = 0; k < n; k++) dot += m[i * n + k] * m[j * n + k];
      if (Math.abs(dot - (i === j ? 1 : 0)) > 1e-3) {
        warnings.push(`${key} ${quote(value)} in ${file} is not a rotation (expected orthonormal direction cosines)`);
        return;
      }
    }
  }
}

function isLocal(header: MetaHeader): boolean {
  return header.elementDataFile.toUpperCase() === 'LOCAL';
}

/** The data file a .mhd names (as written, possibly with a relative folder); null for LOCAL. */
export function metaDataFileName(header: MetaHeader): string | null {
  return isLocal(header) ? null : header.elementDataFile;
}

/** zlib's Adler-32, fed chunk by chunk; fflate does not check it, and a corrupt stream can inflate "fine". */
class Adler32 {
  private a = 1;
  private b = 0;
  update(d: Uint8Array): void {
    let { a, b } = this;
    const n = d.length;
    let i = 0;
    while (i < n) {
      // 3800 bytes keep b below 2^31, so V8 stays on small integers until the modulo.
      const end = Math.min(i + 3800, n);
      for (; i < end; i++) {
        a += d[i];
        b += a;
      }
      a %= 65521;
      b %= 65521;
    }
    this.a = a;
    this.b = b;
  }
  get value(): number {
    return (this.b * 65536 + this.a) >>> 0;
  }
}

function readU32BE(d: Uint8Array, at: number): number {
  return ((d[at] << 24) | (d[at + 1] << 16) | (d[at + 2] << 8) | d[at + 3]) >>> 0;
}

/**
 * Compressed bytes fed to the inflater per push. fflate inflates a whole push at once, and
 * deflate expands at most 1032:1, so one push makes at most ~4 MiB: the bound on what the
 * reader holds besides the volume itself, whatever the stream claims.
 */
export const INFLATE_CHUNK_BYTES = 4096;
/** zlib's maximum compression ratio (RFC 1951 length-258 matches at 2 bits each). */
export const DEFLATE_MAX_RATIO = 1032;
/**
 * Past the expected size output is only counted, not kept, for this many bytes, so that a
 * slightly long stream is reported with its length; a longer one (a zlib bomb) is refused
 * there, after at most expected + 1 MiB of inflating.
 */
export const OVERFLOW_COUNT_BYTES = 1 << 20;

export interface InflateResult {
  /** Bytes the stream inflated to (all of them when `complete`; a lower bound otherwise). */
  length: number;
  /** The stream ended (or the input ran out) before the overflow limit. */
  complete: boolean;
  /** The Adler-32 trailer matched (only meaningful when `complete`). */
  intact: boolean;
  /** Compressed bytes consumed. */
  inputBytes: number;
  /** Largest piece of output the inflater handed back at once. */
  largestChunk: number;
}

/**
 * Inflates a zlib stream into `out`, never keeping more than `out.length` bytes: output past
 * it is counted (for the message) up to `OVERFLOW_COUNT_BYTES`, then inflating stops. Throws
 * fflate's error for a malformed stream.
 */
export function inflateBounded(z: Uint8Array, out: Uint8Array): InflateResult {
  const limit = out.length + OVERFLOW_COUNT_BYTES;
  const adler = new Adler32();
  let seen = 0;
  let largestChunk = 0;
  const inflater = new Unzlib((chunk) => {
    largestChunk = Math.max(largestChunk, chunk.length);
    if (seen < out.length) out.set(chunk.subarray(0, out.length - seen), seen);
    seen += chunk.length;
    if (seen <= limit) adler.update(chunk);
  });
  let at = 0;
  if (z.length === 0) inflater.push(z, true);
  while (at < z.length) {
    const end = Math.min(at + INFLATE_CHUNK_BYTES, z.length);
    inflater.push(z.subarray(at, end), end === z.length);
    at = end;
    if (seen > limit) break;
  }
  const complete = seen <= limit;
  const intact = complete && z.length >= 6 && adler.value === readU32BE(z, z.length - 4);
  return { length: seen, complete, intact, inputBytes: at, largestChunk };
}

function sizeText(header: MetaHeader): string {
  return `DimSize ${header.dimSize.join('×')} of ${header.elementType}`;
}

function allocate(n: number, file: string, header: MetaHeader): Uint8Array<ArrayBuffer> {
  try {
    return new Uint8Array(n);
  } catch {
    throw new DataError(`${file}: ${sizeText(header)} needs ${n} bytes, more than this runtime can allocate`, {
      file,
      field: 'DimSize',
    });
  }
}

/** Reverses the bytes of every element in place. */
function swapBytes(buf: ArrayBuffer, size: number): void {
  if (size === 2) {
    const u = new Uint16Array(buf);
    for (let i = 0; i < u.length; i++) {
      const v = u[i];
      u[i] = ((v & 0xff) << 8) | (v >>> 8);
    }
  } else if (size === 4 || size === 8) {
    const u = new Uint32Array(buf);
    for (let i = 0; i < u.length; i++) {
      const v = u[i];
      u[i] = ((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24);
    }
    if (size === 8) {
      // Each 32-bit half is reversed; swapping the halves completes the 64-bit reversal.
      for (let i = 0; i < u.length; i += 2) {
        const t = u[i];
        u[i] = u[i + 1];
        u[i + 1] = t;
      }
    }
  }
}

function typedView(type: MetaElementType, buf: ArrayBuffer): VoxelArray {
  switch (type) {
    case 'MET_SHORT':
      return new Int16Array(buf);
    case 'MET_USHORT':
      return new Uint16Array(buf);
    case 'MET_UCHAR':
      return new Uint8Array(buf);
    case 'MET_CHAR':
      return new Int8Array(buf);
    case 'MET_INT':
      return new Int32Array(buf);
    case 'MET_UINT':
      return new Uint32Array(buf);
    case 'MET_FLOAT':
      return new Float32Array(buf);
    case 'MET_DOUBLE':
      return new Float64Array(buf);
  }
}

/**
 * Reads a MetaImage. `file`/`bytes` are the .mhd or .mha; `data` is the file its
 * ElementDataFile names (omit it when absent or for LOCAL data).
 */
export function readMetaImage(input: {
  file: string;
  bytes: Uint8Array;
  data?: { file: string; bytes: Uint8Array };
}): Volume {
  const { file, bytes, data } = input;
  const header = parseMetaHeader(bytes, file);
  const warnings = [...header.warnings];
  if (header.nDims === 2) warnings.push(`${file} is a 2-D image (NDims = 2), read as a single slice`);

  let dataFile: string;
  let payload: Uint8Array;
  const files = [file];
  const local = isLocal(header);
  if (local) {
    dataFile = file;
    payload = bytes.subarray(header.headerBytes);
    if (data) warnings.push(`${file} holds its own voxels (ElementDataFile = LOCAL); ${data.file} was ignored`);
  } else {
    const named = header.elementDataFile;
    if (!data) {
      throw new DataError(`${file} names data file ${JSON.stringify(named)}, which was not given`, {
        file,
        field: 'ElementDataFile',
      });
    }
    const given = baseName(data.file);
    if (given !== baseName(named)) {
      if (given.toLowerCase() !== baseName(named).toLowerCase()) {
        throw new DataError(
          `${file} names data file ${JSON.stringify(named)}, but was given ${JSON.stringify(data.file)}`,
          {
            file,
            field: 'ElementDataFile',
          },
        );
      }
      warnings.push(
        `${file} names data file ${JSON.stringify(named)}; read ${JSON.stringify(data.file)}, whose name differs only in case`,
      );
    }
    dataFile = data.file;
    payload = data.bytes;
    files.push(data.file);
  }

  if (header.headerSize > 0) {
    if (payload.length < header.headerSize) {
      throw new DataError(`${dataFile} holds ${payload.length} bytes, fewer than HeaderSize ${header.headerSize}`, {
        file: dataFile,
        field: 'HeaderSize',
      });
    }
    payload = payload.subarray(header.headerSize);
  }

  const elementBytes = META_ELEMENT_BYTES[header.elementType];
  const [nx, ny, nz] = header.dimSize;
  const expected = nx * ny * nz * elementBytes;
  const sizeError = (n: number, verb = 'holds') =>
    new DataError(
      `${dataFile} ${verb} ${n} bytes${local ? ' of voxel data after its header' : ''}, ` +
        `${sizeText(header)} needs ${expected} bytes`,
      { file: dataFile, field: 'DimSize' },
    );

  let voxels: Uint8Array<ArrayBuffer>;
  if (header.compressed) {
    if (header.compressedDataSize !== undefined && header.compressedDataSize !== payload.length) {
      throw new DataError(
        `CompressedDataSize ${header.compressedDataSize} in ${file} disagrees with ${dataFile}, which holds ${payload.length} compressed bytes`,
        { file: dataFile, field: 'CompressedDataSize' },
      );
    }
    voxels = inflateVoxels(payload, expected, dataFile, header, sizeError);
  } else {
    if (header.headerSize === -1 && payload.length > expected) payload = payload.subarray(payload.length - expected);
    if (payload.length !== expected) throw sizeError(payload.length);
    // One memcpy into a fresh buffer: aligned whatever the input's byteOffset, and ours alone.
    // (Not `payload.slice()`: on a Node Buffer that is a view, not a copy.)
    voxels = allocate(expected, dataFile, header);
    voxels.set(payload);
  }

  if (elementBytes > 1 && header.msb !== HOST_MSB) swapBytes(voxels.buffer, elementBytes);

  const [sx, sy, sz] = header.elementSpacing;
  const [ox, oy, oz] = header.offset;
  const m = header.transformMatrix;
  // See the module comment: ITK's direction matrix is TransformMatrix transposed.
  const direction: Mat3 = [m[0], m[3], m[6], m[1], m[4], m[7], m[2], m[5], m[8]];
  const spacing: Vec3 = [sx, sy, sz];
  const origin: Vec3 = [ox, oy, oz];
  return {
    seriesUid: stem(file),
    format: 'metaimage',
    shape: [nz, ny, nx],
    spacing,
    origin,
    direction,
    data: typedView(header.elementType, voxels.buffer),
    files,
    warnings,
  };
}

function inflateVoxels(
  z: Uint8Array,
  expected: number,
  dataFile: string,
  header: MetaHeader,
  sizeError: (n: number, verb?: string) => DataError,
): Uint8Array<ArrayBuffer> {
  const corrupt = (why: string) =>
    new DataError(`${dataFile} is not a valid zlib stream (CompressedData = True): ${why}`, {
      file: dataFile,
      field: 'CompressedData',
    });
  // Refuse before allocating what the stream cannot possibly fill (a DimSize edited upwards).
  const most = z.length * DEFLATE_MAX_RATIO + 1024;
  if (expected > most) {
    throw new DataError(
      `${dataFile} holds ${z.length} compressed bytes, which inflate to at most ${most} bytes; ` +
        `${sizeText(header)} needs ${expected} bytes`,
      { file: dataFile, field: 'DimSize' },
    );
  }
  const out = allocate(expected, dataFile, header);
  let result: InflateResult;
  try {
    result = inflateBounded(z, out);
  } catch (e) {
    throw corrupt(e instanceof Error ? e.message : String(e));
  }
  if (!result.complete) throw sizeError(expected + OVERFLOW_COUNT_BYTES, 'inflates to more than');
  if (!result.intact) throw corrupt('Adler-32 checksum mismatch');
  if (result.length !== expected) throw sizeError(result.length, 'inflates to');
  return out;
}
