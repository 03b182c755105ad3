import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isDataError } from './errors.ts';
import {
  detectLunaTable,
  formatAnnotationsCsv,
  formatCandidatesCsv,
  formatMalignancyCsv,
  matchCandidates,
  parseAnnotations,
  parseCandidates,
  parseLunaCsv,
  parseMalignancy,
  type Annotation,
  type Candidate,
} from './luna-csv.ts';

const SAMPLES = resolve(process.cwd(), '../shared/ct-samples');
const UID = '1.3.6.1.4.1.14519.5.2.1.6279.6001.179049373636438705059720603192';
const A_HEADER = 'seriesuid,coordX,coordY,coordZ,diameter_mm';
const C_HEADER = 'seriesuid,coordX,coordY,coordZ,class';

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a throw');
}

describe('detectLunaTable', () => {
  it("recognises the LUNA16 headers (and the book's malignancy table) and rejects others", () => {
    expect(detectLunaTable(A_HEADER)).toBe('annotations');
    expect(detectLunaTable(C_HEADER + '\r')).toBe('candidates');
    expect(detectLunaTable('\uFEFF' + C_HEADER)).toBe('candidates');
    expect(detectLunaTable('SeriesUID, coordX, coordY, coordZ, Diameter_MM')).toBe('annotations');
    expect(detectLunaTable(A_HEADER + ',mal_bool,mal_details,bbox_low,bbox_high')).toBe('malignancy');
    expect(detectLunaTable(A_HEADER + ',mal_details')).toBe('annotations');
    expect(detectLunaTable('seriesuid,x,y,z')).toBeNull();
    expect(detectLunaTable('patient,class')).toBeNull();
    expect(detectLunaTable('')).toBeNull();
  });
});

describe('real annotations.csv', () => {
  const text = readFileSync(resolve(SAMPLES, 'luna16-annotations/annotations.csv'), 'utf8');

  it('parses all 1186 nodules without errors, LIDC-IDRI-0001 included', () => {
    const { rows, errors } = parseAnnotations(text, 'annotations.csv');
    expect(errors).toEqual([]);
    expect(rows).toHaveLength(1186);
    const n = rows.find((r) => r.seriesUid === UID);
    expect(n).toBeDefined();
    expect(n!.xyz[0]).toBeCloseTo(56.20840547, 6);
    expect(n!.xyz[1]).toBeCloseTo(86.34341278, 6);
    expect(n!.xyz[2]).toBeCloseTo(-115.8675792, 6);
    expect(n!.diameterMm).toBeCloseTo(23.35064438, 6);
    expect(new Set(rows.map((r) => r.seriesUid)).size).toBeGreaterThan(500);
    expect(rows.every((r) => r.diameterMm > 3 && r.diameterMm < 35)).toBe(true);
  });

  it('parseLunaCsv detects it as annotations', () => {
    const parsed = parseLunaCsv(text, 'annotations.csv');
    expect(parsed.kind).toBe('annotations');
    expect(parsed.rows).toHaveLength(1186);
  });

  it('reading it as candidates names the missing column', () => {
    const e = thrown(() => parseCandidates(text, 'annotations.csv'));
    expect(isDataError(e)).toBe(true);
    expect(e.message).toBe(`annotations.csv: missing column "class" (header: ${A_HEADER})`);
  });
});

describe('parseAnnotations / parseCandidates', () => {
  it('handles CRLF, a BOM, blank and trailing lines, spaces and reordered/extra columns', () => {
    const text =
      '\uFEFFcoordX,seriesuid,coordY,coordZ,diameter_mm,extra\r\n' +
      '1.5,1.2.3,-2,3e1,5.25,x\r\n' +
      '\r\n' +
      ' -7 , 1.2.4 ,.5,+4,0,y\r\n' +
      '\r\n\r\n';
    const { rows, errors } = parseAnnotations(text, 'a.csv');
    expect(errors).toEqual([]);
    expect(rows).toEqual([
      { seriesUid: '1.2.3', xyz: [1.5, -2, 30], diameterMm: 5.25 },
      { seriesUid: '1.2.4', xyz: [-7, 0.5, 4], diameterMm: 0 },
    ]);
  });

  it('a missing required column throws a DataError naming file and columns', () => {
    const e = thrown(() => parseAnnotations('seriesuid,coordX,coordY\n1,2,3\n', 'annotations.csv')) as Error & {
      file?: string;
      field?: string;
    };
    expect(isDataError(e)).toBe(true);
    expect(e.message).toBe(
      'annotations.csv: missing columns "coordZ", "diameter_mm" (header: seriesuid,coordX,coordY)',
    );
    expect(e.file).toBe('annotations.csv');
    expect(e.field).toBe('coordZ,diameter_mm');
    expect(isDataError(thrown(() => parseCandidates('', 'c.csv')))).toBe(true);
  });

  it('skips bad rows with a RowError (file, line, column, value) and keeps the good ones', () => {
    const text = [
      C_HEADER,
      '1.2.3,1,2,3,1', // line 2 ok
      '1.2.3,abc,2,3,0', // line 3 bad coordX
      ',1,2,3,0', // line 4 empty uid
      '1.2.3,1,2,3,2', // line 5 bad class
      '1.2.3,1,2', // line 6 too few fields
      '1.2.3,1,2,0x10,0', // line 7 hex is not a decimal number
      '1.2.3,1,,3,0', // line 8 empty coordY
      '1.2.3,4,5,6,0', // line 9 ok
      '',
    ].join('\n');
    const { rows, errors } = parseCandidates(text, 'candidates.csv');
    expect(rows).toEqual([
      { seriesUid: '1.2.3', xyz: [1, 2, 3], isNodule: true },
      { seriesUid: '1.2.3', xyz: [4, 5, 6], isNodule: false },
    ]);
    expect(errors.map((e) => [e.row, e.field])).toEqual([
      [3, 'coordX'],
      [4, 'seriesuid'],
      [5, 'class'],
      [6, undefined],
      [7, 'coordZ'],
      [8, 'coordY'],
    ]);
    expect(errors[0]).toEqual({
      file: 'candidates.csv',
      row: 3,
      field: 'coordX',
      message: 'candidates.csv:3: coordX "abc" is not a number',
    });
    expect(errors[2].message).toBe('candidates.csv:5: class "2" is not 0 or 1');
    expect(errors[3].message).toBe('candidates.csv:6: expected at least 5 fields, found 3');
  });

  it('rejects negative diameters', () => {
    const { rows, errors } = parseAnnotations(`${A_HEADER}\n1.2,1,2,3,-4\n1.2,1,2,3,4\n`, 'annotations.csv');
    expect(rows).toHaveLength(1);
    expect(errors).toEqual([
      {
        file: 'annotations.csv',
        row: 2,
        field: 'diameter_mm',
        message: 'annotations.csv:2: diameter_mm "-4" is negative',
      },
    ]);
  });

  it('parseLunaCsv rejects an unknown table with the expected headers in the message', () => {
    const e = thrown(() => parseLunaCsv('a,b,c\n1,2,3\n', 'other.csv'));
    expect(isDataError(e)).toBe(true);
    expect(e.message).toContain('other.csv: not a LUNA16 table (header: a,b,c)');
    expect(e.message).toContain(C_HEADER);
  });

  it('parses 200k candidate rows (candidates.csv is 551,065) quickly', () => {
    const lines = [C_HEADER];
    for (let i = 0; i < 200_000; i++) {
      const uid = `1.3.6.1.4.1.14519.5.2.1.6279.6001.${100000 + (i % 600)}`;
      lines.push(`${uid},${(i % 300) - 150.123456},${(i % 211) - 100.5},${-(i % 400) - 0.25},${i % 400 === 0 ? 1 : 0}`);
    }
    const text = lines.join('\r\n') + '\r\n';
    const t0 = performance.now();
    const parsed = parseLunaCsv(text, 'candidates.csv');
    const ms = performance.now() - t0;
    expect(parsed.kind).toBe('candidates');
    expect(parsed.errors).toEqual([]);
    expect(parsed.rows).toHaveLength(200_000);
    expect(parsed.rows.filter((r) => (r as Candidate).isNodule)).toHaveLength(500);
    expect(ms).toBeLessThan(5000);
  });

  it('format* writes what parse* reads back exactly', () => {
    const anns: Annotation[] = [{ seriesUid: '1.2.3', xyz: [-128.6994211, 0.1 + 0.2, 1e-7], diameterMm: 5.651470635 }];
    const cands: Candidate[] = [
      { seriesUid: '1.2.3', xyz: [1, -2.5, 3], isNodule: true },
      { seriesUid: '1.2.4', xyz: [4, 5, 6], isNodule: false },
    ];
    expect(parseAnnotations(formatAnnotationsCsv(anns), 'a.csv')).toEqual({ rows: anns, errors: [] });
    expect(parseCandidates(formatCandidatesCsv(cands), 'c.csv')).toEqual({ rows: cands, errors: [] });
    expect(formatAnnotationsCsv([]).startsWith(A_HEADER + '\n')).toBe(true);
  });
});

describe('matchCandidates (book getCandidateInfoList)', () => {
  const ann = (uid: string, xyz: [number, number, number], d: number): Annotation => ({
    seriesUid: uid,
    xyz,
    diameterMm: d,
  });
  const cand = (uid: string, xyz: [number, number, number], isNodule: boolean): Candidate => ({
    seriesUid: uid,
    xyz,
    isNodule,
  });

  it('matches within d/4 on every axis, boundary inclusive', () => {
    const a = ann('s1', [10, 20, 30], 8); // d/4 = 2
    const { candidates } = matchCandidates(
      [
        cand('s1', [12, 20, 30], true), // exactly d/4 on x: match
        cand('s1', [8, 18, 32], true), // exactly d/4 on all axes: match
        cand('s1', [12.0001, 20, 30], true), // just over on x
        cand('s1', [10, 20, 27.9], false), // over on z
      ],
      [a],
    );
    const d = (xyz: number[]) => candidates.find((c) => c.xyz.join() === xyz.join())!.diameterMm;
    expect(d([12, 20, 30])).toBe(8);
    expect(d([8, 18, 32])).toBe(8);
    expect(d([12.0001, 20, 30])).toBe(0);
    expect(d([10, 20, 27.9])).toBe(0);
  });

  it('never matches across series, and negatives near a nodule take its diameter as the book does', () => {
    const { candidates, unmatchedAnnotations } = matchCandidates(
      [cand('s2', [0, 0, 0], true), cand('s1', [0, 0, 0], false)],
      [ann('s1', [0, 0, 0], 10)],
    );
    expect(candidates.find((c) => c.seriesUid === 's2')!.diameterMm).toBe(0);
    expect(candidates.find((c) => c.seriesUid === 's1')!.diameterMm).toBe(10);
    // Only a class-0 candidate is near it: still unmatched as a positive.
    expect(unmatchedAnnotations).toEqual([ann('s1', [0, 0, 0], 10)]);
  });

  it('takes the first matching annotation in file order', () => {
    const { candidates } = matchCandidates(
      [cand('s', [0, 0, 0], true)],
      [ann('s', [1, 1, 1], 6), ann('s', [0, 0, 0], 20)],
    );
    expect(candidates[0].diameterMm).toBe(6);
  });

  it('reports annotations no positive covers, and sorts like sorted(..., reverse=True)', () => {
    const a1 = ann('1.2.9', [0, 0, 0], 10);
    const a2 = ann('1.2.9', [50, 50, 50], 6);
    const a3 = ann('1.2.10', [50, 5, 5], 20);
    const { candidates, unmatchedAnnotations } = matchCandidates(
      [
        cand('1.2.10', [0, 0, 0], false),
        cand('1.2.9', [1, 1, 1], true),
        cand('1.2.9', [-1, 0, 0], true),
        cand('1.2.9', [100, 0, 0], true),
        cand('1.2.10', [0, 0, 1], false),
        cand('1.2.9', [0, 0, 1], false),
        cand('1.2.9', [200, 0, 0], false),
      ],
      [a1, a2, a3],
    );
    expect(unmatchedAnnotations).toEqual([a2, a3]);
    expect(candidates.map((c) => [c.isNodule, c.diameterMm, c.seriesUid, c.xyz])).toEqual([
      [true, 10, '1.2.9', [1, 1, 1]],
      [true, 10, '1.2.9', [-1, 0, 0]],
      [true, 0, '1.2.9', [100, 0, 0]],
      [false, 10, '1.2.9', [0, 0, 1]],
      // '1.2.9' > '1.2.10' as strings, as in Python.
      [false, 0, '1.2.9', [200, 0, 0]],
      [false, 0, '1.2.10', [0, 0, 1]],
      [false, 0, '1.2.10', [0, 0, 0]],
    ]);
  });
});

describe('annotations_with_malignancy.csv', () => {
  const text = readFileSync(resolve(SAMPLES, 'luna16-annotations/annotations_with_malignancy.csv'), 'utf8');

  it("parses the book's real table: 1182 nodules of 600 scans, 378 malignant", () => {
    const parsed = parseLunaCsv(text, 'annotations_with_malignancy.csv');
    expect(parsed.kind).toBe('malignancy');
    expect(parsed.errors).toEqual([]);
    const rows = parsed.kind === 'malignancy' ? parsed.rows : [];
    expect(rows).toHaveLength(1182);
    expect(rows.filter((r) => r.malignant)).toHaveLength(378);
    expect(new Set(rows.map((r) => r.seriesUid)).size).toBe(600);
    // Its first row, field by field.
    expect(rows[0]).toEqual({
      seriesUid: '1.3.6.1.4.1.14519.5.2.1.6279.6001.100225287222365663678666836860',
      xyz: [-128.6994211, -175.31927180000002, -298.38750639999995],
      diameterMm: 5.651470635,
      malignant: true,
    });
    expect(rows[1].malignant).toBe(false);
  });

  it('names each bad row (mal_bool, diameter, coordinates) and keeps the good ones', () => {
    const h = 'seriesuid,coordX,coordY,coordZ,diameter_mm,mal_bool,mal_details';
    const { rows, errors } = parseMalignancy(
      [
        h,
        '1.2.3,1,2,3,5,True,"[4, 2]"',
        '1.2.3,1,2,3,5,maybe,x',
        '1.2.3,1,2,3,-1,False,x',
        '1.2.3,a,2,3,5,false,x',
        '1.2.4,4,5,6,7,FALSE,',
      ].join('\n'),
      'annotations_with_malignancy.csv',
    );
    expect(rows.map((r) => [r.seriesUid, r.malignant])).toEqual([
      ['1.2.3', true],
      ['1.2.4', false],
    ]);
    expect(errors.map((e) => [e.row, e.field, e.message])).toEqual([
      [3, 'mal_bool', 'annotations_with_malignancy.csv:3: mal_bool "maybe" is not True or False'],
      [4, 'diameter_mm', 'annotations_with_malignancy.csv:4: diameter_mm "-1" is negative'],
      [5, 'coordX', 'annotations_with_malignancy.csv:5: coordX "a" is not a number'],
    ]);
  });

  it('refuses a table without mal_bool when read as one, naming the column', () => {
    const e = thrown(() => parseMalignancy(`${A_HEADER}\n1.2.3,1,2,3,5\n`, 'm.csv'));
    expect(isDataError(e)).toBe(true);
    expect(e.message).toMatch(/^m\.csv: missing column "mal_bool"/);
  });

  it('formatMalignancyCsv writes what parseMalignancy reads back', () => {
    const rows = [
      { seriesUid: '1.2.3', xyz: [1.5, -2, 3e-7] as [number, number, number], diameterMm: 6.25, malignant: true },
      { seriesUid: '1.2.4', xyz: [0, 0, 0] as [number, number, number], diameterMm: 4, malignant: false },
    ];
    const csv = formatMalignancyCsv(rows);
    expect(csv.split('\n')[0]).toBe('seriesuid,coordX,coordY,coordZ,diameter_mm,mal_bool');
    expect(parseMalignancy(csv, 'x.csv')).toEqual({ rows, errors: [] });
  });
});
