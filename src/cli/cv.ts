/**
 * `luna-lab cv --data DIR --folds subsets`: LUNA16's protocol, cross-validation by subset. Each
 * subset folder of DIR (subset0 … subset9 for LUNA16) is held out once: its fold is a normal
 * headless run (the `HeadlessTrainer` of `train` and `sweep`, in one browser session, the data
 * ingested once) trained on the other subsets (`data.subsets`; the run's own validation split,
 * `sampling.validation`, stays inside them), then its model (model/model.onnx of the fold's
 * folder) is evaluated in Node on the held-out subset alone by the lab's one evaluation job
 * (`evaluateFolder`). The folds' marks are pooled as LUNA16 pools them — one submission over
 * every scan, one FROC whose FP rate divides by all the scans — and written as submission.csv,
 * seriesuids.csv, cv.json and froc.svg in --out; each fold's own evaluation is in its folder's
 * eval/.
 *
 * Folds run one after another here; each is a plan (`foldPlans`) that needs nothing of the
 * others, so a sweep engine can run them in parallel. Resumable: run the same command with the
 * same --out again and a finished fold (run.json finished, model exported) is kept, an
 * unfinished one continues from its last checkpoint (the same --cache), under the parent run
 * cv.json names. With --mlflow the folds are children of one parent run (`mlflow.parentRunId`), each with its held-out `eval/…`
 * metrics, and the parent gets the pooled `eval/cpm`, `eval/sensitivity_at_…_fp` and the pooled
 * submission and plot.
 */
import { existsSync } from 'node:fs';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import type { LabConfig } from '../config/lab-config.ts';
import { froc, type FrocResult, type Nodule, type ScoredCandidate } from '../eval/froc.ts';
import { frocSvg } from '../eval/froc-plot.ts';
import { evalMetrics } from '../eval/run-eval.ts';
import { formatSeriesUids, formatSubmission, parseFindings } from '../eval/submission.ts';
import { MlflowClient } from '../tracking/mlflow-client.ts';
import { UsageError, type ParsedArgs } from './args.ts';
import { DataError } from '../data/errors.ts';
import { makeOutDir } from './out-dir.ts';
import { evaluateFolder, writeEvalOutputs, type EvalReport } from './eval.ts';
import type { Io } from './main.ts';
import { OUT, readMeta, type RunMeta } from './run-outputs.ts';
import { closeParentRun, openParentRun, type Parent } from './sweep.ts';
import { HeadlessTrainer } from './train.ts';
import { withFieldText } from './train-config.ts';

export class CvError extends Error {
  override name = 'CvError';
}

/** One fold: the subset held out and the config that trains on the others. */
export interface FoldPlan {
  index: number;
  heldOut: string;
  train: string[];
  config: LabConfig;
  /** Folder name under --out. */
  dir: string;
}

/** One fold per subset, in order: fold k holds out subset k and trains on the rest. */
export function foldPlans(base: LabConfig, subsets: readonly string[]): FoldPlan[] {
  if (base.data.subsets.length)
    throw new UsageError(`cv chooses each fold's subsets itself: drop data.subsets (${base.data.subsets.join(',')})`);
  if (base.data.digest.length)
    throw new UsageError('cv chooses each fold\'s subsets itself: use a lab URL without data (no "data=" digest)');
  if (new Set(subsets).size !== subsets.length) throw new CvError(`subsets listed twice: ${subsets.join(', ')}`);
  if (subsets.length < 2)
    throw new CvError(
      `cross-validation by subset needs at least 2 subsets, found ${subsets.length ? subsets.join(', ') : 'none'}`,
    );
  return subsets.map((heldOut, index) => {
    const train = subsets.filter((s) => s !== heldOut);
    return {
      index,
      heldOut,
      train,
      config: withFieldText(base, 'data.subsets', train.join(',')),
      dir: `fold-${heldOut}`,
    };
  });
}

/** A fold's held-out evaluation, as pooling needs it. */
export interface FoldMarks {
  heldOut: string;
  /** The fold's scan list (its held-out subset's scans, failed ones included). */
  scans: readonly string[];
  marks: readonly ScoredCandidate[];
}

/**
 * LUNA16's pooling: every fold's marks in one submission and one FROC over the union of the
 * folds' scans (the FP rate divides by all of them; the 100-mark limit is per scan, so pooling
 * changes no scan's marks). A scan in two folds is refused: the folds must partition the data.
 */
export function poolFolds(
  folds: readonly FoldMarks[],
  nodules: readonly Nodule[],
  excluded: readonly Nodule[] = [],
): { froc: FrocResult; scans: string[]; marks: ScoredCandidate[] } {
  const owner = new Map<string, string>();
  for (const f of folds) {
    for (const uid of f.scans) {
      const other = owner.get(uid);
      if (other !== undefined && other !== f.heldOut)
        throw new CvError(
          `scan ${uid} is in the held-out scans of both ${other} and ${f.heldOut}: folds must not share scans`,
        );
      owner.set(uid, f.heldOut);
    }
  }
  const scans = [...owner.keys()];
  const marks = folds.flatMap((f) => f.marks.filter((m) => owner.get(m.seriesUid) === f.heldOut));
  return { froc: froc(marks, nodules, scans, { excluded }), scans, marks };
}

/** The subset folders of DIR: its direct subfolders holding a .mhd/.mha, sorted by name (subset2 before subset10). */
export async function subsetFolders(dataDir: string, shownAs = dataDir): Promise<string[]> {
  const entries = await readdir(dataDir, { withFileTypes: true }).catch((e: NodeJS.ErrnoException) => {
    throw new DataError(`--data ${shownAs}: ${e.code === 'ENOENT' ? 'no such file or folder' : e.message}`, {
      file: shownAs,
    });
  });
  const out: string[] = [];
  for (const e of entries) {
    if (!e.isDirectory() || e.name.startsWith('.')) continue;
    const files = await readdir(join(dataDir, e.name));
    if (files.some((f) => /\.(mhd|mha)$/i.test(f))) out.push(e.name);
  }
  return out.sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
}

/** annotations.csv of DIR (at its top, as LUNA16 ships it), read as `luna-lab froc` reads it. */
async function readAnnotations(dataDir: string): Promise<Nodule[]> {
  const path = join(dataDir, 'annotations.csv');
  const text = await readFile(path, 'utf8').catch(() => {
    throw new CvError(`no annotations.csv in ${dataDir}: cv's FROC needs LUNA16's nodule annotations there`);
  });
  return parseFindings(text, path);
}

interface FoldResult {
  heldOut: string;
  runId: string | null;
  status: string;
  out: string;
  /** The held-out evaluation, when the fold has a model. */
  cpm: number | null;
  scans: number;
  error?: string;
}

export async function cv(args: ParsedArgs, io: Io): Promise<number> {
  const v = args.values;
  const str = (k: string) => (typeof v[k] === 'string' ? (v[k] as string) : undefined);
  const folds = str('folds') ?? 'subsets';
  if (folds !== 'subsets')
    throw new UsageError(`--folds ${folds}: only "subsets" (LUNA16's protocol, one fold per subset folder) is known`);
  const dataArg = str('data');
  if (!dataArg)
    throw new UsageError('Missing --data DIR (a LUNA16 folder: subsetN/*.mhd + .raw, annotations.csv, candidates.csv)');
  const dataDir = resolve(dataArg);
  const excludedPath = str('excluded');
  if (excludedPath && !existsSync(excludedPath))
    throw new DataError(`--excluded ${excludedPath}: no such file`, { file: excludedPath });
  const subsets = await subsetFolders(dataDir, dataArg);
  const runs = await HeadlessTrainer.fromArgs(args, io);
  const { EXIT } = HeadlessTrainer;
  const base = runs.config;
  const plans = foldPlans(base, subsets);
  const nodules = await readAnnotations(dataDir);
  const excluded = excludedPath ? parseFindings(await readFile(excludedPath, 'utf8'), excludedPath) : [];
  const out = resolve(str('out') ?? join('cv', new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19)));
  const reporter = runs.reporter;

  const earlier = await earlierParent(out);
  const parent = !base.tracking.server
    ? null
    : earlier
      ? await reopenParentRun(base, earlier, reporter)
      : await openParentRun(
          base,
          `cv ${basename(dataDir)} ${new Date().toISOString().slice(0, 19).replace('T', ' ')}`,
          [
            { key: 'luna.cv', value: 'parent' },
            { key: 'mlflow.source.name', value: 'luna-lab cv' },
          ],
          [
            { key: 'folds', value: String(plans.length) },
            { key: 'cv/folds', value: 'subsets' },
            { key: 'cv/subsets', value: subsets.join(',') },
          ],
          reporter,
        );
  const outDir = await makeOutDir(out);
  await runs.open(join(out, OUT.console)).catch(async (e: unknown) => {
    runs.reporter.close();
    await outDir.discardIfEmpty();
    throw e;
  });
  let stop = false;
  const onSigint = () => {
    stop = true;
    reporter.line('stopping the cross-validation after the current step');
    runs.stop();
  };
  process.on('SIGINT', onSigint);
  const results: FoldResult[] = [];
  const pooled: FoldMarks[] = [];
  let code: number = EXIT.ok;
  try {
    reporter.event(
      'cv',
      { folds: plans.length, subsets, out, parent: parent?.runId ?? null },
      `cross-validation over ${plans.length} subsets (${subsets.join(', ')}) → ${out}${parent ? ` (MLflow parent run ${parent.runId})` : ''}`,
    );
    await runs.ingest();
    for (const plan of plans) {
      if (stop) break;
      const foldOut = join(out, plan.dir);
      const name = `cv fold ${plan.index + 1}/${plans.length} held out ${plan.heldOut}`;
      const model = join(foldOut, 'model', 'model.onnx');
      const previous: RunMeta | null = existsSync(join(foldOut, OUT.meta)) ? await readMeta(foldOut) : null;
      let status: string;
      let runId: string | null;
      if (previous?.status === 'finished' && previous.runId && existsSync(model)) {
        reporter.event(
          'fold',
          { index: plan.index + 1, heldOut: plan.heldOut, kept: true },
          `— ${name}: finished earlier, kept (${foldOut})`,
        );
        status = 'finished';
        runId = previous.runId;
      } else {
        reporter.event(
          'fold',
          { index: plan.index + 1, heldOut: plan.heldOut, resumed: !!previous?.runId },
          `— ${name}${previous?.runId ? ' (resumed)' : ''}`,
        );
        const tags = [
          { key: 'luna.headless', value: 'true' },
          { key: 'luna.cv', value: `fold ${plan.index + 1}/${plans.length}` },
          { key: 'luna.cv_heldout', value: plan.heldOut },
          ...(parent ? [{ key: 'mlflow.parentRunId', value: parent.runId }] : []),
        ];
        const outcome = await runs.run({
          config: plan.config,
          out: foldOut,
          name,
          tags,
          resume: previous?.runId ? previous : null,
        });
        status = String(outcome.summary.status);
        runId = outcome.summary.runId ? String(outcome.summary.runId) : null;
        if (outcome.code !== EXIT.ok && code === EXIT.ok) code = outcome.code;
      }
      if (status !== 'finished' || !existsSync(model)) {
        results.push({
          heldOut: plan.heldOut,
          runId,
          status,
          out: foldOut,
          cpm: null,
          scans: 0,
          error: status === 'finished' ? `no ${model}` : `the fold's run ${status}`,
        });
        if (code === EXIT.ok) code = EXIT.failed;
        continue;
      }
      // The fold's model on its held-out subset only: the lab's one evaluation job, in Node.
      const report = await evaluateFolder(model, dataDir, {
        subsets: [plan.heldOut],
        excludedPath,
        withPredictions: true,
        progress: (s) => reporter.progress(s),
      });
      await writeEvalOutputs(join(foldOut, 'eval'), report, `${name} (${basename(model)})`);
      pooled.push({ heldOut: plan.heldOut, scans: report.scanList, marks: report.predictions ?? [] });
      results.push({ heldOut: plan.heldOut, runId, status, out: foldOut, cpm: report.cpm, scans: report.scans });
      for (const w of report.warnings) reporter.warn(`${plan.heldOut}: ${w}`);
      reporter.event(
        'fold-eval',
        { heldOut: plan.heldOut, runId, cpm: report.cpm, scans: report.scans },
        `  held-out ${plan.heldOut}: CPM ${report.cpm.toFixed(4)} on ${report.scans} scans`,
      );
      if (parent && runId) await logFoldEval(parent, runId, report, reporter);
    }
  } finally {
    process.off('SIGINT', onSigint);
    await runs.close();
  }

  const pool = pooled.length ? poolFolds(pooled, nodules, excluded) : null;
  const missing = plans.filter((p) => !pooled.some((f) => f.heldOut === p.heldOut)).map((p) => p.heldOut);
  const summary = {
    folds: results,
    subsets,
    pooled: pool ? pooledSummary(pool.froc) : null,
    missingFolds: missing,
    parent: parent?.runId ?? null,
    warnings: [
      ...(pool?.froc.warnings ?? []),
      ...(missing.length
        ? [`folds without a held-out evaluation (${missing.join(', ')}): the pooled FROC lacks their scans`]
        : []),
    ],
  };
  let files: { path: string; contentType: string; data: Blob }[] = [];
  if (pool) {
    const submission = formatSubmission(pool.marks);
    const svg = frocSvg(pool.froc, `luna-lab cv: ${pooled.length} folds pooled`);
    await writeFile(join(out, 'submission.csv'), submission);
    await writeFile(join(out, 'seriesuids.csv'), formatSeriesUids(pool.scans));
    await writeFile(join(out, 'froc.svg'), svg);
    files = [
      { path: 'eval/submission.csv', contentType: 'text/csv', data: new Blob([submission], { type: 'text/csv' }) },
      { path: 'eval/froc.svg', contentType: 'image/svg+xml', data: new Blob([svg], { type: 'image/svg+xml' }) },
    ];
  }
  await writeFile(join(out, 'cv.json'), JSON.stringify(summary, null, 2) + '\n');
  if (parent) {
    await closeParentRun(
      parent,
      {
        metrics: pool ? evalMetrics(pool.froc) : [],
        tags: [{ key: 'luna.cv_folds', value: results.map((r) => `${r.heldOut}:${r.status}`).join(' ') }],
        files,
      },
      stop,
      reporter,
    );
  }
  for (const w of summary.warnings) reporter.warn(w);
  reporter.event(
    'done',
    { ...summary, out },
    pool
      ? `pooled over ${pooled.length} folds, ${pool.froc.scans} scans: CPM ${pool.froc.cpm.toFixed(4)}${pool.froc.band ? ` (band ${pool.froc.band.cpm.lower.toFixed(4)}–${pool.froc.band.cpm.upper.toFixed(4)})` : ''} · ${join(out, 'submission.csv')}`
      : 'no fold finished with a model: nothing pooled',
  );
  return stop ? EXIT.interrupted : pool ? code : EXIT.failed;
}

/** The parent run of an earlier cv into the same --out (its cv.json), so a resumed cv keeps one parent. */
async function earlierParent(out: string): Promise<string | null> {
  const text = await readFile(join(out, 'cv.json'), 'utf8').catch(() => null);
  if (text === null) return null;
  try {
    const parent = (JSON.parse(text) as { parent?: unknown }).parent;
    return typeof parent === 'string' && parent ? parent : null;
  } catch {
    return null;
  }
}

/** The earlier parent run, running again; null (with a warning) when the server lost it or cannot be reached. */
async function reopenParentRun(
  base: LabConfig,
  runId: string,
  reporter: { warn(text: string): void },
): Promise<Parent | null> {
  const client = new MlflowClient(base.tracking.server);
  try {
    const experimentId = await client.getOrCreateExperiment(base.tracking.experiment);
    await client.getRun(runId);
    await client.updateRun(runId, 'RUNNING');
    return { client, experimentId, runId };
  } catch (e) {
    reporter.warn(
      `the earlier MLflow parent run ${runId} cannot be continued (${e instanceof Error ? e.message : String(e)}); the folds are tracked ungrouped`,
    );
    return null;
  }
}

/** The pooled FROC for cv.json: everything but the curve's Infinity (JSON has none). */
function pooledSummary(f: FrocResult) {
  const { curve, maxMarksPerScan, ...rest } = f;
  return {
    ...rest,
    maxMarksPerScan: Number.isFinite(maxMarksPerScan) ? maxMarksPerScan : null,
    curve: curve.map((p) => ({ ...p, threshold: Number.isFinite(p.threshold) ? p.threshold : null })),
  };
}

/** The fold's held-out metrics on its own MLflow run (found by its luna.run_id tag); a failure is a warning. */
async function logFoldEval(
  parent: Parent,
  runId: string,
  report: EvalReport,
  reporter: { warn(text: string): void },
): Promise<void> {
  try {
    const [id] = await parent.client.findRunsByTag(parent.experimentId, 'luna.run_id', runId);
    if (!id) return; // not delivered yet: its outbox will create it; the metrics are in its eval/ folder
    const now = Date.now();
    await parent.client.logBatch(id, { metrics: evalMetrics(report).map((m) => ({ ...m, timestamp: now, step: 0 })) });
  } catch (e) {
    reporter.warn(
      `could not log the held-out evaluation of run ${runId}: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
}
