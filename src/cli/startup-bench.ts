/**
 * `npm run bench:cli`: how long `luna-lab` takes to start and answer a quick command, the
 * compiled CLI (dist/cli, what bin/luna-lab.js runs) against the sources through tsx (its
 * cache cold, as on a fresh checkout, and warm) and, given `--before DIR`, an older checkout's
 * bin/luna-lab.js. Every figure is from this one run; the section replaces its namesake in
 * BENCHMARKS.md (`--out FILE` elsewhere). Timings live here, never in tests.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { before: { type: 'string' }, out: { type: 'string' }, runs: { type: 'string' } },
});
const RUNS = Number(values.runs ?? 7);
const ROOT = process.cwd();
const TITLE = '## CLI start-up: compiled (dist/cli) vs transpiled at each start (tsx)';

const tmp = mkdtempSync(join(tmpdir(), 'luna-startup-'));
const built = spawnSync(
  process.execPath,
  ['bin/luna-lab.js', 'synth', '--out', tmp, '--scans', '1', '--size', 'tiny', '--seed', '1'],
  { encoding: 'utf8' },
);
if (built.status !== 0) throw new Error(`luna-lab synth failed: ${built.stderr}`);
const mhd = join(
  tmp,
  'subset0',
  readdirSync(join(tmp, 'subset0')).find((f) => f.endsWith('.mhd'))!,
);

const COMMANDS: { name: string; argv: string[] }[] = [
  { name: '`--help`', argv: ['--help'] },
  { name: "`url --decode '#v=2&model.blocks=2'`", argv: ['url', '--decode', '#v=2&model.blocks=2'] },
  { name: '`inspect` of a tiny scan (32×48×48)', argv: ['inspect', mhd] },
];

interface Variant {
  name: string;
  cwd: string;
  env: Record<string, string>;
}
const VARIANTS: Variant[] = [
  ...(values.before
    ? [{ name: 'before: tsx, cold cache', cwd: resolve(values.before), env: { TSX_DISABLE_CACHE: '1' } }]
    : []),
  ...(values.before ? [{ name: 'before: tsx, warm cache', cwd: resolve(values.before), env: {} }] : []),
  { name: 'now: tsx (LUNA_CLI_DEV=1), cold cache', cwd: ROOT, env: { LUNA_CLI_DEV: '1', TSX_DISABLE_CACHE: '1' } },
  { name: 'now: tsx (LUNA_CLI_DEV=1), warm cache', cwd: ROOT, env: { LUNA_CLI_DEV: '1' } },
  { name: 'now: compiled (`npm run build`)', cwd: ROOT, env: {} },
];

function seconds(v: Variant, argv: string[]): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, ['bin/luna-lab.js', ...argv], {
    cwd: v.cwd,
    env: { ...process.env, ...v.env },
    encoding: 'utf8',
  });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${v.name}: luna-lab ${argv.join(' ')} exited ${r.status}: ${r.stderr}`);
  return s;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const node = median(
  Array.from({ length: RUNS }, () => {
    const t0 = process.hrtime.bigint();
    spawnSync(process.execPath, ['-e', '']);
    return Number(process.hrtime.bigint() - t0) / 1e9;
  }),
);
const load = loadavg()[0];
const rows: string[] = [];
for (const v of VARIANTS) {
  // One unmeasured start warms the file cache (and tsx's own cache, where it is on).
  seconds(v, COMMANDS[0].argv);
  const cells = COMMANDS.map((c) => median(Array.from({ length: RUNS }, () => seconds(v, c.argv))).toFixed(2));
  rows.push(`| ${v.name} | ${cells.join(' | ')} |`);
  process.stdout.write(`${rows.at(-1)}\n`);
}
rmSync(tmp, { recursive: true, force: true });

const cpu = cpus();
const section = [
  TITLE,
  '',
  `Wall time from spawning \`node bin/luna-lab.js …\` to its exit, median of ${RUNS} (after one unmeasured start), seconds; ` +
    `measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC by \`npm run bench:cli\` on ${cpu[0]?.model ?? 'unknown'} × ${cpu.length} cores, ` +
    `${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Node ${process.version}; load average ${load.toFixed(2)} at the start ` +
    `(the machine is shared with other work: figures are for comparison within this run). \`node -e ''\` alone: ${node.toFixed(2)} s.`,
  '"before" is the checkout before the CLI was compiled (bin/luna-lab.js registered tsx and imported src/cli/main.ts, which loaded the scan readers for every command); ' +
    '"cold cache" is tsx\'s first start on a fresh checkout (TSX_DISABLE_CACHE=1).',
  '',
  `| how the CLI runs | ${COMMANDS.map((c) => c.name).join(' | ')} |`,
  `| --- | ${COMMANDS.map(() => '---:').join(' | ')} |`,
  ...rows,
  '',
].join('\n');

const out = values.out ?? join(ROOT, 'BENCHMARKS.md');
const text = existsSync(out) ? readFileSync(out, 'utf8') : '# Luna Lab benchmarks\n\n';
const at = text.indexOf(TITLE);
const next = at < 0 ? -1 : text.indexOf('\n## ', at + TITLE.length);
const updated =
  at < 0 ? `${text.trimEnd()}\n\n${section}` : `${text.slice(0, at)}${section}${next < 0 ? '' : text.slice(next + 1)}`;
writeFileSync(out, updated.trimEnd() + '\n');
process.stdout.write(`wrote ${out}\n`);
