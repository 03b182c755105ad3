/**
 * `luna-lab eval` end to end in-process: a synthetic LUNA16 folder written by `luna-lab synth`,
 * a model exported by the lab (a small LunaModel, 16×24×24), CPM and the seven sensitivities as
 * text and as JSON; the JSON's numbers follow from its own predictions (froc.ts is tested
 * separately), and the error cases exit 1 (2 for usage) with the file or field named.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './run-cli.test-helper.ts';
import { buildLunaModel } from '../model/luna-model.ts';
import { exportOnnx } from '../model/onnx-export.ts';
import { CPM_FPS } from '../eval/froc.ts';

const run = runCli;

let dir: string;
let data: string;
let model: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'luna-eval-'));
  data = path.join(dir, 'luna');
  expect((await run('synth', '--out', data, '--scans', '3', '--size', 'tiny', '--seed', '5')).code).toBe(0);
  await tf.setBackend('cpu');
  const m = buildLunaModel({ blocks: 2, width: 4, blockNorm: false, dropout: 'none', dropoutRate: 0 }, [16, 24, 24], 3);
  // Input statistics of CT, so the untrained net's outputs vary with the crop.
  m.getLayer('tail_bn').setWeights([tf.tensor1d([1]), tf.tensor1d([0]), tf.tensor1d([-500]), tf.tensor1d([250000])]);
  model = path.join(dir, 'model.onnx');
  fs.writeFileSync(model, exportOnnx(m, [16, 24, 24]));
  m.dispose();
}, 120_000);

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

interface Report {
  scans: number;
  candidates: number;
  nodules: number;
  detected: number;
  falsePositives: number;
  provider: string;
  crop: number[];
  cpm: number;
  sensitivities: { fpsPerScan: number; sensitivity: number }[];
  curve: { fpsPerScan: number; sensitivity: number; threshold: number | null }[];
}

describe('luna-lab eval', () => {
  it('prints CPM and the seven sensitivities; --json is one object with the same figures', async () => {
    const text = await run('eval', '--model', model, '--data', data);
    expect(text.code).toBe(0);
    expect(text.out).toMatch(/CPM \d\.\d{4}/);
    for (const fp of CPM_FPS)
      expect(text.out).toMatch(new RegExp(`^\\s+${String(fp).replace('.', '\\.')}\\s+\\d+\\.\\d%$`, 'm'));
    expect(text.out).toContain('onnxruntime-web wasm');

    const r = await run('eval', '--model', model, '--data', data, '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out) as Report;
    const rows = fs.readFileSync(path.join(data, 'candidates.csv'), 'utf8').trim().split('\n').length - 1;
    const nodules = fs.readFileSync(path.join(data, 'annotations.csv'), 'utf8').trim().split('\n').length - 1;
    expect(j).toMatchObject({ scans: 3, candidates: rows, nodules, provider: 'wasm', crop: [16, 24, 24] });
    expect(j.sensitivities.map((s) => s.fpsPerScan)).toEqual([...CPM_FPS]);
    expect(j.cpm).toBeCloseTo(j.sensitivities.reduce((a, s) => a + s.sensitivity, 0) / 7, 12);
    expect(j.curve[0]).toEqual({ fpsPerScan: 0, sensitivity: 0, threshold: null });
    expect(j.curve[j.curve.length - 1].fpsPerScan).toBeCloseTo(j.falsePositives / 3, 12);
    expect(j.detected).toBeGreaterThan(0); // the synthetic candidates sit on the nodules
    const cpm = Number(/CPM (\d\.\d{4})/.exec(text.out)![1]);
    expect(cpm).toBeCloseTo(j.cpm, 4);
  }, 120_000);

  it('names a missing model file, a wrong model, a folder without scans or without annotations', async () => {
    const missing = await run('eval', '--model', path.join(dir, 'nope.onnx'), '--data', data);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/^luna-lab: model file .*nope\.onnx: no such file/m);

    const wrong = path.join(dir, 'wrong.onnx');
    fs.copyFileSync(path.join(data, 'annotations.csv'), wrong);
    const w = await run('eval', '--model', wrong, '--data', data);
    expect(w.code).toBe(1);
    expect(w.err).toMatch(/^luna-lab: wrong\.onnx/m);

    const empty = path.join(dir, 'empty');
    fs.mkdirSync(empty);
    fs.copyFileSync(path.join(data, 'annotations.csv'), path.join(empty, 'annotations.csv'));
    const e = await run('eval', '--model', model, '--data', empty);
    expect(e.code).toBe(1);
    expect(e.err).toMatch(/^luna-lab: no CT scans found in .*empty/m);

    const noAnn = path.join(dir, 'no-annotations');
    fs.cpSync(data, noAnn, { recursive: true });
    fs.rmSync(path.join(noAnn, 'annotations.csv'));
    const a = await run('eval', '--model', model, '--data', noAnn);
    expect(a.code).toBe(1);
    expect(a.err).toMatch(/^luna-lab: no annotations\.csv in .*no-annotations/m);

    const usage = await run('eval', '--data', data);
    expect(usage.code).toBe(2);
    expect(usage.err).toMatch(/^luna-lab: Missing --model/m);
  }, 120_000);

  it('--out writes an official submission that `luna-lab froc` scores to the same figures; --excluded ignores marks', async () => {
    const out = path.join(dir, 'out');
    // An excluded finding (diameter −1: 10 mm) on the first non-nodule candidate.
    const cand = fs
      .readFileSync(path.join(data, 'candidates.csv'), 'utf8')
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split(','));
    const fp = cand.find((f) => f[4] === '0')!;
    const excluded = path.join(dir, 'excluded.csv');
    fs.writeFileSync(excluded, `seriesuid,coordX,coordY,coordZ,diameter_mm\n${fp.slice(0, 4).join(',')},-1\n`);
    const e = await run('eval', '--model', model, '--data', data, '--out', out, '--excluded', excluded, '--json');
    expect(e.code).toBe(0);
    const j = JSON.parse(e.out) as Report & {
      excludedMarks: number;
      band: { samples: number; cpm: object };
      predictions?: unknown;
    };
    expect(j.predictions).toBeUndefined();
    expect(j.excludedMarks).toBeGreaterThan(0);
    expect(j.band.samples).toBe(1000);
    expect(fs.readdirSync(out).sort()).toEqual(['eval.json', 'froc.svg', 'seriesuids.csv', 'submission.csv']);
    expect(JSON.parse(fs.readFileSync(path.join(out, 'eval.json'), 'utf8'))).toEqual(j);
    expect(fs.readFileSync(path.join(out, 'submission.csv'), 'utf8').split('\n')[0]).toBe(
      'seriesuid,coordX,coordY,coordZ,probability',
    );
    expect(fs.readFileSync(path.join(out, 'froc.svg'), 'utf8')).toMatch(/^<svg /);
    const plain = JSON.parse((await run('eval', '--model', model, '--data', data, '--json')).out) as Report;
    expect(plain.falsePositives).toBe(j.falsePositives + j.excludedMarks);

    const f = await run(
      'froc',
      '--submission',
      path.join(out, 'submission.csv'),
      '--annotations',
      path.join(data, 'annotations.csv'),
      '--excluded',
      excluded,
      '--seriesuids',
      path.join(out, 'seriesuids.csv'),
      '--json',
    );
    expect(f.code).toBe(0);
    const k = JSON.parse(f.out) as Report & { band: unknown; excludedMarks: number };
    expect(k.cpm).toBe(j.cpm);
    expect(k.sensitivities).toEqual(j.sensitivities);
    expect(k.band).toEqual(j.band);
    expect([k.scans, k.detected, k.falsePositives, k.excludedMarks]).toEqual([
      j.scans,
      j.detected,
      j.falsePositives,
      j.excludedMarks,
    ]);
  }, 120_000);

  it('divides by every scan found, one that fails to load included; --seriesuids sets the list', async () => {
    const broken = path.join(dir, 'broken');
    fs.cpSync(data, broken, { recursive: true });
    const raws = fs
      .readdirSync(path.join(broken, 'subset0'))
      .filter((n) => n.endsWith('.raw'))
      .sort();
    const failed = raws[0].replace(/\.raw$/, '');
    fs.truncateSync(path.join(broken, 'subset0', raws[0]), 100);
    const b = await run('eval', '--model', model, '--data', broken, '--json');
    expect(b.code).toBe(0);
    const j = JSON.parse(b.out) as Report & { unscored: string[]; warnings: string[] };
    expect(j.scans).toBe(3);
    expect(j.unscored).toEqual([failed]);
    expect(j.warnings.join('\n')).toMatch(/1 listed scan\(s\) not scored/);

    const list = path.join(dir, 'list.csv');
    const others = raws.slice(1).map((n) => n.replace(/\.raw$/, ''));
    fs.writeFileSync(list, `${others[0]}\nNOT.IN.DATA\n`);
    const l = await run('eval', '--model', model, '--data', data, '--seriesuids', list);
    expect(l.code).toBe(0);
    expect(l.out).toMatch(/2 scans \(.*list\.csv; 1 not scored, counted with no marks\)/);
    expect(l.err).toContain(`scored`);
    expect(l.err).not.toContain(others[1]); // not on the list: not scored
  }, 120_000);
});
