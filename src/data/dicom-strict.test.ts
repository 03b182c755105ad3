/**
 * The DICOM reader checks header values against the data (issue 17, item 2): edited copies of
 * the real samples in ../shared/ct-samples with Rows/Columns, BitsAllocated, Rescale*, spacing
 * and position values that used to load silently wrong.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readDicomSeries } from './dicom.ts';
import { getU16, setText, setU16, type Tag } from '../fuzz/dicom-edit.ts';

const SAMPLES = fileURLToPath(new URL('../../../shared/ct-samples/', import.meta.url));
const CT_SMALL = new Uint8Array(readFileSync(`${SAMPLES}pydicom/CT_small.dcm`));
const RT = 'rt-utils-phantom/';
const RT_FILES = readdirSync(SAMPLES + RT).sort();

const ROWS: Tag = [0x0028, 0x0010];
const COLUMNS: Tag = [0x0028, 0x0011];
const BITS_ALLOCATED: Tag = [0x0028, 0x0100];
const PIXEL_SPACING: Tag = [0x0028, 0x0030];
const SLICE_THICKNESS: Tag = [0x0018, 0x0050];
const IMAGE_POSITION: Tag = [0x0020, 0x0032];
const RESCALE_INTERCEPT: Tag = [0x0028, 0x1052];
const RESCALE_SLOPE: Tag = [0x0028, 0x1053];

function edited(edit: (b: Uint8Array) => Uint8Array | undefined, bytes = CT_SMALL): Uint8Array {
  const out = edit(bytes);
  if (out === undefined) throw new Error('sample lacks the element to edit');
  return out;
}

/** Reads one edited CT_small.dcm; returns its single error message (failing if it loaded). */
function refusal(bytes: Uint8Array, file = 'CT_small.dcm'): string {
  const { volumes, errors } = readDicomSeries([{ file, bytes }]);
  expect(volumes, 'the edited file must not load').toEqual([]);
  expect(errors).toHaveLength(1);
  expect(errors[0].file).toBe(file);
  expect(errors[0].internal).toBeUndefined();
  expect(errors[0].message.startsWith(`${file}: `)).toBe(true);
  return errors[0].message;
}

describe('pixel data length vs Rows × Columns × BitsAllocated', () => {
  it('CT_small.dcm as stored is 128×128 and loads', () => {
    expect(getU16(CT_SMALL, ROWS)).toBe(128);
    const { volumes, errors } = readDicomSeries([{ file: 'CT_small.dcm', bytes: CT_SMALL }]);
    expect(errors).toEqual([]);
    expect(volumes[0].shape).toEqual([1, 128, 128]);
  });

  it('Rows edited to 1 is refused, naming Rows and its value (was: a 1×128 image)', () => {
    const m = refusal(edited((b) => setU16(b, ROWS, 1)));
    expect(m).toContain('pixel data (7FE0,0010) is 32768 bytes');
    expect(m).toContain('Rows (0028,0010) 1');
    expect(m).toContain('Columns (0028,0011) 128');
    expect(m).toContain('needs 256');
    const { errors } = readDicomSeries([{ file: 'CT_small.dcm', bytes: edited((b) => setU16(b, ROWS, 1)) }]);
    expect(errors[0]).toMatchObject({ file: 'CT_small.dcm' });
  });

  it('Columns edited to 1 is refused, naming Columns and its value', () => {
    const m = refusal(edited((b) => setU16(b, COLUMNS, 1)));
    expect(m).toContain('Columns (0028,0011) 1');
    expect(m).toContain('Rows (0028,0010) 128');
  });

  it('Rows and Columns both 1, and Rows halved, are refused', () => {
    expect(refusal(edited((b) => setU16(setU16(b, ROWS, 1) ?? b, COLUMNS, 1)))).toContain('needs 2;');
    expect(refusal(edited((b) => setU16(b, ROWS, 64)))).toContain('Rows (0028,0010) 64');
  });

  it('BitsAllocated 8 on 16-bit data is refused (twice the data it implies)', () => {
    expect(refusal(edited((b) => setU16(b, BITS_ALLOCATED, 8)))).toContain(
      'inconsistent BitsAllocated 8 / BitsStored 16',
    );
    const eightBit = edited((b) =>
      setU16(setU16(setU16(b, BITS_ALLOCATED, 8) ?? b, [0x0028, 0x0101], 8) ?? b, [0x0028, 0x0102], 7),
    );
    expect(refusal(eightBit)).toContain('BitsAllocated (0028,0100) 8 needs 16384');
  });

  it('Rows doubled (data too short) is still refused as truncated', () => {
    expect(refusal(edited((b) => setU16(b, ROWS, 256)))).toMatch(/pixel data is 32768 bytes, expected 65536/);
  });
});

describe('DS/IS values parsed strictly, per PS3.5 6.2', () => {
  it.each([
    ['abc', 'RescaleIntercept (0028,1052) "abc" is not a decimal string (DS'],
    ['-1024abc', 'RescaleIntercept (0028,1052) "-1024abc" is not a decimal string'],
    ['NaN', 'RescaleIntercept (0028,1052) "NaN" is not a decimal string'],
    ['1e999', 'RescaleIntercept (0028,1052) "1e999" is not a decimal string'],
    ['0x10', 'RescaleIntercept (0028,1052) "0x10" is not a decimal string'],
  ])('RescaleIntercept %j is refused naming the tag (was: read as 0)', (value, want) => {
    expect(refusal(edited((b) => setText(b, RESCALE_INTERCEPT, value)))).toContain(want);
  });

  it.each([['NaN'], ['abc'], ['Infinity'], ['1..0']])('RescaleSlope %j is refused naming the tag', (value) => {
    expect(refusal(edited((b) => setText(b, RESCALE_SLOPE, value)))).toContain(
      `RescaleSlope (0028,1053) ${JSON.stringify(value)}`,
    );
  });

  it('a slope that would overflow 32-bit floats is refused', () => {
    expect(refusal(edited((b) => setText(b, RESCALE_SLOPE, '1e300')))).toContain('overflow 32-bit floats');
  });

  it('valid spellings still load with the same HU: padded, signed, exponent', () => {
    const identity = edited((b) => setText(setText(b, RESCALE_SLOPE, '1') ?? b, RESCALE_INTERCEPT, '0'));
    const base = readDicomSeries([{ file: 'a', bytes: identity }]).volumes[0];
    for (const [slope, intercept] of [
      [' 1 ', '0'],
      ['+1', ' -0 '],
      ['1.0E0', '0.0'],
      ['1', ''],
    ] as const) {
      const bytes = edited((b) => setText(setText(b, RESCALE_SLOPE, slope) ?? b, RESCALE_INTERCEPT, intercept));
      const { volumes, errors } = readDicomSeries([{ file: 'a', bytes }]);
      expect(errors).toEqual([]);
      expect(volumes[0].data).toEqual(base.data);
    }
  });

  it("rt-utils' RescaleIntercept ' -1024' (leading space) still applies", () => {
    const files = RT_FILES.map((f) => ({ file: f, bytes: new Uint8Array(readFileSync(SAMPLES + RT + f)) }));
    const { volumes, errors } = readDicomSeries(files);
    expect(errors).toEqual([]);
    expect(volumes).toHaveLength(1);
  });
});

describe('spacing and position finite and plausible', () => {
  it.each([
    ['1e308\\1e308', 'PixelSpacing (0028,0030) 1e+308\\1e+308 mm is implausible'],
    ['1e-300\\1e-300', 'PixelSpacing (0028,0030) 1e-300\\1e-300 mm is implausible'],
    ['abc', 'PixelSpacing (0028,0030) "abc" is not a decimal string'],
    ['0.5\\NaN', 'PixelSpacing (0028,0030) "0.5\\\\NaN" is not a decimal string'],
  ])('PixelSpacing %j is refused', (value, want) => {
    expect(refusal(edited((b) => setText(b, PIXEL_SPACING, value)))).toContain(want);
  });

  it('SliceThickness 1e308 is refused, ImagePositionPatient 1e308 too', () => {
    expect(refusal(edited((b) => setText(b, SLICE_THICKNESS, '1e308')))).toContain('SliceThickness (0018,0050)');
    expect(refusal(edited((b) => setText(b, IMAGE_POSITION, '1e308\\0\\0')))).toContain(
      'ImagePositionPatient (0020,0032)',
    );
  });

  it('zero PixelSpacing keeps its old treatment: 1 mm assumed, with a warning', () => {
    const { volumes, errors } = readDicomSeries([
      { file: 'a', bytes: edited((b) => setText(b, PIXEL_SPACING, '0\\0')) },
    ]);
    expect(errors).toEqual([]);
    expect(volumes[0].warnings.join('\n')).toContain('no PixelSpacing (0028,0030); assumed 1 mm');
  });
});
