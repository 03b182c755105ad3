/**
 * MetaImage reader tests: the real LUNA16 samples in ../shared/ct-samples, round trips built
 * here for every ElementType and byte order (.mhd + .raw/.zraw, .mha LOCAL), and the bad
 * inputs users will drop (truncated, mismatched, corrupt, not a header at all).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { zlibSync } from 'fflate';
import { DataError, isDataError } from './errors.ts';
import {
  META_ELEMENT_BYTES,
  META_ELEMENT_TYPES,
  metaDataFileName,
  parseMetaHeader,
  readMetaImage,
  type MetaElementType,
} from './metaimage.ts';

const SAMPLES = fileURLToPath(new URL('../../../shared/ct-samples/', import.meta.url));
const enc = new TextEncoder();

function sample(rel: string): Uint8Array {
  return readFileSync(SAMPLES + rel);
}

function expectDataError(
  fn: () => unknown,
  want: { message?: RegExp | string; file?: string; field?: string },
): DataError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, 'expected a DataError').toBeDefined();
  expect(isDataError(caught), String(caught)).toBe(true);
  const err = caught as DataError;
  if (want.message !== undefined) {
    if (typeof want.message === 'string') expect(err.message).toBe(want.message);
    else expect(err.message).toMatch(want.message);
  }
  if (want.file !== undefined) expect(err.file).toBe(want.file);
  if (want.field !== undefined) expect(err.field).toBe(want.field);
  return err;
}

// ---------------------------------------------------------------------------------------------
// Builders for files written here.

interface HeaderOpts {
  type?: string;
  dims?: string;
  spacing?: string;
  offset?: string;
  matrix?: string;
  msb?: boolean;
  compressed?: boolean;
  compressedSize?: number;
  dataFile?: string;
  extra?: string[];
  nDims?: string;
  eol?: string;
}

function headerText(o: HeaderOpts = {}): string {
  const lines = [
    'ObjectType = Image',
    `NDims = ${o.nDims ?? '3'}`,
    'BinaryData = True',
    `BinaryDataByteOrderMSB = ${o.msb ? 'True' : 'False'}`,
    `CompressedData = ${o.compressed ? 'True' : 'False'}`,
    ...(o.compressedSize !== undefined ? [`CompressedDataSize = ${o.compressedSize}`] : []),
    `TransformMatrix = ${o.matrix ?? '1 0 0 0 1 0 0 0 1'}`,
    `Offset = ${o.offset ?? '-10 20.5 -300'}`,
    'CenterOfRotation = 0 0 0',
    'AnatomicalOrientation = RAI',
    `ElementSpacing = ${o.spacing ?? '0.5 0.75 2.5'}`,
    `DimSize = ${o.dims ?? '3 2 2'}`,
    ...(o.extra ?? []),
    `ElementType = ${o.type ?? 'MET_SHORT'}`,
    `ElementDataFile = ${o.dataFile ?? 'x.raw'}`,
  ];
  const eol = o.eol ?? '\n';
  return lines.join(eol) + eol;
}

const SAMPLE_VALUES: Record<MetaElementType, number[]> = {
  MET_SHORT: [-32768, 32767, -1, 0, 1, -1000, 1000, 0x1234, -0x1234, 258, -2048, 3071],
  MET_USHORT: [0, 65535, 1, 256, 0x1234, 0xfedc, 2, 3, 4, 5, 6, 7],
  MET_UCHAR: [0, 255, 1, 128, 127, 2, 3, 4, 5, 6, 7, 8],
  MET_CHAR: [-128, 127, -1, 0, 1, 2, 3, 4, 5, 6, 7, 8],
  MET_INT: [-2147483648, 2147483647, -1, 0, 0x01020304, -0x01020304, 7, 8, 9, 10, 11, 12],
  MET_UINT: [0, 4294967295, 1, 0x01020304, 0xfffefdfc, 6, 7, 8, 9, 10, 11, 12],
  MET_FLOAT: [0, -0, 1.5, -3.25, Math.fround(1e30), Math.fround(-1e-30), Math.fround(Math.PI), 7, 8, 9, 10, 11],
  MET_DOUBLE: [0, -0, Math.PI, -1e300, 5e-324, 1.0000000000000002, 7, 8, 9, 10, 11, 12],
};

const CTORS = {
  MET_SHORT: Int16Array,
  MET_USHORT: Uint16Array,
  MET_UCHAR: Uint8Array,
  MET_CHAR: Int8Array,
  MET_INT: Int32Array,
  MET_UINT: Uint32Array,
  MET_FLOAT: Float32Array,
  MET_DOUBLE: Float64Array,
} as const;

/** Voxel bytes as a writer on a machine of the given byte order would store them. */
function encodeValues(type: MetaElementType, values: readonly number[], msb: boolean): Uint8Array {
  const size = META_ELEMENT_BYTES[type];
  const view = new DataView(new ArrayBuffer(values.length * size));
  const le = !msb;
  values.forEach((v, i) => {
    const at = i * size;
    switch (type) {
      case 'MET_SHORT':
        view.setInt16(at, v, le);
        break;
      case 'MET_USHORT':
        view.setUint16(at, v, le);
        break;
      case 'MET_UCHAR':
        view.setUint8(at, v);
        break;
      case 'MET_CHAR':
        view.setInt8(at, v);
        break;
      case 'MET_INT':
        view.setInt32(at, v, le);
        break;
      case 'MET_UINT':
        view.setUint32(at, v, le);
        break;
      case 'MET_FLOAT':
        view.setFloat32(at, v, le);
        break;
      case 'MET_DOUBLE':
        view.setFloat64(at, v, le);
        break;
    }
  });
  return new Uint8Array(view.buffer);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** `bytes` placed at an odd byte offset inside a larger buffer, as a slice of a bigger read. */
function atOddOffset(bytes: Uint8Array): Uint8Array {
  const host = new Uint8Array(bytes.length + 3);
  host.set(bytes, 1);
  return host.subarray(1, 1 + bytes.length);
}

/** Deterministic junk, so a failure reproduces. */
function randomBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

const SHORT_12 = encodeValues('MET_SHORT', SAMPLE_VALUES.MET_SHORT, false);

// ---------------------------------------------------------------------------------------------

describe('real LUNA16 samples', () => {
  const dir = 'luna16-seg-lungs/';
  const cases = [
    {
      uid: '1.3.6.1.4.1.14519.5.2.1.6279.6001.105756658031515062000744821260',
      z: 121,
      zsize: 246206,
      spacing: [0.7617189884185791, 0.7617189884185791, 2.5],
      origin: [-198.10000600000001, -195, -335.209991],
    },
    {
      uid: '1.3.6.1.4.1.14519.5.2.1.6279.6001.108197895896446896160048741492',
      z: 119,
      zsize: 212819,
      spacing: [0.7421879768371582, 0.7421879768371582, 2.5],
      origin: [-182.5, -190, -313.75],
    },
  ];

  it('finds both pairs in the samples folder', () => {
    const names = readdirSync(SAMPLES + dir).sort();
    expect(names).toEqual(cases.flatMap((c) => [`${c.uid}.mhd`, `${c.uid}.zraw`]).sort());
  });

  for (const c of cases) {
    it(`reads ${c.uid.slice(-12)} (.mhd + .zraw, ${c.z} slices)`, () => {
      const mhd = sample(`${dir}${c.uid}.mhd`);
      const header = parseMetaHeader(mhd, `${c.uid}.mhd`);
      expect(header).toMatchObject({
        objectType: 'Image',
        nDims: 3,
        dimSize: [512, 512, c.z],
        elementType: 'MET_SHORT',
        msb: false,
        compressed: true,
        compressedDataSize: c.zsize,
        elementDataFile: `${c.uid}.zraw`,
        elementSpacing: c.spacing,
        offset: c.origin,
        transformMatrix: [1, 0, 0, 0, 1, 0, 0, 0, 1],
        headerBytes: mhd.length,
        warnings: [],
      });
      expect(metaDataFileName(header)).toBe(`${c.uid}.zraw`);

      const zraw = sample(`${dir}${c.uid}.zraw`);
      expect(zraw.length).toBe(c.zsize);
      const v = readMetaImage({ file: `${c.uid}.mhd`, bytes: mhd, data: { file: `${c.uid}.zraw`, bytes: zraw } });
      expect(v.seriesUid).toBe(c.uid);
      expect(v.format).toBe('metaimage');
      expect(v.shape).toEqual([c.z, 512, 512]);
      expect(v.spacing).toEqual(c.spacing);
      expect(v.origin).toEqual(c.origin);
      expect(v.direction).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 1]);
      expect(v.files).toEqual([`${c.uid}.mhd`, `${c.uid}.zraw`]);
      expect(v.warnings).toEqual([]);
      expect(v.data).toBeInstanceOf(Int16Array);
      // Inflates to exactly 512·512·z int16 voxels, in a buffer of its own.
      expect(v.data.byteLength).toBe(512 * 512 * c.z * 2);
      expect(v.data.buffer.byteLength).toBe(512 * 512 * c.z * 2);
      expect(v.data.byteOffset).toBe(0);

      const seen = new Set<number>();
      for (const x of v.data) seen.add(x);
      expect([...seen].every((x) => [0, 3, 4, 5].includes(x))).toBe(true);
      expect(seen.has(0)).toBe(true);
      expect(seen.size).toBeGreaterThan(1); // some lung is labelled, not all background
    });
  }

  it('reads the same volume from a Node Buffer at an odd offset', () => {
    const c = cases[1];
    const mhd = sample(`${dir}${c.uid}.mhd`);
    const zraw = sample(`${dir}${c.uid}.zraw`);
    const a = readMetaImage({ file: `${c.uid}.mhd`, bytes: mhd, data: { file: `${c.uid}.zraw`, bytes: zraw } });
    const oddBuffer = Buffer.concat([Buffer.alloc(1), Buffer.from(zraw)]).subarray(1);
    const b = readMetaImage({
      file: `sub/${c.uid}.mhd`,
      bytes: mhd,
      data: { file: `sub/${c.uid}.zraw`, bytes: oddBuffer },
    });
    expect(b.seriesUid).toBe(c.uid);
    // A loop, not toEqual: vitest's deep equality on 31M elements exhausts the heap.
    expect(b.data.length).toBe(a.data.length);
    let differing = 0;
    for (let i = 0; i < a.data.length; i++) if (a.data[i] !== b.data[i]) differing++;
    expect(differing).toBe(0);
  });

  it('names the missing .raw of a header-only LUNA16 scan', () => {
    const uid = '1.3.6.1.4.1.14519.5.2.1.6279.6001.102133688497886810253331438797';
    const file = `${uid}.mhd`;
    const bytes = sample(`luna16-header-only-raw-missing/${file}`);
    const header = parseMetaHeader(bytes, file);
    expect(header.dimSize).toEqual([512, 512, 50]);
    expect(header.compressed).toBe(false);
    expect(metaDataFileName(header)).toBe(`${uid}.raw`);
    expectDataError(() => readMetaImage({ file, bytes }), {
      message: `${file} names data file "${uid}.raw", which was not given`,
      file,
      field: 'ElementDataFile',
    });
  });

  it('rejects a corrupted .zraw, naming it', () => {
    const c = cases[0];
    const mhd = sample(`${dir}${c.uid}.mhd`);
    const zraw = new Uint8Array(sample(`${dir}${c.uid}.zraw`));
    const mid = zraw.length >> 1;
    for (let i = mid; i < mid + 64; i++) zraw[i] ^= 0x5a;
    const file = `${c.uid}.zraw`;
    expectDataError(() => readMetaImage({ file: `${c.uid}.mhd`, bytes: mhd, data: { file, bytes: zraw } }), {
      message: new RegExp(`^${file.replaceAll('.', '\\.')} (is not a valid zlib stream|inflates to \\d+ bytes)`),
      file,
    });
  });

  it('rejects a .zraw whose length disagrees with CompressedDataSize', () => {
    const c = cases[0];
    const mhd = sample(`${dir}${c.uid}.mhd`);
    const zraw = sample(`${dir}${c.uid}.zraw`).subarray(0, c.zsize - 10);
    expectDataError(
      () => readMetaImage({ file: `${c.uid}.mhd`, bytes: mhd, data: { file: `${c.uid}.zraw`, bytes: zraw } }),
      {
        message: `CompressedDataSize ${c.zsize} in ${c.uid}.mhd disagrees with ${c.uid}.zraw, which holds ${c.zsize - 10} compressed bytes`,
        file: `${c.uid}.zraw`,
        field: 'CompressedDataSize',
      },
    );
  });
});

describe('round trips for every ElementType and byte order', () => {
  for (const type of META_ELEMENT_TYPES) {
    for (const msb of [false, true]) {
      it(`${type}, ${msb ? 'big' : 'little'}-endian .mhd + .raw`, () => {
        const values = SAMPLE_VALUES[type];
        const bytes = enc.encode(headerText({ type, msb }));
        const raw = atOddOffset(encodeValues(type, values, msb));
        const v = readMetaImage({ file: 'dir/x.mhd', bytes, data: { file: 'dir/x.raw', bytes: raw } });
        expect(v.data).toBeInstanceOf(CTORS[type]);
        expect(v.data).toEqual(new CTORS[type](values));
        expect(Object.is(v.data[1], values[1])).toBe(true); // -0 survives for floats
        expect(v.data.byteOffset).toBe(0);
        expect(v.data.buffer).not.toBe(raw.buffer);
        expect(v.shape).toEqual([2, 2, 3]);
        expect(v.spacing).toEqual([0.5, 0.75, 2.5]);
        expect(v.origin).toEqual([-10, 20.5, -300]);
        expect(v.seriesUid).toBe('x');
        expect(v.files).toEqual(['dir/x.mhd', 'dir/x.raw']);
        expect(v.warnings).toEqual([]);
      });

      it(`${type}, ${msb ? 'big' : 'little'}-endian .mhd + .zraw without CompressedDataSize`, () => {
        const values = SAMPLE_VALUES[type];
        const bytes = enc.encode(headerText({ type, msb, compressed: true, dataFile: 'x.zraw' }));
        const zraw = zlibSync(encodeValues(type, values, msb));
        const v = readMetaImage({ file: 'x.mhd', bytes, data: { file: 'x.zraw', bytes: atOddOffset(zraw) } });
        expect(v.data).toEqual(new CTORS[type](values));
      });
    }
  }

  it('accepts ElementByteOrderMSB as the byte-order field', () => {
    const text = headerText().replace('BinaryDataByteOrderMSB', 'ElementByteOrderMSB');
    const v = readMetaImage({
      file: 'x.mhd',
      bytes: enc.encode(text.replace('ElementByteOrderMSB = False', 'ElementByteOrderMSB = True')),
      data: { file: 'x.raw', bytes: encodeValues('MET_SHORT', SAMPLE_VALUES.MET_SHORT, true) },
    });
    expect(v.data).toEqual(new Int16Array(SAMPLE_VALUES.MET_SHORT));
  });

  it('keeps x fastest: voxel (x, y, z) sits at z·ny·nx + y·nx + x', () => {
    const dims = [4, 3, 2];
    const values = Array.from({ length: 24 }, (_, i) => i);
    const v = readMetaImage({
      file: 'x.mhd',
      bytes: enc.encode(headerText({ dims: dims.join(' ') })),
      data: { file: 'x.raw', bytes: encodeValues('MET_SHORT', values, false) },
    });
    expect(v.shape).toEqual([2, 3, 4]);
    const at = (x: number, y: number, z: number) => v.data[(z * 3 + y) * 4 + x];
    expect(at(3, 0, 0)).toBe(3);
    expect(at(0, 1, 0)).toBe(4);
    expect(at(0, 0, 1)).toBe(12);
  });
});

describe('.mha with ElementDataFile = LOCAL', () => {
  const values = SAMPLE_VALUES.MET_SHORT;

  it('reads plain voxels that follow the header line', () => {
    const head = headerText({ dataFile: 'LOCAL' });
    const file = concat(enc.encode(head), SHORT_12);
    const header = parseMetaHeader(file, 'scan.mha');
    expect(header.headerBytes).toBe(enc.encode(head).length);
    expect(metaDataFileName(header)).toBeNull();
    const v = readMetaImage({ file: 'scan.mha', bytes: atOddOffset(file) });
    expect(v.data).toEqual(new Int16Array(values));
    expect(v.seriesUid).toBe('scan');
    expect(v.files).toEqual(['scan.mha']);
  });

  it('reads with CRLF line endings, and parses from a leading slice of the file', () => {
    const head = headerText({ dataFile: 'LOCAL', eol: '\r\n', type: 'MET_FLOAT', msb: true });
    const file = concat(
      enc.encode(head),
      encodeValues('MET_FLOAT', SAMPLE_VALUES.MET_FLOAT, true),
      randomBytes(5000, 1).subarray(0, 0),
    );
    expect(parseMetaHeader(file.subarray(0, head.length + 7), 'scan.mha').headerBytes).toBe(head.length);
    const v = readMetaImage({ file: 'scan.mha', bytes: file });
    expect(v.data).toEqual(new Float32Array(SAMPLE_VALUES.MET_FLOAT));
  });

  it('reads compressed voxels, with and without CompressedDataSize', () => {
    const z = zlibSync(SHORT_12);
    for (const compressedSize of [z.length, undefined]) {
      const head = enc.encode(headerText({ dataFile: 'LOCAL', compressed: true, compressedSize }));
      const v = readMetaImage({ file: 'scan.mha', bytes: concat(head, z) });
      expect(v.data).toEqual(new Int16Array(values));
    }
  });

  it('reads a big-endian compressed MET_DOUBLE .mha', () => {
    const z = zlibSync(encodeValues('MET_DOUBLE', SAMPLE_VALUES.MET_DOUBLE, true));
    const head = enc.encode(headerText({ dataFile: 'LOCAL', compressed: true, type: 'MET_DOUBLE', msb: true }));
    const v = readMetaImage({ file: 'scan.mha', bytes: concat(head, z) });
    expect(v.data).toEqual(new Float64Array(SAMPLE_VALUES.MET_DOUBLE));
  });

  it('rejects a .mha whose LOCAL data is short, in the words of the brief', () => {
    const file = concat(enc.encode(headerText({ dataFile: 'LOCAL' })), SHORT_12.subarray(0, 20));
    expectDataError(() => readMetaImage({ file: 'scan.mha', bytes: file }), {
      message: 'scan.mha holds 20 bytes of voxel data after its header, DimSize 3×2×2 of MET_SHORT needs 24 bytes',
      file: 'scan.mha',
      field: 'DimSize',
    });
  });

  it('warns that an extra data file given with LOCAL data is ignored', () => {
    const file = concat(enc.encode(headerText({ dataFile: 'LOCAL' })), SHORT_12);
    const v = readMetaImage({ file: 'scan.mha', bytes: file, data: { file: 'scan.raw', bytes: SHORT_12 } });
    expect(v.warnings.join('\n')).toMatch(/scan\.raw was ignored/);
  });
});

describe('geometry fields', () => {
  it('parses a non-identity TransformMatrix; direction is its transpose (ITK direction)', () => {
    // x voxels run along world +y, y voxels along world -x: a 90° turn about z.
    const bytes = enc.encode(headerText({ matrix: '0 1 0 -1 0 0 0 0 1' }));
    const header = parseMetaHeader(bytes, 'x.mhd');
    expect(header.transformMatrix).toEqual([0, 1, 0, -1, 0, 0, 0, 0, 1]);
    const v = readMetaImage({ file: 'x.mhd', bytes, data: { file: 'x.raw', bytes: SHORT_12 } });
    expect(v.direction).toEqual([0, -1, 0, 1, 0, 0, 0, 0, 1]);
    // Column 0 of `direction` is the world direction of the x voxel axis.
    expect([v.direction[0], v.direction[3], v.direction[6]]).toEqual([0, 1, 0]);
    expect(v.warnings).toEqual([]);
  });

  it('accepts the aliases Orientation / Rotation, Origin / Position and ElementSize', () => {
    for (const [m, o] of [
      ['Orientation', 'Origin'],
      ['Rotation', 'Position'],
    ]) {
      const text = headerText({ matrix: '1 0 0 0 0 1 0 -1 0' })
        .replace('TransformMatrix', m)
        .replace('Offset', o)
        .replace('ElementSpacing', 'ElementSize');
      const h = parseMetaHeader(enc.encode(text), 'x.mhd');
      expect(h.transformMatrix).toEqual([1, 0, 0, 0, 0, 1, 0, -1, 0]);
      expect(h.offset).toEqual([-10, 20.5, -300]);
      expect(h.elementSpacing).toEqual([0.5, 0.75, 2.5]);
    }
  });

  it('ignores unknown keys and keeps them in raw', () => {
    const h = parseMetaHeader(
      enc.encode(headerText({ extra: ['Modality = MET_MOD_CT', 'SomethingNew = 42 = yes', ''] })),
      'x.mhd',
    );
    expect(h.raw.Modality).toBe('MET_MOD_CT');
    expect(h.raw.SomethingNew).toBe('42 = yes');
    expect(h.warnings).toEqual([]);
  });

  it('warns about AnatomicalOrientation other than RAI, a nonzero CenterOfRotation and a skewed matrix', () => {
    const text = headerText({ matrix: '1 0 0 0.5 1 0 0 0 1' })
      .replace('AnatomicalOrientation = RAI', 'AnatomicalOrientation = LPS')
      .replace('CenterOfRotation = 0 0 0', 'CenterOfRotation = 1 2 3');
    const v = readMetaImage({ file: 'x.mhd', bytes: enc.encode(text), data: { file: 'x.raw', bytes: SHORT_12 } });
    expect(v.warnings).toHaveLength(3);
    expect(v.warnings.join('\n')).toMatch(/AnatomicalOrientation "LPS" in x\.mhd \(expected RAI\)/);
    expect(v.warnings.join('\n')).toMatch(/CenterOfRotation "1 2 3"/);
    expect(v.warnings.join('\n')).toMatch(/not a rotation/);
  });

  it('reads a 2-D image (NDims = 2) as one slice, with a warning', () => {
    const text = headerText({ nDims: '2', dims: '3 4', spacing: '0.5 0.6', offset: '1 2', matrix: '0 1 1 0' });
    const v = readMetaImage({
      file: 'x.mhd',
      bytes: enc.encode(text.replace('CenterOfRotation = 0 0 0', 'CenterOfRotation = 0 0')),
      data: { file: 'x.raw', bytes: SHORT_12 },
    });
    expect(v.shape).toEqual([1, 4, 3]);
    expect(v.spacing).toEqual([0.5, 0.6, 1]);
    expect(v.origin).toEqual([1, 2, 0]);
    expect(v.direction).toEqual([0, 1, 0, 1, 0, 0, 0, 0, 1]);
    expect(v.warnings.join('\n')).toMatch(/2-D image/);
  });

  it('honours HeaderSize (bytes to skip, or -1 for data at the end)', () => {
    const junk = randomBytes(17, 3);
    for (const hs of ['17', '-1']) {
      const v = readMetaImage({
        file: 'x.mhd',
        bytes: enc.encode(headerText({ extra: [`HeaderSize = ${hs}`] })),
        data: { file: 'x.raw', bytes: concat(junk, SHORT_12) },
      });
      expect(v.data).toEqual(new Int16Array(SAMPLE_VALUES.MET_SHORT));
    }
  });
});

describe('bad input', () => {
  const mhd = (o: HeaderOpts = {}) => enc.encode(headerText(o));

  it('rejects a truncated .raw with both byte counts', () => {
    expectDataError(
      () => readMetaImage({ file: 'x.mhd', bytes: mhd(), data: { file: 'x.raw', bytes: SHORT_12.subarray(0, 23) } }),
      {
        message: 'x.raw holds 23 bytes, DimSize 3×2×2 of MET_SHORT needs 24 bytes',
        file: 'x.raw',
        field: 'DimSize',
      },
    );
  });

  it('rejects a .raw with more bytes than DimSize asks for', () => {
    expectDataError(
      () => readMetaImage({ file: 'x.mhd', bytes: mhd(), data: { file: 'x.raw', bytes: concat(SHORT_12, SHORT_12) } }),
      {
        message: 'x.raw holds 48 bytes, DimSize 3×2×2 of MET_SHORT needs 24 bytes',
      },
    );
  });

  it('rejects a LUNA16-sized DimSize that disagrees with the data', () => {
    const raw = new Uint8Array(512 * 512 * 120 * 2);
    expectDataError(
      () => readMetaImage({ file: 'x.mhd', bytes: mhd({ dims: '512 512 121' }), data: { file: 'x.raw', bytes: raw } }),
      {
        message: `x.raw holds ${raw.length} bytes, DimSize 512×512×121 of MET_SHORT needs ${512 * 512 * 121 * 2} bytes`,
      },
    );
  });

  it('rejects compressed data that inflates to too few or too many bytes', () => {
    const bytes = mhd({ compressed: true, dataFile: 'x.zraw' });
    expectDataError(
      () =>
        readMetaImage({ file: 'x.mhd', bytes, data: { file: 'x.zraw', bytes: zlibSync(SHORT_12.subarray(0, 22)) } }),
      {
        message: 'x.zraw inflates to 22 bytes, DimSize 3×2×2 of MET_SHORT needs 24 bytes',
        field: 'DimSize',
      },
    );
    expectDataError(
      () =>
        readMetaImage({ file: 'x.mhd', bytes, data: { file: 'x.zraw', bytes: zlibSync(concat(SHORT_12, SHORT_12)) } }),
      {
        message: 'x.zraw inflates to 48 bytes, DimSize 3×2×2 of MET_SHORT needs 24 bytes',
      },
    );
    // Stored (uncompressed) deflate blocks overflow differently inside fflate.
    expectDataError(
      () =>
        readMetaImage({
          file: 'x.mhd',
          bytes,
          data: { file: 'x.zraw', bytes: zlibSync(concat(SHORT_12, SHORT_12), { level: 0 }) },
        }),
      {
        message: 'x.zraw inflates to 48 bytes, DimSize 3×2×2 of MET_SHORT needs 24 bytes',
      },
    );
  });

  it('rejects corrupt zlib streams, naming the .zraw', () => {
    const bytes = mhd({ compressed: true, dataFile: 'x.zraw' });
    const good = zlibSync(SHORT_12);
    const bad: Uint8Array[] = [
      randomBytes(40, 7), // not zlib at all
      good.subarray(0, good.length - 6), // cut short
      new Uint8Array(0),
    ];
    const flippedChecksum = new Uint8Array(good);
    flippedChecksum[flippedChecksum.length - 1] ^= 1;
    bad.push(flippedChecksum);
    for (const z of bad) {
      expectDataError(() => readMetaImage({ file: 'x.mhd', bytes, data: { file: 'x.zraw', bytes: z } }), {
        message: /^x\.zraw is not a valid zlib stream \(CompressedData = True\): /,
        file: 'x.zraw',
        field: 'CompressedData',
      });
    }
  });

  it('rejects CompressedDataSize that disagrees with the .zraw', () => {
    const z = zlibSync(SHORT_12);
    expectDataError(
      () =>
        readMetaImage({
          file: 'x.mhd',
          bytes: mhd({ compressed: true, compressedSize: z.length + 1, dataFile: 'x.zraw' }),
          data: { file: 'x.zraw', bytes: z },
        }),
      { message: /^CompressedDataSize \d+ in x\.mhd disagrees with x\.zraw/, field: 'CompressedDataSize' },
    );
  });

  it('rejects an unknown ElementType, listing the supported ones', () => {
    expectDataError(() => parseMetaHeader(mhd({ type: 'MET_LONG' }), 'x.mhd'), {
      message: `ElementType "MET_LONG" in x.mhd (expected one of ${META_ELEMENT_TYPES.join(', ')})`,
      file: 'x.mhd',
      field: 'ElementType',
    });
  });

  it('rejects random bytes as a header', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const junk = randomBytes(4096, seed);
      expectDataError(() => readMetaImage({ file: 'junk.mhd', bytes: junk }), {
        message: /^junk\.mhd is not a MetaImage header: /,
        file: 'junk.mhd',
      });
    }
  });

  it('rejects text that is not a header, an empty file, and a header missing required fields', () => {
    expectDataError(() => parseMetaHeader(enc.encode('hello world\nthis is not a header\n'), 'notes.mhd'), {
      message:
        'notes.mhd is not a MetaImage header: line 1 "hello world" is not "Key = Value" (expected "Key = Value" text lines such as "NDims = 3")',
    });
    expectDataError(() => parseMetaHeader(new Uint8Array(0), 'empty.mhd'), { message: /^empty\.mhd is empty/ });
    expectDataError(() => parseMetaHeader(enc.encode('NDims = 3\nElementDataFile = x.raw\n'), 'x.mhd'), {
      message: 'x.mhd lacks DimSize, ElementType (required MetaImage fields)',
      field: 'DimSize',
    });
    expectDataError(() => parseMetaHeader(enc.encode(headerText().replace(/ElementDataFile.*\n/, '')), 'x.mhd'), {
      message: 'x.mhd lacks ElementDataFile (required MetaImage field)',
      field: 'ElementDataFile',
    });
    expectDataError(
      () =>
        parseMetaHeader(
          enc.encode('NDims = 3\nElementType = MET_SHORT\nElementDataFile = x.raw\nDimSize = 1 1 1\n'),
          'x.mhd',
        ),
      {
        message: 'x.mhd lacks DimSize (required MetaImage field; ElementDataFile must be the last header line)',
        field: 'DimSize',
      },
    );
  });

  it('rejects non-numeric, NaN, wrongly counted and non-positive numbers, naming the field', () => {
    const cases: [HeaderOpts, string, string][] = [
      [{ spacing: '0.7 abc 2.5' }, 'ElementSpacing', 'ElementSpacing "0.7 abc 2.5" in x.mhd (expected 3 numbers)'],
      [{ spacing: 'NaN NaN NaN' }, 'ElementSpacing', 'ElementSpacing "NaN NaN NaN" in x.mhd (expected 3 numbers)'],
      [{ spacing: '0.7 0.7' }, 'ElementSpacing', 'ElementSpacing "0.7 0.7" in x.mhd (expected 3 numbers)'],
      [
        { spacing: '0.7 0 2.5' },
        'ElementSpacing',
        'ElementSpacing "0.7 0 2.5" in x.mhd (expected 3 positive numbers (mm))',
      ],
      [
        { spacing: '0.7 -0.7 2.5' },
        'ElementSpacing',
        'ElementSpacing "0.7 -0.7 2.5" in x.mhd (expected 3 positive numbers (mm))',
      ],
      [{ dims: '512 0 121' }, 'DimSize', 'DimSize "512 0 121" in x.mhd (expected 3 positive integers)'],
      [{ dims: '512 512.5 121' }, 'DimSize', 'DimSize "512 512.5 121" in x.mhd (expected 3 positive integers)'],
      [{ offset: '1 2 Infinity' }, 'Offset', 'Offset "1 2 Infinity" in x.mhd (expected 3 numbers)'],
      [
        { matrix: '1 0 0 0 1 0 0 0' },
        'TransformMatrix',
        'TransformMatrix "1 0 0 0 1 0 0 0" in x.mhd (expected 9 numbers)',
      ],
      [
        { matrix: '1 0 0 1 0 0 0 0 1' },
        'TransformMatrix',
        'TransformMatrix "1 0 0 1 0 0 0 0 1" in x.mhd (expected a non-singular direction matrix)',
      ],
      [{ nDims: '4' }, 'NDims', 'NDims "4" in x.mhd (expected 3, or 2 for a single slice)'],
      [{ nDims: 'three' }, 'NDims', 'NDims "three" in x.mhd (expected 1 number)'],
    ];
    for (const [opts, field, message] of cases) {
      expectDataError(() => parseMetaHeader(mhd(opts), 'x.mhd'), { message, field, file: 'x.mhd' });
    }
  });

  it('rejects multi-channel, ASCII, non-Image and multi-file headers', () => {
    const cases: [string, string, RegExp][] = [
      [
        headerText({ extra: ['ElementNumberOfChannels = 3'] }),
        'ElementNumberOfChannels',
        /ElementNumberOfChannels "3" in x\.mhd \(expected 1/,
      ],
      [
        headerText().replace('BinaryData = True', 'BinaryData = False'),
        'BinaryData',
        /ASCII voxel data is not supported/,
      ],
      [
        headerText().replace('ObjectType = Image', 'ObjectType = Tube'),
        'ObjectType',
        /ObjectType "Tube" in x\.mhd \(expected Image\)/,
      ],
      [headerText({ dataFile: 'slice%03d.raw 1 10 1' }), 'ElementDataFile', /multi-file data is not supported/],
      [headerText({ dataFile: 'LIST' }), 'ElementDataFile', /multi-file data is not supported/],
      [
        headerText().replace('CompressedData = False', 'CompressedData = maybe'),
        'CompressedData',
        /CompressedData "maybe" in x\.mhd \(expected True or False\)/,
      ],
      [headerText({ extra: ['ElementByteOrderMSB = True'] }), 'BinaryDataByteOrderMSB', /expected them to agree/],
    ];
    for (const [text, field, message] of cases) {
      expectDataError(() => parseMetaHeader(enc.encode(text), 'x.mhd'), { message, field });
    }
  });

  it('rejects a data file other than the one the header names', () => {
    expectDataError(
      () => readMetaImage({ file: 'a/x.mhd', bytes: mhd(), data: { file: 'a/y.raw', bytes: SHORT_12 } }),
      {
        message: 'a/x.mhd names data file "x.raw", but was given "a/y.raw"',
        file: 'a/x.mhd',
        field: 'ElementDataFile',
      },
    );
    // A name differing only in case (a case-insensitive file system) is read, with a warning.
    const v = readMetaImage({ file: 'x.mhd', bytes: mhd(), data: { file: 'X.RAW', bytes: SHORT_12 } });
    expect(v.warnings.join('\n')).toMatch(/differs only in case/);
  });
});
