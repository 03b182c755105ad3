/**
 * Fuzz cases: seeded mutations of the real CT samples in ../shared/ct-samples (byte flips,
 * truncation, and header field edits: DimSize, ElementType, ElementSpacing, CompressedDataSize,
 * a zlib bomb, an oversized header, DICOM element lengths, Rows/Columns, BitsAllocated,
 * Rescale*, PixelSpacing, transfer syntax). A case says which file it broke and, when the edit
 * is known to make the data disagree with the header, that the readers must refuse it. Pure:
 * bases come in as bytes (see `loadBases`).
 */
import type { Rng } from '../data/rng.ts';
import { META_ELEMENT_BYTES } from '../data/metaimage.ts';
import { getText, getU16, listElements, setLength, setText, setU16, type Tag } from './dicom-edit.ts';
import { zlibBomb } from './zlib-bomb.ts';

export interface FuzzFile {
  readonly path: string;
  readonly bytes: Uint8Array;
}

/** An unmutated sample: the files dropped together (a .mhd and its data, or a DICOM folder). */
export interface Base {
  readonly name: string;
  readonly kind: 'metaimage' | 'dicom';
  readonly files: readonly FuzzFile[];
}

export interface FuzzCase {
  readonly id: number;
  readonly base: string;
  /** Mutation family, the table's row (e.g. "dicom Rows"). */
  readonly family: string;
  /** What exactly was done, for reproducing a failure. */
  readonly detail: string;
  readonly files: readonly FuzzFile[];
  /** The file the mutation touched. */
  readonly target: string;
  /**
   * The edit makes the data disagree with its header (or the header is absurd): loading the
   * target into a volume is a silent wrong value.
   */
  readonly mustRefuse: boolean;
}

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

const TRANSFER_SYNTAX: Tag = [0x0002, 0x0010];
const ROWS: Tag = [0x0028, 0x0010];
const COLUMNS: Tag = [0x0028, 0x0011];
const BITS_ALLOCATED: Tag = [0x0028, 0x0100];
const BITS_STORED: Tag = [0x0028, 0x0101];
const PIXEL_SPACING: Tag = [0x0028, 0x0030];
const RESCALE_INTERCEPT: Tag = [0x0028, 0x1052];
const RESCALE_SLOPE: Tag = [0x0028, 0x1053];
const IMAGE_POSITION: Tag = [0x0020, 0x0032];

type Mutation = (rng: Rng, base: Base) => Omit<FuzzCase, 'id' | 'base'> | null;

function replaceFile(base: Base, path: string, bytes: Uint8Array): FuzzFile[] {
  return base.files.map((f) => (f.path === path ? { path, bytes } : f));
}

function flip(rng: Rng, b: Uint8Array, count: number, from = 0): Uint8Array {
  const out = new Uint8Array(b);
  for (let i = 0; i < count; i++) out[rng.int(from, out.length)] ^= 1 << rng.int(0, 8);
  return out;
}

// ---------------------------------------------------------------------------------------------
// MetaImage

function headerOf(base: Base): FuzzFile {
  return base.files.find((f) => /\.(mhd|mha)$/i.test(f.path)) ?? base.files[0];
}

function dataOf(base: Base): FuzzFile | undefined {
  return base.files.find((f) => /\.(z?raw)$/i.test(f.path));
}

/** The header with `key`'s value replaced (or the line added before ElementDataFile). */
function editField(text: string, key: string, value: string): string {
  const re = new RegExp(`^${key}\\s*=.*$`, 'm');
  if (re.test(text)) return text.replace(re, `${key} = ${value}`);
  return text.replace(/^ElementDataFile/m, `${key} = ${value}\nElementDataFile`);
}

function headerEdit(family: string, key: string, values: (text: string) => readonly [string, boolean][]): Mutation {
  return (rng, base) => {
    if (base.kind !== 'metaimage') return null;
    const h = headerOf(base);
    const text = dec(h.bytes);
    const options = values(text);
    if (options.length === 0) return null;
    const [value, mustRefuse] = rng.pick(options);
    return {
      family,
      detail: `${key} = ${value}`,
      files: replaceFile(base, h.path, enc(editField(text, key, value))),
      target: h.path,
      mustRefuse,
    };
  };
}

function field(text: string, key: string): string | undefined {
  return new RegExp(`^${key}\\s*=(.*)$`, 'm').exec(text)?.[1].trim();
}

/** The reader's own table: a mutation to another type of the same width reads as valid. */
const ELEMENT_BYTES: Readonly<Record<string, number>> = META_ELEMENT_BYTES;

const metaMutations: Record<string, Mutation> = {
  'mhd byte flips': (rng, base) => {
    if (base.kind !== 'metaimage') return null;
    const target = rng.chance(0.5) ? headerOf(base) : (dataOf(base) ?? headerOf(base));
    const n = rng.int(1, 9);
    return {
      family: 'mhd byte flips',
      detail: `${n} bit flips in ${target.path}`,
      files: replaceFile(base, target.path, flip(rng, target.bytes, n)),
      target: target.path,
      mustRefuse: false,
    };
  },
  'mhd truncation': (rng, base) => {
    if (base.kind !== 'metaimage') return null;
    const target = rng.chance(0.3) ? headerOf(base) : (dataOf(base) ?? headerOf(base));
    const keep = rng.int(0, target.bytes.length);
    // Cutting the data file always breaks DimSize × ElementType (or the zlib stream).
    const mustRefuse = target !== headerOf(base);
    return {
      family: 'mhd truncation',
      detail: `${target.path} cut to ${keep} bytes`,
      files: replaceFile(base, target.path, target.bytes.subarray(0, keep)),
      target: target.path,
      mustRefuse,
    };
  },
  'mhd DimSize': headerEdit('mhd DimSize', 'DimSize', (t) => {
    const d = (field(t, 'DimSize') ?? '1 1 1').split(/\s+/).map(Number);
    const [x, y, z] = d;
    return [
      [`${x} ${y} ${z + 1}`, true],
      [`${x} ${y} ${Math.max(1, z - 1)}`, z > 1],
      [`${y} ${x} ${z}`, false],
      [`${x * 2} ${y} ${z}`, true],
      [`1 ${y} ${z}`, true],
      [`${x} 1 ${z}`, true],
      [`0 ${y} ${z}`, true],
      [`-1 ${y} ${z}`, true],
      [`${x} ${y}`, true],
      [`abc ${y} ${z}`, true],
      [`${x} ${y} 1e9`, true],
      [`${x} ${y} ${z} 4`, true],
      [`${x}.5 ${y} ${z}`, true],
      [`${x * 1000} ${y * 1000} ${z}`, true],
    ];
  }),
  'mhd ElementType': headerEdit('mhd ElementType', 'ElementType', (t) => {
    const now = field(t, 'ElementType') ?? 'MET_SHORT';
    return [...Object.keys(ELEMENT_BYTES), 'MET_LONG', 'abc', '', 'MET_SHORT_ARRAY'].map((v) => [
      v,
      v === '' || !(v in ELEMENT_BYTES) || ELEMENT_BYTES[v] !== ELEMENT_BYTES[now],
    ]);
  }),
  'mhd ElementSpacing': headerEdit('mhd ElementSpacing', 'ElementSpacing', () => [
    ['1e308 1e308 1e308', true],
    ['0.7 0.7 1e308', true],
    ['0 0.7 2.5', true],
    ['-1 0.7 2.5', true],
    ['NaN 0.7 2.5', true],
    ['abc', true],
    ['1e-300 0.7 2.5', true],
    ['0.7 0.7', true],
    ['Infinity 1 1', true],
    ['0.7 0.7 2.5', false],
    ['1 1 1', false],
    ['0x10 1 1', true],
  ]),
  'mhd Offset/TransformMatrix': (rng, base) => {
    const m = rng.chance(0.5)
      ? headerEdit('mhd Offset/TransformMatrix', 'Offset', () => [
          ['1e308 0 0', true],
          ['NaN 0 0', true],
          ['-100 20.5 -300', false],
          ['1 2', true],
        ])
      : headerEdit('mhd Offset/TransformMatrix', 'TransformMatrix', () => [
          ['0 0 0 0 0 0 0 0 0', true],
          ['1e308 0 0 0 1 0 0 0 1', true],
          ['1 0 0 0 1 0 0 0 -1', false],
          ['1 0 0 0 1 0', true],
        ]);
    return m(rng, base);
  },
  'mhd CompressedDataSize': headerEdit('mhd CompressedDataSize', 'CompressedDataSize', (t) => {
    if (field(t, 'CompressedData') !== 'True') return [];
    const n = Number(field(t, 'CompressedDataSize') ?? 0);
    return [
      [`${n + 1}`, true],
      [`${n - 1}`, true],
      ['0', true],
      ['-5', true],
      ['abc', true],
      ['1e15', true],
      [`${n}`, false],
    ];
  }),
  'mhd zlib bomb': (rng, base) => {
    const data = dataOf(base);
    if (base.kind !== 'metaimage' || data === undefined || !/\.zraw$/i.test(data.path)) return null;
    const h = headerOf(base);
    const size = rng.pick([64, 128, 256, 512]) * 1024 * 1024;
    const bomb = zlibBomb(size);
    const header = editField(dec(h.bytes), 'CompressedDataSize', String(bomb.length));
    const files = replaceFile({ ...base, files: replaceFile(base, data.path, bomb) }, h.path, enc(header));
    return {
      family: 'mhd zlib bomb',
      detail: `${size >> 20} MiB bomb, CompressedDataSize ${bomb.length}`,
      files,
      target: data.path,
      mustRefuse: true,
    };
  },
  'mhd huge header': (rng, base) => {
    if (base.kind !== 'metaimage') return null;
    const h = headerOf(base);
    const lines = rng.int(40_000, 120_000);
    const pad = Array.from({ length: lines }, (_, i) => `Comment${i} = padding line`).join('\n');
    const text = dec(h.bytes).replace(/^ElementDataFile/m, `${pad}\nElementDataFile`);
    return {
      family: 'mhd huge header',
      detail: `${lines} extra lines (${text.length} bytes)`,
      files: replaceFile(base, h.path, enc(text)),
      target: h.path,
      mustRefuse: true,
    };
  },
};

// ---------------------------------------------------------------------------------------------
// DICOM

function dicomTarget(rng: Rng, base: Base): FuzzFile {
  return rng.pick(base.files);
}

function dicomEdit(
  family: string,
  edit: (rng: Rng, b: Uint8Array) => { bytes: Uint8Array | undefined; detail: string; mustRefuse: boolean } | null,
): Mutation {
  return (rng, base) => {
    if (base.kind !== 'dicom') return null;
    const f = dicomTarget(rng, base);
    const r = edit(rng, f.bytes);
    if (r === null || r.bytes === undefined) return null;
    return {
      family,
      detail: `${f.path}: ${r.detail}`,
      files: replaceFile(base, f.path, r.bytes),
      target: f.path,
      mustRefuse: r.mustRefuse,
    };
  };
}

function textEdit(family: string, tag: Tag, name: string, values: readonly [string, boolean][]): Mutation {
  return dicomEdit(family, (rng, b) => {
    const [v, mustRefuse] = rng.pick(values);
    return { bytes: setText(b, tag, v), detail: `${name} = ${JSON.stringify(v)}`, mustRefuse };
  });
}

const dicomMutations: Record<string, Mutation> = {
  'dicom byte flips': dicomEdit('dicom byte flips', (rng, b) => {
    const n = rng.int(1, 9);
    return { bytes: flip(rng, b, n, 128), detail: `${n} bit flips`, mustRefuse: false };
  }),
  'dicom truncation': dicomEdit('dicom truncation', (rng, b) => {
    const keep = rng.int(0, b.length - 2);
    return { bytes: b.subarray(0, keep), detail: `cut to ${keep} of ${b.length} bytes`, mustRefuse: true };
  }),
  'dicom element lengths': dicomEdit('dicom element lengths', (rng, b) => {
    const elements = listElements(b).filter((e) => e.length !== 0xffffffff);
    if (elements.length === 0) return null;
    const e = rng.pick(elements);
    const length = rng.pick([
      0,
      1,
      e.length + 1,
      e.length + 2,
      Math.max(0, e.length - 2),
      0xfffe,
      0x7fffffff,
      0xfffffff0,
    ]);
    const tag = `(${e.group.toString(16).padStart(4, '0')},${e.element.toString(16).padStart(4, '0')})`;
    return {
      bytes: setLength(b, [e.group, e.element], length),
      detail: `length of ${tag} ${e.length} -> ${length}`,
      mustRefuse: false,
    };
  }),
  'dicom Rows/Columns': dicomEdit('dicom Rows/Columns', (rng, b) => {
    const tag = rng.chance(0.5) ? ROWS : COLUMNS;
    const now = getU16(b, tag);
    if (now === undefined) return null;
    const v = rng.pick([1, 0, now + 1, Math.max(1, now - 1), now * 2, 65535, now >> 1]);
    return {
      bytes: setU16(b, tag, v),
      detail: `${tag === ROWS ? 'Rows' : 'Columns'} ${now} -> ${v}`,
      mustRefuse: v !== now,
    };
  }),
  'dicom BitsAllocated': dicomEdit('dicom BitsAllocated', (rng, b) => {
    const stored = rng.chance(0.3);
    const tag = stored ? BITS_STORED : BITS_ALLOCATED;
    const now = getU16(b, tag);
    if (now === undefined) return null;
    const v = rng.pick(stored ? [0, 1, 8, 12, 17, 32] : [0, 1, 8, 12, 32, 64]);
    // BitsStored within BitsAllocated only changes masking: a legitimate (if odd) header.
    const mustRefuse = stored ? v === 0 || v > (getU16(b, BITS_ALLOCATED) ?? 16) : v !== now;
    return {
      bytes: setU16(b, tag, v),
      detail: `${stored ? 'BitsStored' : 'BitsAllocated'} ${now} -> ${v}`,
      mustRefuse,
    };
  }),
  'dicom Rescale*': (rng, base) => {
    const slope = rng.chance(0.5);
    const values: [string, boolean][] = slope
      ? [
          ['abc', true],
          ['NaN', true],
          ['1e999', true],
          ['1e300', true],
          ['', false],
          [' 1 ', false],
          ['2', false],
          ['1..0', true],
          ['0x1', true],
        ]
      : [
          ['abc', true],
          ['NaN', true],
          ['-1024abc', true],
          ['1e999', true],
          ['', false],
          [' -1024', false],
          ['-1e40', true],
          ['Infinity', true],
          ['-1000', false],
        ];
    return textEdit(
      'dicom Rescale*',
      slope ? RESCALE_SLOPE : RESCALE_INTERCEPT,
      slope ? 'RescaleSlope' : 'RescaleIntercept',
      values,
    )(rng, base);
  },
  'dicom PixelSpacing/Position': (rng, base) =>
    rng.chance(0.5)
      ? textEdit('dicom PixelSpacing/Position', PIXEL_SPACING, 'PixelSpacing', [
          ['1e308\\1e308', true],
          ['abc', true],
          ['0.5\\NaN', true],
          ['1e-300\\1e-300', true],
          ['0.7\\0.7', false],
          ['0.7', false],
        ])(rng, base)
      : textEdit('dicom PixelSpacing/Position', IMAGE_POSITION, 'ImagePositionPatient', [
          ['1e308\\0\\0', true],
          ['abc\\0\\0', true],
          ['0\\0', true],
          ['-100\\-100\\-50.5', false],
        ])(rng, base),
  'dicom transfer syntax': dicomEdit('dicom transfer syntax', (rng, b) => {
    const now = getText(b, TRANSFER_SYNTAX);
    if (now === undefined) return null;
    const v = rng.pick([
      '1.2.840.10008.1.2',
      '1.2.840.10008.1.2.1',
      '1.2.840.10008.1.2.2',
      '1.2.840.10008.1.2.1.99',
      '1.2.840.10008.1.2.4.50',
      '1.2.840.10008.1.2.4.70',
      '1.2.840.10008.1.2.4.90',
      '1.2.840.10008.1.2.5',
      '1.2.840.10008.1.2.4.201',
      '1.2.3.4',
      '',
    ]);
    return {
      bytes: setText(b, TRANSFER_SYNTAX, v, '\0'),
      detail: `TransferSyntaxUID ${now} -> ${v || '(empty)'}`,
      mustRefuse: false,
    };
  }),
};

export const MUTATIONS: Readonly<Record<string, Mutation>> = { ...metaMutations, ...dicomMutations };

/** `count` cases from `seed`, spread over every mutation family that applies to some base. */
export function makeCases(rng: Rng, bases: readonly Base[], count: number): FuzzCase[] {
  const families = Object.keys(MUTATIONS);
  const out: FuzzCase[] = [];
  let attempts = 0;
  while (out.length < count && attempts < count * 20) {
    attempts++;
    const family = families[(out.length + attempts) % families.length];
    const wantKind = family.startsWith('mhd') ? 'metaimage' : 'dicom';
    const candidates = bases.filter((b) => b.kind === wantKind);
    if (candidates.length === 0) continue;
    const base = rng.pick(candidates);
    const c = MUTATIONS[family](rng.fork(`${out.length}`), base);
    if (c === null) continue;
    out.push({ id: out.length, base: base.name, ...c });
  }
  return out;
}
