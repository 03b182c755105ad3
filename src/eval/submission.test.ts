/**
 * LUNA16's evaluation files: a submission written and read back exactly, columns by name,
 * every malformed row named by file, line and column; excluded findings keep −1; seriesuids.csv.
 * And the FROC plot: a standalone SVG of the curve, the seven points and the band.
 */
import { describe, expect, it } from 'vitest';
import { froc, type ScoredCandidate } from './froc.ts';
import { frocSvg } from './froc-plot.ts';
import {
  formatSeriesUids,
  formatSubmission,
  parseFindings,
  parseSeriesUids,
  parseSubmission,
  SubmissionError,
} from './submission.ts';

const UID = '1.3.6.1.4.1.14519.5.2.1.6279.6001.100225287222365663678666836860';
const marks: ScoredCandidate[] = [
  { seriesUid: UID, xyz: [-128.6994211, -175.3192718, -298.3875064], probability: 0.9876543 },
  { seriesUid: UID, xyz: [1e-7, 0, -3], probability: 1.2e-9 },
  { seriesUid: 'B', xyz: [0.1, 0.2, 0.30000000000000004], probability: 0.5 },
];

describe('submission.csv', () => {
  it('writes the official header and reads back every number exactly', () => {
    const text = formatSubmission(marks);
    expect(text.split('\n')[0]).toBe('seriesuid,coordX,coordY,coordZ,probability');
    expect(text.endsWith('\n')).toBe(true);
    expect(parseSubmission(text, 'submission.csv')).toEqual(marks);
    expect(() => formatSubmission([{ ...marks[0], probability: NaN }])).toThrow(/probability NaN/);
  });

  it('finds columns by name: any order, extra columns, CRLF, a BOM, blank lines', () => {
    const text = '\ufeffprobability,coordZ,seriesuid,extra,coordY,coordX\r\n0.5,3,A,x,2,1\r\n\r\n0.25,-3,B,y,-2,-1\r\n';
    expect(parseSubmission(text, 's.csv')).toEqual([
      { seriesUid: 'A', xyz: [1, 2, 3], probability: 0.5 },
      { seriesUid: 'B', xyz: [-1, -2, -3], probability: 0.25 },
    ]);
  });

  it('names the file, line and column of what it cannot read', () => {
    const head = 'seriesuid,coordX,coordY,coordZ,probability\n';
    expect(() => parseSubmission('', 's.csv')).toThrow(/s\.csv: empty file/);
    expect(() => parseSubmission('seriesuid,coordX,coordY,coordZ\nA,1,2,3\n', 's.csv')).toThrow(
      /s\.csv:1: missing column "probability"/,
    );
    expect(() => parseSubmission(`${head}A,1,2,3,0.5\nA,1,x,3,0.5\n`, 's.csv')).toThrow(
      /^s\.csv:3:3: coordY "x" is not a number$/,
    );
    expect(() => parseSubmission(`${head}A,1,2,3,nan\n`, 's.csv')).toThrow(
      /s\.csv:2:5: probability "nan" is not a number/,
    );
    expect(() => parseSubmission(`${head}A,1,2\n`, 's.csv')).toThrow(/s\.csv:2: expected at least 5 fields, found 3/);
    expect(() => parseSubmission(`${head},1,2,3,0.5\n`, 's.csv')).toThrow(/s\.csv:2:1: seriesuid is empty/);
    expect(() => parseSubmission(`${head}A,1,2,3,0x1f\n`, 's.csv')).toThrow(SubmissionError);
  });
});

describe('annotations_excluded.csv and seriesuids.csv', () => {
  it('keeps diameter −1 (froc reads it as 10 mm)', () => {
    const f = parseFindings(
      `seriesuid,coordX,coordY,coordZ,diameter_mm\n${UID},-131.8964945,-155.0567015,-317.8,-1\n`,
      'annotations_excluded.csv',
    );
    expect(f).toEqual([{ seriesUid: UID, xyz: [-131.8964945, -155.0567015, -317.8], diameterMm: -1 }]);
    expect(() => parseFindings('seriesuid,coordX,coordY,coordZ,diameter_mm\nA,1,2,3,\n', 'e.csv')).toThrow(
      /e\.csv:2:5: diameter_mm "" is not a number/,
    );
  });

  it('reads one UID a line, no header (a header line is tolerated), and writes the same', () => {
    expect(parseSeriesUids(`${UID}\nB\r\n\n`, 'seriesuids.csv')).toEqual([UID, 'B']);
    expect(parseSeriesUids(`seriesuid\n${UID}\n`, 'seriesuids.csv')).toEqual([UID]);
    expect(parseSeriesUids(formatSeriesUids([UID, 'B']), 's')).toEqual([UID, 'B']);
    expect(() => parseSeriesUids('\n', 'seriesuids.csv')).toThrow(/seriesuids\.csv: no scan UIDs/);
  });
});

describe('froc.svg', () => {
  it('draws the interpolant, the seven operating points and the band', () => {
    const r = froc(marks, [{ seriesUid: UID, xyz: [-128.7, -175.3, -298.4], diameterMm: 5.65 }], [UID, 'B']);
    const svg = frocSvg(r, 'model <1>');
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg).toContain('model &lt;1&gt;');
    expect(svg.match(/<circle /g)).toHaveLength(7);
    expect(svg).toContain('data-band="0.95"');
    expect(svg).toContain(`CPM ${r.cpm.toFixed(4)}`);
    expect(frocSvg({ ...r, band: null }, 'x')).not.toContain('data-band');
  });
});
