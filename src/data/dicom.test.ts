import fs from 'node:fs';
import path from 'node:path';
import daikon from 'daikon';
import { describe, expect, it } from 'vitest';
import { isDicom, parseDecimalString, readDicomSeries } from './dicom.ts';
import type { DicomFileInput } from './dicom.ts';
import type { Volume } from './volume.ts';

// Real files: read in place, never copied into the project.
const SAMPLES = path.resolve(process.cwd(), '../shared/ct-samples');
const LIDC_DIR = path.join(
  SAMPLES,
  'lidc-idri-0001/1.3.6.1.4.1.14519.5.2.1.6279.6001.298806137288633453246975630178',
  '1.3.6.1.4.1.14519.5.2.1.6279.6001.179049373636438705059720603192',
);
const LIDC_UID = '1.3.6.1.4.1.14519.5.2.1.6279.6001.179049373636438705059720603192';
const DICOMDIR_TESTS = path.join(SAMPLES, 'pydicom/dicomdirtests');

/** Inputs named relative to the samples folder. fs Buffers are pooled views: a good test. */
function load(dir: string): DicomFileInput[] {
  return fs
    .readdirSync(dir)
    .filter((name) => fs.statSync(path.join(dir, name)).isFile())
    .map((name) => ({
      file: path.relative(SAMPLES, path.join(dir, name)),
      bytes: fs.readFileSync(path.join(dir, name)),
    }));
}

/** Deterministic Fisher-Yates (mulberry32), so a failure reproduces. */
function shuffle<T>(items: readonly T[], seed: number): T[] {
  let a = seed >>> 0;
  const rand = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

function minMax(data: ArrayLike<number>): [number, number] {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < data.length; i++) {
    if (data[i] < min) min = data[i];
    if (data[i] > max) max = data[i];
  }
  return [min, max];
}

/** Index of the first difference (-1 if none); vitest's deep equality is slow on 512² arrays. */
function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

function only(result: { volumes: Volume[]; errors: unknown[] }): Volume {
  expect(result.errors).toEqual([]);
  expect(result.volumes).toHaveLength(1);
  return result.volumes[0];
}

/**
 * Stored pixel values read straight from the file, independent of daikon: the first
 * (7FE0,0010) OW element in explicit VR little endian, as int16 or uint16.
 */
function storedPixels(bytes: Uint8Array, signed: boolean): Int16Array | Uint16Array {
  for (let i = 132; i + 12 <= bytes.length; i++) {
    if (
      bytes[i] === 0xe0 &&
      bytes[i + 1] === 0x7f &&
      bytes[i + 2] === 0x10 &&
      bytes[i + 3] === 0x00 &&
      bytes[i + 4] === 0x4f &&
      bytes[i + 5] === 0x57
    ) {
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const length = view.getUint32(i + 8, true);
      const copy = bytes.slice(i + 12, i + 12 + length);
      const words = new Uint8Array(copy).buffer;
      return signed ? new Int16Array(words) : new Uint16Array(words);
    }
  }
  throw new Error('no OW pixel data found');
}

// ---------------------------------------------------------------------------------------------
// A minimal DICOM writer for cases the samples do not cover.

type Value = string | number[] | Uint8Array;
type Element = readonly [group: number, element: number, vr: string, value: Value];

const LONG_VRS = new Set(['OB', 'OW', 'OF', 'SQ', 'UT', 'UN']);
const ascii = (s: string): Uint8Array => Uint8Array.from(s, (ch) => ch.charCodeAt(0));

function encodeValue(vr: string, value: Value): Uint8Array {
  let out: Uint8Array;
  if (typeof value === 'string') {
    out = ascii(value.length % 2 ? value + (vr === 'UI' ? '\0' : ' ') : value);
  } else if (value instanceof Uint8Array) {
    out = value.length % 2 ? Uint8Array.from([...value, 0]) : value;
  } else {
    const size = vr === 'UL' ? 4 : 2;
    const view = new DataView(new ArrayBuffer(value.length * size));
    value.forEach((v, i) => (size === 4 ? view.setUint32(i * 4, v, true) : view.setUint16(i * 2, v & 0xffff, true)));
    out = new Uint8Array(view.buffer);
  }
  return out;
}

function encodeElement([group, element, vr, value]: Element, explicit: boolean): Uint8Array {
  const body = encodeValue(vr, value);
  const long = !explicit || LONG_VRS.has(vr);
  const headerSize = explicit ? (long ? 12 : 8) : 8;
  const out = new Uint8Array(headerSize + body.length);
  const view = new DataView(out.buffer);
  view.setUint16(0, group, true);
  view.setUint16(2, element, true);
  if (explicit) {
    out.set(ascii(vr), 4);
    if (long) view.setUint32(8, body.length, true);
    else view.setUint16(6, body.length, true);
  } else {
    view.setUint32(4, body.length, true);
  }
  out.set(body, headerSize);
  return out;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const EXPLICIT_LE = '1.2.840.10008.1.2.1';

function writeDicom(elements: readonly Element[], transferSyntax = EXPLICIT_LE): Uint8Array {
  const meta = concat(
    (
      [
        [0x0002, 0x0001, 'OB', Uint8Array.from([0, 1])],
        [0x0002, 0x0002, 'UI', '1.2.840.10008.5.1.4.1.1.2'],
        [0x0002, 0x0003, 'UI', '1.2.3.4.5'],
        [0x0002, 0x0010, 'UI', transferSyntax],
      ] as const
    ).map((e) => encodeElement(e, true)),
  );
  const groupLength = encodeElement([0x0002, 0x0000, 'UL', [meta.length]], true);
  const explicit = transferSyntax !== '1.2.840.10008.1.2';
  const body = [...elements].sort((a, b) => a[0] - b[0] || a[1] - b[1]).map((e) => encodeElement(e, explicit));
  return concat([new Uint8Array(128), ascii('DICM'), groupLength, meta, ...body]);
}

interface SliceSpec {
  uid?: string;
  z?: number;
  position?: [number, number, number];
  orientation?: string;
  rows?: number;
  cols?: number;
  /** Stored words, row by row. */
  pixels?: number[];
  pixelSpacing?: string;
  bitsAllocated?: number;
  bitsStored?: number;
  highBit?: number;
  signed?: boolean;
  slope?: string;
  intercept?: string;
  imageType?: string;
  modality?: string;
  transferSyntax?: string;
  noPixelData?: boolean;
}

function slice(spec: SliceSpec = {}): Uint8Array {
  const rows = spec.rows ?? 2;
  const cols = spec.cols ?? 3;
  const ba = spec.bitsAllocated ?? 16;
  const bs = spec.bitsStored ?? ba;
  const pixels = spec.pixels ?? Array.from({ length: rows * cols }, (_, i) => i);
  const pixelBytes = new Uint8Array(rows * cols * (ba / 8));
  const pv = new DataView(pixelBytes.buffer);
  pixels.forEach((v, i) => (ba === 8 ? pv.setUint8(i, v & 0xff) : pv.setUint16(i * 2, v & 0xffff, true)));
  const pos = spec.position ?? [-10, -20, spec.z ?? 0];
  const elements: Element[] = [
    [0x0008, 0x0008, 'CS', spec.imageType ?? 'ORIGINAL\\PRIMARY\\AXIAL'],
    [0x0008, 0x0060, 'CS', spec.modality ?? 'CT'],
    [0x0020, 0x000e, 'UI', spec.uid ?? '1.2.3.999'],
    [0x0020, 0x0032, 'DS', pos.join('\\')],
    [0x0020, 0x0037, 'DS', spec.orientation ?? '1\\0\\0\\0\\1\\0'],
    [0x0028, 0x0002, 'US', [1]],
    [0x0028, 0x0004, 'CS', 'MONOCHROME2'],
    [0x0028, 0x0010, 'US', [rows]],
    [0x0028, 0x0011, 'US', [cols]],
    [0x0028, 0x0030, 'DS', spec.pixelSpacing ?? '0.5\\0.8'],
    [0x0028, 0x0100, 'US', [ba]],
    [0x0028, 0x0101, 'US', [bs]],
    [0x0028, 0x0102, 'US', [spec.highBit ?? bs - 1]],
    [0x0028, 0x0103, 'US', [spec.signed === false ? 0 : 1]],
  ];
  if (spec.slope !== undefined) elements.push([0x0028, 0x1053, 'DS', spec.slope]);
  if (spec.intercept !== undefined) elements.push([0x0028, 0x1052, 'DS', spec.intercept]);
  if (!spec.noPixelData) elements.push([0x7fe0, 0x0010, 'OW', pixelBytes]);
  return writeDicom(elements, spec.transferSyntax);
}

// ---------------------------------------------------------------------------------------------

describe('isDicom', () => {
  it('recognises Part 10 files, preamble-less data sets, and refuses the rest', () => {
    expect(isDicom(fs.readFileSync(path.join(SAMPLES, 'pydicom/CT_small.dcm')))).toBe(true);
    expect(isDicom(fs.readFileSync(path.join(DICOMDIR_TESTS, '98892001/CT5N/2062')))).toBe(true);
    // Explicit VR data set without preamble: (0008,0008) CS ...
    expect(isDicom(Uint8Array.from([0x08, 0x00, 0x08, 0x00, 0x43, 0x53, 0x02, 0x00, 0x41, 0x20]))).toBe(true);
    // Implicit VR: (0008,0000) length 4.
    expect(isDicom(Uint8Array.from([0x08, 0x00, 0x00, 0x00, 4, 0, 0, 0, 1, 2, 3, 4]))).toBe(true);
    expect(isDicom(new Uint8Array(0))).toBe(false);
    expect(isDicom(ascii('seriesuid,coordX,coordY,coordZ,diameter_mm\n'))).toBe(false);
    expect(isDicom(new Uint8Array(200))).toBe(false);
    // Implicit-looking start whose length runs past the end.
    expect(isDicom(Uint8Array.from([0x08, 0x00, 0x10, 0x00, 0xff, 0xff, 0, 0, 1, 2]))).toBe(false);
  });
});

describe('parseDecimalString', () => {
  it('takes DS values as files spell them', () => {
    expect(parseDecimalString(' -1024')).toBe(-1024);
    expect(parseDecimalString('-1024 ')).toBe(-1024);
    expect(parseDecimalString('1.5E+01\\2')).toBe(15);
    expect(parseDecimalString(' 0.5 \\ 0.8 ')).toBe(0.5);
    expect(parseDecimalString('1\0')).toBe(1);
    expect(parseDecimalString('')).toBeNull();
    expect(parseDecimalString('  ')).toBeNull();
    expect(parseDecimalString('abc')).toBeNull();
  });
});

describe('readDicomSeries on the real samples', () => {
  it('LIDC-IDRI-0001: 16 slices sorted along z whatever the file order', () => {
    const files = load(LIDC_DIR);
    expect(files).toHaveLength(16);
    const v = only(readDicomSeries(shuffle(files, 7)));
    expect(v.seriesUid).toBe(LIDC_UID);
    expect(v.format).toBe('dicom');
    expect(v.shape).toEqual([16, 512, 512]);
    expect(v.origin[0]).toBeCloseTo(-166, 5);
    expect(v.origin[1]).toBeCloseTo(-171.699997, 5);
    expect(v.origin[2]).toBeCloseTo(-132.5, 5);
    expect(v.spacing[0]).toBeCloseTo(0.703125, 6);
    expect(v.spacing[1]).toBeCloseTo(0.703125, 6);
    expect(v.spacing[2]).toBeCloseTo(2.5, 6);
    expect(v.direction).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 1]);
    expect(v.warnings).toEqual([]);
    // Files named for their z: the order must run -132.5 .. -95.
    const zs = v.files.map((f) => Number(path.basename(f, '.dcm')));
    expect(zs).toEqual(Array.from({ length: 16 }, (_, k) => -132.5 + 2.5 * k));
    expect(v.data).toBeInstanceOf(Int16Array);
    // RescaleIntercept -1024 on stored padding -1024: -2048 HU, kept (clamping comes later).
    expect(minMax(v.data)[0]).toBe(-2048);

    // Each slice of the volume is the slice of the file at that position.
    for (const k of [0, 7, 15]) {
      const single = only(readDicomSeries(files.filter((f) => f.file === v.files[k])));
      expect(single.shape).toEqual([1, 512, 512]);
      expect(firstDifference(v.data.subarray(k * 512 * 512, (k + 1) * 512 * 512), single.data)).toBe(-1);
    }

    // The annotations.csv nodule at (56.208, 86.343, -115.868) mm, d = 23.35 mm, is soft tissue.
    const col = Math.round((56.208 - v.origin[0]) / v.spacing[0]);
    const row = Math.round((86.343 - v.origin[1]) / v.spacing[1]);
    const index = Math.round((-115.868 - v.origin[2]) / v.spacing[2]);
    let sum = 0;
    for (let dr = -3; dr <= 3; dr++) {
      for (let dc = -3; dc <= 3; dc++) sum += v.data[index * 512 * 512 + (row + dr) * 512 + col + dc];
    }
    const mean = sum / 49;
    expect(mean).toBeGreaterThan(-100);
    expect(mean).toBeLessThan(200);
  });

  it('pydicom CT_small.dcm: one 128x128 slice, HU = slope * stored + intercept', () => {
    const file = path.join(SAMPLES, 'pydicom/CT_small.dcm');
    const bytes = fs.readFileSync(file);
    const v = only(readDicomSeries([{ file: 'CT_small.dcm', bytes }]));
    expect(v.shape).toEqual([1, 128, 128]);
    expect(v.spacing[0]).toBeCloseTo(0.661468, 6);
    expect(v.spacing[2]).toBe(5); // one slice: SliceThickness
    expect(v.origin).toEqual([-158.135803, -179.035797, -75.699997]);

    const image = daikon.Series.parseImage(new DataView(new Uint8Array(bytes).buffer));
    expect(image).not.toBeNull();
    const slope = image?.getTag(0x0028, 0x1053)?.value;
    const intercept = image?.getTag(0x0028, 0x1052)?.value;
    expect(slope).toEqual([1]);
    expect(intercept).toEqual([-1024]);

    const stored = storedPixels(bytes, true);
    expect(stored).toHaveLength(128 * 128);
    const [storedMin, storedMax] = minMax(stored);
    // The pixel element holds 128..2191. (16975 is what you get by reading the file's last
    // 32768 bytes, which are shifted by a 138-byte trailing padding element holding a TIFF IFD.)
    expect([storedMin, storedMax]).toEqual([128, 2191]);
    expect(minMax(v.data)).toEqual([storedMin - 1024, storedMax - 1024]);
    for (let i = 0; i < stored.length; i += 97) expect(v.data[i]).toBe(stored[i] * 1 - 1024);
  });

  it('pydicom CT5N (no extension, z decreasing in file order): sorted ascending', () => {
    const files = load(path.join(DICOMDIR_TESTS, '98892001/CT5N'));
    const v = only(readDicomSeries(files));
    expect(v.shape).toEqual([5, 16, 16]);
    expect(v.files.map((f) => path.basename(f))).toEqual(['3353', '3023', '2693', '2392', '2062']);
    expect(v.origin[2]).toBeCloseTo(-1.2375, 6);
    expect(v.spacing[2]).toBeCloseTo(2.5, 5);
    expect(v.direction[8]).toBe(1);
    expect(v.warnings).toEqual([]);
  });

  it('pydicom CT2: the 202.5 mm gap is reported', () => {
    const v = only(readDicomSeries(load(path.join(DICOMDIR_TESTS, '77654033/CT2'))));
    expect(v.shape).toEqual([4, 16, 16]);
    expect(v.spacing[2]).toBeCloseTo(1.25, 5);
    expect(v.origin[2]).toBeCloseTo(-99.48, 4);
    expect(v.warnings).toEqual([
      'slice spacing is not uniform: gap of 202.5 mm between z=-99.48 and z=103.02 (median 1.25 mm)',
    ]);
  });

  it('pydicom CT2N: two scouts with different orientations are refused, clearly', () => {
    const files = load(path.join(DICOMDIR_TESTS, '98892001/CT2N'));
    const { volumes, errors } = readDicomSeries(files);
    expect(volumes).toEqual([]);
    expect(errors).toHaveLength(1);
    const [error] = errors;
    expect(files.map((f) => f.file)).toContain(error.file);
    expect(error.message).toContain('series 1.3.6.1.4.1.5962.1.1.0.0.0.1194734704.16302.0.2');
    expect(error.message).toContain('2 different orientations');
    expect(error.message).toContain('CT2N/6293');
    expect(error.message).toContain('CT2N/6924');
    expect(error.message).toContain('scout/localizer');
  });

  it('dcmqi ct-3slice: implicit VR, 3 slices 1 mm apart, padding -2000 stored', () => {
    const v = only(readDicomSeries(shuffle(load(path.join(SAMPLES, 'dcmqi/ct-3slice')), 3)));
    expect(v.shape).toEqual([3, 512, 512]);
    expect(v.spacing[2]).toBeCloseTo(1, 5);
    expect(v.spacing[0]).toBeCloseTo(0.810547, 6);
    expect(v.origin[2]).toBeCloseTo(-128.69, 4);
    expect(v.files.map((f) => path.basename(f))).toEqual(['03.dcm', '02.dcm', '01.dcm']);
    expect(minMax(v.data)[0]).toBe(-2000 - 1024);
  });

  it('dcmqi ct-3slice without preamble or meta group (implicit VR from byte 0) reads the same', () => {
    const full = fs.readFileSync(path.join(SAMPLES, 'dcmqi/ct-3slice/01.dcm'));
    const metaLength = new DataView(full.buffer, full.byteOffset).getUint32(140, true);
    const bare = full.subarray(144 + metaLength);
    expect(bare[0]).toBe(0x08); // starts at group 0x0008
    expect(isDicom(bare)).toBe(true);
    const a = only(readDicomSeries([{ file: '01.dcm', bytes: full }]));
    const b = only(readDicomSeries([{ file: '01', bytes: bare }]));
    expect(b.shape).toEqual(a.shape);
    expect(b.origin).toEqual(a.origin);
    expect(b.data).toBeInstanceOf(a.data.constructor);
    expect(firstDifference(b.data, a.data)).toBe(-1);
  });

  it("rt-utils phantom: RescaleIntercept ' -1024' is applied", () => {
    const files = load(path.join(SAMPLES, 'rt-utils-phantom'));
    const v = only(readDicomSeries(files));
    expect(v.shape).toEqual([2, 512, 512]);
    expect(v.spacing[2]).toBeCloseTo(5, 6);
    expect(v.origin).toEqual([-125, -125, 60]);
    const first = files.find((f) => f.file.endsWith('ct_1.dcm'));
    expect(first).toBeDefined();
    const stored = storedPixels(first!.bytes, true);
    const n = 512 * 512;
    for (const i of [0, 1000, n >> 1, n - 1]) expect(v.data[i]).toBe(stored[i] - 1024);
    expect(minMax(v.data.subarray(0, n))).toEqual(minMax(stored).map((s) => s - 1024));
  });

  it('non-DICOM files become errors naming them; the rest of the call still loads', () => {
    const random = new Uint8Array(4096);
    let s = 12345;
    for (let i = 0; i < random.length; i++) {
      s = (s * 1103515245 + 12345) >>> 0;
      random[i] = s >>> 24;
    }
    const inputs = [
      { file: 'junk/random.bin', bytes: random },
      ...load(path.join(DICOMDIR_TESTS, '98892001/CT5N')),
      { file: 'junk/notes.txt', bytes: ascii('this is not a CT scan\n') },
    ];
    const { volumes, errors } = readDicomSeries(inputs);
    expect(volumes).toHaveLength(1);
    expect(volumes[0].shape).toEqual([5, 16, 16]);
    expect(errors.map((e) => e.file)).toEqual(['junk/random.bin', 'junk/notes.txt']);
    for (const e of errors) {
      expect(e.message).toContain(e.file);
      expect(e.message).toContain('not a DICOM file');
    }
  });

  it('everything at once: one volume per series, the scout series refused', () => {
    const inputs = [
      ...load(LIDC_DIR),
      ...load(path.join(SAMPLES, 'pydicom')),
      ...load(path.join(DICOMDIR_TESTS, '98892001/CT5N')),
      ...load(path.join(DICOMDIR_TESTS, '98892001/CT2N')),
      ...load(path.join(DICOMDIR_TESTS, '77654033/CT2')),
      ...load(path.join(SAMPLES, 'dcmqi/ct-3slice')),
      ...load(path.join(SAMPLES, 'rt-utils-phantom')),
    ];
    const { volumes, errors } = readDicomSeries(shuffle(inputs, 11));
    expect(volumes.map((v) => v.shape[0]).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 16]);
    expect(errors).toHaveLength(1);
    expect(errors[0].message).toContain('orientations');
  });

  it('a truncated slice is reported and the hole it leaves is a warning', () => {
    const files = load(path.join(DICOMDIR_TESTS, '98892001/CT5N')).map((f) =>
      f.file.endsWith('2693') ? { ...f, bytes: f.bytes.subarray(0, f.bytes.length - 100) } : f,
    );
    const { volumes, errors } = readDicomSeries(files);
    expect(errors).toHaveLength(1);
    expect(errors[0].file).toMatch(/2693$/);
    expect(errors[0].message).toMatch(/pixel data is \d+ bytes, expected 512/);
    expect(volumes).toHaveLength(1);
    expect(volumes[0].shape[0]).toBe(4);
    expect(volumes[0].warnings.join('\n')).toContain('gap of 5 mm between z=1.26 and z=6.26 (median 2.5 mm)');
  });

  it('bytes that are a view at an odd offset into a larger buffer', () => {
    const bytes = fs.readFileSync(path.join(DICOMDIR_TESTS, '98892001/CT5N/2062'));
    const host = new Uint8Array(bytes.length + 10);
    host.set(bytes, 3);
    const a = only(readDicomSeries([{ file: 'a', bytes: host.subarray(3, 3 + bytes.length) }]));
    const b = only(readDicomSeries([{ file: 'b', bytes: new Uint8Array(bytes) }]));
    expect(firstDifference(a.data, b.data)).toBe(-1);
    expect(a.origin).toEqual(b.origin);
  });
});

describe('readDicomSeries on synthetic files', () => {
  it('PixelSpacing is [row (y), column (x)]; voxels run x fastest', () => {
    const v = only(
      readDicomSeries([
        { file: 's1', bytes: slice({ z: 0, pixelSpacing: '0.5\\0.8', rows: 2, cols: 3 }) },
        {
          file: 's2',
          bytes: slice({ z: 2, pixelSpacing: '0.5\\0.8', rows: 2, cols: 3, pixels: [10, 11, 12, 13, 14, 15] }),
        },
      ]),
    );
    expect(v.shape).toEqual([2, 2, 3]);
    expect(v.spacing).toEqual([0.8, 0.5, 2]);
    expect(Array.from(v.data)).toEqual([0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15]);
  });

  it('signed BitsStored 12 sign-extends and masks bits above HighBit; spaced DS rescale', () => {
    const v = only(
      readDicomSeries([
        {
          file: 'x',
          bytes: slice({
            rows: 1,
            cols: 4,
            bitsStored: 12,
            pixels: [0x0fff, 0xf800, 0x07ff, 0x1001],
            slope: '1 ',
            intercept: ' -1024 ',
          }),
        },
      ]),
    );
    expect(v.data).toBeInstanceOf(Int16Array);
    expect(Array.from(v.data)).toEqual([-1 - 1024, -2048 - 1024, 2047 - 1024, 1 - 1024]);
  });

  it('unsigned data with HighBit above BitsStored is shifted down', () => {
    const v = only(
      readDicomSeries([
        {
          file: 'x',
          bytes: slice({ rows: 1, cols: 2, signed: false, bitsStored: 12, highBit: 15, pixels: [0xfff0, 0x0010] }),
        },
      ]),
    );
    expect(Array.from(v.data)).toEqual([4095, 1]);
  });

  it('8-bit signed pixels', () => {
    const v = only(
      readDicomSeries([
        { file: 'x', bytes: slice({ rows: 1, cols: 3, bitsAllocated: 8, pixels: [0xff, 0x7f, 0x80] }) },
      ]),
    );
    expect(Array.from(v.data)).toEqual([-1, 127, -128]);
  });

  it('non-integer rescale gives exact Float32 HU; multi-valued DS takes the first', () => {
    const v = only(
      readDicomSeries([
        { file: 'x', bytes: slice({ rows: 1, cols: 3, pixels: [3, 0, 4], slope: '0.5\\2', intercept: '-1024.25' }) },
      ]),
    );
    expect(v.data).toBeInstanceOf(Float32Array);
    expect(Array.from(v.data)).toEqual([-1022.75, -1024.25, -1022.25]);
  });

  it('values beyond int16 are kept, not clamped (Float32Array)', () => {
    const v = only(
      readDicomSeries([
        { file: 'a', bytes: slice({ z: 0, rows: 1, cols: 2, signed: false, pixels: [0, 1] }) },
        { file: 'b', bytes: slice({ z: 1, rows: 1, cols: 2, signed: false, pixels: [65535, 40000] }) },
      ]),
    );
    expect(v.data).toBeInstanceOf(Float32Array);
    expect(Array.from(v.data)).toEqual([0, 1, 65535, 40000]);
  });

  it('no rescale tags: slope 1, intercept 0', () => {
    const v = only(readDicomSeries([{ file: 'x', bytes: slice({ rows: 1, cols: 2, pixels: [5, 0xfffe] }) }]));
    expect(Array.from(v.data)).toEqual([5, -2]);
    expect(v.spacing[2]).toBe(1); // single slice, no SliceThickness
  });

  it('sagittal slices: direction columns are row, column cosines and the normal, sorted along it', () => {
    // Row cosines +y, column cosines -z: normal = r x c = -x, so positions sort by decreasing x.
    const orientation = '0\\1\\0\\0\\0\\-1';
    const v = only(
      readDicomSeries(
        [10, 30, 20].map((x) => ({ file: `x${x}`, bytes: slice({ position: [x, -5, 7], orientation }) })),
      ),
    );
    expect(v.files).toEqual(['x30', 'x20', 'x10']);
    expect(v.origin).toEqual([30, -5, 7]);
    expect(v.spacing[2]).toBeCloseTo(10, 9);
    // Row-major with columns [x axis, y axis, z axis]: direction[0], [3], [6] is the x axis.
    expect(v.direction).toEqual([0, 0, -1, 1, 0, 0, 0, -1, 0]);
    expect(v.warnings).toEqual([]);
  });

  it('duplicate positions: one slice kept, a warning', () => {
    const v = only(
      readDicomSeries([
        { file: 'a', bytes: slice({ z: 0 }) },
        { file: 'b', bytes: slice({ z: 2 }) },
        { file: 'c', bytes: slice({ z: 2 }) },
        { file: 'd', bytes: slice({ z: 4 }) },
      ]),
    );
    expect(v.shape[0]).toBe(3);
    expect(v.files).toEqual(['a', 'b', 'd']);
    expect(v.spacing[2]).toBe(2);
    expect(v.warnings).toHaveLength(1);
    expect(v.warnings[0]).toContain('duplicate');
    expect(v.warnings[0]).toContain('kept b, dropped c');
  });

  it('series are grouped by SeriesInstanceUID', () => {
    const { volumes, errors } = readDicomSeries([
      { file: 'a1', bytes: slice({ uid: '1.1', z: 0 }) },
      { file: 'b1', bytes: slice({ uid: '2.2', z: 0 }) },
      { file: 'a2', bytes: slice({ uid: '1.1', z: 1 }) },
    ]);
    expect(errors).toEqual([]);
    expect(volumes.map((v) => [v.seriesUid, v.files])).toEqual([
      ['1.1', ['a1', 'a2']],
      ['2.2', ['b1']],
    ]);
  });

  it('different Rows in one series: refused, naming files', () => {
    const { volumes, errors } = readDicomSeries([
      { file: 'a', bytes: slice({ z: 0, rows: 2 }) },
      { file: 'b', bytes: slice({ z: 1, rows: 3 }) },
    ]);
    expect(volumes).toEqual([]);
    expect(errors).toHaveLength(1);
    expect(errors[0].message).toContain('different sizes');
    expect(errors[0].message).toContain('2x3 in a vs 3x3 in b');
  });

  it('a lone LOCALIZER is refused; localizers inside an axial series are dropped with a warning', () => {
    const lone = readDicomSeries([{ file: 'scout', bytes: slice({ imageType: 'ORIGINAL\\PRIMARY\\LOCALIZER' }) }]);
    expect(lone.volumes).toEqual([]);
    expect(lone.errors[0].file).toBe('scout');
    expect(lone.errors[0].message).toMatch(/LOCALIZER.*scout\/localizer/);

    const mixed = readDicomSeries([
      { file: 'a', bytes: slice({ z: 0 }) },
      { file: 'b', bytes: slice({ z: 1 }) },
      {
        file: 'scout',
        bytes: slice({
          position: [0, 0, 0],
          orientation: '0\\1\\0\\0\\0\\-1',
          imageType: 'ORIGINAL\\PRIMARY\\LOCALIZER',
        }),
      },
    ]);
    const v = only(mixed);
    expect(v.files).toEqual(['a', 'b']);
    expect(v.warnings.join('\n')).toContain('dropped 1 localizer image(s) from the series: scout');
  });

  it('mixed orientations without ImageType LOCALIZER are still refused', () => {
    const { volumes, errors } = readDicomSeries([
      { file: 'a', bytes: slice({ z: 0 }) },
      { file: 'b', bytes: slice({ z: 1, orientation: '1\\0\\0\\0\\0\\-1' }) },
    ]);
    expect(volumes).toEqual([]);
    expect(errors).toEqual([
      {
        file: 'a',
        message:
          'series 1.2.3.999: slices have 2 different orientations (e.g. a vs b); not an axial volume (scout/localizer?)',
      },
    ]);
  });

  it('a transfer syntax daikon cannot decode: an error naming the file and the UID', () => {
    const { volumes, errors } = readDicomSeries([
      { file: 'htj2k.dcm', bytes: slice({ transferSyntax: '1.2.840.10008.1.2.4.201' }) },
      { file: 'ok.dcm', bytes: slice({ uid: '7.7' }) },
    ]);
    expect(volumes.map((v) => v.seriesUid)).toEqual(['7.7']);
    expect(errors).toHaveLength(1);
    expect(errors[0].file).toBe('htj2k.dcm');
    expect(errors[0].message).toContain('htj2k.dcm');
    expect(errors[0].message).toContain('1.2.840.10008.1.2.4.201');
    expect(errors[0].message).toContain('High-Throughput JPEG 2000');
  });

  it('a DICOM file without pixel data (DICOMDIR, RTSTRUCT) is an error, not a crash', () => {
    const { volumes, errors } = readDicomSeries([{ file: 'DICOMDIR', bytes: slice({ noPixelData: true }) }]);
    expect(volumes).toEqual([]);
    expect(errors).toHaveLength(1);
    expect(errors[0].message).toContain('DICOMDIR: no pixel data');
  });

  it("'DICM' followed by garbage, or a header cut short, is an error naming the file", () => {
    const garbage = new Uint8Array(600);
    garbage.set(ascii('DICM'), 128);
    for (let i = 132; i < garbage.length; i++) garbage[i] = (i * 7919) & 0xff;
    const whole = slice();
    const { volumes, errors } = readDicomSeries([
      { file: 'garbage.dcm', bytes: garbage },
      { file: 'cut.dcm', bytes: whole.subarray(0, 300) },
      { file: 'fine.dcm', bytes: whole },
    ]);
    expect(volumes).toHaveLength(1);
    expect(errors.map((e) => e.file)).toEqual(['garbage.dcm', 'cut.dcm']);
    for (const e of errors) expect(e.message.startsWith(`${e.file}: `)).toBe(true);
  });

  it('non-CT modality is loaded with a warning', () => {
    const v = only(readDicomSeries([{ file: 'mr', bytes: slice({ modality: 'MR' }) }]));
    expect(v.warnings).toEqual(['Modality is MR, not CT: values are not Hounsfield units']);
  });
});
