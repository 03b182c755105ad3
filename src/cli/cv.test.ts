/**
 * cv's pure parts: a fold per subset (config trains on the others), LUNA16's pooling (one
 * FROC over every fold's marks and scans, divided by all of them), the subset folders
 * found and the file filter a fold's held-out evaluation reads through.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveConfigOrThrow } from '../config/lab-config.ts';
import { froc, type Nodule, type ScoredCandidate } from '../eval/froc.ts';
import { CvError, foldPlans, poolFolds, subsetFolders } from './cv.ts';
import { inSubsets } from './eval.ts';

const base = resolveConfigOrThrow({ crop: [8, 16, 16], model: { blocks: 2, width: 4 }, train: { epochs: 1 } });

describe('foldPlans', () => {
  it('holds out each subset once and trains on the others', () => {
    const plans = foldPlans(base, ['subset0', 'subset1', 'subset2']);
    expect(plans.map((p) => [p.heldOut, p.config.data.subsets.join(','), p.dir])).toEqual([
      ['subset0', 'subset1,subset2', 'fold-subset0'],
      ['subset1', 'subset0,subset2', 'fold-subset1'],
      ['subset2', 'subset0,subset1', 'fold-subset2'],
    ]);
    expect(plans[1].config.train).toEqual(base.train);
  });
  it('refuses a base that picks subsets, and fewer than two subsets', () => {
    expect(() => foldPlans({ ...base, data: { ...base.data, subsets: ['subset0'] } }, ['subset0', 'subset1'])).toThrow(
      /drop data.subsets/,
    );
    expect(() => foldPlans(base, ['subset0'])).toThrow(CvError);
  });
});

describe('poolFolds', () => {
  const n = (seriesUid: string, x: number): Nodule => ({ seriesUid, xyz: [x, 0, 0], diameterMm: 10 });
  const m = (seriesUid: string, x: number, probability: number): ScoredCandidate => ({
    seriesUid,
    xyz: [x, 0, 0],
    probability,
  });
  const nodules = [n('a', 0), n('b', 0), n('c', 0), n('d', 0)];
  const folds = [
    { heldOut: 'subset0', scans: ['a', 'b'], marks: [m('a', 0, 0.9), m('a', 50, 0.95), m('b', 50, 0.2)] },
    { heldOut: 'subset1', scans: ['c', 'd', 'e'], marks: [m('c', 1, 0.3), m('d', 40, 0.6), m('e', 0, 0.99)] },
  ];
  it('is one FROC over all marks and all scans, as LUNA16 pools folds', () => {
    const p = poolFolds(folds, nodules);
    expect(p.scans).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(p.marks).toHaveLength(6);
    const direct = froc(
      folds.flatMap((f) => f.marks),
      nodules,
      ['a', 'b', 'c', 'd', 'e'],
    );
    expect(p.froc.cpm).toBe(direct.cpm);
    expect(p.froc).toMatchObject({ scans: 5, nodules: 4, detected: 2, falsePositives: 4 });
    // By hand: entries 0.99 FP, 0.95 FP, 0.9 TP, 0.6 FP, 0.3 TP, 0.2 FP over 5 scans and 4 nodules:
    // sensitivity 0, 0, 0.25 at 1/8, 1/4, 1/2 FP/scan, then 0.5.
    expect(p.froc.cpm).toBeCloseTo(2.25 / 7, 12);
  });
  it("ignores a fold's marks on scans outside its held-out subset, and refuses shared scans", () => {
    const stray = [{ ...folds[0], marks: [...folds[0].marks, m('c', 0, 1)] }, folds[1]];
    expect(poolFolds(stray, nodules).froc.cpm).toBe(poolFolds(folds, nodules).froc.cpm);
    expect(() => poolFolds([folds[0], { ...folds[1], scans: ['a', 'c'] }], nodules)).toThrow(
      /both subset0 and subset1/,
    );
  });
});

describe('subset folders and the held-out filter', () => {
  it('finds the folders holding scans, in numeric order', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cv-test-'));
    for (const s of ['subset10', 'subset2', 'empty', '.hidden']) fs.mkdirSync(path.join(dir, s));
    for (const s of ['subset10', 'subset2', '.hidden']) fs.writeFileSync(path.join(dir, s, 'x.mhd'), '');
    fs.writeFileSync(path.join(dir, 'annotations.csv'), '');
    expect(await subsetFolders(dir)).toEqual(['subset2', 'subset10']);
    fs.rmSync(dir, { recursive: true });
  });
  it('keeps the tables and the files of the held-out subsets only', () => {
    const only = new Set(['subset1']);
    expect(inSubsets('data/annotations.csv', only)).toBe(true);
    expect(inSubsets('data/subset1/x.mhd', only)).toBe(true);
    expect(inSubsets('data/subset0/x.raw', only)).toBe(false);
    expect(inSubsets('subset1', only)).toBe(false);
    expect(inSubsets('data/subset1.zip', only)).toBe(true);
    expect(inSubsets('data/subset0.zip', only)).toBe(false);
  });
});
