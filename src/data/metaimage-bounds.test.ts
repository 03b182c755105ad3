/**
 * The MetaImage reader bounds what a header can make it do (issue 17, items 2 and 3): edited
 * copies of the real LUNA16 .mhd/.zraw in ../shared/ct-samples, a zlib bomb whose
 * CompressedDataSize matches, and a header of over 1 MB. Bounds are asserted on what the
 * reader inflated and kept (`inflateBounded`'s counts), never on timings.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isDataError, type DataError } from './errors.ts';
import {
  INFLATE_CHUNK_BYTES,
  DEFLATE_MAX_RATIO,
  MAX_HEADER_BYTES,
  OVERFLOW_COUNT_BYTES,
  inflateBounded,
  parseMetaHeader,
  readMetaImage,
} from './metaimage.ts';
import { zlibBomb } from '../fuzz/zlib-bomb.ts';

const SAMPLES = fileURLToPath(new URL('../../../shared/ct-samples/', import.meta.url));
const UID = '1.3.6.1.4.1.14519.5.2.1.6279.6001.105756658031515062000744821260';
const MHD_FILE = `${UID}.mhd`;
const ZRAW_FILE = `${UID}.zraw`;
const MHD = readFileSync(`${SAMPLES}luna16-seg-lungs/${MHD_FILE}`, 'utf8');
const EXPECTED = 512 * 512 * 121 * 2;
const enc = new TextEncoder();

function edit(key: string, value: string, text = MHD): Uint8Array {
  return enc.encode(text.replace(new RegExp(`^${key} = .*$`, 'm'), `${key} = ${value}`));
}

function caught(fn: () => unknown): DataError {
  try {
    fn();
  } catch (e) {
    expect(isDataError(e), String(e)).toBe(true);
    return e as DataError;
  }
  throw new Error('expected a DataError');
}

describe('inflate bounded by the size the header implies', () => {
  const BOMB = zlibBomb(512 * 1024 * 1024);

  it('the bomb is a real zlib stream of 512 MiB (a prefix inflates to zeros)', () => {
    const out = new Uint8Array(1 << 20);
    const r = inflateBounded(BOMB, out);
    expect(r.complete).toBe(false);
    expect(out.every((v) => v === 0)).toBe(true);
  });

  it('a 512 MiB bomb with a matching CompressedDataSize is refused after expected + 1 MiB', () => {
    const mhd = edit('CompressedDataSize', String(BOMB.length));
    const e = caught(() => readMetaImage({ file: MHD_FILE, bytes: mhd, data: { file: ZRAW_FILE, bytes: BOMB } }));
    expect(e.message).toBe(
      `${ZRAW_FILE} inflates to more than ${EXPECTED + OVERFLOW_COUNT_BYTES} bytes, DimSize 512×512×121 of MET_SHORT needs ${EXPECTED} bytes`,
    );
    expect(e.file).toBe(ZRAW_FILE);
    expect(e.field).toBe('DimSize');
  });

  it('what the reader holds stays under 2× the expected volume: the volume plus one push', () => {
    const out = new Uint8Array(EXPECTED);
    const r = inflateBounded(BOMB, out);
    expect(r.complete).toBe(false);
    // Inflated (and so worked through) at most one push past the overflow count...
    expect(r.length).toBeLessThanOrEqual(EXPECTED + OVERFLOW_COUNT_BYTES + INFLATE_CHUNK_BYTES * DEFLATE_MAX_RATIO);
    expect(r.inputBytes).toBeLessThan(BOMB.length / 6);
    // ...and never held more than one push's output besides `out`.
    expect(r.largestChunk).toBeLessThanOrEqual(INFLATE_CHUNK_BYTES * DEFLATE_MAX_RATIO + 32768);
    expect(EXPECTED + r.largestChunk).toBeLessThan(2 * EXPECTED);
  });

  it('a bomb smaller than the volume (too few bytes) and a slightly long stream keep exact counts', () => {
    const small = zlibBomb(1000);
    const mhd = edit('CompressedDataSize', String(small.length));
    expect(
      caught(() => readMetaImage({ file: MHD_FILE, bytes: mhd, data: { file: ZRAW_FILE, bytes: small } })).message,
    ).toMatch(
      /holds \d+ compressed bytes, which inflate to at most \d+ bytes; DimSize 512×512×121 of MET_SHORT needs 63438848 bytes/,
    );
    const long = zlibBomb(EXPECTED + 10);
    const mhd2 = edit('CompressedDataSize', String(long.length));
    expect(
      caught(() => readMetaImage({ file: MHD_FILE, bytes: mhd2, data: { file: ZRAW_FILE, bytes: long } })).message,
    ).toBe(`${ZRAW_FILE} inflates to ${EXPECTED + 10} bytes, DimSize 512×512×121 of MET_SHORT needs ${EXPECTED} bytes`);
  });

  it('DimSize edited far beyond what the stream can hold is refused before allocating', () => {
    const zraw = new Uint8Array(readFileSync(`${SAMPLES}luna16-seg-lungs/${ZRAW_FILE}`));
    const e = caught(() =>
      readMetaImage({
        file: MHD_FILE,
        bytes: edit('DimSize', '512 512 100000'),
        data: { file: ZRAW_FILE, bytes: zraw },
      }),
    );
    expect(e.message).toContain(`${ZRAW_FILE} holds ${zraw.length} compressed bytes, which inflate to at most`);
  });
});

describe('header size capped', () => {
  it(`a header of over 1 MB (${MAX_HEADER_BYTES / 1024} KiB cap) is refused after scanning only the cap`, () => {
    const pad = Array.from({ length: 60_000 }, (_, i) => `Comment${i} = padding`).join('\n');
    const text = MHD.replace(/^ElementDataFile/m, `${pad}\nElementDataFile`);
    expect(text.length).toBeGreaterThan(1_000_000);
    const e = caught(() => parseMetaHeader(enc.encode(text), MHD_FILE));
    expect(e.message).toBe(
      `${MHD_FILE}: MetaImage header runs past 64 KiB without an ElementDataFile line (real headers are a few hundred bytes; ElementDataFile must end the header)`,
    );
    // Refused at the cap: the same error whatever follows it.
    const cut = enc.encode(text).subarray(0, MAX_HEADER_BYTES + 1);
    expect(caught(() => parseMetaHeader(cut, MHD_FILE)).message).toBe(e.message);
  });

  it('a single 1 MB line is refused the same way; a binary file still says binary', () => {
    const line = enc.encode(`ObjectType = ${'x'.repeat(1 << 20)}\n`);
    expect(caught(() => parseMetaHeader(line, 'a.mhd')).message).toContain('header runs past 64 KiB');
    const binary = new Uint8Array(MAX_HEADER_BYTES * 2).fill(1);
    expect(caught(() => parseMetaHeader(binary, 'a.mhd')).message).toContain('line 1 holds binary data');
  });

  it('a .mha whose voxels are larger than the cap still reads (only the header is capped)', () => {
    const header =
      'ObjectType = Image\nNDims = 3\nDimSize = 256 256 1\nElementType = MET_SHORT\nElementSpacing = 1 1 1\nElementDataFile = LOCAL\n';
    const voxels = new Uint8Array(256 * 256 * 2);
    const bytes = new Uint8Array(header.length + voxels.length);
    bytes.set(enc.encode(header));
    bytes.set(voxels, header.length);
    expect(readMetaImage({ file: 'a.mha', bytes }).shape).toEqual([1, 256, 256]);
  });
});

describe('numbers finite and in plausible ranges, field and value named', () => {
  it.each([
    [
      'ElementSpacing',
      '1e308 1e308 1e308',
      'ElementSpacing "1e308 1e308 1e308" in x.mhd (expected 3 plausible spacings, 0.0001 to 1000 mm)',
    ],
    [
      'ElementSpacing',
      '0.76 0.76 1e-300',
      'ElementSpacing "0.76 0.76 1e-300" in x.mhd (expected 3 plausible spacings, 0.0001 to 1000 mm)',
    ],
    [
      'Offset',
      '1e308 -195 -335',
      'Offset "1e308 -195 -335" in x.mhd (expected 3 positions within 1000000 mm of the origin)',
    ],
    [
      'TransformMatrix',
      '1e308 0 0 0 1 0 0 0 1',
      'TransformMatrix "1e308 0 0 0 1 0 0 0 1" in x.mhd (expected direction cosines (entries between -10 and 10))',
    ],
    ['DimSize', '512 512 2000000', 'DimSize "512 512 2000000" in x.mhd (expected at most 1048576 voxels per axis)'],
  ])('%s %j is refused', (key, value, message) => {
    const e = caught(() => parseMetaHeader(edit(key, value), 'x.mhd'));
    expect(e.message).toBe(message);
    expect(e.field).toBe(key);
  });

  it('the real header still parses unchanged', () => {
    const h = parseMetaHeader(enc.encode(MHD), MHD_FILE);
    expect(h.elementSpacing).toEqual([0.7617189884185791, 0.7617189884185791, 2.5]);
    expect(h.dimSize).toEqual([512, 512, 121]);
  });
});
