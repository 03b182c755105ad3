/**
 * Every error the CLI prints is one line, `luna-lab: <what>`, printed once, with the exit code
 * of its kind (2 usage, 1 failure); the stack only under LUNA_DEBUG. Cases that need no browser.
 */
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  truncateSync,
  writeFileSync,
  copyFileSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeError, onceIo } from './diagnostics.ts';
import { UsageError } from './args.ts';
import { runCli } from './run-cli.test-helper.ts';

const SAMPLES = resolve(process.cwd(), '../shared/ct-samples');
let dir: string;
let cwd: string;

async function run(argv: string[]) {
  const { code, errCalls } = await runCli(...argv);
  return { code, err: errCalls };
}

beforeAll(async () => {
  cwd = process.cwd();
  dir = mkdtempSync(join(tmpdir(), 'luna-errors-'));
  // A good tiny scan, the same scan with its .raw cut short, a folder of tables only.
  expect((await run(['synth', '--out', join(dir, 'good'), '--scans', '1', '--size', 'tiny', '--seed', '3'])).code).toBe(
    0,
  );
  mkdirSync(join(dir, 'short'));
  for (const f of readdirSync(join(dir, 'good', 'subset0')))
    copyFileSync(join(dir, 'good', 'subset0', f), join(dir, 'short', f));
  const raw = readdirSync(join(dir, 'short')).find((f) => f.endsWith('.raw'))!;
  truncateSync(join(dir, 'short', raw), Math.floor(statSync(join(dir, 'short', raw)).size / 2));
  mkdirSync(join(dir, 'tables'));
  writeFileSync(join(dir, 'tables', 'annotations.csv'), 'seriesuid,coordX,coordY,coordZ,diameter_mm\n');
  writeFileSync(join(dir, 'bad.json'), '{');
  // Paths relative to where the user stands are shown as given.
  process.chdir(dir);
});
afterAll(() => {
  process.chdir(cwd);
  rmSync(dir, { recursive: true, force: true });
});

/** argv, exit code, what the one line says (a substring, after the prefix). */
const CASES: [string[], 1 | 2, string | RegExp][] = [
  [['frobnicate'], 2, /frobnicate/],
  [['inspect'], 2, 'Missing PATH'],
  [['inspect', 'good', '--frob'], 2, /--frob/],
  [['crop', 'good', '--xyz', '1,2'], 2, '--xyz "1,2"'],
  [['crop', 'good'], 2, 'Missing --xyz'],
  [['synth', '--out', 'x', '--size', 'huge'], 2, 'Expecting one of: tiny, small, full'],
  [['synth'], 2, 'Missing --out DIR'],
  [['url'], 2, 'Give --config FILE or --decode LAB_URL'],

  [['url', '--decode', 'http://127.0.0.1/#nonsense'], 2, 'the lab URL cannot be used'],
  [['train'], 2, 'Missing --data DIR'],

  [['train', '--data', 'good', '--epochs', 'zero'], 2, '--epochs "zero"'],
  [['train', '--resume', 'nope', '--data', 'good'], 2, '--resume continues the run as it was configured: drop --data'],
  [['eval', '--data', 'good'], 2, 'Missing --model'],
  // Input: a path that is not there or a file that does not hold what it should (exit 1), whichever flag names it.
  [['inspect', 'nope/x.mhd'], 1, 'nope/x.mhd: no such file or folder'],
  [['train', '--data', 'nope'], 1, '--data nope: no such file or folder'],
  [['cv', '--data', 'nope'], 1, '--data nope: no such file or folder'],
  [['url', '--config', 'nope.json'], 1, '--config nope.json: cannot read the file'],
  [['train', '--data', 'good', '--config', 'bad.json'], 1, '--config bad.json: not a lab config'],
  [['url', '--config', 'bad.json'], 1, '--config bad.json: not a lab config'],
  [['sweep', '--grid', 'nope.json', '--data', 'good'], 1, '--grid nope.json: cannot read the file'],
  [['inspect', 'tables'], 1, 'no CT series found in tables'],
  [['inspect', 'short'], 1, /^short\/[\d.]+\.raw holds \d+ bytes/],
  [['inspect', join(SAMPLES, 'luna16-header-only-raw-missing')], 1, /102133688497886810253331438797\.raw/],
  [['crop', 'good', '--xyz', '0,0,100000'], 1, 'outside the volume of shape'],
  // Negative values are values: a range error for --lr -1 (usage), a point outside the scan for --xyz.
  [['train', '--data', 'good', '--lr', '-1'], 2, '--lr "-1": optimizer.lr out of range'],
  [['synth', '--out', 'x', '--scans', '-3'], 2, '--scans "-3" must be an integer from 1 to 10000'],
  [['crop', 'good', '--xyz', '-57.9,-12.1,-60000.9'], 1, 'world point -57.9, -12.1, -60000.9 is voxel'],
  [
    ['train', '--resume', 'nope'],
    1,
    'nope/run.json is missing: --resume needs the --out folder of an earlier luna-lab train',
  ],
];

describe('CLI errors', () => {
  it.each(CASES)('%j exits %i with one line luna-lab: …', async (argv, code, what) => {
    const r = await run(argv);
    expect(r.code).toBe(code);
    expect(r.err).toHaveLength(1);
    const [line] = r.err;
    expect(line).toMatch(/^luna-lab: \S[^\n]*$/);
    expect(line).not.toMatch(/\b(Usage|Eval|Data|Device)?Error: /);
    expect(line).not.toContain(dir); // named as given, not as a full path
    const said = line.slice('luna-lab: '.length);
    if (typeof what === 'string') expect(said).toContain(what);
    else expect(said).toMatch(what);
  });

  it('reports every bad flag value at once, one line each, before reading any file', async () => {
    const r = await run([
      'train',
      '--data',
      'nope',
      '--config',
      'nope.json',
      '--epochs',
      'zero',
      '--lr',
      '-1',
      '--device',
      'warp',
      '--set',
      'model.depth=3',
    ]);
    expect(r.code).toBe(2);
    expect(r.err).toHaveLength(4);
    expect(r.err).toEqual(
      expect.arrayContaining([
        "luna-lab: Invalid --device 'warp'. Expecting one of: auto, gpu, cpu",
        expect.stringMatching(/^luna-lab: --epochs "zero": train\.epochs /),
        expect.stringMatching(/^luna-lab: --lr "-1": optimizer\.lr out of range/),
        'luna-lab: --set model.depth: unknown setting "model.depth"',
      ]),
    );
    const s = await run(['synth', '--scans', '0', '--size', 'huge', '--seed', 'x']);
    expect(s.code).toBe(2);
    expect(s.err.map((l) => l.replace(/^luna-lab: /, '').split(/[ .]/)[0])).toEqual([
      'Missing',
      '--scans',
      'Invalid',
      '--seed',
    ]);
    const c = await run(['crop', 'good', '--xyz', '1,2', '--size', '0,1,2']);
    expect(c.err).toHaveLength(2);
  });

  it('LUNA_DEBUG adds the stack after the line', async () => {
    process.env.LUNA_DEBUG = '1';
    try {
      const r = await run(['inspect', 'nope/x.mhd']);
      expect(r.code).toBe(1);
      expect(r.err).toHaveLength(1);
      const lines = r.err[0].split('\n');
      expect(lines[0]).toBe('luna-lab: nope/x.mhd: no such file or folder');
      expect(lines.slice(1).some((l) => /^\s+at /.test(l))).toBe(true);
    } finally {
      delete process.env.LUNA_DEBUG;
    }
  });
});

describe('describeError and onceIo', () => {
  it('puts the first line of the message after the prefix; non-Errors too', () => {
    expect(describeError(new UsageError('bad --x'), false)).toBe('luna-lab: bad --x');
    expect(describeError('plain', false)).toBe('luna-lab: plain');
    expect(describeError(new Error('first\nsecond'), false)).toBe('luna-lab: first');
  });

  it('prints a diagnostic line once, other lines every time', () => {
    const err: string[] = [];
    const io = onceIo({ out: () => {}, err: (s) => err.push(s) });
    for (const s of ['luna-lab: a', 'luna-lab: a', 'progress 1/2', 'progress 1/2', 'luna-lab: b']) io.err(s);
    expect(err).toEqual(['luna-lab: a', 'progress 1/2', 'progress 1/2', 'luna-lab: b']);
  });
});
