/**
 * `luna-lab sweep --engine ray`: the sweep's grid (plus `choice` and `random` entries) placed by
 * Ray Tune, each trial a `luna-lab train --json` run on whichever node of the cluster Tune picks,
 * with per-trial resources, a concurrency limit and Tune's schedulers (FIFO, ASHA) deciding on
 * the validations the runs report as they happen. The CLI writes the sweep spec, creates the
 * MLflow parent run (the trials are its children), starts the Python driver (ray/luna_tune.py,
 * in the Ray venv of ray/setup-venv), relays its events, and writes `sweep.json` from Tune's
 * results. `--resume OUT` restores the Tune experiment of OUT: finished trials are not re-run.
 * `--deliver PROFILE` is the driver's last step on each node: what a slot's outbox still holds
 * (a trial ended by the scheduler or a killed driver leaves it there) goes to MLflow.
 * Nothing else of the lab needs Python.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LabConfig } from '../config/lab-config.ts';
import { MlflowClient } from '../tracking/mlflow-client.ts';
import { parseChoice, parseInteger, UsageError, type ParsedArgs } from './args.ts';
import { DEVICES, HeadlessSession, type Device } from './headless-session.ts';
import type { Io } from './main.ts';
import { checkSearchSpace, gridSize, parseSearchSpace, type SpaceEntry } from './search-space.ts';
import { configFromArgs, deliverTracking, EXIT, Reporter } from './train.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SCHEDULERS = ['fifo', 'asha'] as const;
export type SchedulerName = (typeof SCHEDULERS)[number];

/** What ray/luna_tune.py reads (its `Spec`); kept in OUT/ray-sweep.json for --resume. */
export interface RaySweepSpec {
  out: string;
  storage: string;
  name: string;
  space: SpaceEntry[];
  train: { node: string; cli: string; root: string; args: string[]; cacheRoot: string; slots: number; epochs: number };
  resources: Record<string, number>;
  maxConcurrent: number;
  samples: number;
  scheduler: SchedulerName;
  metric: string;
  mode: 'max' | 'min';
  parentRunId: string | null;
  results: string;
  seed: number;
  /** The MLflow server and experiment of the parent run (not read by the driver). */
  tracking: { server: string; experiment: string };
}

/** One trial as the driver reports it (ray/luna_tune.py `collect`). */
export interface TrialResult {
  trial: string;
  point: Record<string, string>;
  status: 'finished' | 'stopped' | 'error';
  error: string | null;
  runId: string | null;
  out: string | null;
  epochs: number;
  metrics: Record<string, number | null>;
  history: { epoch: number; values: Record<string, number | null> }[];
}

/** "cpu=1,gpu=0.25" → { CPU: 1, GPU: 0.25 }; other names are custom Ray resources. */
export function parseTrialResources(raw: string | undefined): Record<string, number> {
  if (raw === undefined) return { CPU: 1, GPU: 0 };
  const out: Record<string, number> = {};
  for (const part of raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const m = /^([A-Za-z_][\w.:-]*)=(\d+(?:\.\d+)?)$/.exec(part);
    if (!m)
      throw new UsageError(`--trial-resources "${raw}": "${part}" is not NAME=AMOUNT (for example cpu=1,gpu=0.25)`);
    const name = m[1].toLowerCase() === 'cpu' ? 'CPU' : m[1].toLowerCase() === 'gpu' ? 'GPU' : m[1];
    out[name] = Number(m[2]);
  }
  if (!Object.keys(out).length)
    throw new UsageError(`--trial-resources "${raw}": no resources named (for example cpu=1,gpu=0.25)`);
  return out;
}

/** The Ray venv's Python: LUNA_RAY_VENV, else .cache/ray-venv of the checkout. */
export function rayPython(root = ROOT): string {
  const venv = process.env.LUNA_RAY_VENV ?? join(root, '.cache', 'ray-venv');
  const py = join(venv, 'bin', 'python');
  if (!existsSync(py))
    throw new Error(
      `${py} not found: run "bash ray/setup-venv" to install Ray Tune (ray/requirements.txt) into its own venv`,
    );
  return py;
}

/** The train flags every trial shares: the base config file and what is not the config. */
function trialArgs(baseFile: string, dataDir: string, device: Device, strict: boolean): string[] {
  return ['--data', dataDir, '--config', baseFile, '--device', device, ...(strict ? ['--strict'] : [])];
}

async function newSpec(args: ParsedArgs, reporter: Reporter): Promise<{ spec: RaySweepSpec; base: LabConfig }> {
  const v = args.values;
  const str = (k: string) => (typeof v[k] === 'string' ? (v[k] as string) : undefined);
  const gridPath = str('grid');
  if (!gridPath)
    throw new UsageError(
      'Missing --grid FILE (JSON: {"optimizer.lr": [0.001, 0.01], "model.dropoutRate": {"random": [0.1, 0.5]}, ...})',
    );
  const dataDir = str('data');
  if (!dataDir) throw new UsageError('Missing --data DIR (the same path on every node of the cluster)');
  const gridText = await readFile(gridPath, 'utf8').catch(() => {
    throw new UsageError(`--grid ${gridPath}: cannot read the file`);
  });
  const space = parseSearchSpace(gridText, gridPath);
  const base: LabConfig = await configFromArgs(args);
  checkSearchSpace(base, space);
  const device = parseChoice<Device>(str('device'), 'device', DEVICES, 'auto');
  const scheduler = parseChoice<SchedulerName>(str('scheduler'), 'scheduler', SCHEDULERS, 'fifo');
  const mode = parseChoice<'max' | 'min'>(str('mode'), 'mode', ['max', 'min'], 'max');
  const metric = str('metric') ?? 'validating/pr/f1_score';
  if (!/^(training|validating)\//.test(metric))
    throw new UsageError(
      `--metric "${metric}": expected a metric the runs report, for example validating/pr/f1_score or validating/loss/all`,
    );
  if (!metric.startsWith('validating/'))
    reporter.warn(`--metric ${metric}: trials report to Tune at each validation, with that epoch's training metrics`);
  const maxConcurrent = parseInteger(str('max-concurrent'), 'max-concurrent', 1, 1, 10_000);
  const samples = parseInteger(str('samples'), 'samples', 1, 1, 100_000);
  const resources = parseTrialResources(str('trial-resources'));
  const out = resolve(str('out') ?? join('sweeps', new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19)));
  const baseFile = join(out, 'base-config.json');
  const spec: RaySweepSpec = {
    out,
    storage: join(out, 'ray'),
    name: 'tune',
    space,
    train: {
      node: process.execPath,
      cli: join(ROOT, 'bin', 'luna-lab.js'),
      root: ROOT,
      args: trialArgs(baseFile, resolve(dataDir), device, !!v.strict),
      // Per node: the same path on each, on the node's own disk.
      cacheRoot: resolve(
        str('cache') ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'luna-lab', 'ray-slots'),
      ),
      slots: maxConcurrent,
      epochs: base.train.epochs,
    },
    resources,
    maxConcurrent,
    samples,
    scheduler,
    metric,
    mode,
    parentRunId: null,
    results: join(out, 'ray-results.json'),
    seed: base.train.seed,
    tracking: { server: base.tracking.server, experiment: base.tracking.experiment },
  };
  return { spec, base };
}

/** Rank finished trials by the metric (max or min); stopped (by the scheduler) and failed ones are not ranked. */
export function bestTrial(trials: readonly TrialResult[], metric: string, mode: 'max' | 'min'): TrialResult | null {
  const ranked = trials.filter((t) => t.status === 'finished' && typeof t.metrics[metric] === 'number');
  ranked.sort((a, b) =>
    mode === 'max' ? b.metrics[metric]! - a.metrics[metric]! : a.metrics[metric]! - b.metrics[metric]!,
  );
  return ranked[0] ?? null;
}

export async function raySweep(args: ParsedArgs, io: Io): Promise<number> {
  const v = args.values;
  const str = (k: string) => (typeof v[k] === 'string' ? (v[k] as string) : undefined);
  const reporter = new Reporter(io, !!v.json);
  const deliverDir = str('deliver');
  if (deliverDir) {
    for (const k of ['grid', 'resume', 'out'])
      if (v[k] !== undefined) throw new UsageError(`--deliver sends a profile's tracking backlog only: drop --${k}`);
    return deliverProfile(resolve(deliverDir), reporter);
  }
  const resumeDir = str('resume');
  let spec: RaySweepSpec;
  if (resumeDir) {
    for (const k of [
      'grid',
      'data',
      'url',
      'config',
      'out',
      'trial-resources',
      'max-concurrent',
      'scheduler',
      'metric',
      'mode',
      'samples',
    ]) {
      if (v[k] !== undefined) throw new UsageError(`--resume continues the sweep as it was configured: drop --${k}`);
    }
    const file = join(resolve(resumeDir), 'ray-sweep.json');
    spec = JSON.parse(
      await readFile(file, 'utf8').catch(() => {
        throw new UsageError(`--resume ${resumeDir}: no ${file} (not the --out of a sweep on Ray)`);
      }),
    ) as RaySweepSpec;
  } else {
    let base: LabConfig;
    ({ spec, base } = await newSpec(args, reporter));
    await mkdir(spec.out, { recursive: true });
    await writeFile(spec.train.args[spec.train.args.indexOf('--config') + 1], JSON.stringify(base, null, 2) + '\n');
    const parent = spec.tracking.server ? await startParent(spec, reporter) : null;
    spec.parentRunId = parent;
    await writeFile(join(spec.out, 'ray-sweep.json'), JSON.stringify(spec, null, 2) + '\n');
  }
  const python = rayPython();
  const address = str('ray-address') ?? process.env.RAY_ADDRESS;
  const trials = gridSize(spec.space) * spec.samples;
  reporter.event(
    'sweep',
    { engine: 'ray', trials, out: spec.out, parent: spec.parentRunId, address: address ?? null, resumed: !!resumeDir },
    `sweep of ${trials} trial(s) on Ray${address ? ` at ${address}` : ''} (${spec.scheduler}, ${spec.metric} ${spec.mode}, ${spec.maxConcurrent} at a time) → ${spec.out}${spec.parentRunId ? ` (MLflow parent run ${spec.parentRunId})` : ''}`,
  );

  const driverArgs = [
    join(ROOT, 'ray', 'luna_tune.py'),
    join(spec.out, 'ray-sweep.json'),
    ...(address ? ['--address', address] : []),
    ...(resumeDir ? ['--restore'] : []),
  ];
  const code = await runDriver(python, driverArgs, reporter);
  if (code !== 0 || !existsSync(spec.results)) {
    reporter.error(
      `the Ray driver exited with ${code}; the sweep can continue with: luna-lab sweep --engine ray --resume ${spec.out}`,
    );
    return code === 130 ? EXIT.interrupted : EXIT.failed;
  }
  const { trials: results } = JSON.parse(await readFile(spec.results, 'utf8')) as { trials: TrialResult[] };
  const best = bestTrial(results, spec.metric, spec.mode);
  const rows = results.map((t) => ({
    ...t,
    name: Object.entries(t.point)
      .map(([k, x]) => `${k.split('.').pop()}=${x}`)
      .join(' '),
    f1: t.metrics['validating/pr/f1_score'] ?? null,
    assignment: t.point,
  }));
  const bestRow = best ? rows.find((r) => r.trial === best.trial)! : null;
  await writeFile(
    join(spec.out, 'sweep.json'),
    JSON.stringify(
      { engine: 'ray', metric: spec.metric, mode: spec.mode, results: rows, best: bestRow, parent: spec.parentRunId },
      null,
      2,
    ) + '\n',
  );
  const failed = results.some((t) => t.status === 'error');
  if (spec.parentRunId) await finishParent(spec, bestRow, failed, reporter);
  reporter.event(
    'done',
    { engine: 'ray', results: rows, best: bestRow, parent: spec.parentRunId, out: spec.out },
    bestRow
      ? `best by ${spec.metric} (${spec.mode}): ${bestRow.name} — ${bestRow.metrics[spec.metric]} (${bestRow.out})`
      : `no trial finished with ${spec.metric}`,
  );
  return !bestRow ? EXIT.failed : failed ? EXIT.failed : EXIT.ok;
}

/**
 * Send what a trial profile's outbox holds to MLflow (the items name their server): no run is
 * started or continued. 0 when nothing is left, 3 (EXIT.trackingBacklog) when items still wait.
 */
export async function deliverProfile(profileDir: string, reporter: Reporter): Promise<number> {
  if (!existsSync(profileDir)) throw new UsageError(`--deliver ${profileDir}: no such profile folder`);
  const session = await HeadlessSession.open({
    device: 'cpu',
    profileDir,
    consoleLog: join(profileDir, 'luna-deliver-console.log'),
    onEvent: () => {},
  });
  try {
    const state = await deliverTracking(session, reporter);
    const left = state.pending + state.failed.length;
    if (left)
      reporter.warn(
        `${left} tracking item(s) of ${profileDir} were not delivered${state.lastError ? ` (${state.lastError})` : ''}; they stay in the profile`,
      );
    return left ? EXIT.trackingBacklog : EXIT.ok;
  } finally {
    await session.close();
  }
}

/** Start ray/luna_tune.py; its JSON lines become this command's events; Ctrl-C goes to it. */
function runDriver(python: string, driverArgs: string[], reporter: Reporter): Promise<number> {
  return new Promise((resolveCode, reject) => {
    const child = spawn(python, driverArgs, {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, RAY_USAGE_STATS_ENABLED: '0', PYTHONUNBUFFERED: '1' },
    });
    const forward = () => child.kill('SIGINT');
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    let buf = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let e: { event?: string } & Record<string, unknown>;
        try {
          e = JSON.parse(line) as typeof e;
        } catch {
          reporter.line(line);
          continue;
        }
        const { event, ...body } = e;
        if (event === 'error') reporter.error(String(body.message));
        else if (event === 'warning') reporter.warn(String(body.message));
        else if (event === 'delivered')
          reporter.event(
            'delivered',
            body,
            `tracking backlog of ${String(body.slot)} (${String(body.node)}): ${body.code === 0 ? 'delivered' : `${String(body.left ?? 'some')} item(s) still wait`}`,
          );
        else if (event === 'trial-start')
          reporter.event(
            'trial',
            body,
            `— trial ${String(body.trial)}${''}: ${Object.entries(body.point as Record<string, string>)
              .map(([k, x]) => `${k}=${x}`)
              .join(' ')}`,
          );
        else reporter.event(event ?? 'ray', body);
      }
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
      resolveCode(code ?? (signal === 'SIGINT' ? 130 : 1));
    });
  });
}

/** The parent run, from Node; if the server cannot be reached the trials are tracked ungrouped. */
async function startParent(spec: RaySweepSpec, reporter: Reporter): Promise<string | null> {
  const client = new MlflowClient(spec.tracking.server);
  try {
    const exp = await client.getOrCreateExperiment(spec.tracking.experiment);
    const runId = await client.createRun(
      exp,
      `sweep on ray ${new Date().toISOString().slice(0, 19).replace('T', ' ')}`,
      Date.now(),
      [
        { key: 'luna.sweep', value: 'parent' },
        { key: 'luna.sweep_engine', value: 'ray' },
        { key: 'mlflow.source.name', value: 'luna-lab sweep --engine ray' },
      ],
    );
    const params = [
      { key: 'trials', value: String(gridSize(spec.space) * spec.samples) },
      { key: 'scheduler', value: spec.scheduler },
      { key: 'metric', value: `${spec.metric} (${spec.mode})` },
      { key: 'max_concurrent', value: String(spec.maxConcurrent) },
      {
        key: 'trial_resources',
        value: Object.entries(spec.resources)
          .map(([k, x]) => `${k}=${x}`)
          .join(','),
      },
      ...spec.space.map((e) => ({
        key: `grid/${e.key}`,
        value:
          e.kind === 'random'
            ? `random ${e.low}..${e.high}${e.log ? ' (log)' : ''}`
            : `${e.kind === 'choice' ? 'choice ' : ''}${e.values.join(' | ')}`,
      })),
    ];
    await client.logBatch(runId, { params });
    return runId;
  } catch (e) {
    reporter.warn(
      `no MLflow parent run (${e instanceof Error ? e.message : String(e)}); the trials are tracked ungrouped`,
    );
    return null;
  }
}

async function finishParent(
  spec: RaySweepSpec,
  best: (TrialResult & { name: string }) | null,
  failed: boolean,
  reporter: Reporter,
): Promise<void> {
  const client = new MlflowClient(spec.tracking.server);
  try {
    const value = best?.metrics[spec.metric];
    if (best && typeof value === 'number') {
      await client.logBatch(spec.parentRunId!, {
        metrics: [{ key: `best/${spec.metric}`, value, timestamp: Date.now(), step: 0 }],
        tags: [
          { key: 'luna.best_run', value: best.name },
          ...(best.runId ? [{ key: 'luna.best_run_id', value: best.runId }] : []),
        ],
      });
    }
    await client.updateRun(spec.parentRunId!, failed ? 'FAILED' : 'FINISHED', Date.now());
  } catch (e) {
    reporter.warn(`could not close the MLflow parent run: ${e instanceof Error ? e.message : String(e)}`);
  }
}
