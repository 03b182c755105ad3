/**
 * `luna-lab train`: a full run without a person at the page. The built lab is opened headless
 * in Chromium on a persistent profile, `--data` is served to it and ingested by the page's own
 * ingest worker, and the page's own train worker trains the run — so a headless run and an
 * in-browser run of one lab URL are the same experiment. Outputs go to `--out` as epochs end.
 *
 * Exit status: 0 finished; 1 failed (bad data, refused device, the run failed); 2 usage;
 * 3 finished, but tracking items wait for the MLflow server (kept in the cache, sent by the
 * next run on the same --cache or by `--resume`); 130 stopped by Ctrl-C (checkpoint kept).
 */
import { mkdir, readFile, statfs } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { LabConfig } from '../config/lab-config.ts';
import { encodeLabHash } from '../config/lab-url.ts';
import type { HeadlessEvent, RunSummary, SourceWeightsOut } from '../headless/headless-api.ts';
import { parseModelSource } from '../train/model-source.ts';
import { isSoftwareAdapter } from '../model/backend.ts';
import type { IngestReport } from '../store/ingest.ts';
import { describeRoom } from '../store/quota.ts';
import type { MetricPoint, RunRecord } from '../store/records.ts';
import { DataError } from '../data/errors.ts';
import { randomHex } from '../data/hex.ts';
import type { OutboxState } from '../tracking/outbox.ts';
import type { RunSink } from '../tracking/run-sink.ts';
import { isValidationEpoch } from '../train/cadence.ts';
import { LAB_ADDRESS, openableLabUrl, parseChoice, UsageError, UsageProblems, type ParsedArgs } from './args.ts';
import { DEVICES, HeadlessSession, type Device } from './headless-session.ts';
import type { Io } from './main.ts';
import { errorLine, noteLine, warningLine } from './diagnostics.ts';
import { epochLine, Heartbeat, progressLine } from './progress.ts';
import { makeOutDir } from './out-dir.ts';
import {
  OUT,
  STARTING,
  finalMetrics,
  readMeta,
  readRunFolderWeights,
  writeCheckpoint,
  writeFiles,
  writeHistory,
  writeMeta,
  writeProfile,
  type RunMeta,
} from './run-outputs.ts';
import { FIELD_FLAGS, checkFieldFlags, resolveTrainConfig } from './train-config.ts';
import { startSystemSampler } from './system-sampler.ts';

/** The exported file that holds the run's lab URL (src/tracking/artifacts.ts). */
const LAB_URL_FILE = 'lab_url.txt';

export const EXIT = { ok: 0, failed: 1, usage: 2, trackingBacklog: 3, interrupted: 130 } as const;

export function defaultProfileDir(): string {
  return join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'luna-lab', 'chromium-profile');
}

/** Runs `f` every second until the returned function is called; never keeps the process alive. */
function everySecond(f: () => void): () => void {
  const t = setInterval(f, 1000);
  t.unref();
  return () => clearInterval(t);
}

/**
 * One JSON object per line (--json) or human lines. On a terminal the progress line is
 * rewritten in place; elsewhere (a pipe, a CI log) a plain progress line is printed whenever
 * nothing was for 10 s, and the latest status again through a long step (progress.ts,
 * Heartbeat) — with --json as `{"event":"status",…}` lines between the progress events.
 */
export class Reporter {
  private inPlace = false;
  private readonly beat: Heartbeat;
  private stopBeat: (() => void) | null = null;
  constructor(
    private readonly io: Io,
    private readonly json: boolean,
    private readonly tty = !!process.stderr.isTTY && !!process.stdout.isTTY,
    private readonly clock: () => number = Date.now,
    private readonly every: (f: () => void) => () => void = everySecond,
  ) {
    this.beat = new Heartbeat(clock());
  }
  /** The heartbeat runs from the first status or progress on (not while flags are still read). */
  private beating(): void {
    if (this.stopBeat || (this.tty && !this.json)) return;
    this.stopBeat = this.every(() => this.tick());
  }
  event(type: string, body: Record<string, unknown>, text?: string): void {
    if (this.json) this.out(JSON.stringify({ event: type, ...body }));
    else if (text !== undefined) this.line(text);
  }
  /** The latest progress line; `last`: a phase's last step, printed even where lines are spaced out. */
  progress(text: string, last = false): void {
    this.beating();
    const due = this.beat.news(text, this.clock(), last);
    if (this.json) return;
    if (this.tty) {
      process.stderr.write(`\r\x1b[K${text}`);
      this.inPlace = true;
    } else if (due) this.line(text);
  }
  /** What the command is doing now (starting the browser, ingesting): repeated if it takes a while. */
  status(text: string): void {
    this.beating();
    this.beat.news(text, this.clock());
  }
  /** A human line: stdout, or stderr when stdout carries JSON. */
  line(text: string): void {
    if (this.inPlace) process.stderr.write('\r\x1b[K');
    this.inPlace = false;
    if (this.json) this.err(text);
    else this.out(text);
  }
  /** Stop the heartbeat (the command is done). */
  close(): void {
    this.stopBeat?.();
    this.stopBeat = null;
  }
  private tick(): void {
    const now = this.clock();
    const text = this.beat.tick(now);
    if (text === null) return;
    if (this.json)
      this.out(JSON.stringify({ event: 'status', text: this.beat.text, quietSeconds: this.beat.quietSeconds(now) }));
    else this.line(text);
  }
  private out(s: string): void {
    this.beat.printed(this.clock());
    this.io.out(s);
  }
  private err(s: string): void {
    this.beat.printed(this.clock());
    this.io.err(s);
  }
  private said = new Set<string>();
  /** An error, once (a .mhd and its .raw fail with one message): stderr, and JSON too with --json. */
  error(text: string): void {
    if (this.said.has(text)) return;
    this.said.add(text);
    if (this.inPlace) process.stderr.write('\r\x1b[K');
    this.inPlace = false;
    if (this.json) this.out(JSON.stringify({ event: 'error', message: text }));
    this.err(errorLine(text));
  }
  warn(text: string): void {
    if (this.json) this.out(JSON.stringify({ event: 'warning', message: text }));
    else this.err(warningLine(text));
  }
}

interface TrainPlan {
  config: LabConfig;
  dataDir: string;
  out: string;
  profileDir: string;
  device: Device;
  json: boolean;
  strict: boolean;
  name: string;
  resume: RunMeta | null;
  tags: { key: string; value: string }[];
  /** `--profile`: the kernels of PROFILE_STEPS training steps to profile/ in --out. */
  profile?: boolean;
}

/** Steps `--profile` records (after the first, which compiles the shaders). */
export const PROFILE_STEPS = 3;

/**
 * The field flags and --set items checked on their own (no --url, no --config file), every
 * bad one named: what `plan` reports together with the command's other usage errors.
 */
function checkConfigFlags(args: ParsedArgs): void {
  const v = args.values;
  const str = (k: string) => (typeof v[k] === 'string' ? (v[k] as string) : undefined);
  const flags: Record<string, string | undefined> = {};
  for (const f of Object.keys(FIELD_FLAGS)) flags[f] = str(f);
  const sets =
    str('set')
      ?.split(';')
      .map((s) => s.trim())
      .filter(Boolean) ?? [];
  // Without a config file everything is on the command line: check it whole (--url, cross-field rules).
  if (str('config') === undefined) resolveTrainConfig({ url: str('url'), flags, sets });
  else if (str('url') !== undefined) throw new UsageError('Give --url or --config, not both');
  else checkFieldFlags(flags, sets);
}

/** The run config of `train` and `HeadlessTrainer` (`sweep`): --url or --config (read here), then field flags and --set. */
export async function configFromArgs(args: ParsedArgs, onNote?: (note: string) => void): Promise<LabConfig> {
  const v = args.values;
  const str = (k: string) => (typeof v[k] === 'string' ? (v[k] as string) : undefined);
  const configPath = str('config');
  const configFile = configPath
    ? {
        name: configPath,
        text: await readFile(configPath, 'utf8').catch(() => {
          throw new DataError(`--config ${configPath}: cannot read the file`, { file: configPath });
        }),
      }
    : undefined;
  const flags: Record<string, string | undefined> = {};
  for (const f of Object.keys(FIELD_FLAGS)) flags[f] = str(f);
  const sets =
    str('set')
      ?.split(';')
      .map((s) => s.trim())
      .filter(Boolean) ?? [];
  return resolveTrainConfig({ url: str('url'), configFile, flags, sets, onNote });
}

async function plan(args: ParsedArgs, io: Io): Promise<TrainPlan> {
  const v = args.values;
  const str = (k: string) => (typeof v[k] === 'string' ? (v[k] as string) : undefined);
  const json = !!v.json;
  const strict = !!v.strict;
  if (str('resume')) {
    const device = parseChoice<Device>(str('device'), 'device', DEVICES, 'auto');
    const out = resolve(str('resume')!);
    for (const k of ['data', 'url', 'config', 'out', 'set', 'tags', ...Object.keys(FIELD_FLAGS)]) {
      if (v[k] !== undefined) throw new UsageError(`--resume continues the run as it was configured: drop --${k}`);
    }
    const meta = await readMeta(out, str('resume'));
    return {
      config: meta.config,
      dataDir: meta.dataDir,
      out,
      profileDir: str('cache') ?? meta.profileDir,
      device: str('device') ? device : meta.device,
      json,
      strict,
      name: meta.name,
      resume: meta,
      profile: !!v.profile,
      tags: meta.tags ?? [],
    };
  }
  // Every mistake on the command line at once (usage, exit 2), then what the files say (input, exit 1).
  const problems = new UsageProblems();
  const dataDir = str('data');
  if (!dataDir)
    problems.add(
      'Missing --data DIR (a LUNA16 folder: subsetN/*.mhd + .raw, annotations.csv, candidates.csv; or DICOM series)',
    );
  const device = problems.take(() => parseChoice<Device>(str('device'), 'device', DEVICES, 'auto'));
  const tags = problems.take(() => parseTags(str('tags')));
  problems.take(() => checkConfigFlags(args));
  problems.done();
  // Then the files (input, exit 1): --data, and a --config file read once its flags are known good.
  if (!existsSync(dataDir!)) throw new DataError(`--data ${dataDir}: no such file or folder`, { file: dataDir });
  const config = await configFromArgs(args, (n) => io.err(noteLine(n)));
  const out = resolve(str('out') ?? join('runs', new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19)));
  return {
    config,
    dataDir: resolve(dataDir!),
    out,
    profileDir: resolve(str('cache') ?? defaultProfileDir()),
    device: device!,
    json,
    strict,
    name: str('name') ?? `headless ${new Date().toISOString().slice(0, 19).replace('T', ' ')}`,
    resume: null,
    tags: [{ key: 'luna.headless', value: 'true' }, ...(tags ?? [])],
    profile: !!v.profile,
  };
}

/** `--tags "key=value;key=value"` → MLflow tags (a sweep's parent run, its trial). */
export function parseTags(raw: string | undefined): { key: string; value: string }[] {
  if (raw === undefined) return [];
  return raw
    .split(';')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((item) => {
      const eq = item.indexOf('=');
      if (eq <= 0)
        throw new UsageError(`--tags "${item}": expected KEY=VALUE, for example --tags mlflow.parentRunId=0123abcd`);
      return { key: item.slice(0, eq).trim(), value: item.slice(eq + 1).trim() };
    });
}

/** Refuse a software adapter for --device gpu; say which adapter runs the lab. */
function checkDevice(session: HeadlessSession, device: Device): string {
  const gpu = session.info.webgpu;
  if ('unavailable' in gpu) {
    if (device === 'gpu')
      throw new DeviceError(
        `--device gpu: WebGPU is not available in Chromium (${gpu.unavailable}). See the README's "Training on a GPU server".`,
      );
    return `none (${gpu.unavailable})`;
  }
  if (device === 'gpu' && (gpu.fallback || isSoftwareAdapter(gpu.adapter))) {
    throw new DeviceError(
      `--device gpu: Chromium's WebGPU adapter is "${gpu.adapter}", a software renderer, not a GPU. ` +
        'Check the driver\'s Vulkan ICD and the GL/EGL loader packages (README, "Training on a GPU server"), or use --device cpu.',
    );
  }
  return gpu.adapter;
}

class DeviceError extends Error {
  override name = 'DeviceError';
}

export interface TrainOutcome {
  code: number;
  run: RunRecord | null;
  /** The last JSON-able summary (what --json prints last). */
  summary: Record<string, unknown>;
}

/** Everything one run needs from an open session: used by `train` and, run after run, by `HeadlessTrainer` (`sweep`). */
async function runInSession(
  session: HeadlessSession,
  p: Omit<TrainPlan, 'device' | 'json' | 'strict' | 'dataDir'> & {
    dataDir: string;
    device: Device;
    /** Train on these series only (--data's); null: as the config selects. */
    series?: string[] | null;
  },
  reporter: Reporter,
  events: SessionEvents,
): Promise<TrainOutcome> {
  await mkdir(p.out, { recursive: true });
  let meta: RunMeta;
  const outputs = new OutputUpdater(session, p.out, reporter);
  events.target = outputs;
  const adapter = session.info.webgpu;
  let stored: RunRecord | null = null;
  if (p.resume) {
    meta = p.resume;
    stored = await session.call('run', meta.runId);
    // A run.json written just before a kill, whose run the page never created: start it now.
    if (!stored && meta.status !== STARTING)
      throw new Error(`run ${meta.runId} is not in the browser profile ${p.profileDir}: resume needs the same --cache`);
    outputs.begin(meta, stored?.epochsDone ?? 0, stored?.history ?? []);
    if (stored?.status === 'finished')
      reporter.line(`run ${stored.name} has finished; delivering what waits for tracking`);
  } else {
    // The run's id is reserved in run.json before the page creates the run (and queues its
    // MLflow start): a run killed at any moment leaves a folder that --resume continues under
    // that id, never a second run (and MLflow run) for the same folder (issue 15).
    meta = {
      runId: randomHex(8),
      name: p.name,
      config: p.config,
      labUrl: '',
      dataDir: p.dataDir,
      profileDir: p.profileDir,
      device: p.device,
      createdAt: Date.now(),
      eventsWallTime: Math.floor(Date.now() / 1000),
      status: STARTING,
      tags: p.tags,
    };
    await writeMeta(p.out, meta);
    outputs.begin(meta, 0, []);
  }

  let run: RunRecord;
  if (p.profile) await session.call('profileSteps', PROFILE_STEPS);
  // MLflow's system metrics of the browser's processes and the GPUs, while the run trains.
  const system = startSystemSampler(p.profileDir, async (values) => {
    const runId = outputs.runId();
    if (runId) await session.call('logSystemMetrics', runId, values, Date.now());
  });
  try {
    if (stored) {
      run =
        stored.status === 'finished'
          ? stored
          : await session.call('resume', stored.runId, await folderSource(stored.config));
    } else {
      run = await session.call('start', meta.config, meta.name, meta.tags ?? p.tags, {
        series: p.series ?? null,
        source: await folderSource(meta.config),
        runId: meta.runId,
        labBase: LAB_ADDRESS,
      });
    }
  } finally {
    await system.stop();
  }
  await outputs.settle();
  const latest = (await session.call('run', run.runId)) ?? run;
  await outputs.onEnd(latest);
  if (p.profile) {
    const written = await writeProfile(p.out, await session.call('profileReport'));
    if (!written.length) reporter.warn('--profile: no training step was profiled (the run ended first)');
    outputs.add(...written);
  }

  const tracking = latest.config.tracking.server ? await deliverTracking(session, reporter) : null;
  const metrics = finalMetrics(latest.history);
  const summary: Record<string, unknown> = {
    status: latest.status,
    runId: latest.runId,
    name: latest.name,
    epochs: latest.epochsDone,
    samplesSeen: latest.samplesSeen,
    metrics,
    labUrl: openableLabUrl(latest.labUrl),
    dataDigest: latest.dataDigest,
    backend: latest.backend,
    adapter: latest.adapter ?? ('adapter' in adapter ? adapter.adapter : null),
    out: p.out,
    files: outputs.written(),
    ...(latest.error ? { error: latest.error } : {}),
    ...(tracking
      ? {
          tracking: {
            server: latest.config.tracking.server,
            pending: tracking.pending,
            failed: tracking.failed.length,
            ...(tracking.lastError ? { lastError: tracking.lastError } : {}),
          },
        }
      : {}),
  };
  let code: number =
    latest.status === 'finished' ? EXIT.ok : latest.status === 'stopped' ? EXIT.interrupted : EXIT.failed;
  if (latest.status === 'failed' || latest.status === 'interrupted')
    reporter.error(`run ${latest.name} ${latest.status}: ${latest.error ?? 'no reason given'}`);
  if (latest.status === 'stopped')
    reporter.line(
      `stopped; the checkpoint of epoch ${latest.epochsDone} is kept. Continue with: luna-lab train --resume ${p.out}`,
    );
  if (tracking && (tracking.pending > 0 || tracking.failed.length > 0)) {
    reporter.warn(
      `${tracking.pending + tracking.failed.length} tracking item(s) were not delivered to ${latest.config.tracking.server}` +
        `${tracking.lastError ? ` (${tracking.lastError})` : ''}; they are kept in ${p.profileDir} and sent by the next run on that --cache, or by luna-lab train --resume ${p.out}`,
    );
    if (code === EXIT.ok) code = EXIT.trackingBacklog;
  }
  return { code, run: latest, summary };
}

/** A run folder named by `finetune.from` (`--from DIR`), read here: the page cannot open local folders. */
async function folderSource(config: LabConfig): Promise<SourceWeightsOut | undefined> {
  const from = config.finetune.from;
  if (!from || parseModelSource(from).kind !== 'folder') return undefined;
  return readRunFolderWeights(resolve(from), from);
}

/** Deliver the outbox; wait while it makes progress (a big artifact upload takes a while). */
export async function deliverTracking(session: HeadlessSession, reporter: Reporter): Promise<OutboxState> {
  let state = await session.call('flushTracking');
  const deadline = Date.now() + 60_000;
  while (state.pending > 0 && !state.lastError && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 500));
    state = await session.call('flushTracking');
  }
  reporter.event('tracking', {
    pending: state.pending,
    failed: state.failed.length,
    lastError: state.lastError ?? null,
  });
  return state;
}

/**
 * The run's output folder as a run sink on the CLI's side of the page: writes outputs as epochs
 * end (the page says so with a run event), one update at a time: the final checkpoint, the best
 * one (by validation F1), metrics.csv and the TensorBoard event file; `onEnd` writes the rest.
 */
class OutputUpdater implements RunSink<RunSummary> {
  private meta!: RunMeta;
  private epochsDone = 0;
  private bestF1 = -Infinity;
  private chain: Promise<void> = Promise.resolve();
  private files = new Set<string>();

  constructor(
    private readonly session: HeadlessSession,
    private readonly out: string,
    private readonly reporter: Reporter,
  ) {}

  begin(meta: RunMeta, epochsDone: number, history: RunRecord['history']): void {
    this.meta = meta;
    this.epochsDone = epochsDone;
    for (const p of history) {
      const f = p.values['validating/pr/f1_score'];
      if (f !== undefined && f > this.bestF1) this.bestF1 = f;
    }
  }

  onRun(run: RunSummary): void {
    if (this.meta.status === STARTING) {
      this.meta = { ...this.meta, runId: run.runId, labUrl: openableLabUrl(run.labUrl), status: run.status };
      delete this.meta.tags; // the page keeps them with the run now
      this.enqueue(() => writeMeta(this.out, this.meta).then(() => void this.files.add(OUT.meta)));
    }
    if (run.epochsDone > this.epochsDone) {
      this.epochsDone = run.epochsDone;
      this.enqueue(() => this.epochEnded(run.runId, run.epochsDone));
    }
  }

  private enqueue(job: () => Promise<void>): void {
    this.chain = this.chain
      .then(job)
      .catch((e: unknown) =>
        this.reporter.warn(`could not write outputs: ${e instanceof Error ? e.message : String(e)}`),
      );
  }

  private async epochEnded(runId: string, epoch: number): Promise<void> {
    const [run, cp] = await Promise.all([this.session.call('run', runId), this.session.call('checkpoint', runId)]);
    if (!run || !cp) return;
    await writeHistory(this.out, run.history, this.meta.eventsWallTime);
    this.files.add(OUT.metrics).add(OUT.tensorboard);
    if (cp.epoch !== epoch) return; // a later epoch already replaced it; its own update follows
    await writeCheckpoint(join(this.out, OUT.final), cp);
    this.files.add(OUT.final);
    const f1 = run.history.find((p) => p.epoch === epoch && 'validating/pr/f1_score' in p.values)?.values[
      'validating/pr/f1_score'
    ];
    if (f1 !== undefined && f1 > this.bestF1) {
      this.bestF1 = f1;
      await writeCheckpoint(join(this.out, OUT.best), cp);
      this.files.add(OUT.best);
    }
    await writeMeta(this.out, { ...this.meta, status: run.status, backend: run.backend, adapter: run.adapter });
  }

  /** Files written beside the updater's own. */
  add(...paths: string[]): void {
    for (const f of paths) this.files.add(f);
  }

  /** The run's id once the page has named it. */
  runId(): string | null {
    return this.meta.runId || null;
  }

  /** Wait for the updates queued so far. */
  settle(): Promise<void> {
    return this.chain;
  }

  /** The last word: history, run.json and, when a checkpoint exists, the exported models. */
  async onEnd(run: RunRecord): Promise<void> {
    // The final lab URL: once the data is pinned it carries the data's digest too.
    this.meta = { ...this.meta, runId: run.runId, labUrl: openableLabUrl(run.labUrl) };
    await writeMeta(this.out, { ...this.meta, status: run.status, backend: run.backend, adapter: run.adapter });
    this.files.add(OUT.meta);
    if (!run.epochsDone) return;
    await writeHistory(this.out, run.history, this.meta.eventsWallTime);
    this.files.add(OUT.metrics).add(OUT.tensorboard);
    const cp = await this.session.call('checkpoint', run.runId);
    if (cp) {
      await writeCheckpoint(join(this.out, OUT.final), cp);
      this.files.add(OUT.final);
    }
    const files = (await this.session.call('exportRun', run.runId)).map((f) =>
      f.path === LAB_URL_FILE ? { ...f, base64: Buffer.from(`${openableLabUrl(run.labUrl)}\n`).toString('base64') } : f,
    );
    for (const f of await writeFiles(this.out, files)) this.files.add(f);
  }

  written(): string[] {
    return [...this.files, OUT.console].sort();
  }
}

/** Routes the page's events to the terminal and the output writer. */
class SessionEvents {
  /** The run's output sink (one run at a time in a session). */
  target: RunSink<RunSummary> | null = null;
  /** Told of each run event (after the sink). */
  onRun: (() => void) | null = null;
  private config: LabConfig['train'] | null = null;
  private lastJsonProgress = 0;
  private training: MetricPoint | null = null;
  /** Epoch lines held until the page has stored their epoch (its checkpoint, with the epoch's
   *  tracking items): whoever acts on a line (Ray Tune stops a trial at once) acts on what a
   *  kill cannot take back. */
  private held: { epoch: number; show: () => void }[] = [];
  constructor(private readonly reporter: Reporter) {}

  /** The run about to train: its epochs and validation cadence decide when an epoch's line is due. */
  begin(config: LabConfig): void {
    this.config = config.train;
    this.held = [];
  }

  handle = (e: HeadlessEvent): void => {
    const r = this.reporter;
    switch (e.type) {
      case 'ingest':
        for (const f of e.files) {
          // The readers' messages start with the file's name; say it once.
          if (f.status === 'error')
            r.error(f.message?.startsWith(f.file) ? f.message : `${f.file}: ${f.message ?? 'could not be read'}`);
          else if (f.status === 'stored')
            r.event('ingest', { file: f.file, status: f.status, seriesUid: f.seriesUid ?? null }, `stored ${f.file}`);
        }
        break;
      case 'run': {
        this.target?.onRun?.(e.run);
        const stored = this.held.filter((h) => h.epoch <= e.run.epochsDone);
        this.held = this.held.filter((h) => h.epoch > e.run.epochsDone);
        for (const h of stored) h.show();
        this.onRun?.();
        break;
      }
      case 'progress': {
        r.progress(progressLine(e.progress), e.progress.done >= e.progress.total);
        // JSON consumers get at most one progress line a second, and each phase's last step.
        const now = Date.now();
        if (now - this.lastJsonProgress >= 1000 || e.progress.done >= e.progress.total) {
          this.lastJsonProgress = now;
          r.event('progress', { ...e.progress });
        }
        break;
      }
      case 'metrics': {
        const p = e.point;
        const validated = Object.keys(p.values).some((k) => k.startsWith('validating/'));
        // The epoch's line holds its training and (when due) its validation values.
        const values =
          validated && this.training?.epoch === p.epoch ? { ...this.training.values, ...p.values } : p.values;
        if (!validated) this.training = p;
        if (validated || !this.willValidate(p.epoch)) {
          this.held.push({
            epoch: p.epoch,
            show: () =>
              r.event(
                'epoch',
                { runId: e.runId, epoch: p.epoch, step: p.step, values },
                epochLine(p.epoch, this.config?.epochs ?? p.epoch, values),
              ),
          });
        }
        break;
      }
      case 'tracking':
        break;
      case 'interrupted':
        r.warn(
          `the GPU device was lost (${e.error ?? 'no reason'}); resuming run ${e.runId} from its last checkpoint in a fresh worker`,
        );
        break;
    }
  };

  /** The trainer's rule (src/train/cadence.ts). */
  private willValidate(epoch: number): boolean {
    return !this.config || isValidationEpoch(epoch, this.config);
  }
}

/** Ingest the data folder through the page; fail on no scans (or, with --strict, any error). */
async function ingestData(
  session: HeadlessSession,
  dataDir: string,
  strict: boolean,
  reporter: Reporter,
  profileDir: string,
): Promise<IngestReport> {
  const report = await session.call('ingest', session.dataUrl!, await diskFree(profileDir));
  const cached = report.skipped.filter((s) => s.reason === 'already cached').length;
  const series = report.series.length;
  reporter.event(
    'ingested',
    {
      series,
      alreadyCached: cached,
      errors: report.errors,
      tables: report.tables.map((t) => ({ file: t.file, kind: t.kind, rows: t.rows, rowErrors: t.rowErrors })),
    },
    `ingested ${series} series${cached ? ` (${cached} file(s) already cached)` : ''}; ${report.errors.length} error(s)`,
  );
  // Scans stored now or cached from this folder before; a cached CSV alone is no data.
  if (!report.dropSeries.length) {
    throw new DataError(
      `no CT series found in ${dataDir}${report.errors.length ? ` (${report.errors.length} file(s) could not be read)` : ''}`,
    );
  }
  if (!report.tables.some((t) => t.kind === 'candidates') && !cached) {
    reporter.warn(`no candidates.csv in ${dataDir}: the run uses candidates already cached, if any`);
  }
  if (strict && report.errors.length)
    throw new DataError(`--strict: ${report.errors.length} file(s) in ${dataDir} could not be ingested`);
  const room = await session.call('storage');
  if (room) {
    const free = await diskFree(profileDir);
    reporter.event(
      'storage',
      { ...room, ...(free === null ? {} : { diskFree: free }) },
      `storage: ${describeRoom({ ...room, ...(free === null ? {} : { diskFree: free }) })}`,
    );
  }
  return report;
}

/** Free bytes on the disk holding `dir` (for the user, statfs's bavail), or null. */
async function diskFree(dir: string): Promise<number | null> {
  const s = await statfs(dir).catch(() => null);
  return s ? s.bavail * s.bsize : null;
}

/**
 * The series a run on --data trains on: exactly those of its folder (stored now or cached
 * from it before), unless the config chooses (--subsets, or a lab URL's pinned data). Said
 * aloud, with the cached series of the same subsets it leaves out.
 */
async function dataSeries(
  session: HeadlessSession,
  config: LabConfig,
  report: IngestReport,
  dataDir: string,
  reporter: Reporter,
): Promise<string[] | null> {
  if (config.data.subsets.length || config.data.digest.length) return null;
  const mine = new Set(report.dropSeries);
  const cached = await session.call('cachedSeries');
  const subsets = new Map<string, number>();
  for (const s of cached) if (mine.has(s.seriesUid)) subsets.set(s.subset, (subsets.get(s.subset) ?? 0) + 1);
  const others = cached.filter((s) => !mine.has(s.seriesUid) && subsets.has(s.subset));
  const bySubset = [...subsets].map(([s, n]) => `${s || '(no folder)'}: ${n}`).join(', ');
  reporter.event(
    'data',
    { series: report.dropSeries, subsets: Object.fromEntries(subsets), otherCachedSeries: others.length },
    `training on the ${mine.size} series of ${dataDir} (${bySubset})` +
      (others.length
        ? `; ${others.length} other cached series of the same subsets are left out (--subsets ${[...subsets.keys()].join(',')} would use them too)`
        : ''),
  );
  return report.dropSeries;
}

/** One run of a `HeadlessTrainer`: its config, output folder, name and MLflow tags; with
 *  `resume` (the folder's run.json), the run of that folder continued instead (cv's folds). */
export interface HeadlessRunPlan {
  config: LabConfig;
  out: string;
  name: string;
  tags: { key: string; value: string }[];
  resume?: RunMeta | null;
}

/**
 * Headless training run after run in one browser session, as `sweep` uses it: the flags shared
 * with `train` (--url/--config/field flags/--set, --data, --device, --cache, --json, --strict)
 * are read by `fromArgs`; `open` starts the browser on the profile and ingests --data once;
 * each `run` trains one config into its own folder, reported as `train` reports its run.
 */
export class HeadlessTrainer {
  static readonly EXIT = EXIT;
  private session: HeadlessSession | null = null;
  private readonly events: SessionEvents;
  /** --data's series, once ingested (null: the config chooses). */
  private series: string[] | null = null;

  private constructor(
    /** The config the flags give, before any per-run change. */
    readonly config: LabConfig,
    readonly reporter: Reporter,
    readonly device: Device,
    readonly profileDir: string,
    private readonly dataDir: string,
    private readonly strict: boolean,
  ) {
    this.events = new SessionEvents(reporter);
  }

  /** Reads the shared flags; --data must name a folder (checked by the caller first if its own
   *  usage errors come earlier). */
  static async fromArgs(
    args: ParsedArgs,
    io: Io,
    /** The caller's own usage errors so far, reported together with these. */
    problems = new UsageProblems(),
  ): Promise<HeadlessTrainer> {
    const v = args.values;
    const str = (k: string) => (typeof v[k] === 'string' ? (v[k] as string) : undefined);
    const dataDir = str('data');
    if (!dataDir) problems.add('Missing --data DIR');
    const device = problems.take(() => parseChoice<Device>(str('device'), 'device', DEVICES, 'auto'));
    problems.take(() => checkConfigFlags(args));
    problems.done();
    const config = await configFromArgs(args, (n) => io.err(noteLine(n)));
    const profileDir = resolve(str('cache') ?? defaultProfileDir());
    return new HeadlessTrainer(config, new Reporter(io, !!v.json), device!, profileDir, resolve(dataDir!), !!v.strict);
  }

  /** Start the browser (its console to `consoleLog`) and ingest the data folder. */
  async open(consoleLog: string): Promise<void> {
    await mkdir(this.profileDir, { recursive: true });
    this.reporter.status('starting Chromium and the lab page');
    this.session = await HeadlessSession.open({
      device: this.device,
      profileDir: this.profileDir,
      dataDir: this.dataDir,
      consoleLog,
      onEvent: this.events.handle,
      hash: encodeLabHash(this.config),
    });
  }

  async ingest(): Promise<IngestReport> {
    const report = await ingestData(this.opened(), this.dataDir, this.strict, this.reporter, this.profileDir);
    this.series = await dataSeries(this.opened(), this.config, report, this.dataDir, this.reporter);
    return report;
  }

  async run(p: HeadlessRunPlan): Promise<TrainOutcome> {
    this.events.begin(p.config);
    return runInSession(
      this.opened(),
      {
        ...p,
        dataDir: this.dataDir,
        profileDir: this.profileDir,
        device: this.device,
        resume: p.resume ?? null,
        // A run whose config picks subsets (or pins data) is told otherwise.
        series: p.config.data.subsets.length || p.config.data.digest.length ? null : this.series,
      },
      this.reporter,
      this.events,
    );
  }

  /** Ask the run in progress to stop after its current step. */
  stop(): void {
    void this.session?.call('stop').catch(() => {});
  }

  async close(): Promise<void> {
    this.reporter.close();
    await this.session?.close();
    this.session = null;
  }

  private opened(): HeadlessSession {
    if (!this.session) throw new Error('HeadlessTrainer: open() the session first');
    return this.session;
  }
}

export async function train(args: ParsedArgs, io: Io): Promise<number> {
  const p = await plan(args, io);
  const outDir = await makeOutDir(p.out);
  let code: number = EXIT.failed;
  try {
    code = await trainInto(p, io);
    return code;
  } finally {
    if (code !== EXIT.ok) await outDir.discardIfEmpty();
  }
}

async function trainInto(p: TrainPlan, io: Io): Promise<number> {
  const reporter = new Reporter(io, p.json);
  const events = new SessionEvents(reporter);
  events.begin(p.config);
  // A run.json that only reserved its run's id: the run starts, with --data ingested as for a new one.
  const fresh = !p.resume || p.resume.status === STARTING;
  await mkdir(p.profileDir, { recursive: true });
  reporter.status('starting Chromium and the lab page');
  const session = await HeadlessSession.open({
    device: p.device,
    profileDir: p.profileDir,
    dataDir: fresh ? p.dataDir : undefined,
    consoleLog: join(p.out, OUT.console),
    onEvent: events.handle,
    hash: encodeLabHash(p.config),
  }).catch((e: unknown) => {
    reporter.close();
    const msg = e instanceof Error ? e.message : String(e);
    if (/ProcessSingleton|profile.*in use|SingletonLock/i.test(msg))
      throw new Error(
        `the browser profile ${p.profileDir} is in use by another luna-lab run (one run per --cache at a time)`,
      );
    throw e;
  });

  let stopping = false;
  const onSigint = () => {
    if (stopping) {
      reporter.error('interrupted again: exiting without waiting for the run to stop');
      void session.close().finally(() => process.exit(EXIT.interrupted));
      return;
    }
    stopping = true;
    // The trainer checks before and after each step (src/train/trainer.ts): no new step begins.
    reporter.line(
      'stopping after this step (the checkpoint of the last finished epoch is kept); Ctrl-C again to quit at once',
    );
    void session.call('stop').catch(() => {});
  };
  // A stop asked for while the page was still setting the run up (the trainer forgets a stop
  // that comes before its run): asked again once the run is there, so it is not trained anyway.
  let restopped = false;
  events.onRun = () => {
    if (!stopping || restopped) return;
    restopped = true;
    void session.call('stop').catch(() => {});
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  try {
    const adapter = checkDevice(session, p.device);
    const why = session.autoChoice?.reason;
    reporter.event(
      'start',
      {
        device: p.device,
        adapter,
        ...(why ? { deviceReason: why } : {}),
        profile: p.profileDir,
        out: p.out,
        lab: session.info.labVersion,
      },
      `WebGPU adapter: ${adapter} (--device ${p.device}${why ? `: ${why}` : ''})`,
    );
    let series: string[] | null = null;
    if (fresh) {
      reporter.status(`ingesting ${p.dataDir}`);
      const report = await ingestData(session, p.dataDir, p.strict, reporter, p.profileDir);
      series = await dataSeries(session, p.config, report, p.dataDir, reporter);
    }
    // Stopped (SIGTERM: a Ray trial's worker died) before the run began: no run is made.
    if (stopping) {
      reporter.line('stopped before the run began: nothing was trained');
      return EXIT.interrupted;
    }
    reporter.status('training: waiting for the first step');
    const outcome = await runInSession(session, { ...p, series }, reporter, events);
    const m = outcome.summary.metrics as ReturnType<typeof finalMetrics>;
    reporter.event(
      'done',
      outcome.summary,
      `${outcome.summary.status}: validation F1 ${m.validating['pr/f1_score']?.toFixed(4) ?? '—'}${m.validating.auc === undefined ? '' : ` · AUC ${m.validating.auc.toFixed(4)} (diameter baseline ${m.validating.auc_diameter?.toFixed(4) ?? '—'})`} · outputs in ${p.out}\nlab URL (open it with npm start running): ${outcome.summary.labUrl}`,
    );
    return outcome.code;
  } catch (e) {
    if (e instanceof DeviceError || e instanceof DataError) {
      reporter.error(e.message);
      return EXIT.failed;
    }
    throw e;
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
    reporter.close();
    await session.close();
  }
}
