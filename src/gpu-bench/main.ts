/**
 * `npm run bench:gpu [-- options]`: the lab's model, kernels and training step in Node on Dawn
 * (dawn.node), with the PyTorch reference in the same run; writes gpu-bench.json and gpu-bench.md
 * to --out. Without a GPU the adapter is Chromium's SwiftShader Vulkan and the output says so.
 * `--pack FILE` instead writes the device archive (pack.ts, handed in by cli.ts) that runs this
 * bench on a machine with no Node. Options: see USAGE.
 *
 * Promise: exits 0 when the bench ran (failed single measurements are listed in the result's
 * errors), 1 when no WebGPU adapter could be had (the reason is printed and still written), 2
 * on a usage error.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { cpus, platform, release, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { defaultIcd, installDawn, releaseDawn } from './dawn.ts';
import { measureAll, type MeasureOptions } from './measure.ts';
import { markdown, type GpuBenchResult, type PytorchResult } from './report.ts';
import type { GpuFeatureName } from '../config/lab-config.ts';
import type { KernelKind } from '../model/kernels/index.ts';

const USAGE = `npm run bench:gpu -- [options]
  --quick                small iteration counts (batch 2, 1 step, 1 rep; training with the lab's
                         kernels only, stock in the per-kernel table): a dry run in minutes
  --out DIR              where gpu-bench.json and gpu-bench.md go (default dist/gpu-bench)
  --batches 32,256       training and inference batch sizes
  --steps N --warmup N   measured and untimed training steps per variant (default 10, 2)
  --kernel-batch N       batch of the per-kernel table (default 32)
  --kernel-reps N        timed runs per kernel (default 5)
  --budget-s S           seconds after which a variant takes no more steps (default 30)
  --deadline-s S         seconds after which no new WebGPU measurement starts (default: none)
  --train-kernels lab,stock   kernel sets to train and infer with (--quick: lab)
  --only kernels,train,inference,profile,augment
  --python PATH          Python with torch for the reference (default .venv/bin/python, else python3)
  --reference PATH       the PyTorch reference (default ../shared/reference/pytorch_luna_bench.py)
  --torch-script PATH    the PyTorch driver (default src/gpu-bench/pytorch_bench.py)
  --no-pytorch           skip the PyTorch reference
  --pack FILE            write the device archive instead of benchmarking (see README)`;

const OPTIONS = {
  quick: { type: 'boolean' },
  out: { type: 'string' },
  batches: { type: 'string' },
  steps: { type: 'string' },
  warmup: { type: 'string' },
  'kernel-batch': { type: 'string' },
  'kernel-reps': { type: 'string' },
  'budget-s': { type: 'string' },
  'deadline-s': { type: 'string' },
  'train-kernels': { type: 'string' },
  only: { type: 'string' },
  python: { type: 'string' },
  reference: { type: 'string' },
  'torch-script': { type: 'string' },
  'no-pytorch': { type: 'boolean' },
  pack: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

class UsageError extends Error {}

function int(name: string, v: string | undefined, dflt: number, min = 0): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} ${v}: expecting an integer ≥ ${min}`);
  return n;
}

function list<T extends string>(name: string, v: string | undefined, choices: readonly T[], dflt: T[]): T[] {
  if (v === undefined) return dflt;
  const xs = v.split(',').filter(Boolean);
  for (const x of xs)
    if (!(choices as readonly string[]).includes(x))
      throw new UsageError(`--${name}: unknown '${x}'. Expecting some of: ${choices.join(', ')}`);
  return xs as T[];
}

export function measureOptions(values: Record<string, string | boolean | undefined>): MeasureOptions {
  const quick = values.quick === true;
  const s = (k: string) => values[k] as string | undefined;
  const batches =
    s('batches') === undefined
      ? quick
        ? [2]
        : [32, 256]
      : s('batches')!
          .split(',')
          .map((b) => int('batches', b, 0, 1));
  const only = list('only', s('only'), ['kernels', 'train', 'inference', 'profile', 'augment'] as const, [
    'kernels',
    'train',
    'inference',
    'profile',
    'augment',
  ]);
  return {
    batches,
    steps: int('steps', s('steps'), quick ? 1 : 10, 1),
    warmup: int('warmup', s('warmup'), quick ? 1 : 2),
    kernelBatch: int('kernel-batch', s('kernel-batch'), quick ? 1 : 32, 1),
    kernelReps: int('kernel-reps', s('kernel-reps'), quick ? 1 : 5, 1),
    inferBatches: quick ? 1 : 10,
    budgetSeconds: int('budget-s', s('budget-s'), quick ? 20 : 30, 1),
    // Stock tfjs trains ~25× slower than the lab's kernels: minutes per step on SwiftShader, so not in a quick run.
    trainKernels: list<KernelKind>(
      'train-kernels',
      s('train-kernels'),
      ['lab', 'stock'],
      quick ? ['lab'] : ['lab', 'stock'],
    ),
    deadlineSeconds: int('deadline-s', s('deadline-s'), Number.MAX_SAFE_INTEGER, 1),
    parts: {
      kernels: only.includes('kernels'),
      train: only.includes('train'),
      inference: only.includes('inference'),
      profile: only.includes('profile'),
      augment: only.includes('augment'),
    },
  };
}

/** Runs the PyTorch driver; its last stdout line is the JSON result. */
async function runPytorch(
  python: string,
  script: string,
  reference: string,
  o: MeasureOptions,
  quick: boolean,
  log: (s: string) => void,
): Promise<PytorchResult> {
  const args = [
    script,
    '--reference',
    reference,
    '--batches',
    o.batches.join(','),
    '--budget-s',
    String(o.budgetSeconds),
  ];
  if (quick) args.push('--steps', '1');
  // The device entry script puts its own libraries first for Node and dawn.node; torch gets the machine's.
  const env = { ...process.env };
  if (env.LUNA_ORIG_LD_LIBRARY_PATH !== undefined) env.LD_LIBRARY_PATH = env.LUNA_ORIG_LD_LIBRARY_PATH;
  return new Promise((done) => {
    const p = spawn(python, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      for (const line of d.toString().split('\n')) if (line.trim()) log(`  pytorch: ${line.trim()}`);
    });
    const fail = (why: string): PytorchResult => ({
      device: 'none',
      deviceName: '',
      torch: '',
      rows: [],
      reference,
      error: why,
    });
    p.on('error', (err) => done(fail(`${python} ${script}: ${err.message}`)));
    p.on('close', (code) => {
      const last = stdout.trim().split('\n').pop() ?? '';
      try {
        if (code !== 0) throw new Error(`exit ${code}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
        const j = JSON.parse(last) as {
          device: string;
          deviceName: string;
          torch: string;
          threads?: number;
          rows: PytorchResult['rows'];
        };
        done({
          device: j.device,
          deviceName: j.deviceName,
          torch: j.torch,
          threads: j.threads,
          rows: j.rows,
          reference,
        });
      } catch (err) {
        done(fail(`${python} ${script}: ${(err as Error).message}`));
      }
    });
  });
}

function firstExisting(paths: string[]): string | undefined {
  return paths.find((p) => existsSync(p));
}

/** `pack` is given by cli.ts (the repository's entry); the device bundle has none. */
export async function main(
  argv: string[],
  pack?: (file: string, log: (s: string) => void) => Promise<number>,
): Promise<number> {
  const log = (s: string) => console.log(s);
  let values: Record<string, string | boolean | undefined>;
  let o: MeasureOptions;
  try {
    values = parseArgs({ args: argv, options: OPTIONS, allowPositionals: false }).values;
    if (values.help) {
      log(USAGE);
      return 0;
    }
    o = measureOptions(values);
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (typeof values.pack === 'string') {
    if (!pack) {
      console.error('--pack: only from the repository (npm run bench:gpu -- --pack FILE), not from the device bundle');
      return 2;
    }
    return pack(resolve(values.pack), log);
  }
  const quick = values.quick === true;
  const t0 = performance.now();
  if (!process.env.VK_ICD_FILENAMES) {
    const icd = defaultIcd();
    if (icd) process.env.VK_ICD_FILENAMES = icd;
  }
  const outDir = resolve((values.out as string | undefined) ?? join('dist', 'gpu-bench'));
  await mkdir(outDir, { recursive: true });
  const adapter = await installDawn();
  log(
    adapter.available
      ? `adapter: ${adapter.description}${adapter.software ? ' (software: SwiftShader Vulkan on the CPU, no GPU)' : ''}`
      : `no WebGPU adapter: ${adapter.reason}`,
  );
  const cpu = cpus();
  const result: GpuBenchResult = {
    kind: 'luna-lab gpu-bench',
    version: 1,
    measuredAt: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    quick,
    host: {
      node: process.version,
      platform: `${platform()} ${release()}`,
      cpu: cpu[0]?.model ?? 'unknown',
      cores: cpu.length,
      memGiB: Math.round(totalmem() / 2 ** 30),
    },
    vulkanIcd: process.env.VK_ICD_FILENAMES ?? null,
    adapter,
    deviceFeatures: [],
    options: { ...o },
    measurements: null,
    pytorch: null,
    seconds: 0,
  };
  // Written after every measurement: a run cut short (the device's time limit) keeps what it had.
  const save = async (): Promise<string> => {
    result.seconds = (performance.now() - t0) / 1000;
    await writeFile(join(outDir, 'gpu-bench.json'), `${JSON.stringify(result, null, 2)}\n`);
    const md = markdown(result);
    await writeFile(join(outDir, 'gpu-bench.md'), md);
    return md;
  };
  if (adapter.available) {
    const { selectBackend } = await import('../model/backend.ts');
    const want = (['shader-f16', 'subgroups'] as const).filter((f) => adapter.features.includes(f));
    const sel = await selectBackend('webgpu', want);
    if (sel.backend !== 'webgpu') {
      log(`tfjs could not use the adapter: ${sel.reason}`);
    } else {
      result.deviceFeatures = sel.gpuFeatures?.enabled ?? [];
      if (sel.gpuFeatures?.warning) log(sel.gpuFeatures.warning);
      result.measurements = await measureAll(o, result.deviceFeatures as GpuFeatureName[], log, async (m) => {
        result.measurements = m;
        await save();
      });
    }
  }
  if (!values['no-pytorch']) {
    const python = (values.python as string | undefined) ?? firstExisting(['.venv/bin/python']) ?? 'python3';
    const reference = resolve(
      (values.reference as string | undefined) ?? join('..', 'shared', 'reference', 'pytorch_luna_bench.py'),
    );
    const script = resolve(
      (values['torch-script'] as string | undefined) ?? join('src', 'gpu-bench', 'pytorch_bench.py'),
    );
    log(`PyTorch reference (${python})…`);
    result.pytorch = await runPytorch(python, script, reference, o, quick, log);
    if (result.pytorch.error) log(`  PyTorch: ${result.pytorch.error}`);
  }
  const md = await save();
  log(md);
  log(`wrote ${join(outDir, 'gpu-bench.json')} and gpu-bench.md (${result.seconds.toFixed(0)} s)`);
  releaseDawn();
  return adapter.available ? 0 : 1;
}

/** Runs `main` as the process (cli.ts; the device bundle's entry) and exits with its code. */
export function runAsProcess(pack?: Parameters<typeof main>[1]): void {
  main(process.argv.slice(2), pack).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
      process.exit(1);
    },
  );
}
