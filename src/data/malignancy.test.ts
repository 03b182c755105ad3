/**
 * The malignancy task's candidates and sampling, and their parity with an independent Python
 * reference written from the book's p2ch14 rules (malignancy_reference.py in the project's
 * .venv; a missing venv is a failure, not a skip) on the real annotations_with_malignancy.csv.
 * LUNA16's candidates.csv is not on this machine, so the not-nodules are made up per real
 * series (and some class-1 rows, which the book drops) and written as a candidates.csv.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatCandidatesCsv, parseCandidates, parseMalignancy, type Candidate } from './luna-csv.ts';
import { malignancyCandidates, malignancyClassOf, malignancyPick, type MalignancyClass } from './malignancy.ts';
import { createRng } from './rng.ts';
import { splitCandidates, TrainingSampler, validationSamples, createSampling } from './sampler.ts';
import { defaultConfig } from '../config/lab-config.ts';

const PYTHON = path.join(process.cwd(), '.venv/bin/python');
const SCRIPT = path.join(process.cwd(), 'src/data/malignancy_reference.py');
const MAL_CSV = path.resolve(process.cwd(), '../shared/ct-samples/luna16-annotations/annotations_with_malignancy.csv');

const nod = (uid: string, x: number, d: number, malignant: boolean) => ({
  seriesUid: uid,
  xyz: [x, 0, 0] as [number, number, number],
  diameterMm: d,
  malignant,
});
const cand = (uid: string, x: number, isNodule: boolean): Candidate => ({ seriesUid: uid, xyz: [x, 0, 0], isNodule });

describe('malignancyCandidates: the book’s p2ch14 list', () => {
  it('takes nodules from the malignancy table, not-nodules from class 0, drops class 1, sorts as the book', () => {
    const list = malignancyCandidates(
      [cand('1.2', 5, true), cand('1.2', 7, false), cand('1.10', 9, false)],
      [nod('1.2', 1, 6, false), nod('1.2', 2, 4, true), nod('1.10', 3, 8, true)],
    );
    expect(list.map((c) => [c.isNodule, c.malignant, c.diameterMm, c.seriesUid, c.xyz[0]])).toEqual([
      [true, true, 8, '1.10', 3],
      [true, true, 4, '1.2', 2],
      [true, false, 6, '1.2', 1],
      [false, false, 0, '1.2', 7],
      [false, false, 0, '1.10', 9],
    ]);
    expect(list.map(malignancyClassOf)).toEqual(['malignant', 'malignant', 'benign', 'notNodule', 'notNodule']);
  });
});

describe('the malignancy sampler', () => {
  const train = malignancyCandidates(
    Array.from({ length: 30 }, (_, i) => cand('1.2', 100 + i, false)),
    [
      ...Array.from({ length: 3 }, (_, i) => nod('1.2', i, 5, true)),
      ...Array.from({ length: 7 }, (_, i) => nod('1.2', 10 + i, 5, false)),
    ],
  );

  it('draws malignant : benign : not-nodule at the ratio, labels malignant 1 and the rest 0', () => {
    const s = new TrainingSampler(
      train,
      { ratio: 1, epochSamples: 160, task: 'malignancy', malignancyRatio: [1, 5, 10] },
      createRng(3),
    );
    const epoch = s.nextEpoch();
    const counts: Record<MalignancyClass, number> = { malignant: 0, benign: 0, notNodule: 0 };
    for (const x of epoch) {
      counts[malignancyClassOf(x.candidate)]++;
      expect(x.label).toBe(x.candidate.malignant ? 1 : 0);
    }
    expect(counts).toEqual({ malignant: 10, benign: 50, notNodule: 100 });
    // Each cycle of 16: 1 malignant, 5 benign, 10 not-nodules.
    expect(epoch.slice(0, 16).map((x) => malignancyClassOf(x.candidate))).toEqual([
      'malignant',
      ...Array<string>(5).fill('benign'),
      ...Array<string>(10).fill('notNodule'),
    ]);
  });

  it('resumes from its state exactly, and refuses a ratio the data cannot give, naming the field', () => {
    const opts = { ratio: 1, epochSamples: 48, task: 'malignancy', malignancyRatio: [1, 5, 10] } as const;
    const a = new TrainingSampler(train, opts, createRng(9));
    a.nextEpoch();
    const state = a.state();
    expect(state).toMatchObject({ task: 'malignancy', positives: 3, benign: 7, negatives: 30 });
    const next = a.nextEpoch();
    const b = new TrainingSampler(train, opts, createRng(9));
    b.restore(JSON.parse(JSON.stringify(state)));
    expect(b.nextEpoch()).toEqual(next);

    const noBenign = train.filter((c) => !(c.isNodule && !c.malignant));
    expect(() => new TrainingSampler(noBenign, opts, createRng(1))).toThrow(
      /sampling\.malignancyRatio 1:5:10 asks for benign nodules, but the training set has none/,
    );
    expect(() => new TrainingSampler(noBenign, { ...opts, malignancyRatio: [1, 0, 4] }, createRng(1))).not.toThrow();
    expect(() => new TrainingSampler(train, { ...opts, malignancyRatio: [0, 5, 10] }, createRng(1))).toThrow(
      /sampling\.malignancyRatio 0:5:10: the malignant share must be at least 1/,
    );
  });

  it('validates on nodules only, labelled by malignancy; the nodule task is unchanged', () => {
    expect(validationSamples(train, 'malignancy').map((s) => [malignancyClassOf(s.candidate), s.label])).toEqual([
      ...Array.from({ length: 3 }, () => ['malignant', 1]),
      ...Array.from({ length: 7 }, () => ['benign', 0]),
    ]);
    expect(validationSamples(train).filter((s) => s.label === 1)).toHaveLength(10);
    // createSampling reads the task off the config.
    const cfg = defaultConfig();
    const { sampler } = createSampling(train, { ...cfg, task: 'malignancy' });
    expect(sampler.state().task).toBe('malignancy');
    expect(createSampling(train, cfg).sampler.state().task).toBeUndefined();
  });
});

describe('malignancy sampling: parity with the book’s rules in Python, on the real annotations_with_malignancy.csv', () => {
  it('agrees on the candidate list, the series split, the epoch’s classes and labels, and the validation set', () => {
    if (!fs.existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: run \`bash .ci/setup-venv\``);
    const malText = fs.readFileSync(MAL_CSV, 'utf8');
    const malignancy = parseMalignancy(malText, 'annotations_with_malignancy.csv');
    expect(malignancy.errors).toEqual([]);
    // Made-up candidates for the real series: not-nodules anywhere, a class-1 row near each nodule.
    const rng = createRng('malignancy parity');
    const uids = [...new Set(malignancy.rows.map((r) => r.seriesUid))];
    const rows: Candidate[] = [];
    for (const uid of uids) {
      for (let i = rng.int(5, 30); i > 0; i--) {
        rows.push({
          seriesUid: uid,
          xyz: [rng.uniform(-150, 150), rng.uniform(-150, 150), rng.uniform(-300, 0)],
          isNodule: false,
        });
      }
    }
    for (const a of malignancy.rows)
      rows.push({ seriesUid: a.seriesUid, xyz: [a.xyz[0] + 0.5, a.xyz[1], a.xyz[2]], isNodule: true });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'luna-malignancy-'));
    try {
      const candPath = path.join(dir, 'candidates.csv');
      const candText = formatCandidatesCsv(rows);
      fs.writeFileSync(candPath, candText);
      const out = path.join(dir, 'out.json');
      const EPOCH = 3200;
      const py = spawnSync(PYTHON, [SCRIPT, MAL_CSV, candPath, '10', '1,5,10', String(EPOCH), out], {
        encoding: 'utf8',
        timeout: 120_000,
      });
      if (py.status !== 0) throw new Error(`malignancy_reference.py failed: ${py.stderr}`);
      const ref = JSON.parse(fs.readFileSync(out, 'utf8')) as {
        list: [boolean, boolean, boolean, number, string, number, number, number][];
        train: Record<MalignancyClass, number>;
        validation: [string, number, number, number, number][];
        epoch: [MalignancyClass, number, number][];
      };

      const list = malignancyCandidates(parseCandidates(candText, 'candidates.csv').rows, malignancy.rows);
      expect(
        list.map((c) => [c.isNodule, c.isNodule, Boolean(c.malignant), c.diameterMm, c.seriesUid, ...c.xyz]),
      ).toEqual(ref.list);

      const split = splitCandidates(list, { validation: 'series', valStride: 10 }, 'malignancy');
      const counts: Record<MalignancyClass, number> = { malignant: 0, benign: 0, notNodule: 0 };
      for (const c of split.train) counts[malignancyClassOf(c)]++;
      expect(counts).toEqual(ref.train);
      expect(counts.malignant).toBeGreaterThan(300);

      // The pick arithmetic, sample by sample, over the training lists' sizes.
      const sizes = [counts.malignant, counts.benign, counts.notNodule] as const;
      const picks = Array.from({ length: EPOCH }, (_, ndx) => malignancyPick(ndx, [1, 5, 10], sizes));
      expect(picks.map((p) => [p.cls, p.index])).toEqual(ref.epoch.map(([cls, index]) => [cls, index]));

      // A shuffled epoch: the same classes in the same places, labels = mal_bool of what was drawn.
      const sampler = new TrainingSampler(
        split.train,
        { ratio: 1, epochSamples: EPOCH, task: 'malignancy', malignancyRatio: [1, 5, 10] },
        createRng(1),
      );
      const epoch = sampler.nextEpoch();
      expect(epoch.map((s) => malignancyClassOf(s.candidate))).toEqual(ref.epoch.map(([cls]) => cls));
      expect(epoch.map((s) => s.label)).toEqual(ref.epoch.map(([, , label]) => label));
      const malOf = new Map(malignancy.rows.map((r) => [`${r.seriesUid}|${r.xyz.join(',')}`, r.malignant]));
      for (const s of epoch) {
        if (s.candidate.isNodule)
          expect(s.label).toBe(malOf.get(`${s.candidate.seriesUid}|${s.candidate.xyz.join(',')}`) ? 1 : 0);
      }

      // Validation: the validation series' nodules, labelled by malignancy (order aside: the book lists benign first).
      const key = (v: readonly (string | number)[]) => JSON.stringify(v);
      const val = validationSamples(split.validation, 'malignancy').map((s) => [
        s.candidate.seriesUid,
        ...s.candidate.xyz,
        s.label,
      ]);
      expect(val.map(key).sort()).toEqual(ref.validation.map(key).sort());
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
