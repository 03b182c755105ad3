/**
 * LUNA16 tables as they arrive broken or re-saved (issue 17, item 6): the real annotations.csv
 * in ../shared/ct-samples with CR-only line endings, in UTF-16, and with a NUL byte, a line
 * break or 5 MB in a seriesuid; read through the page's loader (`loadFiles`) where the bytes
 * matter.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isDataError } from './errors.ts';
import { loadFiles, type LoadItem } from './load.ts';
import { MAX_UID_LENGTH, decodeCsv, parseLunaCsv } from './luna-csv.ts';
import { sourceFromBytes } from './source.ts';

const SAMPLES = fileURLToPath(new URL('../../../shared/ct-samples/', import.meta.url));
const TEXT = readFileSync(`${SAMPLES}luna16-annotations/annotations.csv`, 'utf8');
const LINES = TEXT.split('\n').filter((l) => l !== '');
const REFERENCE = parseLunaCsv(TEXT, 'annotations.csv');

async function load(path: string, bytes: Uint8Array): Promise<LoadItem[]> {
  const items: LoadItem[] = [];
  for await (const item of loadFiles([sourceFromBytes(path, bytes)])) if (item.type !== 'reading') items.push(item);
  return items;
}

function utf16(text: string, bigEndian: boolean, bom = true): Uint8Array {
  const out = new Uint8Array((bom ? 2 : 0) + text.length * 2);
  let at = 0;
  if (bom) {
    out.set(bigEndian ? [0xfe, 0xff] : [0xff, 0xfe]);
    at = 2;
  }
  for (let i = 0; i < text.length; i++, at += 2) {
    const c = text.charCodeAt(i);
    out[at + (bigEndian ? 1 : 0)] = c & 0xff;
    out[at + (bigEndian ? 0 : 1)] = c >> 8;
  }
  return out;
}

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a throw');
}

describe('line endings', () => {
  it('CR-only (old Mac) line endings read the same 1186 rows (was: refused, whole file echoed as header)', () => {
    expect(REFERENCE.rows).toHaveLength(1186);
    const cr = parseLunaCsv(TEXT.replaceAll('\n', '\r'), 'annotations.csv');
    expect(cr).toEqual(REFERENCE);
    expect(parseLunaCsv(TEXT.replaceAll('\n', '\r\n'), 'annotations.csv')).toEqual(REFERENCE);
  });

  it('a table that is not LUNA16 echoes only its header line, cut short', () => {
    const e = thrown(() => parseLunaCsv(`a,b,c\r${'x,'.repeat(100_000)}\r`, 'x.csv'));
    expect(e.message).toMatch(/^x\.csv: not a LUNA16 table \(header: a,b,c\); expected/);
    const wide = thrown(() => parseLunaCsv(`${'col,'.repeat(10_000)}\n1\n`, 'w.csv'));
    expect(wide.message.length).toBeLessThan(500);
  });
});

describe('encodings', () => {
  it.each([
    ['little', false],
    ['big', true],
  ])('UTF-16 %s-endian with a BOM reads like the UTF-8 file', async (_, bigEndian) => {
    const items = await load('annotations.csv', utf16(TEXT, bigEndian));
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ type: 'annotations', rows: REFERENCE.rows, rowErrors: [] });
  });

  it('UTF-16 without a BOM and UTF-32 are refused, naming the encoding', async () => {
    const head = LINES.slice(0, 3).join('\n');
    expect(await load('a.csv', utf16(head, false, false))).toEqual([
      {
        type: 'error',
        file: 'a.csv',
        message:
          'a.csv: the file is UTF-16 little-endian without a byte-order mark; save it as UTF-8 (or UTF-16 with a byte-order mark)',
      },
    ]);
    expect(thrown(() => decodeCsv(utf16(head, true, false), 'b.csv')).message).toContain(
      'UTF-16 big-endian without a byte-order mark',
    );
    const utf32 = new Uint8Array([0xff, 0xfe, 0, 0, 0x73, 0, 0, 0]);
    const e = thrown(() => decodeCsv(utf32, 'c.csv'));
    expect(isDataError(e)).toBe(true);
    expect(e.message).toBe('c.csv: the file is UTF-32 encoded; save it as UTF-8 (or UTF-16 with a byte-order mark)');
  });

  it('UTF-8 with and without BOM decode as before', () => {
    expect(decodeCsv(new TextEncoder().encode(TEXT), 'a.csv')).toBe(TEXT);
    expect(parseLunaCsv(decodeCsv(new TextEncoder().encode(`\uFEFF${TEXT}`), 'a.csv'), 'annotations.csv')).toEqual(
      REFERENCE,
    );
  });
});

describe('series UIDs', () => {
  const uid = REFERENCE.rows[1].seriesUid;
  const withRow = (row: string): string => [LINES[0], LINES[1], row, LINES[3]].join('\n') + '\n';
  const rest = LINES[2].slice(LINES[2].indexOf(','));

  it('a NUL byte in a seriesuid is refused naming line and column; the other rows still load', () => {
    const bad = `${uid.slice(0, 10)}\u0000${uid.slice(10)}`;
    const parsed = parseLunaCsv(withRow(`${bad}${rest}`), 'annotations.csv');
    expect(parsed.rows).toHaveLength(2);
    expect(parsed.errors).toEqual([
      {
        file: 'annotations.csv',
        row: 3,
        field: 'seriesuid',
        message: `annotations.csv:3: seriesuid ${JSON.stringify(bad.slice(0, 57) + '...')} holds a NUL byte at character 11 (column 1)`,
      },
    ]);
  });

  it('a line break in a (quoted) seriesuid is refused, and later line numbers stay true', () => {
    const text =
      [LINES[0], LINES[1], `"${uid.slice(0, 8)}\n${uid.slice(8)}"${rest}`, `${uid},x,1,2,3`].join('\n') + '\n';
    const parsed = parseLunaCsv(text, 'annotations.csv');
    expect(parsed.errors.map((e) => [e.row, e.field])).toEqual([
      [3, 'seriesuid'],
      [5, 'coordX'],
    ]);
    expect(parsed.errors[0].message).toContain('holds a line break at character 9 (column 1)');
  });

  it(`a 5 MB seriesuid is refused (DICOM UIDs are at most ${MAX_UID_LENGTH} characters), not echoed`, () => {
    const huge = '1.2'.repeat(5_000_000 / 3);
    const parsed = parseLunaCsv(withRow(`${huge}${rest}`), 'annotations.csv');
    expect(parsed.rows).toHaveLength(2);
    expect(parsed.errors).toHaveLength(1);
    expect(parsed.errors[0].message).toBe(
      `annotations.csv:3: seriesuid is ${huge.length} characters long (column 1); DICOM UIDs are at most 64`,
    );
  });

  it('the real tables still read unchanged: every UID within 64 characters', () => {
    expect(REFERENCE.errors).toEqual([]);
    expect(Math.max(...REFERENCE.rows.map((r) => r.seriesUid.length))).toBeLessThanOrEqual(MAX_UID_LENGTH);
  });
});
