/**
 * DICOM files -> CT `Volume`s in Hounsfield units.
 *
 * Promise: given the bytes of any set of dropped files, `readDicomSeries` returns one volume per
 * SeriesInstanceUID, its slices ordered by ImagePositionPatient along the slice normal (never by
 * file name or InstanceNumber), with HU = RescaleSlope·stored + RescaleIntercept kept exact
 * (no clamping here), LUNA16-style geometry (origin, spacing x y z, direction whose columns are
 * the x, y, z voxel axes), and warnings for oddities that did not stop the read (gaps, duplicate
 * slices). It never throws for bad input: a file it cannot use, or a series it refuses (scouts,
 * mixed orientations or sizes), becomes an entry in `errors` naming the file, and everything
 * else still loads. Every header value it uses is checked before use: DS/IS text strictly per
 * PS3.5 (never parseFloat's "12abc" = 12), spacing, positions and rescale finite and plausible,
 * and the pixel data exactly as long as Rows × Columns × BitsAllocated implies.
 * Pure: takes bytes, runs in Node and in the browser.
 */
import daikon from 'daikon';
import type { DaikonImage, DaikonTag } from 'daikon';
import { DataError, isDataError } from './errors.ts';
import type { Mat3, Vec3, Volume } from './volume.ts';

export interface DicomFileInput {
  file: string;
  bytes: Uint8Array;
}

export interface FileError {
  file: string;
  message: string;
  /** Set when the cause was not a `DataError`: a bug in a reader, not a fault of the file. */
  internal?: true;
}

function fileError(file: string, e: unknown): FileError {
  return isDataError(e) ? { file, message: e.message } : { file, message: `${file}: ${describe(e)}`, internal: true };
}

// ---------------------------------------------------------------------------------------------
// Tags (group, element)

type TagId = readonly [number, number];
const TRANSFER_SYNTAX: TagId = [0x0002, 0x0010];
const IMAGE_TYPE: TagId = [0x0008, 0x0008];
const MODALITY: TagId = [0x0008, 0x0060];
const SLICE_THICKNESS: TagId = [0x0018, 0x0050];
const IMAGER_PIXEL_SPACING: TagId = [0x0018, 0x1164];
const SERIES_INSTANCE_UID: TagId = [0x0020, 0x000e];
const IMAGE_POSITION: TagId = [0x0020, 0x0032];
const IMAGE_ORIENTATION: TagId = [0x0020, 0x0037];
const SAMPLES_PER_PIXEL: TagId = [0x0028, 0x0002];
const NUMBER_OF_FRAMES: TagId = [0x0028, 0x0008];
const ROWS: TagId = [0x0028, 0x0010];
const COLUMNS: TagId = [0x0028, 0x0011];
const PIXEL_SPACING: TagId = [0x0028, 0x0030];
const BITS_ALLOCATED: TagId = [0x0028, 0x0100];
const BITS_STORED: TagId = [0x0028, 0x0101];
const HIGH_BIT: TagId = [0x0028, 0x0102];
const PIXEL_REPRESENTATION: TagId = [0x0028, 0x0103];
const RESCALE_INTERCEPT: TagId = [0x0028, 0x1052];
const RESCALE_SLOPE: TagId = [0x0028, 0x1053];

const tagName = ([g, e]: TagId): string =>
  `(${g.toString(16).padStart(4, '0').toUpperCase()},${e.toString(16).padStart(4, '0').toUpperCase()})`;

// ---------------------------------------------------------------------------------------------
// Transfer syntaxes

const IMPLICIT_LITTLE = '1.2.840.10008.1.2';
const DEFLATED_LITTLE = '1.2.840.10008.1.2.1.99';

/**
 * What daikon 1.2.46 can actually decode. An allow-list, because daikon's own `isCompressed`
 * matches any UID starting with 1.2.840.10008.1.2.4 (HTJ2K, JPEG-XL, MPEG...) and then hands the
 * still-compressed bytes back as if they were pixels.
 */
const DECODABLE_SYNTAXES: ReadonlyMap<string, string> = new Map([
  [IMPLICIT_LITTLE, 'Implicit VR Little Endian'],
  ['1.2.840.10008.1.2.1', 'Explicit VR Little Endian'],
  ['1.2.840.10008.1.2.2', 'Explicit VR Big Endian'],
  ['1.2.840.10008.1.2.1.99', 'Deflated Explicit VR Little Endian'],
  ['1.2.840.10008.1.2.4.50', 'JPEG Baseline'],
  ['1.2.840.10008.1.2.4.51', 'JPEG Extended'],
  ['1.2.840.10008.1.2.4.57', 'JPEG Lossless'],
  ['1.2.840.10008.1.2.4.70', 'JPEG Lossless SV1'],
  ['1.2.840.10008.1.2.4.80', 'JPEG-LS Lossless'],
  ['1.2.840.10008.1.2.4.81', 'JPEG-LS Near-Lossless'],
  ['1.2.840.10008.1.2.4.90', 'JPEG 2000 Lossless'],
  ['1.2.840.10008.1.2.4.91', 'JPEG 2000'],
  ['1.2.840.10008.1.2.5', 'RLE Lossless'],
]);

/** Names for syntaxes users are likely to meet that daikon cannot decode, for the message. */
const UNDECODABLE_SYNTAXES: ReadonlyMap<string, string> = new Map([
  ['1.2.840.10008.1.2.1.98', 'Encapsulated Uncompressed Explicit VR Little Endian'],
  ['1.2.840.10008.1.2.4.53', 'JPEG Spectral Selection'],
  ['1.2.840.10008.1.2.4.55', 'JPEG Full Progression'],
  ['1.2.840.10008.1.2.4.92', 'JPEG 2000 Part 2 Multi-component Lossless'],
  ['1.2.840.10008.1.2.4.93', 'JPEG 2000 Part 2 Multi-component'],
  ['1.2.840.10008.1.2.4.94', 'JPIP Referenced'],
  ['1.2.840.10008.1.2.4.100', 'MPEG2'],
  ['1.2.840.10008.1.2.4.102', 'MPEG-4 AVC/H.264'],
  ['1.2.840.10008.1.2.4.107', 'HEVC/H.265'],
  ['1.2.840.10008.1.2.4.110', 'JPEG XL Lossless'],
  ['1.2.840.10008.1.2.4.111', 'JPEG XL JPEG Recompression'],
  ['1.2.840.10008.1.2.4.112', 'JPEG XL'],
  ['1.2.840.10008.1.2.4.201', 'High-Throughput JPEG 2000 Lossless'],
  ['1.2.840.10008.1.2.4.202', 'High-Throughput JPEG 2000 RPCL Lossless'],
  ['1.2.840.10008.1.2.4.203', 'High-Throughput JPEG 2000'],
]);

function syntaxLabel(uid: string): string {
  const name = DECODABLE_SYNTAXES.get(uid) ?? UNDECODABLE_SYNTAXES.get(uid);
  return name ? `${uid} (${name})` : uid;
}

// ---------------------------------------------------------------------------------------------
// Detection

/** DICOM value representations, to recognise an explicit-VR element header. */
const VRS = new Set([
  'AE',
  'AS',
  'AT',
  'CS',
  'DA',
  'DS',
  'DT',
  'FD',
  'FL',
  'IS',
  'LO',
  'LT',
  'OB',
  'OD',
  'OF',
  'OL',
  'OV',
  'OW',
  'PN',
  'SH',
  'SL',
  'SQ',
  'SS',
  'ST',
  'SV',
  'TM',
  'UC',
  'UI',
  'UL',
  'UN',
  'UR',
  'US',
  'UT',
  'UV',
]);

/**
 * True for a DICOM Part 10 file ('DICM' at byte 128) and for a preamble-less data set (old
 * ACR-NEMA style or a stripped file) that starts with a group 0x0002 or 0x0008 element in
 * explicit or implicit little-endian VR.
 */
export function isDicom(bytes: Uint8Array): boolean {
  if (bytes.length >= 132 && bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 && bytes[131] === 0x4d) {
    return true;
  }
  if (bytes.length < 8) return false;
  const group = bytes[0] | (bytes[1] << 8);
  if (group !== 0x0002 && group !== 0x0008) return false;
  const vr = String.fromCharCode(bytes[4], bytes[5]);
  if (VRS.has(vr)) return true;
  // Implicit VR: a 32-bit length that fits in the file (an element is 8 header bytes + value).
  const length = (bytes[4] | (bytes[5] << 8) | (bytes[6] << 16) | (bytes[7] << 24)) >>> 0;
  return length <= bytes.length - 8;
}

/**
 * The transfer syntax UID from the file meta group (always explicit VR little endian), read
 * without daikon so that an undecodable syntax is named even when daikon cannot parse the rest.
 */
function sniffTransferSyntax(bytes: Uint8Array): string | null {
  const hasPreamble =
    bytes.length >= 132 && bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 && bytes[131] === 0x4d;
  let at = hasPreamble ? 132 : 0;
  while (at + 8 <= bytes.length) {
    const group = bytes[at] | (bytes[at + 1] << 8);
    if (group !== 0x0002) return null;
    const element = bytes[at + 2] | (bytes[at + 3] << 8);
    const vr = String.fromCharCode(bytes[at + 4], bytes[at + 5]);
    if (!VRS.has(vr)) return null;
    let length: number;
    if (vr === 'OB' || vr === 'OW' || vr === 'OF' || vr === 'SQ' || vr === 'UT' || vr === 'UN') {
      if (at + 12 > bytes.length) return null;
      length = (bytes[at + 8] | (bytes[at + 9] << 8) | (bytes[at + 10] << 16) | (bytes[at + 11] << 24)) >>> 0;
      at += 12;
    } else {
      length = bytes[at + 6] | (bytes[at + 7] << 8);
      at += 8;
    }
    if (at + length > bytes.length) return null;
    if (element === 0x0010) {
      return String.fromCharCode(...bytes.subarray(at, at + length))
        .replace(/[\0 ]+$/, '')
        .trim();
    }
    at += length;
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Tag values

/**
 * First number of a decimal string (DS/IS) as files really spell it: leading or trailing spaces
 * (rt-utils writes RescaleIntercept as ' -1024'), NUL padding, backslash multi-values (the first
 * wins). Null when empty or not a number.
 */
export function parseDecimalString(text: string): number | null {
  const first = text.replace(/\0/g, '').split('\\')[0].trim();
  if (first === '') return null;
  const v = Number(first);
  return Number.isFinite(v) ? v : null;
}

function decodeAscii(view: DataView): string {
  let s = '';
  for (let i = 0; i < view.byteLength; i++) s += String.fromCharCode(view.getUint8(i));
  return s;
}

/** A tag's values as strings, whatever daikon made of it (a VR of UN stays raw bytes). */
function tagStrings(image: DaikonImage, id: TagId): string[] | null {
  const tag: DaikonTag | undefined = image.getTag(id[0], id[1]);
  const value = tag?.value;
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') return value.split('\\').map((s) => s.replace(/\0/g, '').trim());
  if (value instanceof DataView) {
    return decodeAscii(value)
      .split('\\')
      .map((s) => s.replace(/\0/g, '').trim());
  }
  const out: string[] = [];
  for (const v of value) {
    if (typeof v === 'string') out.push(v.replace(/\0/g, '').trim());
    else if (typeof v === 'number') out.push(String(v));
    else return null; // a sequence: not a value we read
  }
  return out;
}

/** A tag's values as numbers; entries that are not numbers become NaN (callers check). */
function tagNumbers(image: DaikonImage, id: TagId): number[] | null {
  const tag = image.getTag(id[0], id[1]);
  const value = tag?.value;
  if (value === undefined || value === null) return null;
  if (Array.isArray(value) && value.every((v): v is number => typeof v === 'number')) {
    return value;
  }
  const strings = tagStrings(image, id);
  return strings === null ? null : strings.map((s) => parseDecimalString(s) ?? NaN);
}

function firstNumber(image: DaikonImage, id: TagId): number | null {
  const v = tagNumbers(image, id)?.[0];
  return v !== undefined && Number.isFinite(v) ? v : null;
}

function firstString(image: DaikonImage, id: TagId): string | null {
  const v = tagStrings(image, id)?.[0];
  return v ? v : null;
}

/** DS (PS3.5 6.2): fixed or floating point decimal, optional sign and exponent, no embedded spaces. */
const DS_TEXT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
/** IS (PS3.5 6.2): an optionally signed base-10 integer in [-2^31, 2^31 - 1]. */
const IS_TEXT = /^[+-]?\d+$/;

/** A header value in a message: quoted, runaway values cut short. */
function shown(text: string, max = 40): string {
  return JSON.stringify(text.length > max ? `${text.slice(0, max - 3)}...` : text);
}

/**
 * What `strictNumbers` reads a tag from: the file's bytes, so that DS/IS text is checked as
 * written (daikon converts it with parseFloat/parseInt, which turn "abc" into NaN and "12abc"
 * into 12). Null for a deflated data set, whose offsets point into daikon's inflated copy.
 */
type RawSource = Uint8Array | null;

/**
 * A numeric tag's values, strictly parsed: null when the tag is absent or empty (type 2/3
 * attributes may be zero-length); a `DataError` naming the tag and value when any value is not
 * a DS/IS (text VRs) or not finite (binary VRs). Spaces and NUL padding around each value are
 * allowed, as the standard allows padding; the 16-byte DS length limit is not enforced
 * (real scanners write longer values and they are still unambiguous).
 */
function strictNumbers(
  image: DaikonImage,
  id: TagId,
  name: string,
  raw: RawSource,
  fail: (message: string, field?: TagId) => never,
): number[] | null {
  const tag = image.getTag(id[0], id[1]);
  const value = tag?.value;
  if (tag === undefined || value === undefined || value === null) return null;
  const label = `${name} ${tagName(id)}`;
  const textual = tag.vr === 'DS' || tag.vr === 'IS' || value instanceof DataView || typeof value === 'string';
  if (!textual) {
    if (!Array.isArray(value) || !value.every((v): v is number => typeof v === 'number')) {
      fail(`${label} is not a number`, id);
    }
    if (value.length === 0) return null;
    const bad = value.find((v) => !Number.isFinite(v));
    if (bad !== undefined) fail(`${label} is ${bad}, not a finite number`, id);
    return value;
  }
  let text: string;
  if (
    raw !== null &&
    typeof tag.offsetValue === 'number' &&
    typeof tag.offsetEnd === 'number' &&
    tag.offsetValue >= 0 &&
    tag.offsetValue <= tag.offsetEnd &&
    tag.offsetEnd <= raw.length
  ) {
    text = String.fromCharCode(...raw.subarray(tag.offsetValue, Math.min(tag.offsetEnd, tag.offsetValue + 4096)));
    if (tag.offsetEnd - tag.offsetValue > 4096)
      fail(`${label} is ${tag.offsetEnd - tag.offsetValue} bytes long, not a number`, id);
  } else {
    // Deflated data sets: only daikon's conversion is at hand; NaN still means "not a number".
    const strings = tagStrings(image, id);
    if (strings === null) return null;
    text = strings.join('\\');
  }
  const trimmed = text.replace(/^[\0 ]+|[\0 ]+$/g, '');
  if (trimmed === '') return null;
  const integer = tag.vr === 'IS';
  const out: number[] = [];
  for (const part of trimmed.split('\\')) {
    const word = part.replace(/^[\0 ]+|[\0 ]+$/g, '');
    const v = Number(word);
    const ok = (integer ? IS_TEXT : DS_TEXT).test(word) && Number.isFinite(v) && (!integer || Math.abs(v) <= 2 ** 31);
    if (!ok) {
      fail(
        `${label} ${shown(trimmed)} is not ${integer ? 'an integer string (IS' : 'a decimal string (DS'}: ` +
          `${integer ? 'e.g. "1"' : 'e.g. "-1024" or "0.703125"'})`,
        id,
      );
    }
    out.push(v);
  }
  return out;
}

/** The first `count` values, or null when there are fewer (a missing or short tag). */
function counted(values: number[] | null, count: number): number[] | null {
  return values !== null && values.length >= count ? values.slice(0, count) : null;
}

/**
 * Plausible voxel spacing, mm: 0.1 µm (beyond any micro-CT) to 1 m (beyond any patient). The
 * point is not to judge scanners but to stop 1e308 or 1e-300 from reaching the geometry.
 */
export const PLAUSIBLE_SPACING_MM = { min: 1e-4, max: 1e3 } as const;
/** World positions beyond 1 km from the origin are header faults, not patients. */
const MAX_POSITION_MM = 1e6;
const FLOAT32_MAX = 3.4028234663852886e38;

function checkSpacing(
  values: readonly number[],
  name: string,
  id: TagId,
  fail: (message: string, field?: TagId) => never,
): void {
  const bad = values.find((v) => !(v >= PLAUSIBLE_SPACING_MM.min && v <= PLAUSIBLE_SPACING_MM.max));
  if (bad !== undefined) {
    fail(
      `${name} ${tagName(id)} ${values.join('\\')} mm is implausible (expected ${PLAUSIBLE_SPACING_MM.min} to ${PLAUSIBLE_SPACING_MM.max} mm)`,
      id,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Vector helpers

const dot = (a: Vec3, b: Vec3): number => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
const cross = (a: Vec3, b: Vec3): Vec3 => [
  a[1] * b[2] - a[2] * b[1],
  a[2] * b[0] - a[0] * b[2],
  a[0] * b[1] - a[1] * b[0],
];
const norm = (a: Vec3): number => Math.hypot(a[0], a[1], a[2]);
const scale = (a: Vec3, s: number): Vec3 => [a[0] * s, a[1] * s, a[2] * s];
const sub = (a: Vec3, b: Vec3): Vec3 => [a[0] - b[0], a[1] - b[1], a[2] - b[2]];

/** Numbers in messages: at most 2 decimals, no trailing zeros ("-99.48", "202.5"). */
const fmt = (v: number): string => String(Number(v.toFixed(2)));

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

// ---------------------------------------------------------------------------------------------
// One file

/** What we keep of one parsed slice until its series is assembled. */
interface Slice {
  readonly file: string;
  readonly image: DaikonImage;
  readonly transferSyntax: string;
  readonly seriesUid: string;
  readonly rows: number;
  readonly cols: number;
  readonly position: Vec3;
  /** ImageOrientationPatient as stored: row cosines (x axis), then column cosines (y axis). */
  readonly orientation: readonly number[];
  readonly rowCosines: Vec3;
  readonly colCosines: Vec3;
  /** DICOM order: [row spacing (y), column spacing (x)]; null when the file has none. */
  readonly pixelSpacing: readonly [number, number] | null;
  readonly sliceThickness: number | null;
  readonly slope: number;
  readonly intercept: number;
  readonly bitsAllocated: number;
  readonly bitsStored: number;
  readonly highBit: number;
  readonly signed: boolean;
  readonly localizer: boolean;
  readonly modality: string | null;
  readonly notes: readonly string[];
}

/**
 * daikon reads with `data.buffer.slice(offset)`, ignoring the view's byteOffset, so it must get
 * a buffer that holds exactly this file. Node's small `Buffer`s are views into a shared pool
 * (and `Buffer#slice` does not copy), hence the explicit copy.
 */
function ownBuffer(bytes: Uint8Array): ArrayBuffer {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer) {
    return bytes.buffer;
  }
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return copy.buffer;
}

function describe(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}

function parseSlice(input: DicomFileInput): Slice {
  const { file, bytes } = input;
  // A declaration (not an arrow) so that TypeScript narrows after calls returning `never`.
  function fail(message: string, field?: TagId): never {
    throw new DataError(`${file}: ${message}`, { file, field: field ? tagName(field) : undefined });
  }

  if (!isDicom(bytes)) {
    fail("not a DICOM file (no 'DICM' marker at byte 128 and no DICOM data set at the start)");
  }

  // Refuse what daikon cannot decode before parsing: its parser may choke on, or silently
  // pass through, pixel data in a syntax it does not know.
  const refuseSyntax = (uid: string): never =>
    fail(
      `transfer syntax ${syntaxLabel(uid)} cannot be decoded here (daikon); ` +
        'convert the series to uncompressed DICOM (e.g. gdcmconv --raw or dcmdjpeg)',
      TRANSFER_SYNTAX,
    );
  const sniffed = sniffTransferSyntax(bytes);
  if (sniffed !== null && !DECODABLE_SYNTAXES.has(sniffed)) refuseSyntax(sniffed);

  let image: DaikonImage | null;
  try {
    image = daikon.Series.parseImage(new DataView(ownBuffer(bytes)));
  } catch (e) {
    return fail(`cannot parse DICOM (truncated or corrupt?): ${describe(e)}`);
  }
  if (image === null) return fail(`cannot parse DICOM (truncated or corrupt?): ${describe(daikon.Series.parserError)}`);

  // No meta group (preamble-less data set): daikon falls back to little endian, VR sniffed.
  const transferSyntax = firstString(image, TRANSFER_SYNTAX) ?? sniffed ?? IMPLICIT_LITTLE;
  if (!DECODABLE_SYNTAXES.has(transferSyntax)) refuseSyntax(transferSyntax);
  if (!image.hasPixelData()) {
    fail('no pixel data (7FE0,0010): not an image (DICOMDIR, report, RT structure set?) or a truncated file');
  }

  const seriesUid = firstString(image, SERIES_INSTANCE_UID);
  if (seriesUid === null) fail('no SeriesInstanceUID (0020,000E)', SERIES_INSTANCE_UID);

  const rows = firstNumber(image, ROWS);
  const cols = firstNumber(image, COLUMNS);
  if (rows === null || !Number.isInteger(rows) || rows < 1) fail(`bad Rows ${rows}`, ROWS);
  if (cols === null || !Number.isInteger(cols) || cols < 1) fail(`bad Columns ${cols}`, COLUMNS);

  const samples = firstNumber(image, SAMPLES_PER_PIXEL) ?? 1;
  if (samples !== 1) fail(`SamplesPerPixel is ${samples}: a colour image, not CT`, SAMPLES_PER_PIXEL);
  // Text numbers are checked as written, from the file's bytes (see `RawSource`).
  const raw: RawSource = transferSyntax === DEFLATED_LITTLE ? null : bytes;
  const num = (id: TagId, name: string): number[] | null => strictNumbers(image, id, name, raw, fail);
  const frames = num(NUMBER_OF_FRAMES, 'NumberOfFrames')?.[0] ?? 1;
  if (frames > 1) {
    fail(`multi-frame image (${frames} frames) is not supported; export single-frame slices`, NUMBER_OF_FRAMES);
  }

  const bitsAllocated = firstNumber(image, BITS_ALLOCATED) ?? 16;
  if (bitsAllocated !== 8 && bitsAllocated !== 16 && bitsAllocated !== 32) {
    fail(`BitsAllocated ${bitsAllocated} is not supported (8, 16 or 32)`, BITS_ALLOCATED);
  }
  const bitsStored = firstNumber(image, BITS_STORED) ?? bitsAllocated;
  const highBit = firstNumber(image, HIGH_BIT) ?? bitsStored - 1;
  if (bitsStored < 1 || bitsStored > bitsAllocated || highBit >= bitsAllocated || highBit + 1 < bitsStored) {
    fail(`inconsistent BitsAllocated ${bitsAllocated} / BitsStored ${bitsStored} / HighBit ${highBit}`, BITS_STORED);
  }
  const signed = (firstNumber(image, PIXEL_REPRESENTATION) ?? 0) === 1;

  const position = counted(num(IMAGE_POSITION, 'ImagePositionPatient'), 3);
  if (position === null) {
    fail('no ImagePositionPatient (0020,0032): cannot place the slice in space', IMAGE_POSITION);
  }
  if (position.some((v) => Math.abs(v) > MAX_POSITION_MM)) {
    fail(
      `ImagePositionPatient (0020,0032) [${position.join(', ')}] is more than ${MAX_POSITION_MM} mm from the origin (implausible)`,
      IMAGE_POSITION,
    );
  }
  const orientation = counted(num(IMAGE_ORIENTATION, 'ImageOrientationPatient'), 6);
  if (orientation === null) {
    fail('no ImageOrientationPatient (0020,0037): cannot place the slice in space', IMAGE_ORIENTATION);
  }
  const r: Vec3 = [orientation[0], orientation[1], orientation[2]];
  const c: Vec3 = [orientation[3], orientation[4], orientation[5]];
  const rn = norm(r);
  const cn = norm(c);
  if (rn < 0.5 || cn < 0.5 || norm(cross(r, c)) < 0.5 * rn * cn) {
    fail(`ImageOrientationPatient [${orientation.join(', ')}] is degenerate`, IMAGE_ORIENTATION);
  }

  const notes: string[] = [];
  const psTag = image.getTag(PIXEL_SPACING[0], PIXEL_SPACING[1])?.value != null ? PIXEL_SPACING : IMAGER_PIXEL_SPACING;
  const ps = counted(num(psTag, psTag === PIXEL_SPACING ? 'PixelSpacing' : 'ImagerPixelSpacing'), 2);
  // Zero or negative spacing is treated as absent (1 mm, with a warning), as before; a positive
  // but absurd one (1e308, 1e-300) would silently wreck every mm computation, so it is refused.
  const pixelSpacing = ps !== null && ps[0] > 0 && ps[1] > 0 ? ([ps[0], ps[1]] as const) : null;
  if (pixelSpacing !== null)
    checkSpacing(pixelSpacing, psTag === PIXEL_SPACING ? 'PixelSpacing' : 'ImagerPixelSpacing', psTag, fail);
  const thicknessValue = num(SLICE_THICKNESS, 'SliceThickness')?.[0] ?? null;
  const thickness = thicknessValue !== null && thicknessValue > 0 ? thicknessValue : null;
  if (thickness !== null) checkSpacing([thickness], 'SliceThickness', SLICE_THICKNESS, fail);

  // Defaults per the standard's CT module: absent rescale = identity. A zero slope would wipe
  // the image and is a header fault; treat it as absent, as daikon and most viewers do.
  // Present but not a decimal string ("abc", "NaN") is refused: reading it as 0 or 1 would
  // shift or scale every HU without a word.
  let slope = num(RESCALE_SLOPE, 'RescaleSlope')?.[0] ?? 1;
  if (slope === 0) {
    notes.push(`RescaleSlope is 0 in ${file}; used 1`);
    slope = 1;
  }
  const intercept = num(RESCALE_INTERCEPT, 'RescaleIntercept')?.[0] ?? 0;
  // HU must stay finite once stored as 32-bit floats, whatever the stored value.
  if (Math.abs(slope) * 2 ** bitsStored + Math.abs(intercept) > FLOAT32_MAX) {
    fail(
      `RescaleSlope ${slope} / RescaleIntercept ${intercept} overflow 32-bit floats for ${bitsStored}-bit values (implausible)`,
      Math.abs(slope) * 2 ** bitsStored > FLOAT32_MAX / 2 ? RESCALE_SLOPE : RESCALE_INTERCEPT,
    );
  }

  const imageType = tagStrings(image, IMAGE_TYPE) ?? [];
  const localizer = imageType.some((t) => t.toUpperCase() === 'LOCALIZER');

  return {
    file,
    image,
    transferSyntax,
    seriesUid,
    rows,
    cols,
    position: [position[0], position[1], position[2]],
    orientation,
    rowCosines: scale(r, 1 / rn),
    colCosines: scale(c, 1 / cn),
    pixelSpacing,
    sliceThickness: thickness,
    slope,
    intercept,
    bitsAllocated,
    bitsStored,
    highBit,
    signed,
    localizer,
    modality: firstString(image, MODALITY),
    notes,
  };
}

// ---------------------------------------------------------------------------------------------
// Pixels

const LITTLE_ENDIAN_PLATFORM = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Stored values -> HU into `out` (length rows·cols). Done here, not with daikon's
 * getInterpretedData, which inverts MONOCHROME1 (a display matter, wrong for HU) and treats a
 * zero intercept/slope as absent via `||`.
 */
function decodeSlice(s: Slice, out: Float64Array): void {
  const n = s.rows * s.cols;
  let raw: ArrayBuffer;
  try {
    raw = s.image.getRawData();
  } catch (e) {
    throw new DataError(
      `${s.file}: cannot decode pixel data (transfer syntax ${syntaxLabel(s.transferSyntax)}): ${describe(e)}`,
      { file: s.file, field: '(7FE0,0010)' },
    );
  }
  const bytesPer = s.bitsAllocated / 8;
  const byteLength = typeof raw?.byteLength === 'number' ? raw.byteLength : 0;
  const needed = n * bytesPer;
  if (byteLength < needed) {
    throw new DataError(
      `${s.file}: pixel data is ${byteLength} bytes, expected ${needed} ` +
        `(${s.rows}x${s.cols} at ${s.bitsAllocated} bits); truncated file?`,
      { file: s.file, field: '(7FE0,0010)' },
    );
  }
  // More data than Rows × Columns × SamplesPerPixel (1) × BitsAllocated says means a header
  // value is wrong (Rows edited to 1 would show the first row of a 128×128 image as the whole
  // slice). Odd lengths are padded to even (PS3.5 8.1.1), so one spare byte is allowed.
  if (byteLength > needed + (needed % 2)) {
    throw new DataError(
      `${s.file}: pixel data (7FE0,0010) is ${byteLength} bytes, but Rows (0028,0010) ${s.rows} × ` +
        `Columns (0028,0011) ${s.cols} × 1 sample × BitsAllocated (0028,0100) ${s.bitsAllocated} needs ${needed}; ` +
        `one of those header values is wrong`,
      { file: s.file, field: pixelFieldAtFault(s, byteLength) },
    );
  }
  const { slope, intercept } = s;
  const little = s.image.littleEndian;

  // Fast path for the usual CT layout: 16 bits allocated and stored, native byte order.
  if (s.bitsAllocated === 16 && s.bitsStored === 16 && little === LITTLE_ENDIAN_PLATFORM) {
    const words = s.signed ? new Int16Array(raw, 0, n) : new Uint16Array(raw, 0, n);
    for (let i = 0; i < n; i++) out[i] = words[i] * slope + intercept;
    return;
  }

  // General path: stored bits sit in [highBit - bitsStored + 1, highBit]; anything above
  // (old overlay bits) is masked off, and signed values are sign-extended from bitsStored.
  const view = new DataView(raw);
  const shift = s.highBit + 1 - s.bitsStored;
  const bits = s.bitsStored;
  const mask = bits >= 32 ? 0 : 2 ** bits - 1;
  const signBit = 2 ** (bits - 1);
  const range = 2 ** bits;
  for (let i = 0; i < n; i++) {
    const u =
      s.bitsAllocated === 8
        ? view.getUint8(i)
        : s.bitsAllocated === 16
          ? view.getUint16(i * 2, little)
          : view.getUint32(i * 4, little);
    let v = bits >= 32 ? u >>> shift : (u >>> shift) & mask;
    if (s.signed && v >= signBit) v -= range;
    out[i] = v * slope + intercept;
  }
}

/**
 * Which header field most likely disagrees with the pixel data: Rows or Columns when the data
 * is a square image of the other, BitsAllocated when it is 16 or 32 bits a pixel; else the data.
 */
function pixelFieldAtFault(s: Slice, byteLength: number): string {
  const pixels = byteLength / (s.bitsAllocated / 8);
  if (pixels === s.cols * s.cols) return tagName(ROWS);
  if (pixels === s.rows * s.rows) return tagName(COLUMNS);
  if (byteLength === s.rows * s.cols * 2 || byteLength === s.rows * s.cols * 4) return tagName(BITS_ALLOCATED);
  return '(7FE0,0010)';
}

/** Collects slices as Int16Array while every HU fits, switching to Float32Array if one doesn't. */
class HuBuffer {
  data: Int16Array | Float32Array;
  private readonly sliceSize: number;
  constructor(sliceSize: number, slices: number) {
    this.sliceSize = sliceSize;
    this.data = new Int16Array(sliceSize * slices);
  }

  put(index: number, hu: Float64Array): void {
    if (this.data instanceof Int16Array) {
      let fits = true;
      for (let i = 0; i < hu.length; i++) {
        const v = hu[i];
        if (!(v >= -32768 && v <= 32767 && Number.isInteger(v))) {
          fits = false;
          break;
        }
      }
      if (!fits) this.data = Float32Array.from(this.data);
    }
    this.data.set(hu, index * this.sliceSize);
  }

  /** Keeps only the given slice indices (in order), dropping slices that failed to decode. */
  keep(indices: readonly number[]): void {
    const n = this.sliceSize;
    const out =
      this.data instanceof Int16Array ? new Int16Array(n * indices.length) : new Float32Array(n * indices.length);
    indices.forEach((src, dst) => out.set(this.data.subarray(src * n, (src + 1) * n), dst * n));
    this.data = out;
  }
}

// ---------------------------------------------------------------------------------------------
// One series

const ORIENTATION_TOLERANCE = 1e-3;
/** Positions closer than this along the normal are the same slice position. */
const SAME_POSITION_MM = 1e-3;
const SPACING_TOLERANCE = 0.1;
const MAX_LISTED = 5;

function sameOrientation(a: Slice, b: Slice): boolean {
  return a.orientation.every((v, i) => Math.abs(v - b.orientation[i]) <= ORIENTATION_TOLERANCE);
}

function rejectSeries(uid: string, slices: readonly Slice[], message: string): FileError {
  return { file: slices[0].file, message: `series ${uid}: ${message}` };
}

/** Distinct orientations, each with the first slice that has it. */
function orientationGroups(slices: readonly Slice[]): Slice[] {
  const reps: Slice[] = [];
  for (const s of slices) if (!reps.some((r) => sameOrientation(r, s))) reps.push(s);
  return reps;
}

function buildSeries(uid: string, all: readonly Slice[], errors: FileError[]): Volume | null {
  const warnings: string[] = [];

  // Scouts: a series of nothing but localizers is refused; localizers mixed into an axial
  // series are dropped so the volume can still load.
  const localizers = all.filter((s) => s.localizer);
  let slices = all.filter((s) => !s.localizer);
  if (slices.length === 0) {
    const groups = orientationGroups(all);
    errors.push(
      rejectSeries(
        uid,
        all,
        groups.length > 1
          ? `slices have ${groups.length} different orientations (e.g. ${groups[0].file} vs ${groups[1].file}); ` +
              'not an axial volume (scout/localizer?): ImageType says LOCALIZER'
          : `ImageType says LOCALIZER (${all
              .map((s) => s.file)
              .slice(0, MAX_LISTED)
              .join(', ')}); ` + 'a scout/localizer, not an axial volume',
      ),
    );
    return null;
  }
  if (localizers.length > 0) {
    warnings.push(
      `dropped ${localizers.length} localizer image(s) from the series: ` +
        localizers
          .map((s) => s.file)
          .slice(0, MAX_LISTED)
          .join(', '),
    );
  }

  const groups = orientationGroups(slices);
  if (groups.length > 1) {
    errors.push(
      rejectSeries(
        uid,
        slices,
        `slices have ${groups.length} different orientations (e.g. ${groups[0].file} vs ${groups[1].file}); ` +
          'not an axial volume (scout/localizer?)',
      ),
    );
    return null;
  }
  const first = slices[0];
  const odd = slices.find((s) => s.rows !== first.rows || s.cols !== first.cols);
  if (odd) {
    errors.push(
      rejectSeries(
        uid,
        slices,
        `slices have different sizes (${first.rows}x${first.cols} in ${first.file} vs ` +
          `${odd.rows}x${odd.cols} in ${odd.file}); cannot stack them into one volume`,
      ),
    );
    return null;
  }
  const psOdd = slices.find(
    (s) =>
      (s.pixelSpacing === null) !== (first.pixelSpacing === null) ||
      (s.pixelSpacing !== null &&
        first.pixelSpacing !== null &&
        (Math.abs(s.pixelSpacing[0] - first.pixelSpacing[0]) > 1e-4 * first.pixelSpacing[0] ||
          Math.abs(s.pixelSpacing[1] - first.pixelSpacing[1]) > 1e-4 * first.pixelSpacing[1])),
  );
  if (psOdd) {
    errors.push(
      rejectSeries(
        uid,
        slices,
        `slices have different PixelSpacing (${first.pixelSpacing?.join('\\') ?? 'none'} in ${first.file} vs ` +
          `${psOdd.pixelSpacing?.join('\\') ?? 'none'} in ${psOdd.file}); cannot stack them into one volume`,
      ),
    );
    return null;
  }

  // Order along the slice normal; the normal (r × c) then points towards increasing position.
  const normal0 = cross(first.rowCosines, first.colCosines);
  const normal = scale(normal0, 1 / norm(normal0));
  const at = (s: Slice): number => dot(s.position, normal);
  slices = [...slices].sort((a, b) => at(a) - at(b)); // stable: ties keep file-name order

  // Duplicate positions: keep the first, say which were dropped.
  const unique: Slice[] = [];
  const duplicates: string[] = [];
  for (const s of slices) {
    const prev = unique[unique.length - 1];
    if (prev && Math.abs(at(s) - at(prev)) <= SAME_POSITION_MM) {
      duplicates.push(`z=${fmt(at(s))} (kept ${prev.file}, dropped ${s.file})`);
    } else {
      unique.push(s);
    }
  }
  if (duplicates.length > 0) {
    warnings.push(
      `${duplicates.length} duplicate slice position(s), one slice kept at each: ` +
        duplicates.slice(0, MAX_LISTED).join('; ') +
        (duplicates.length > MAX_LISTED ? `; and ${duplicates.length - MAX_LISTED} more` : ''),
    );
  }

  // Pixels. A slice that fails to decode is reported and left out; the gap check below then
  // tells the user about the hole it leaves.
  const sliceSize = first.rows * first.cols;
  const hu = new HuBuffer(sliceSize, unique.length);
  const scratch = new Float64Array(sliceSize);
  const decoded: number[] = [];
  unique.forEach((s, i) => {
    try {
      decodeSlice(s, scratch);
      hu.put(i, scratch);
      decoded.push(i);
    } catch (e) {
      errors.push(fileError(s.file, e));
    }
  });
  if (decoded.length === 0) return null;
  if (decoded.length < unique.length) hu.keep(decoded);
  const kept = decoded.map((i) => unique[i]);

  // Geometry.
  const positions = kept.map(at);
  const steps = positions.slice(1).map((p, i) => p - positions[i]);
  let zSpacing: number;
  if (steps.length === 0) {
    zSpacing = first.sliceThickness ?? 1;
  } else {
    zSpacing = median(steps);
    const irregular: string[] = [];
    steps.forEach((d, i) => {
      if (Math.abs(d - zSpacing) > SPACING_TOLERANCE * zSpacing) {
        irregular.push(
          `gap of ${fmt(d)} mm between z=${fmt(positions[i])} and z=${fmt(positions[i + 1])} (median ${fmt(zSpacing)} mm)`,
        );
      }
    });
    irregular.slice(0, MAX_LISTED).forEach((g) => warnings.push(`slice spacing is not uniform: ${g}`));
    if (irregular.length > MAX_LISTED) {
      warnings.push(`slice spacing is not uniform: ${irregular.length - MAX_LISTED} more irregular gaps`);
    }
  }

  // Slices should lie on one line along the normal; a sideways drift (gantry tilt) cannot be
  // expressed by origin/spacing/direction, so say so.
  const origin = kept[0].position;
  let drift = 0;
  for (const s of kept) {
    const d = sub(s.position, origin);
    drift = Math.max(drift, Math.abs(dot(d, first.rowCosines)), Math.abs(dot(d, first.colCosines)));
  }
  if (drift > 0.05) {
    warnings.push(
      `slices are shifted in-plane by up to ${fmt(drift)} mm (gantry tilt?); the volume treats them as stacked straight`,
    );
  }

  if (first.pixelSpacing === null) warnings.push('no PixelSpacing (0028,0030); assumed 1 mm');
  const [rowSpacing, colSpacing] = first.pixelSpacing ?? [1, 1];
  const modality = first.modality;
  if (modality !== null && modality !== 'CT') {
    warnings.push(`Modality is ${modality}, not CT: values are not Hounsfield units`);
  }
  for (const s of kept) warnings.push(...s.notes);

  const r = first.rowCosines;
  const c = first.colCosines;
  // Columns are the world directions of the x (col), y (row), z (slice) axes; row-major.
  const direction: Mat3 = [r[0], c[0], normal[0], r[1], c[1], normal[1], r[2], c[2], normal[2]];

  return {
    seriesUid: uid,
    format: 'dicom',
    shape: [kept.length, first.rows, first.cols],
    // DICOM PixelSpacing is [row spacing (y), column spacing (x)].
    spacing: [colSpacing, rowSpacing, zSpacing],
    origin,
    direction,
    data: hu.data,
    files: kept.map((s) => s.file),
    warnings,
  };
}

// ---------------------------------------------------------------------------------------------
// Entry point

/**
 * Reads every file, groups by SeriesInstanceUID and assembles one volume per usable series.
 * Volumes come in the order their series first appear in `files`.
 */
export function readDicomSeries(files: DicomFileInput[]): { volumes: Volume[]; errors: FileError[] } {
  const errors: FileError[] = [];
  const bySeries = new Map<string, Slice[]>();
  for (const input of files) {
    try {
      const slice = parseSlice(input);
      const list = bySeries.get(slice.seriesUid);
      if (list) list.push(slice);
      else bySeries.set(slice.seriesUid, [slice]);
    } catch (e) {
      errors.push(fileError(input.file, e));
    }
  }

  const volumes: Volume[] = [];
  for (const [uid, slices] of bySeries) {
    // File-name order only makes messages and duplicate choice deterministic; geometry sorts.
    const ordered = [...slices].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
    try {
      const volume = buildSeries(uid, ordered, errors);
      if (volume) volumes.push(volume);
    } catch (e) {
      errors.push({
        file: ordered[0].file,
        message: `series ${uid}: ${describe(e)}`,
        ...(isDataError(e) ? {} : { internal: true as const }),
      });
    }
  }
  return { volumes, errors };
}
