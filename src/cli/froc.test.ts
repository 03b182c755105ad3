/**
 * `luna-lab froc` on a submission built from LUNA16's real tables
 * (../shared/ct-samples/luna16-annotations: annotations.csv, annotations_excluded.csv,
 * seriesuids.csv): seeded random marks around real nodules and real excluded findings, random
 * false positives (over 100 on some scans), scored against the full 888-scan list; the CPM is
 * the NumPy reference's (src/eval/froc_reference.py, the official script's rules).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './run-cli.test-helper.ts';
import { createRng } from '../data/rng.ts';
import { CPM_FPS, type ScoredCandidate } from '../eval/froc.ts';
import { formatSubmission, parseFindings, parseSeriesUids } from '../eval/submission.ts';

const TABLES = path.join(process.cwd(), '../shared/ct-samples/luna16-annotations');
const ANNOTATIONS = path.join(TABLES, 'annotations.csv');
const EXCLUDED = path.join(TABLES, 'annotations_excluded.csv');
const SERIESUIDS = path.join(TABLES, 'seriesuids.csv');
const PYTHON = path.join(process.cwd(), '.venv/bin/python');
const SCRIPT = path.join(process.cwd(), 'src/eval/froc_reference.py');

const run = runCli;

let dir: string;
let submission: string;
let marks: ScoredCandidate[];

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'luna-froc-cli-'));
  const nodules = parseFindings(fs.readFileSync(ANNOTATIONS, 'utf8'), ANNOTATIONS);
  const excluded = parseFindings(fs.readFileSync(EXCLUDED, 'utf8'), EXCLUDED);
  const scans = parseSeriesUids(fs.readFileSync(SERIESUIDS, 'utf8'), SERIESUIDS);
  const rng = createRng(16).fork('froc-cli-submission');
  // 150 of the 888 scans get marks; the others are listed scans without any.
  const marked = new Set(rng.shuffle([...scans]).slice(0, 150));
  marks = [];
  const around = (uid: string, xyz: readonly number[], d: number, k: number) => {
    for (let m = 0; m < k; m++) {
      const r = (d < 0 ? 10 : d) * rng.uniform(0, 0.7);
      const v = [rng.normal(), rng.normal(), rng.normal()];
      const len = Math.hypot(...v);
      marks.push({
        seriesUid: uid,
        xyz: [xyz[0] + (v[0] / len) * r, xyz[1] + (v[1] / len) * r, xyz[2] + (v[2] / len) * r],
        probability: Math.round(rng.uniform(0.1, 1) * 1000) / 1000,
      });
    }
  };
  for (const n of nodules) if (marked.has(n.seriesUid)) around(n.seriesUid, n.xyz, n.diameterMm, rng.int(0, 4));
  for (const e of excluded)
    if (marked.has(e.seriesUid) && rng.chance(0.2)) around(e.seriesUid, e.xyz, e.diameterMm, rng.int(1, 3));
  for (const uid of marked) {
    const near = nodules.find((n) => n.seriesUid === uid)?.xyz ?? [0, 0, -150];
    const k = rng.chance(0.3) ? rng.int(100, 160) : rng.int(5, 60);
    for (let m = 0; m < k; m++)
      marks.push({
        seriesUid: uid,
        xyz: [near[0] + rng.uniform(-150, 150), near[1] + rng.uniform(-150, 150), near[2] + rng.uniform(-150, 150)],
        probability: Math.round(rng.next() ** 2 * 1000) / 1000,
      });
  }
  rng.shuffle(marks);
  submission = path.join(dir, 'submission.csv');
  fs.writeFileSync(submission, formatSubmission(marks));
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

interface Report {
  cpm: number;
  scans: number;
  marks: number;
  nodules: number;
  detected: number;
  falsePositives: number;
  excludedMarks: number;
  overLimit: number;
  sensitivities: { fpsPerScan: number; sensitivity: number }[];
  band: { samples: number; sensitivities: { lower: number; upper: number }[]; cpm: { lower: number; upper: number } };
}

describe('luna-lab froc', () => {
  it("scores a submission on LUNA16's real tables as the reference does", async () => {
    const r = await run(
      'froc',
      '--submission',
      submission,
      '--annotations',
      ANNOTATIONS,
      '--excluded',
      EXCLUDED,
      '--seriesuids',
      SERIESUIDS,
      '--json',
    );
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out) as Report;
    expect(j).toMatchObject({ scans: 888, nodules: 1186, marks: marks.length });
    expect(j.excludedMarks).toBeGreaterThan(0);
    expect(j.overLimit).toBeGreaterThan(0);
    expect(j.band.samples).toBe(1000);
    expect(j.band.cpm.lower).toBeLessThan(j.cpm);
    expect(j.band.cpm.upper).toBeGreaterThan(j.cpm);

    if (!fs.existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: run \`bash .ci/setup-venv\``);
    const rows = (file: string) =>
      parseFindings(fs.readFileSync(file, 'utf8'), file).map((x) => [x.seriesUid, ...x.xyz, x.diameterMm]);
    const input = path.join(dir, 'in.json');
    const output = path.join(dir, 'out.json');
    fs.writeFileSync(
      input,
      JSON.stringify({
        scans: parseSeriesUids(fs.readFileSync(SERIESUIDS, 'utf8'), SERIESUIDS),
        nodules: rows(ANNOTATIONS),
        excluded: rows(EXCLUDED),
        candidates: marks.map((m) => [m.seriesUid, ...m.xyz, m.probability]),
      }),
    );
    const py = spawnSync(PYTHON, [SCRIPT, input, output], { encoding: 'utf8', timeout: 120_000 });
    if (py.status !== 0) throw new Error(`froc_reference.py failed: ${py.stderr}`);
    const ref = JSON.parse(fs.readFileSync(output, 'utf8')) as {
      cpm: number;
      sensitivities: number[];
      detected: number;
      fp: number;
      excludedMarks: number;
      overLimit: number;
    };
    expect([j.detected, j.falsePositives, j.excludedMarks, j.overLimit]).toEqual([
      ref.detected,
      ref.fp,
      ref.excludedMarks,
      ref.overLimit,
    ]);
    j.sensitivities.forEach((s, i) => expect(s.sensitivity).toBeCloseTo(ref.sensitivities[i], 12));
    expect(j.cpm).toBeCloseTo(ref.cpm, 12);
    // The excluded findings matter here: without them those marks are false positives.
    const without = JSON.parse(
      (
        await run(
          'froc',
          '--submission',
          submission,
          '--annotations',
          ANNOTATIONS,
          '--seriesuids',
          SERIESUIDS,
          '--json',
        )
      ).out,
    ) as Report;
    expect(without.falsePositives).toBe(j.falsePositives + j.excludedMarks);
  }, 120_000);

  it('prints CPM, the seven sensitivities with their band, and says which scans it divided by', async () => {
    const r = await run('froc', '--submission', submission, '--annotations', ANNOTATIONS, '--excluded', EXCLUDED);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/150 scans \(the 150 scans the submission marks \(no --seriesuids\)\)/);
    for (const fp of CPM_FPS)
      expect(r.out).toMatch(
        new RegExp(`^\\s+${String(fp).replace('.', '\\.')}\\s+\\d+\\.\\d%  \\d+\\.\\d%–\\d+\\.\\d%$`, 'm'),
      );
    expect(r.out).toMatch(/CPM \d\.\d{4} {2}\(band \d\.\d{4}–\d\.\d{4}\)/);
  }, 60_000);

  it('names a missing file, a bad row, a missing flag', async () => {
    const missing = await run('froc', '--submission', path.join(dir, 'nope.csv'), '--annotations', ANNOTATIONS);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/^luna-lab: --submission .*nope\.csv: no such file/);
    const bad = path.join(dir, 'bad.csv');
    fs.writeFileSync(bad, 'seriesuid,coordX,coordY,coordZ,probability\nA,1,2,3,high\n');
    const b = await run('froc', '--submission', bad, '--annotations', ANNOTATIONS);
    expect(b.code).toBe(1);
    expect(b.err).toMatch(/^luna-lab: .*bad\.csv:2:5: probability "high" is not a number/);
    const usage = await run('froc', '--submission', submission);
    expect(usage.code).toBe(2);
    expect(usage.err).toMatch(/^luna-lab: Missing --annotations/);
  });
});
