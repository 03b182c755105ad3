/**
 * `luna-lab sweep --grid FILE`: a grid of configs (the seed tunes batch size, lr, gamma,
 * weight decay, dropout) trained as consecutive headless runs in one browser session (the data
 * is ingested once), grouped in MLflow under one parent run (`mlflow.parentRunId` on each
 * child), and the best by validation F1 printed. Each run has its own folder in --out.
 *
 * The grid file is JSON: `{"optimizer.lr": [0.001, 0.01], "train.batchSize": [16, 32]}` —
 * config keys to lists of values, expanded as a cartesian product in the file's key order.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { LabConfig } from '../config/lab-config.ts';
import { MlflowClient } from '../tracking/mlflow-client.ts';
import { parseChoice, UsageError, UsageProblems, type ParsedArgs } from './args.ts';
import { DataError } from '../data/errors.ts';
import { makeOutDir } from './out-dir.ts';
import type { Io } from './main.ts';
import { OUT } from './run-outputs.ts';
import { parseSearchSpace } from './search-space.ts';
import { HeadlessTrainer, type Reporter } from './train.ts';
import { withFieldText } from './train-config.ts';

export type Grid = { key: string; values: string[] }[];

/** The flags of `sweep --engine ray` alone. */
const RAY_ONLY = [
  'ray-address',
  'trial-resources',
  'max-concurrent',
  'scheduler',
  'metric',
  'mode',
  'samples',
  'resume',
  'deliver',
];

/** Parse and check a grid file for the local engine: lists of values only (a `choice` or
 *  `random` entry needs a sampler: `--engine ray`). */
export function parseGrid(text: string, name: string): Grid {
  const space = parseSearchSpace(text, name);
  const sampled = space.find((e) => e.kind !== 'grid');
  if (sampled)
    throw new UsageError(
      `--grid ${name}: "${sampled.key}" is a ${sampled.kind} entry; the local engine runs lists of values only (use --engine ray)`,
    );
  return space.map((e) => ({ key: e.key, values: (e as { values: string[] }).values }));
}

export interface GridPoint {
  config: LabConfig;
  /** key → value text, for names and the summary. */
  assignment: Record<string, string>;
}

/** The cartesian product over `base`, each point validated (a bad value names key and value). */
export function expandGrid(base: LabConfig, grid: Grid): GridPoint[] {
  let points: GridPoint[] = [{ config: base, assignment: {} }];
  for (const { key, values } of grid) {
    points = points.flatMap((p) =>
      values.map((v) => {
        try {
          return { config: withFieldText(p.config, key, v), assignment: { ...p.assignment, [key]: v } };
        } catch (e) {
          // withFieldText names its own sources (`--set KEY "V": `, `--config sweep: `); name the grid value instead.
          const msg = (e as Error).message;
          const source = [`--set ${key} "${v}": `, `--set ${key}: `, '--config sweep: '].find((s) => msg.startsWith(s));
          throw new UsageError(`grid value ${key} = ${v}: ${source ? msg.slice(source.length) : msg}`);
        }
      }),
    );
  }
  return points;
}

export function pointName(assignment: Record<string, string>): string {
  return Object.entries(assignment)
    .map(([k, v]) => `${k.split('.').pop()}=${v}`)
    .join(' ');
}

export async function sweep(args: ParsedArgs, io: Io): Promise<number> {
  const v = args.values;
  const str = (k: string) => (typeof v[k] === 'string' ? (v[k] as string) : undefined);
  const engine = parseChoice<'local' | 'ray'>(str('engine'), 'engine', ['local', 'ray'], 'local');
  if (engine === 'ray') {
    const { raySweep } = await import('./ray-sweep.ts');
    return raySweep(args, io);
  }
  // --deliver is a command of its own: its only mistake here is the engine.
  if (v.deliver !== undefined) throw new UsageError('--deliver needs --engine ray');
  // Every usage error at once (HeadlessTrainer adds the shared flags'), then the files (input, exit 1).
  const problems = new UsageProblems();
  for (const k of RAY_ONLY) if (v[k] !== undefined) problems.add(`--${k} needs --engine ray`);
  const gridPath = str('grid');
  if (!gridPath) problems.add('Missing --grid FILE (JSON: {"optimizer.lr": [0.001, 0.01], ...})');
  const runs = await HeadlessTrainer.fromArgs(args, io, problems);
  const gridText = await readFile(gridPath!, 'utf8').catch(() => {
    throw new DataError(`--grid ${gridPath}: cannot read the file`, { file: gridPath });
  });
  const { EXIT } = HeadlessTrainer;
  const base = runs.config;
  const points = expandGrid(base, parseGrid(gridText, gridPath!));
  const out = resolve(str('out') ?? join('sweeps', new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19)));
  const reporter = runs.reporter;
  const outDir = await makeOutDir(out);

  const parent = base.tracking.server ? await startParent(base, points, reporter) : null;
  await runs.open(join(out, OUT.console)).catch(async (e: unknown) => {
    runs.reporter.close();
    await outDir.discardIfEmpty();
    throw e;
  });
  let stop = false;
  const onSigint = () => {
    stop = true;
    reporter.line('stopping the sweep after this step');
    runs.stop();
  };
  process.on('SIGINT', onSigint);
  const results: {
    name: string;
    runId: string;
    status: string;
    f1: number | null;
    out: string;
    assignment: Record<string, string>;
  }[] = [];
  let code: number = EXIT.ok;
  try {
    reporter.event(
      'sweep',
      { runs: points.length, out, parent: parent?.runId ?? null },
      `sweep of ${points.length} runs → ${out}${parent ? ` (MLflow parent run ${parent.runId})` : ''}`,
    );
    await runs.ingest();
    for (const [i, point] of points.entries()) {
      if (stop) break;
      const name = `${i + 1}/${points.length} ${pointName(point.assignment)}`;
      reporter.event('sweep-run', { index: i + 1, assignment: point.assignment }, `— run ${name}`);
      const runOut = join(out, `run-${String(i + 1).padStart(3, '0')}`);
      const tags = [
        { key: 'luna.headless', value: 'true' },
        { key: 'luna.sweep', value: pointName(point.assignment) },
        ...(parent ? [{ key: 'mlflow.parentRunId', value: parent.runId }] : []),
      ];
      const outcome = await runs.run({ config: point.config, out: runOut, name: `sweep ${name}`, tags });
      const f1 = (outcome.summary.metrics as { validating: Record<string, number> }).validating['pr/f1_score'] ?? null;
      results.push({
        name,
        runId: String(outcome.summary.runId),
        status: String(outcome.summary.status),
        f1,
        out: runOut,
        assignment: point.assignment,
      });
      if (outcome.code !== EXIT.ok && code === EXIT.ok) code = outcome.code;
    }
  } finally {
    process.off('SIGINT', onSigint);
    await runs.close();
  }
  const ranked = results.filter((r) => r.f1 !== null && r.status === 'finished').sort((a, b) => b.f1! - a.f1!);
  const best = ranked[0] ?? null;
  await writeFile(
    join(out, 'sweep.json'),
    JSON.stringify({ results, best, parent: parent?.runId ?? null }, null, 2) + '\n',
  );
  if (parent) await finishParent(parent, best, stop, reporter);
  reporter.event(
    'done',
    { results, best, parent: parent?.runId ?? null, out },
    best
      ? `best by validation F1: ${best.name} — F1 ${best.f1!.toFixed(4)} (${best.out})`
      : 'no run finished with a validation F1',
  );
  return stop ? EXIT.interrupted : best ? code : EXIT.failed;
}

/** An MLflow parent run created from Node, grouping headless runs (a sweep's, a cv's folds). */
export interface Parent {
  client: MlflowClient;
  experimentId: string;
  runId: string;
}

/** Create a parent run in the config's experiment; if the server cannot be reached the runs go on ungrouped (null, with a warning). */
export async function openParentRun(
  base: LabConfig,
  name: string,
  tags: { key: string; value: string }[],
  params: { key: string; value: string }[],
  reporter: Reporter,
): Promise<Parent | null> {
  const client = new MlflowClient(base.tracking.server);
  try {
    const experimentId = await client.getOrCreateExperiment(base.tracking.experiment);
    const runId = await client.createRun(experimentId, name, Date.now(), tags);
    if (params.length) await client.logBatch(runId, { params });
    return { client, experimentId, runId };
  } catch (e) {
    reporter.warn(
      `no MLflow parent run (${e instanceof Error ? e.message : String(e)}); the runs are tracked ungrouped as their outboxes deliver`,
    );
    return null;
  }
}

/** The parent run, created from Node; if the server cannot be reached the sweep goes on ungrouped. */
async function startParent(base: LabConfig, points: GridPoint[], reporter: Reporter): Promise<Parent | null> {
  const keys = Object.keys(points[0].assignment);
  return openParentRun(
    base,
    `sweep ${new Date().toISOString().slice(0, 19).replace('T', ' ')}`,
    [
      { key: 'luna.sweep', value: 'parent' },
      { key: 'mlflow.source.name', value: 'luna-lab sweep' },
    ],
    [
      { key: 'runs', value: String(points.length) },
      ...keys.map((k) => ({ key: `grid/${k}`, value: [...new Set(points.map((p) => p.assignment[k]))].join(' | ') })),
    ],
    reporter,
  );
}

/** Log the parent's last metrics, tags and files, then close it (KILLED when stopped); failures are warnings. */
export async function closeParentRun(
  parent: Parent,
  last: {
    metrics?: { key: string; value: number }[];
    tags?: { key: string; value: string }[];
    files?: { path: string; contentType: string; data: Blob }[];
  },
  stopped: boolean,
  reporter: Reporter,
): Promise<void> {
  try {
    const now = Date.now();
    if (last.metrics?.length || last.tags?.length) {
      await parent.client.logBatch(parent.runId, {
        metrics: (last.metrics ?? []).map((m) => ({ ...m, timestamp: now, step: 0 })),
        tags: last.tags ?? [],
      });
    }
    for (const f of last.files ?? [])
      await parent.client.uploadArtifact(parent.experimentId, parent.runId, f.path, f.data, f.contentType);
    await parent.client.updateRun(parent.runId, stopped ? 'KILLED' : 'FINISHED', Date.now());
  } catch (e) {
    reporter.warn(`could not close the MLflow parent run: ${e instanceof Error ? e.message : String(e)}`);
  }
}

async function finishParent(
  parent: Parent,
  best: { runId: string; f1: number | null; name: string } | null,
  stopped: boolean,
  reporter: Reporter,
): Promise<void> {
  await closeParentRun(
    parent,
    best
      ? {
          metrics: [{ key: 'best/validating/pr/f1_score', value: best.f1! }],
          // luna.run_id on the child names the same run.
          tags: [
            { key: 'luna.best_run', value: best.name },
            { key: 'luna.best_run_id', value: best.runId },
          ],
        }
      : {},
    stopped,
    reporter,
  );
}
