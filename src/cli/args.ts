/**
 * Command-line parsing for `luna-lab`, separate from running so it can be unit-tested.
 * Options are declared as data per command; values are validated before any work, and
 * usage errors list the valid choices.
 */
import { parseArgs as nodeParseArgs } from 'node:util';

export class UsageError extends Error {
  override name = 'UsageError';
}

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** Help text, with an example value. */
  help: string;
}

export interface CommandSpec {
  summary: string;
  usage: string;
  /** Names of positional arguments, in order; a trailing '?' marks one optional. */
  positionals: string[];
  options: Record<string, OptionSpec>;
  examples: string[];
}

export const COMMANDS = {
  inspect: {
    summary: 'Read CT files (MetaImage .mhd/.mha, DICOM) and print what they hold',
    usage: 'luna-lab inspect PATH [--json]',
    positionals: ['PATH'],
    options: { json: { type: 'boolean', help: 'print one JSON object instead of text' } },
    examples: ['luna-lab inspect data/subset0/1.3.6.1.4.1.14519.5.2.1.6279.6001.1052.mhd', 'luna-lab inspect dicom-folder/ --json'],
  },
  crop: {
    summary: "Cut the book's candidate crop around a world point and print its HU statistics",
    usage: 'luna-lab crop PATH --xyz X,Y,Z [--size D,H,W] [--json]',
    positionals: ['PATH'],
    options: {
      xyz: { type: 'string', help: 'centre in world mm, for example "56.2,86.3,-115.9"' },
      size: { type: 'string', help: 'crop size index,row,col (default "32,48,48")' },
      json: { type: 'boolean', help: 'print one JSON object instead of text' },
    },
    examples: ['luna-lab crop scan.mhd --xyz -100.5,67.3,-231.8', 'luna-lab crop lidc/ --xyz 56.2,86.3,-115.9 --size 16,48,48 --json'],
  },
  synth: {
    summary: 'Write a synthetic LUNA16-format dataset (subsetN/*.mhd + .raw, annotations.csv, candidates.csv)',
    usage: 'luna-lab synth --out DIR [--scans N] [--size tiny|small|full] [--seed S] [--subsets K]',
    positionals: [],
    options: {
      out: { type: 'string', help: 'output folder, for example "data/synthetic"' },
      scans: { type: 'string', help: 'number of scans (default 4)' },
      size: { type: 'string', help: 'tiny | small | full (default small; full is 512×512×~120)' },
      seed: { type: 'string', help: 'integer seed (default 1)' },
      subsets: { type: 'string', help: 'spread scans over subset0..K-1 (default 1)' },
    },
    examples: ['luna-lab synth --out /tmp/luna --scans 8 --size tiny --seed 7'],
  },
  mlflow: {
    summary: "Start a local MLflow tracking server from the project's venv (sqlite, artifacts served)",
    usage: 'luna-lab mlflow [--port N] [--dir DIR]',
    positionals: [],
    options: {
      port: { type: 'string', help: 'port on 127.0.0.1 (default 5000)' },
      dir: { type: 'string', help: 'where the database and artifacts live (default ".cache/mlflow")' },
    },
    examples: ['npm run mlflow', 'luna-lab mlflow --port 5055 --dir /tmp/mlflow'],
  },
  bench: {
    summary: 'Measure the lab in headless Chromium and write BENCHMARKS.md',
    usage: 'luna-lab bench [--out FILE] [--only ingest]',
    positionals: [],
    options: {
      out: { type: 'string', help: 'where to write the report (default "BENCHMARKS.md")' },
      only: { type: 'string', help: 'run only these benchmarks, for example "ingest"' },
    },
    examples: ['npm run bench', 'luna-lab bench --out /tmp/bench.md'],
  },
} satisfies Record<string, CommandSpec>;

export type CommandName = keyof typeof COMMANDS;

export interface ParsedArgs {
  command: CommandName | 'help' | 'version';
  positionals: string[];
  values: Record<string, string | boolean | undefined>;
}

export function parseArgs(argv: readonly string[]): ParsedArgs {
  const [first, ...rest] = argv;
  if (first === undefined || first === 'help' || first === '--help' || first === '-h') {
    return { command: 'help', positionals: rest, values: {} };
  }
  if (first === '--version' || first === '-v') return { command: 'version', positionals: [], values: {} };
  if (!(first in COMMANDS)) {
    throw new UsageError(`Unknown command '${first}'. Expecting one of: ${Object.keys(COMMANDS).join(', ')}`);
  }
  const command = first as CommandName;
  const spec: CommandSpec = COMMANDS[command];
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = { help: { type: 'boolean' } };
  for (const [k, o] of Object.entries(spec.options)) options[k] = o.short ? { type: o.type, short: o.short } : { type: o.type };
  let parsed;
  try {
    parsed = nodeParseArgs({ args: [...rest], options, allowPositionals: true, strict: true, tokens: true });
  } catch (e) {
    throw new UsageError(`${(e as Error).message.replace(/\. To specify.*$/s, '')} (see 'luna-lab ${command} --help')`);
  }
  const seen = new Set<string>();
  for (const t of parsed.tokens ?? []) {
    if (t.kind !== 'option') continue;
    if (seen.has(t.name)) throw new UsageError(`Expected a single value for option --${t.name}`);
    seen.add(t.name);
  }
  if ((parsed.values as Record<string, unknown>).help) return { command: 'help', positionals: [command], values: {} };
  const required = spec.positionals.filter((p) => !p.endsWith('?'));
  if (parsed.positionals.length < required.length) {
    throw new UsageError(`Missing ${required.slice(parsed.positionals.length).join(', ')}. Usage: ${spec.usage}`);
  }
  if (parsed.positionals.length > spec.positionals.length) {
    throw new UsageError(`Unexpected argument '${parsed.positionals[spec.positionals.length]}'. Usage: ${spec.usage}`);
  }
  return { command, positionals: parsed.positionals, values: parsed.values as ParsedArgs['values'] };
}

/** "1,2,3" → three finite numbers, or a UsageError naming the option. */
export function parseTriple(raw: string | undefined, option: string, integer = false): [number, number, number] {
  const parts = (raw ?? '').split(',').map((s) => s.trim());
  const nums = parts.map(Number);
  if (parts.length !== 3 || parts.some((p) => p === '') || nums.some((n) => !Number.isFinite(n)) || (integer && nums.some((n) => !Number.isInteger(n) || n <= 0))) {
    throw new UsageError(
      `--${option} "${raw ?? ''}" is not three ${integer ? 'positive integers' : 'numbers'} separated by commas (for example ${integer ? '32,48,48' : '-100.5,67.2,-231.8'})`,
    );
  }
  return [nums[0], nums[1], nums[2]];
}

export function parseInteger(raw: string | undefined, option: string, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!/^-?\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`--${option} "${raw}" must be an integer from ${min} to ${max}`);
  }
  return n;
}

export function parseChoice<T extends string>(raw: string | undefined, option: string, choices: readonly T[], fallback: T): T {
  if (raw === undefined) return fallback;
  if (!(choices as readonly string[]).includes(raw)) {
    throw new UsageError(`Invalid --${option} '${raw}'. Expecting one of: ${choices.join(', ')}`);
  }
  return raw as T;
}

export function helpText(command?: string): string {
  if (command && command in COMMANDS) {
    const spec: CommandSpec = COMMANDS[command as CommandName];
    const opts = Object.entries(spec.options).map(([k, o]) => `  --${k.padEnd(10)} ${o.help}`);
    return [`${spec.summary}\n`, `Usage: ${spec.usage}\n`, 'Options:', ...opts, '', 'Examples:', ...spec.examples.map((e) => `  ${e}`)].join('\n');
  }
  const lines = Object.entries(COMMANDS).map(([k, c]) => `  ${k.padEnd(8)} ${c.summary}`);
  return ['Usage: luna-lab <command> [options]\n', 'Commands:', ...lines, '', "Run 'luna-lab <command> --help' for a command's options."].join('\n');
}
