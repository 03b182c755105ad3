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
import type { HeadlessEvent, RunSummary } from '../headless/headless-api.ts';
import { isSoftwareAdapter } from '../model/backend.ts';
import type { IngestReport } from '../store/ingest.ts';
import { describeRoom } from '../store/quota.ts';
import type { MetricPoint, RunRecord } from '../store/records.ts';
import { DataError } from '../data/errors.ts';
import type { OutboxState } from '../tracking/outbox.ts';
import type { RunSink } from '../tracking/run-sink.ts';
import { isValidationEpoch } from '../train/cadence.ts';
import { parseChoice, UsageError, type ParsedArgs } from './args.ts';
import { DEVICES, HeadlessSession, type Device } from './headless-session.ts';
import type { Io } from './main.ts';
import { errorLine, warningLine } from './diagnostics.ts';
import { epochLine, progressLine } from './progress.ts';
import {
  OUT,
  finalMetrics,
  readMeta,
  writeCheckpoint,
  writeFiles,
  writeHistory,
  writeMeta,
  type RunMeta,
} from './run-outputs.ts';
import { FIELD_FLAGS, resolveTrainConfig } from './train-config.ts';

export const EXIT = { ok: 0, failed: 1, usage: 2, trackingBacklog: 3, interrupted: 130 } as const;

export function defaultProfileDir(): string {
  return join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'luna-lab', 'chromium-profile');
}

/** One JSON object per line (--json) or human lines; progress rewritten in place on a TTY. */
export class Reporter {
  private inPlace = false;
  constructor(
    private readonly io: Io,
    private readonly json: boolean,
    private readonly tty = !!process.stderr.isTTY,
  ) {}
  event(type: string, body: Record<string, unknown>, text?: string): void {
    if (this.json) this.io.out(JSON.stringify({ event: type, ...body }));
    else if (text !== undefined) this.line(text);
  }
  progress(text: string): void {
    if (this.json) return;
    if (this.tty) {
      process.stderr.write(`\r\x1b[K${text}`);
      this.inPlace = true;
    }
  }
  /** A human line: stdout, or stderr when stdout carries JSON. */
  line(text: string): void {
    if (this.inPlace) process.stderr.write('\r\x1b[K');
    this.inPlace = false;
    if (this.json) this.io.err(text);
    else this.io.out(text);
  }
  private said = new Set<string>();
  /** An error, once (a .mhd and its .raw fail with one message): stderr, and JSON too with --json. */
  error(text: string): void {
    if (this.said.has(text)) return;
    this.said.add(text);
    if (this.inPlace) process.stderr.write('\r\x1b[K');
    this.inPlace = false;
    if (this.json) this.io.out(JSON.stringify({ event: 'error', message: text }));
    this.io.err(errorLine(text));
  }
  warn(text: string): void {
    if (this.json) this.io.out(JSON.stringify({ event: 'warning', message: text }));
    else this.io.err(warningLine(text));
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
          throw new UsageError(`--config ${configPath}: cannot read the file`);
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
  const device = parseChoice<Device>(str('device'), 'device', DEVICES, 'auto');
  const json = !!v.json;
  const strict = !!v.strict;
  if (str('resume')) {
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
      tags: [],
    };
  }
  const dataDir = str('data');
  if (!dataDir)
    throw new UsageError(
      'Missing --data DIR (a LUNA16 folder: subsetN/*.mhd + .raw, annotations.csv, candidates.csv; or DICOM series)',
    );
  if (!existsSync(dataDir)) throw new UsageError(`--data ${dataDir}: no such folder`);
  const config = await configFromArgs(args, (n) => io.err(`note: ${n}`));
  const out = resolve(str('out') ?? join('runs', new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19)));
  return {
    config,
    dataDir: resolve(dataDir),
    out,
    profileDir: resolve(str('cache') ?? defaultProfileDir()),
    device,
    json,
    strict,
    name: str('name') ?? `headless ${new Date().toISOString().slice(0, 19).replace('T', ' ')}`,
    resume: null,
    tags: [{ key: 'luna.headless', value: 'true' }, ...parseTags(str('tags'))],
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
    if (!stored)
      throw new Error(`run ${meta.runId} is not in the browser profile ${p.profileDir}: resume needs the same --cache`);
    outputs.begin(meta, stored.epochsDone, stored.history);
    if (stored.status === 'finished')
      reporter.line(`run ${stored.name} has finished; delivering what waits for tracking`);
  } else {
    meta = {
      runId: '',
      name: p.name,
      config: p.config,
      labUrl: '',
      dataDir: p.dataDir,
      profileDir: p.profileDir,
      device: p.device,
      createdAt: Date.now(),
      eventsWallTime: Math.floor(Date.now() / 1000),
    };
    outputs.begin(meta, 0, []);
  }

  let run: RunRecord;
  if (stored) {
    run = stored.status === 'finished' ? stored : await session.call('resume', stored.runId);
  } else {
    run = await session.call('start', p.config, p.name, p.tags, p.series ?? null);
  }
  await outputs.settle();
  const latest = (await session.call('run', run.runId)) ?? run;
  await outputs.onEnd(latest);

  const tracking = latest.config.tracking.server ? await deliverTracking(session, reporter) : null;
  const metrics = finalMetrics(latest.history);
  const summary: Record<string, unknown> = {
    status: latest.status,
    runId: latest.runId,
    name: latest.name,
    epochs: latest.epochsDone,
    samplesSeen: latest.samplesSeen,
    metrics,
    labUrl: latest.labUrl,
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

/** Deliver the outbox; wait while it makes progress (a big artifact upload takes a while). */
async function deliverTracking(session: HeadlessSession, reporter: Reporter): Promise<OutboxState> {
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
    if (!this.meta.runId) {
      this.meta = { ...this.meta, runId: run.runId, labUrl: run.labUrl };
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

  /** Wait for the updates queued so far. */
  settle(): Promise<void> {
    return this.chain;
  }

  /** The last word: history, run.json and, when a checkpoint exists, the exported models. */
  async onEnd(run: RunRecord): Promise<void> {
    if (!this.meta.runId) this.meta = { ...this.meta, runId: run.runId, labUrl: run.labUrl };
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
    for (const f of await writeFiles(this.out, await this.session.call('exportRun', run.runId))) this.files.add(f);
  }

  written(): string[] {
    return [...this.files, OUT.console].sort();
  }
}

/** Routes the page's events to the terminal and the output writer. */
class SessionEvents {
  /** The run's output sink (one run at a time in a session). */
  target: RunSink<RunSummary> | null = null;
  private config: LabConfig['train'] | null = null;
  private lastJsonProgress = 0;
  private training: MetricPoint | null = null;
  constructor(private readonly reporter: Reporter) {}

  /** The run about to train: its epochs and validation cadence decide when an epoch's line is due. */
  begin(config: LabConfig): void {
    this.config = config.train;
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
      case 'run':
        this.target?.onRun?.(e.run);
        break;
      case 'progress': {
        r.progress(progressLine(e.progress));
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
          r.event(
            'epoch',
            { runId: e.runId, epoch: p.epoch, step: p.step, values },
            epochLine(p.epoch, this.config?.epochs ?? p.epoch, values),
          );
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
  static async fromArgs(args: ParsedArgs, io: Io): Promise<HeadlessTrainer> {
    const v = args.values;
    const str = (k: string) => (typeof v[k] === 'string' ? (v[k] as string) : undefined);
    const dataDir = str('data');
    if (!dataDir) throw new UsageError('Missing --data DIR');
    const config = await configFromArgs(args, (n) => io.err(`note: ${n}`));
    const device = parseChoice<Device>(str('device'), 'device', DEVICES, 'auto');
    const profileDir = resolve(str('cache') ?? defaultProfileDir());
    return new HeadlessTrainer(config, new Reporter(io, !!v.json), device, profileDir, resolve(dataDir), !!v.strict);
  }

  /** Start the browser (its console to `consoleLog`) and ingest the data folder. */
  async open(consoleLog: string): Promise<void> {
    await mkdir(this.profileDir, { recursive: true });
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
  const reporter = new Reporter(io, p.json);
  const events = new SessionEvents(reporter);
  events.begin(p.config);
  await mkdir(p.out, { recursive: true });
  await mkdir(p.profileDir, { recursive: true });
  const session = await HeadlessSession.open({
    device: p.device,
    profileDir: p.profileDir,
    dataDir: p.resume ? undefined : p.dataDir,
    consoleLog: join(p.out, OUT.console),
    onEvent: events.handle,
    hash: encodeLabHash(p.config),
  }).catch((e: unknown) => {
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
    if (!p.resume) {
      const report = await ingestData(session, p.dataDir, p.strict, reporter, p.profileDir);
      series = await dataSeries(session, p.config, report, p.dataDir, reporter);
    }
    const outcome = await runInSession(session, { ...p, series }, reporter, events);
    const m = outcome.summary.metrics as ReturnType<typeof finalMetrics>;
    reporter.event(
      'done',
      outcome.summary,
      `${outcome.summary.status}: validation F1 ${m.validating['pr/f1_score']?.toFixed(4) ?? '—'} · outputs in ${p.out}\nlab URL: ${outcome.summary.labUrl}`,
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
    await session.close();
  }
}
