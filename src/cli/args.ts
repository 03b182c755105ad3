/**
 * Command-line parsing for `luna-lab`, separate from running so it can be unit-tested.
 * Options are declared as data per command; values are validated before any work, and
 * usage errors list the valid choices.
 */
import { parseArgs as nodeParseArgs } from 'node:util';
import { FIELDS, type FieldKey } from '../config/lab-config.ts';

/**
 * A mistake on the command line (exit 2). It may hold several, found together (every bad flag
 * value of one command, not just the first): `problems`, printed one line each.
 */
export class UsageError extends Error {
  override name = 'UsageError';
  readonly problems: readonly string[];
  constructor(problems: string | readonly string[]) {
    const all = typeof problems === 'string' ? [problems] : [...problems];
    super(all.join('\n'));
    this.problems = all;
  }
}

/**
 * Gathers the usage errors of several checks so a command reports them all at once: `take`
 * runs one check and keeps its UsageError (returning undefined), `done` throws them together.
 */
export class UsageProblems {
  private readonly found: string[] = [];
  take<T>(check: () => T): T | undefined {
    try {
      return check();
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      this.found.push(...e.problems);
      return undefined;
    }
  }
  async takeAsync<T>(check: () => Promise<T>): Promise<T | undefined> {
    try {
      return await check();
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      this.found.push(...e.problems);
      return undefined;
    }
  }
  add(problem: string): void {
    this.found.push(problem);
  }
  /** Throws every problem found, if any. */
  done(): void {
    if (this.found.length) throw new UsageError(this.found);
  }
}

/** Where `npm start` serves the lab: the address of the links the CLI prints. */
export const LAB_ADDRESS = 'http://127.0.0.1:4173/';

/**
 * A run's lab URL as one that opens it later: the `npm start` address and the URL's hash. A
 * headless run's page lived on a port of the luna-lab process, gone once it exits.
 */
export function openableLabUrl(labUrl: string): string {
  const hash = labUrl.indexOf('#');
  return hash < 0 ? labUrl : `${LAB_ADDRESS}${labUrl.slice(hash)}`;
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

/**
 * The flags that set single config fields, for train and sweep: read off the config table,
 * where a row names its flag (src/config/lab-config.ts), so a field's flag, help and parsing
 * live in one place; src/cli/train-config.ts maps them back to their fields.
 */
export const CONFIG_FLAGS: readonly { readonly flag: string; readonly key: FieldKey; readonly help: string }[] =
  FIELDS.flatMap((f) => (f.flag ? [{ flag: f.flag.name, key: f.key, help: f.flag.help }] : []));

const CONFIG_FIELD_OPTIONS: Record<string, OptionSpec> = {
  ...Object.fromEntries(CONFIG_FLAGS.map((c): [string, OptionSpec] => [c.flag, { type: 'string', help: c.help }])),
  set: {
    type: 'string',
    help: 'any other fields, "key=value;key=value", for example "optimizer.momentum=0.9;augment.flip=false"',
  },
};

export const COMMANDS = {
  inspect: {
    summary: 'Read CT files (MetaImage .mhd/.mha, DICOM) and print what they hold',
    usage: 'luna-lab inspect PATH [--json]',
    positionals: ['PATH'],
    options: { json: { type: 'boolean', help: 'print one JSON object instead of text' } },
    examples: [
      'luna-lab inspect data/subset0/1.3.6.1.4.1.14519.5.2.1.6279.6001.1052.mhd',
      'luna-lab inspect dicom-folder/ --json',
    ],
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
    examples: [
      'luna-lab crop scan.mhd --xyz -100.5,67.3,-231.8',
      'luna-lab crop lidc/ --xyz 56.2,86.3,-115.9 --size 16,48,48 --json',
    ],
  },
  synth: {
    summary: 'Write a synthetic LUNA16-format dataset (subsetN/*.mhd + .raw, annotations.csv, candidates.csv)',
    usage: 'luna-lab synth --out DIR [--scans N] [--size tiny|small|full] [--seed S] [--subsets K] [--malignancy]',
    positionals: [],
    options: {
      out: { type: 'string', help: 'output folder, for example "data/synthetic"' },
      scans: { type: 'string', help: 'number of scans (default 4)' },
      size: { type: 'string', help: 'tiny | small | full (default small; full is 512×512×~120)' },
      seed: { type: 'string', help: 'integer seed (default 1)' },
      subsets: { type: 'string', help: 'spread scans over subset0..K-1 (default 1)' },
      malignancy: {
        type: 'boolean',
        help: 'also write annotations_with_malignancy.csv (part-solid nodules malignant, solid benign)',
      },
    },
    examples: ['luna-lab synth --out /tmp/luna --scans 8 --size tiny --seed 7'],
  },
  eval: {
    summary: "LUNA16's FROC and CPM of an ONNX classifier over a LUNA16 folder (onnxruntime-web, wasm)",
    usage:
      'luna-lab eval --model FILE.onnx --data DIR [--excluded FILE] [--seriesuids FILE] [--out DIR] [--json] [--threads N]',
    positionals: [],
    options: {
      model: {
        type: 'string',
        help: 'ONNX model, input [N,1,D,H,W], output [N,2]; for example "model/model.onnx", or an MLflow model "models:/NAME/1", "runs:/<id>/model"',
      },
      mlflow: {
        type: 'string',
        help: 'MLflow server that --model models:/… or runs:/… is read from (default $MLFLOW_TRACKING_URI)',
      },
      data: { type: 'string', help: 'LUNA16 folder: subsetN/*.mhd + .raw, annotations.csv, candidates.csv' },
      excluded: {
        type: 'string',
        help: "LUNA16's annotations_excluded.csv: marks inside these findings are neither hits nor false positives",
      },
      seriesuids: {
        type: 'string',
        help: "LUNA16's seriesuids.csv: the scans to score and divide false positives by (default: every scan found in --data)",
      },
      out: { type: 'string', help: 'write submission.csv, seriesuids.csv, eval.json and froc.svg here' },
      json: { type: 'boolean', help: 'print one JSON object instead of text' },
      threads: { type: 'string', help: 'WebAssembly threads (default 1)' },
    },
    examples: [
      'luna-lab eval --model run/model.onnx --data /data/luna16 --excluded /data/luna16/annotations_excluded.csv --seriesuids /data/luna16/seriesuids.csv --out run/eval',
      'luna-lab eval --model luna.onnx --data /tmp/synth --json',
    ],
  },
  mlflow: {
    summary:
      'Start a local MLflow tracking server (sqlite, artifacts served); installs MLflow alone into .cache/mlflow-venv on first use',
    usage: 'luna-lab mlflow [--port N] [--dir DIR]',
    positionals: [],
    options: {
      port: { type: 'string', help: 'port on 127.0.0.1 (default 5000)' },
      dir: { type: 'string', help: 'where the database and artifacts live (default ".cache/mlflow")' },
    },
    examples: ['npm run mlflow', 'luna-lab mlflow --port 5055 --dir /tmp/mlflow'],
  },
  url: {
    summary: 'Print the lab URL of a config file, or decode a lab URL into its config',
    usage: 'luna-lab url --config FILE [--base URL] | luna-lab url --decode LAB_URL',
    positionals: [],
    options: {
      config: { type: 'string', help: 'a config file (the JSON a run writes as config.json)' },
      base: { type: 'string', help: `where the lab is served (default "${LAB_ADDRESS}", what npm start serves)` },
      decode: { type: 'string', help: 'a lab URL (or its #hash): print its config as JSON, or name what is wrong' },
    },
    examples: [
      'luna-lab url --config runs/book/config.json',
      "luna-lab url --decode 'http://127.0.0.1:4173/#v=2&model.blocks=2'",
    ],
  },
  train: {
    summary: "Train headless: serve the lab and --data to Chromium, run the page's own training, write outputs",
    usage:
      'luna-lab train --data DIR [--url LAB_URL | --config FILE] [--epochs N ...] [--mlflow URL] [--out DIR] [--device auto|gpu|cpu] [--cache DIR] [--json]\n       luna-lab train --resume OUT_DIR',
    positionals: [],
    options: {
      data: {
        type: 'string',
        help: 'a LUNA16 folder (subsetN/*.mhd + .raw, annotations.csv, candidates.csv) or DICOM series',
      },
      url: {
        type: 'string',
        help: 'a lab URL (the page\'s share link), for example "http://127.0.0.1:4173/#v=2&train.epochs=4"',
      },
      config: { type: 'string', help: 'a config file: the JSON the page writes as config.json' },
      ...CONFIG_FIELD_OPTIONS,
      mlflow: { type: 'string', help: 'MLflow tracking server, for example "http://127.0.0.1:5000"' },
      out: { type: 'string', help: 'output folder (default "runs/<time>")' },
      device: {
        type: 'string',
        help: 'auto (default: GPU flags, any adapter) | gpu (refuse a software adapter) | cpu (SwiftShader)',
      },
      cache: {
        type: 'string',
        help: 'persistent browser profile: the cache of ingested data and checkpoints (default ~/.cache/luna-lab/chromium-profile)',
      },
      name: { type: 'string', help: 'run name' },
      strict: { type: 'boolean', help: 'fail when any file of --data cannot be ingested (default: name it and go on)' },
      resume: { type: 'string', help: 'continue the run in this --out folder from its last checkpoint' },
      tags: {
        type: 'string',
        help: 'extra MLflow tags, "key=value;key=value" (sweeps on Ray set mlflow.parentRunId this way)',
      },
      json: { type: 'boolean', help: 'one JSON object per line on stdout; the last holds the final metrics' },
      profile: {
        type: 'boolean',
        help: 'record the kernels of a few training steps: profile/trace.json (Chrome trace, for Perfetto) and profile/kernels.csv in --out',
      },
    },
    examples: [
      'luna-lab train --data data/luna16 --epochs 10 --mlflow http://127.0.0.1:5000 --out runs/book',
      "luna-lab train --data data/luna16 --url 'http://127.0.0.1:4173/#v=2&model.blocks=2' --device gpu --json",
      'luna-lab train --resume runs/book',
    ],
  },
  sweep: {
    summary:
      'Train a grid of configs headless, one after another or on a Ray cluster, grouped under one MLflow parent run',
    usage:
      'luna-lab sweep --grid FILE --data DIR [--url LAB_URL | --config FILE] [flags of train] [--mlflow URL] [--out DIR] [--json]\n' +
      '       luna-lab sweep --engine ray [--ray-address ADDRESS] --grid FILE --data DIR [--trial-resources cpu=1,gpu=0.25] [--max-concurrent N] [--scheduler fifo|asha] [--metric NAME] [--mode max|min] [--samples N] [...]\n' +
      '       luna-lab sweep --engine ray --resume OUT_DIR',
    positionals: [],
    options: {
      grid: {
        type: 'string',
        help: 'JSON: config keys to lists of values, for example {"optimizer.lr": [0.001, 0.01], "train.batchSize": [16, 32]}',
      },
      data: { type: 'string', help: 'the data folder, as for train (ingested once for the whole sweep)' },
      url: { type: 'string', help: 'the base config as a lab URL' },
      config: { type: 'string', help: 'the base config as a file' },
      ...CONFIG_FIELD_OPTIONS,
      mlflow: { type: 'string', help: 'MLflow tracking server (the parent run and every child)' },
      out: {
        type: 'string',
        help: 'output folder: one run-NNN folder per run and sweep.json (default "sweeps/<time>")',
      },
      device: { type: 'string', help: 'auto | gpu | cpu, as for train' },
      cache: { type: 'string', help: 'persistent browser profile, as for train' },
      strict: { type: 'boolean', help: 'fail when any file of --data cannot be ingested' },
      json: { type: 'boolean', help: 'one JSON object per line; the last lists every run and the best' },
      engine: {
        type: 'string',
        help: 'local (default: one browser, one run after another) | ray (Ray Tune places each run)',
      },
      'ray-address': {
        type: 'string',
        help: 'with --engine ray: the cluster, for example "10.0.0.1:6379" (default RAY_ADDRESS, else a local Ray)',
      },
      'trial-resources': {
        type: 'string',
        help: 'with --engine ray: what each trial reserves, for example "cpu=1,gpu=0.25" (default cpu=1,gpu=0)',
      },
      'max-concurrent': { type: 'string', help: 'with --engine ray: trials at a time, across the cluster (default 1)' },
      scheduler: {
        type: 'string',
        help: 'with --engine ray: fifo (default) | asha (stops weak trials at validated epochs)',
      },
      metric: {
        type: 'string',
        help: 'with --engine ray: what the scheduler and the best trial go by (default validating/pr/f1_score)',
      },
      mode: { type: 'string', help: 'with --engine ray: max (default) | min' },
      samples: {
        type: 'string',
        help: 'with --engine ray: draws of the choice/random entries per grid point (default 1)',
      },
      resume: {
        type: 'string',
        help: 'with --engine ray: continue the interrupted sweep in this --out folder (Tune restores its experiment)',
      },
      deliver: {
        type: 'string',
        help: "with --engine ray: deliver what this trial profile (a node's slot) holds for MLflow, then exit (the driver runs it on each node after the trials)",
      },
    },
    examples: [
      'luna-lab sweep --grid grid.json --data data/luna16 --epochs 5 --mlflow http://127.0.0.1:5000',
      'luna-lab sweep --engine ray --ray-address 10.0.0.1:6379 --grid grid.json --data /data/luna16 --device gpu --trial-resources cpu=1,gpu=0.25 --max-concurrent 4 --scheduler asha --metric validating/pr/f1_score --mode max --out /shared/sweeps/book',
      'luna-lab sweep --engine ray --resume /shared/sweeps/book',
    ],
  },
  bench: {
    summary: 'Measure the lab in headless Chromium and write BENCHMARKS.md',
    usage: 'luna-lab bench [--out FILE] [--only ingest] [--kernels lab|stock]',
    positionals: [],
    options: {
      out: { type: 'string', help: 'where to write the report (default "BENCHMARKS.md")' },
      only: { type: 'string', help: 'run only these benchmarks, for example "ingest"' },
      kernels: {
        type: 'string',
        help: 'WebGPU conv/pool kernels to measure: lab | stock (default: both, side by side)',
      },
      scans: {
        type: 'string',
        help: 'scans of the scale bench (--only scale; default 89, subset0: ≈11 GB of data and disk)',
      },
    },
    examples: [
      'npm run bench',
      'npm run bench -- --only scale --scans 6',
      'luna-lab bench --out /tmp/bench.md',
      'luna-lab bench --only profile,train --kernels lab',
    ],
  },
  froc: {
    summary:
      "Score a LUNA16 submission (seriesuid,coordX,coordY,coordZ,probability) as LUNA16's evaluation does: CPM, sensitivities, band",
    usage: 'luna-lab froc --submission FILE --annotations FILE [--excluded FILE] [--seriesuids FILE] [--json]',
    positionals: [],
    options: {
      submission: { type: 'string', help: 'the CAD marks: seriesuid,coordX,coordY,coordZ,probability' },
      annotations: { type: 'string', help: "LUNA16's annotations.csv" },
      excluded: { type: 'string', help: "LUNA16's annotations_excluded.csv (marks inside its findings are ignored)" },
      seriesuids: { type: 'string', help: "LUNA16's seriesuids.csv (default: the scans the submission marks)" },
      json: { type: 'boolean', help: 'print one JSON object instead of text' },
    },
    examples: [
      'luna-lab froc --submission run/eval/submission.csv --annotations annotations.csv --excluded annotations_excluded.csv --seriesuids seriesuids.csv',
    ],
  },
  cv: {
    summary: "LUNA16's protocol: one headless run per held-out subset, pooled into one submission and FROC",
    usage:
      'luna-lab cv --data DIR --folds subsets [--excluded FILE] [--url LAB_URL | --config FILE] [flags of train] [--mlflow URL] [--out DIR] [--json]',
    positionals: [],
    options: {
      data: {
        type: 'string',
        help: 'a LUNA16 folder: subset folders (each a fold), annotations.csv, candidates.csv (ingested once)',
      },
      folds: { type: 'string', help: 'how folds are made: "subsets" (each subset folder held out once; the default)' },
      excluded: { type: 'string', help: "LUNA16's annotations_excluded.csv, for the held-out and the pooled FROC" },
      url: { type: 'string', help: 'the base config as a lab URL' },
      config: { type: 'string', help: 'the base config as a file' },
      ...CONFIG_FIELD_OPTIONS,
      mlflow: { type: 'string', help: 'MLflow tracking server (one parent run, each fold a child)' },
      out: {
        type: 'string',
        help: 'output folder: one fold-SUBSET folder per fold, the pooled submission.csv, seriesuids.csv, froc.svg and cv.json (default "cv/<time>"); the same --out again resumes',
      },
      device: { type: 'string', help: 'auto | gpu | cpu, as for train' },
      cache: { type: 'string', help: 'persistent browser profile, as for train (the same one to resume)' },
      strict: { type: 'boolean', help: 'fail when any file of --data cannot be ingested' },
      json: { type: 'boolean', help: 'one JSON object per line; the last has every fold and the pooled FROC' },
    },
    examples: [
      'luna-lab cv --data /data/luna16 --folds subsets --excluded /data/luna16/annotations_excluded.csv --epochs 5 --mlflow http://127.0.0.1:5000',
    ],
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
  for (const [k, o] of Object.entries(spec.options))
    options[k] = o.short ? { type: o.type, short: o.short } : { type: o.type };
  let parsed;
  try {
    parsed = nodeParseArgs({
      args: joinNegativeValues(rest, options),
      options,
      allowPositionals: true,
      strict: true,
      tokens: true,
    });
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

/** A negative number, or a list of numbers that starts with one: "-1", "-57.9,-12.1,-60.9", "-.5", "-1e-3". */
const NEGATIVE = /^-(\d|\.\d)/;

/**
 * `--xyz -57.9,-12.1,-60.9` as `--xyz=-57.9,-12.1,-60.9`: Node's parser takes a value that starts
 * with a dash for an option and refuses it, yet LUNA16's world coordinates are mostly negative
 * and `--lr -1` deserves a range error, not a parse error. Only a string option's value is
 * joined, and only one that reads as a number (no option of the CLI looks like "-5").
 */
export function joinNegativeValues(
  argv: readonly string[],
  options: Record<string, { type: 'string' | 'boolean'; short?: string }>,
): string[] {
  const short = new Map(Object.entries(options).flatMap(([k, o]) => (o.short ? [[o.short, k] as const] : [])));
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const name = a.startsWith('--') ? a.slice(2) : /^-\w$/.test(a) ? short.get(a.slice(1)) : undefined;
    const next = argv[i + 1];
    if (name !== undefined && !a.includes('=') && options[name]?.type === 'string' && next && NEGATIVE.test(next)) {
      out.push(`${a.startsWith('--') ? a : `--${name}`}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

/** "1,2,3" → three finite numbers, or a UsageError naming the option. */
export function parseTriple(raw: string | undefined, option: string, integer = false): [number, number, number] {
  const parts = (raw ?? '').split(',').map((s) => s.trim());
  const nums = parts.map(Number);
  if (
    parts.length !== 3 ||
    parts.some((p) => p === '') ||
    nums.some((n) => !Number.isFinite(n)) ||
    (integer && nums.some((n) => !Number.isInteger(n) || n <= 0))
  ) {
    throw new UsageError(
      `--${option} "${raw ?? ''}" is not three ${integer ? 'positive integers' : 'numbers'} separated by commas (for example ${integer ? '32,48,48' : '-100.5,67.2,-231.8'})`,
    );
  }
  return [nums[0], nums[1], nums[2]];
}

export function parseInteger(
  raw: string | undefined,
  option: string,
  fallback: number,
  min: number,
  max: number,
): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!/^-?\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`--${option} "${raw}" must be an integer from ${min} to ${max}`);
  }
  return n;
}

export function parseChoice<T extends string>(
  raw: string | undefined,
  option: string,
  choices: readonly T[],
  fallback: T,
): T {
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
    return [
      `${spec.summary}\n`,
      `Usage: ${spec.usage}\n`,
      'Options:',
      ...opts,
      '',
      'Examples:',
      ...spec.examples.map((e) => `  ${e}`),
    ].join('\n');
  }
  const lines = Object.entries(COMMANDS).map(([k, c]) => `  ${k.padEnd(8)} ${c.summary}`);
  return [
    'Usage: luna-lab <command> [options]\n',
    'Commands:',
    ...lines,
    '',
    "Run 'luna-lab <command> --help' for a command's options.",
  ].join('\n');
}
