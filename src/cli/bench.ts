/**
 * `luna-lab bench`: measurements of the lab in headless Chromium, side by side in one run
 * on one machine, written to BENCHMARKS.md with the machine named. Timings live here,
 * never in tests.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, totalmem, tmpdir, platform, release } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import type { Page } from 'playwright-core';
import { parseChoice, parseInteger, type ParsedArgs } from './args.ts';
import { benchScale } from './scale-bench.ts';
import { benchIngestStages, ingestStagesMarkdown } from './ingest-bench.ts';
import { mergeSections } from './bench-report.ts';
import type { KernelKind } from '../model/kernels/index.ts';
import type { Io } from './main.ts';
import { chromiumPath, launchChromium, serveLab } from './browser.ts';
import type {
  InferenceResult,
  InferenceRuntime,
  OpTiming,
  PipelineResult,
  TrainStepResult,
} from '../../workers/bench.worker.ts';
import { QUICK_INPUT, type BackendName, type LabConfigInput } from '../config/lab-config.ts';
import { errorLine } from './diagnostics.ts';

interface Section {
  title: string;
  markdown: string;
}

type Bench = (ctx: {
  page: Page;
  io: Io;
  tmp: string;
  url: string;
  kernels: KernelKind[];
  args: ParsedArgs;
}) => Promise<Section>;

const BENCHES: Record<string, Bench> = {
  ingest: benchIngest,
  pipeline: benchPipeline,
  train: benchTrain,
  profile: benchProfile,
  inference: benchInference,
  scale: async ({ io, tmp, args }) => {
    const scans = parseInteger(args.values.scans as string | undefined, 'scans', 89, 1, 10_000);
    return { title: `Scale: a subset0-sized zip (${scans} scans)`, markdown: await benchScale(tmp, scans, io.out) };
  },
};
/** Run when no --only is given; the scale bench writes ≈11 GB and runs alone, by name. */
const DEFAULT_BENCHES = Object.keys(BENCHES).filter((b) => b !== 'scale');

export async function bench(args: ParsedArgs, io: Io): Promise<number> {
  const only = typeof args.values.only === 'string' ? args.values.only.split(',') : DEFAULT_BENCHES;
  for (const name of only) {
    if (!(name in BENCHES))
      throw new Error(`Unknown benchmark '${name}'. Expecting one of: ${Object.keys(BENCHES).join(', ')}`);
  }
  const out = (args.values.out as string | undefined) ?? 'BENCHMARKS.md';
  // Without --kernels, the WebGPU benchmarks measure the lab's kernels and tfjs's stock ones side by side.
  const kernelFlag = parseChoice(
    args.values.kernels as string | undefined,
    'kernels',
    ['lab', 'stock', 'both'] as const,
    'both',
  );
  const kernels: KernelKind[] = kernelFlag === 'both' ? ['lab', 'stock'] : [kernelFlag];
  const tmp = await mkdtemp(join(tmpdir(), 'luna-bench-'));
  const server = await serveLab();
  const browser = await launchChromium();
  const sections: Section[] = [];
  try {
    const page = await (await browser.newContext()).newPage();
    page.on('pageerror', (e) => io.err(errorLine(`page error: ${e.message}`)));
    await page.goto(server.url);
    await page.waitForSelector('html[data-luna-ready="true"]', { state: 'attached' });
    for (const name of only) {
      io.out(`bench: ${name}…`);
      const s = await BENCHES[name]({ page, io, tmp, url: server.url, kernels, args });
      io.out(s.markdown);
      sections.push(s);
    }
  } finally {
    await browser.close();
    await server.close();
    await rm(tmp, { recursive: true, force: true });
  }
  // A bench run by name (--only) replaces its own sections of an existing file and keeps the rest.
  const existing = typeof args.values.only === 'string' ? await readFile(out, 'utf8').catch(() => null) : null;
  await writeFile(
    out,
    existing === null
      ? report(sections, browser.version())
      : mergeSections(existing, sections, `${machine()}\n- Playwright reports browser version ${browser.version()}`),
  );
  io.out(`wrote ${out}`);
  return 0;
}

function machine(): string {
  const cpu = cpus();
  const chromium = (() => {
    try {
      return execFileSync(chromiumPath(), ['--version'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim();
    } catch {
      return 'unknown';
    }
  })();
  return [
    `- CPU: ${cpu[0]?.model ?? 'unknown'} × ${cpu.length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, no GPU (${platform()} ${release()})`,
    `- Browser: ${chromium}, headless, driven by Playwright`,
    `- Node ${process.version}; measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`,
  ].join('\n');
}

function report(sections: Section[], browserVersion: string): string {
  return [
    '# Luna Lab benchmarks',
    '',
    'Written by `npm run bench` (`luna-lab bench`): every figure below was measured in the same run, on this machine:',
    '',
    machine(),
    `- Playwright reports browser version ${browserVersion}`,
    '',
    ...sections.flatMap((s) => [`## ${s.title}`, '', s.markdown, '']),
  ].join('\n');
}

/** Ingest time by stage: loose files and a zip, the slab encoding's place compared. */
async function benchIngest({ page, tmp, url }: Parameters<Bench>[0]): Promise<Section> {
  const p = await benchPage(page, url);
  try {
    const r = await benchIngestStages(p, url, tmp);
    return {
      title: 'Ingest: full-size scans by stage, loose and zipped (`npm run bench -- --only ingest`)',
      markdown: ingestStagesMarkdown(r),
    };
  } finally {
    await p.close();
  }
}

/** The bench page (src/bench/bench.html) with `window.lunaBench`, in a fresh tab. */
async function benchPage(page: Page, url: string): Promise<Page> {
  const p = await page.context().newPage();
  await p.goto(`${url}/src/bench/bench.html`);
  await p.waitForSelector('html[data-bench-ready="true"]', { state: 'attached' });
  return p;
}

/** Crops per second from IndexedDB through the training batch pipeline. */
async function benchPipeline({ page, url }: Parameters<Bench>[0]): Promise<Section> {
  const p = await benchPage(page, url);
  const r: PipelineResult = await p.evaluate(() => window.lunaBench!.pipeline(2, 8, 32, [0, 1, 2]));
  await p.close();
  if (!r.identical)
    throw new Error('pipeline benchmark: batches made with data workers differ from the in-thread ones');
  const where = (n: number) =>
    n === 0 ? 'in the training thread (no data workers)' : `on ${n} data worker${n > 1 ? 's' : ''}`;
  const rows = [
    '| stage | crops/s |',
    '|---|---|',
    `| crop 32×48×48 from the slabs in IndexedDB (cold: reads the slabs, writes the crop cache) | ${r.coldCropsPerSecond.toFixed(0)} |`,
    `| the same crops again (in-memory LRU) | ${r.warmCropsPerSecond.toFixed(0)} |`,
    `| from the crop cache + the book's augmentation (flip, offset, scale, rotate, noise), in the training thread | **${r.augmentedCropsPerSecond.toFixed(0)}** |`,
    ...r.pooled.map(
      (q) =>
        `| from the in-memory LRU + the book's augmentation ${where(q.workers)} | **${q.augmentedCropsPerSecond.toFixed(0)}** |`,
    ),
    '',
    `${r.crops} training samples (balanced, ratio 1) of 2 synthetic full-size scans, batches of 32, prefetch 2 (data workers + 1 with`,
    `workers), in the bench worker as in the train worker; data workers are nested dedicated workers (workers/data.worker.ts).`,
    `Batches are bit-identical whatever the number of data workers (checked in this run). navigator.hardwareConcurrency = ${r.hardwareConcurrency}.`,
    '',
    '| augmentation | simulated step (ms) | steps | wait for the first batch (ms) | wait for a batch, per later step (ms) | loop time per step (ms) | idle per step (ms) |',
    '|---|---|---|---|---|---|---|',
    ...r.idle.map(
      (q) =>
        `| ${where(q.workers)} | ${q.stepMs.toFixed(1)} | ${q.steps} | ${q.firstWaitMs.toFixed(0)} | ${q.waitMsPerStep.toFixed(1)} | ${q.loopMsPerStep.toFixed(1)} | **${(q.loopMsPerStep - q.stepMs).toFixed(1)}** |`,
    ),
    '',
    "The training loop's idle time: a loop whose step is a timer of an H100's time per batch (32 / 3,256 samples/s; the thread",
    'is free, as while a GPU step runs) consumes the same batches. "Wait for a batch" runs from asking for a batch to getting',
    'it (`system/batch_wait_seconds` in a run\'s metrics is this measurement on the real step); "loop time per step" is the',
    'loop\'s wall time per step after the first batch, and "idle" that minus the step: augmentation in the training thread',
    'runs while the step waits and delays it, so it shows there and not as a wait.',
  ];
  return { title: 'Data pipeline: augmented crops from IndexedDB', markdown: rows.join('\n') };
}

// The page's quick config; batch size and seed are the benchmark's own.
const QUICK: LabConfigInput = { crop: QUICK_INPUT.crop, model: QUICK_INPUT.model };

/** Training throughput of the classifier's real training step, per backend. */
async function benchTrain({ page, url, io, kernels }: Parameters<Bench>[0]): Promise<Section> {
  const p = await benchPage(page, url);
  const rows = [
    '| model | backend | kernels | adapter | batch | timed steps | samples/s | step time (s) |',
    '|---|---|---|---|---|---|---|---|',
  ];
  const full = 'LunaModel (book, 222,220 params, 32×48×48)';
  const quick = 'quick config (2 blocks, width 4, 16×24×24)';
  // The full model is so slow without a GPU that one step, compilation included, is all a run
  // can afford (compilation is seconds of it); the quick config gets a warm-up step.
  const cases: {
    label: string;
    backend: BackendName;
    batch: number;
    steps: number;
    warmup: number;
    config: LabConfigInput;
  }[] = [
    // WebGPU with the lab's kernels (fast enough for a warm-up step) and with tfjs's stock ones
    // (~80 s per batch-4 step on SwiftShader: one step, no warm-up).
    ...(kernels.includes('lab')
      ? [
          { label: full, backend: 'webgpu' as const, batch: 4, steps: 2, warmup: 1, config: { kernels: 'lab' } },
          { label: full, backend: 'webgpu' as const, batch: 32, steps: 1, warmup: 1, config: { kernels: 'lab' } },
        ]
      : []),
    ...(kernels.includes('stock')
      ? [{ label: full, backend: 'webgpu' as const, batch: 4, steps: 1, warmup: 0, config: { kernels: 'stock' } }]
      : []),
    { label: full, backend: 'cpu', batch: 4, steps: 1, warmup: 0, config: {} },
    { label: full, backend: 'webgl', batch: 32, steps: 1, warmup: 0, config: {} },
    { label: full, backend: 'cpu', batch: 32, steps: 1, warmup: 0, config: {} },
    { label: quick, backend: 'webgpu', batch: 32, steps: 3, warmup: 1, config: QUICK },
    { label: quick, backend: 'webgl', batch: 32, steps: 3, warmup: 1, config: QUICK },
    { label: quick, backend: 'cpu', batch: 32, steps: 3, warmup: 1, config: QUICK },
  ];
  for (const c of cases) {
    io.out(`  train: ${c.label} on ${c.backend}, batch ${c.batch}…`);
    const r: TrainStepResult = await p.evaluate(([b, n, s, w, cfg]) => window.lunaBench!.trainStep(b, n, s, w, cfg), [
      c.backend,
      c.batch,
      c.steps,
      c.warmup,
      c.config,
    ] as const);
    rows.push(
      r.unavailable
        ? `| ${c.label} | ${c.backend} | – | – | ${c.batch} | – | unavailable: ${r.unavailable.replace(/\|/g, '/')} | – |`
        : `| ${c.label} | ${r.backend} | ${r.backend === 'webgpu' ? String(c.config.kernels ?? 'lab') : '–'} | ${r.adapter ?? '–'} | ${r.batch} | ${r.steps} | **${r.samplesPerSecond.toFixed(3)}** | ${r.stepSeconds.map((t) => t.toFixed(1)).join(', ')} |`,
    );
  }
  await p.close();
  rows.push(
    '',
    "A step is the classifier's training step (forward, per-sample cross-entropy, backward, SGD with momentum 0.99), on random",
    'crops; "step time" lists every step, warm-up first where there is one. For comparison, PyTorch trains the same',
    'LunaModel at 3,256 samples/s (fp32, batch 32) on one NVIDIA H100 (../shared/DESIGN.md); this machine has no GPU, so',
    '"webgpu" here is Chromium\'s software rasteriser (SwiftShader) on 2 CPU cores.',
  );
  return { title: 'Training throughput per backend', markdown: rows.join('\n') };
}

/** Per-kernel times of LunaModel's shapes on WebGPU, the lab's kernels vs tfjs's stock ones. */
async function benchProfile({ page, url, kernels }: Parameters<Bench>[0]): Promise<Section> {
  type Profile = { backend: string; adapter: string | null; ops: OpTiming[] };
  const p = await benchPage(page, url);
  const run = (k: KernelKind, n: number): Promise<Profile> =>
    p.evaluate(([kk, nn]) => window.lunaBench!.profileOps('webgpu', nn, kk), [k, n] as const);
  // Stock kernels take ~15 s per block-1 op at batch 4, so they are profiled at batch 4 only.
  const stock4 = kernels.includes('stock') ? await run('stock', 4) : null;
  const lab4 = kernels.includes('lab') ? await run('lab', 4) : null;
  const lab32 = kernels.includes('lab') ? await run('lab', 32) : null;
  await p.close();
  const ref = (stock4 ?? lab4)!;
  const ms = (r: Profile | null, i: number) => (r ? r.ops[i].ms : NaN);
  const fmt = (v: number) => (Number.isFinite(v) ? v.toFixed(0) : '–');
  const sum = (r: Profile | null) => (r ? r.ops.reduce((a, o) => a + o.ms, 0) : NaN);
  const rows = [
    `Backend ${ref.backend}${ref.adapter ? ` (${ref.adapter})` : ''}; each kernel run alone (after a compiling run when it is fast). ` +
      'The stock kernels remain the fallback of ours for configurations ours do not cover.',
    '',
    '| kernel | input (batch 4) | stock ms, batch 4 | lab ms, batch 4 | speed-up | lab ms, batch 32 |',
    '|---|---|---|---|---|---|',
    ...ref.ops.map(
      (o, i) =>
        `| ${o.op} | ${o.shape} | ${fmt(ms(stock4, i))} | ${fmt(ms(lab4, i))} | ${stock4 && lab4 ? `${(ms(stock4, i) / ms(lab4, i)).toFixed(1)}×` : '–'} | ${fmt(ms(lab32, i))} |`,
    ),
    `| **sum** | | ${fmt(sum(stock4))} | ${fmt(sum(lab4))} | ${stock4 && lab4 ? `${(sum(stock4) / sum(lab4)).toFixed(1)}×` : '–'} | ${fmt(sum(lab32))} |`,
  ];
  return { title: 'WebGPU kernel profile: lab kernels vs stock tfjs-backend-webgpu', markdown: rows.join('\n') };
}

/** Inference throughput of the same crops: onnxruntime-web (WebGPU EP, WASM) and tfjs (webgpu, cpu). */
async function benchInference({ page, url, io }: Parameters<Bench>[0]): Promise<Section> {
  const p = await benchPage(page, url);
  const full = 'LunaModel (book, 32×48×48)';
  const quick = 'quick config (2 blocks, width 4, 16×24×24)';
  const runtimes: InferenceRuntime[] = ['ort-webgpu', 'ort-wasm', 'tfjs-webgpu', 'tfjs-cpu'];
  // The full model on software WebGPU takes seconds per crop: one batch of 8 is what a run affords.
  const cases = [
    ...runtimes.map((runtime) => ({ label: quick, runtime, config: QUICK, batch: 16, batches: 2 })),
    ...runtimes.map((runtime) => ({ label: full, runtime, config: {} as LabConfigInput, batch: 8, batches: 1 })),
  ];
  const rows = ['| model | runtime | ran on | batch | crops timed | crops/s |', '|---|---|---|---|---|---|'];
  for (const c of cases) {
    io.out(`  inference: ${c.label} on ${c.runtime}…`);
    const r: InferenceResult = await p.evaluate(([rt, cfg, b, n]) => window.lunaBench!.inference(rt, cfg, b, n), [
      c.runtime,
      c.config,
      c.batch,
      c.batches,
    ] as const);
    const ran = `${r.used}${r.adapter ? ` (${r.adapter})` : ''}`;
    rows.push(
      r.unavailable
        ? `| ${c.label} | ${c.runtime} | – | ${c.batch} | – | unavailable: ${r.unavailable.replace(/\|/g, '/')} |`
        : `| ${c.label} | ${c.runtime} | ${ran} | ${r.batch} | ${r.crops} | **${r.cropsPerSecond.toFixed(2)}** |`,
    );
  }
  await p.close();
  rows.push(
    '',
    'p(nodule) of random HU crops (the same crops for every runtime) after a one-crop warm-up (shader compilation, kernel',
    "selection), in a fresh worker per row. onnxruntime-web runs the lab's ONNX export (src/model/onnx-export.ts) through",
    'src/inference/onnx-classifier.ts (WebGPU EP in NCHW, every node on WebGPU, else WASM; one thread without cross-origin',
    'isolation); tfjs runs `model.predict` + softmax. For comparison, PyTorch infers the full model at 12,911 samples/s',
    '(fp32, batch 32) on one NVIDIA H100 (../shared/DESIGN.md).',
  );
  return { title: 'Inference throughput: onnxruntime-web vs tfjs', markdown: rows.join('\n') };
}
