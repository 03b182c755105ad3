/**
 * `npm run test:ray`: `luna-lab sweep --engine ray` on a real local Ray cluster (`ray start
 * --head --num-cpus 2`, on free ports, stopped at the end) from the Ray venv (ray/setup-venv),
 * logging to a real MLflow server. A 4-trial grid of tiny configs on synthetic data, 2 trials at
 * a time, under ASHA. The driver is killed the moment a trial stopped by ASHA completes — the
 * window where that trial's last MLflow points may still wait in its slot's outbox, with no
 * later run on the slot to send them — and the sweep is resumed (Tune's experiment restore):
 * trials completed before are not started again; ASHA stops at least one trial early; MLflow
 * has the parent and four children, each with every epoch Tune saw, value for value; every
 * metric of every epoch a trial reported equals the same point of a local sweep (same seeds).
 * Needs the built lab (npm run build), Chromium and both venvs (.venv for MLflow).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../../src/cli/free-port.ts';
import { startMlflowServer, type MlflowServer } from '../../src/cli/mlflow-server.ts';
import { rayPython } from '../../src/cli/ray-sweep.ts';
import { MlflowClient } from '../../src/tracking/mlflow-client.ts';

type Event = Record<string, unknown> & { event: string };
const dir = mkdtempSync('/tmp/luna-ray-test-');
const data = join(dir, 'data');
const grid = join(dir, 'grid.json');
/** Tiny: one block of width 4 on 8×12×12 crops, two epochs (validated at both). */
const TINY = [
  '--epochs',
  '2',
  '--blocks',
  '1',
  '--width',
  '4',
  '--crop',
  '8,12,12',
  '--batch-size',
  '8',
  '--seed',
  '7',
  '--device',
  'cpu',
];
const EXPERIMENT = 'ray-sweep-test';
const METRIC = 'validating/loss/all';
let mlflow: MlflowServer;
let ray: ChildProcess | null = null;
let rayAddress = '';
const t0 = Date.now();
const since = () => `${((Date.now() - t0) / 1000).toFixed(0)} s`;

/** A Ray head on free ports, in its own process group (`--block`): stopping it ends all of its processes. */
async function startRay(): Promise<void> {
  const py = rayPython();
  const ray_ = join(py, '..', 'ray');
  const port = await freePort();
  const workerBase = 20000 + Math.floor(Math.random() * 20000);
  const ports = await Promise.all(Array.from({ length: 6 }, () => freePort()));
  ray = spawn(
    ray_,
    [
      'start',
      '--head',
      '--block',
      '--num-cpus',
      '2',
      '--num-gpus',
      '0',
      '--node-ip-address',
      '127.0.0.1',
      '--port',
      String(port),
      '--node-manager-port',
      String(ports[0]),
      '--object-manager-port',
      String(ports[1]),
      '--dashboard-agent-grpc-port',
      String(ports[2]),
      '--dashboard-agent-listen-port',
      String(ports[3]),
      '--metrics-export-port',
      String(ports[4]),
      '--runtime-env-agent-port',
      String(ports[5]),
      '--min-worker-port',
      String(workerBase),
      '--max-worker-port',
      String(workerBase + 99),
      '--include-dashboard',
      'false',
      '--disable-usage-stats',
      '--temp-dir',
      join(dir, 'ray-tmp'),
    ],
    { detached: true, stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, RAY_USAGE_STATS_ENABLED: '0' } },
  );
  rayAddress = `127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (ray.exitCode !== null) throw new Error(`ray start exited with ${ray.exitCode}`);
    try {
      execFileSync(ray_, ['status', '--address', rayAddress], { stdio: 'ignore', timeout: 20_000 });
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`the Ray head on ${rayAddress} did not come up in 120 s`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

async function stopRay(): Promise<void> {
  if (!ray || ray.exitCode !== null) return;
  const gone = new Promise((r) => ray!.once('exit', r));
  process.kill(-ray.pid!, 'SIGTERM');
  await Promise.race([gone, new Promise((r) => setTimeout(r, 30_000))]);
  if (ray.exitCode === null) process.kill(-ray.pid!, 'SIGKILL');
}

interface Cli {
  child: ChildProcess;
  done: Promise<{ code: number | null; events: Event[]; stderr: string }>;
}

/** The CLI in its own process group (so a kill takes the Python driver with it). */
function cli(args: string[], onEvent?: (e: Event) => void): Cli {
  const child = spawn(process.execPath, ['bin/luna-lab.js', ...args], {
    detached: true,
    env: { ...process.env, TUNE_GLOBAL_CHECKPOINT_S: '1' },
  });
  const events: Event[] = [];
  let stderr = '';
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (!line.startsWith('{')) continue;
      const e = JSON.parse(line) as Event;
      events.push(e);
      onEvent?.(e);
    }
  });
  child.stderr!.on('data', (d: Buffer) => (stderr += d));
  const done = new Promise<{ code: number | null; events: Event[]; stderr: string }>((ok) =>
    child.on('close', (code) => ok({ code, events, stderr })),
  );
  return { child, done };
}

before(async () => {
  execFileSync(
    process.execPath,
    ['bin/luna-lab.js', 'synth', '--out', data, '--scans', '4', '--size', 'tiny', '--seed', '5'],
    { stdio: 'ignore' },
  );
  // Tune numbers the grid's points with the first key in sorted order fastest: trials 0 and 1
  // train at lr 0.05 (the dropout rate has no effect without model.dropout: equal metrics),
  // 2 and 3 — started only when a slot frees, after 0 or 1 has validated — at lr 0.001, whose
  // validation loss after one epoch is far above the rung's: ASHA stops them, in any order.
  writeFileSync(grid, JSON.stringify({ 'optimizer.lr': [0.05, 0.001], 'model.dropoutRate': [0.2, 0.4] }));
  mlflow = await startMlflowServer({ port: await freePort(), dir: join(dir, 'mlflow') });
  await startRay();
  console.log(`# setup (data, MLflow, Ray head at ${rayAddress}) done at ${since()}`);
});

/** Set when the test fails: its folder (trials, slots, MLflow's store) is kept for a look. */
let failed = false;

after(async () => {
  await stopRay();
  await mlflow?.stop();
  if (failed) console.log(`# kept ${dir} (trial folders, slot profiles, MLflow's store)`);
  else rmSync(dir, { recursive: true, force: true });
  console.log(`# test:ray took ${since()}`);
});

const same = (a: Record<string, string>, b: Record<string, string>) =>
  Object.keys(a).length === Object.keys(b).length && Object.entries(a).every(([k, v]) => b[k] === v);

/** A run.json's fields that say which run and profile a trial had. */
function runJson(trialDir: string): string {
  const path = join(trialDir, 'run.json');
  if (!existsSync(path)) return 'no run.json';
  const m = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  return JSON.stringify({ runId: m.runId, status: m.status, profileDir: m.profileDir, createdAt: m.createdAt });
}

/** The lines of a trial's console.log that say how its attempts began and ended. */
function consoleStory(trialDir: string): string[] {
  const path = join(trialDir, 'console.log');
  if (!existsSync(path)) return ['no console.log'];
  const lines = readFileSync(path, 'utf8').split('\n');
  return lines
    .filter((l) => /run |resum|start|stop|signal|deliver|tracking|mlflow|finished|interrupt/i.test(l))
    .slice(-40);
}

/**
 * When MLflow has the wrong children: each child's tags and times, and each trial's run.json
 * and the story of its attempts, so a maintainer sees which trial has two runs and why.
 */
async function childrenReport(client: MlflowClient, children: string[], out: string, slots: string): Promise<string> {
  const lines: string[] = [];
  for (const id of children) {
    const r = await client.getRun(id);
    const tag = (k: string) => r.data.tags?.find((t) => t.key === k)?.value ?? '-';
    const when = (ms?: number) => (ms ? new Date(Number(ms)).toISOString() : '-');
    lines.push(
      `child ${id}: luna.run_id=${tag('luna.run_id')} luna.tune_trial=${tag('luna.tune_trial')} ` +
        `mlflow.runName="${tag('mlflow.runName')}" status=${r.info.status} start=${when(r.info.start_time)} ` +
        `end=${when(r.info.end_time)} lab_url=${tag('luna.lab_url')} metrics=${(r.data.metrics ?? []).length}`,
    );
  }
  const trials = join(out, 'trials');
  for (const t of existsSync(trials) ? readdirSync(trials).sort() : []) {
    lines.push(`${t} run.json: ${runJson(join(trials, t))}`);
    for (const l of consoleStory(join(trials, t))) lines.push(`  ${t} console: ${l}`);
  }
  for (const s of existsSync(slots) ? readdirSync(slots).sort() : []) {
    const u = join(slots, s, 'luna-undelivered.json');
    lines.push(`${s}: ${existsSync(u) ? `undelivered ${readFileSync(u, 'utf8').trim()}` : 'delivered'}`);
  }
  return lines.join('\n');
}

interface Trial {
  trial: string;
  point: Record<string, string>;
  status: string;
  runId: string;
  epochs: number;
  history: { epoch: number; values: Record<string, number> }[];
}

void test(
  'a sweep on Ray: ASHA, kill and resume, MLflow parent and children, equal to a local sweep',
  { timeout: 1_500_000 },
  async () => {
    try {
      await sweepOnRay();
    } catch (e) {
      failed = true;
      throw e;
    }
  },
);

async function sweepOnRay(): Promise<void> {
  const out = join(dir, 'ray-out');
  const common = ['--grid', grid, '--data', data, ...TINY, '--mlflow', mlflow.url, '--experiment', EXPERIMENT];
  const rayFlags = [
    '--engine',
    'ray',
    '--ray-address',
    rayAddress,
    '--trial-resources',
    'cpu=1,gpu=0',
    '--max-concurrent',
    '2',
    '--scheduler',
    'asha',
    '--metric',
    METRIC,
    '--mode',
    'min',
  ];

  // 1. Start, and kill the driver (CLI and Python) the moment a trial that ASHA stopped
  // completes, once an earlier trial has been complete for 2 s (Tune saves its experiment
  // every second here, TUNE_GLOBAL_CHECKPOINT_S=1: that one is saved as complete).
  const completedAt = new Map<string, number>();
  let killedAt = 0;
  let stoppedAtKill = '';
  const first = cli(['sweep', ...rayFlags, ...common, '--out', out, '--cache', join(dir, 'slots'), '--json'], (e) => {
    if (e.event !== 'trial-complete' || killedAt) return;
    const now = Date.now();
    const saved = [...completedAt.values()].some((at) => now - at >= 2000);
    completedAt.set(String(e.trial), now);
    if (saved && Number(e.epochs) < 2) {
      killedAt = now;
      stoppedAtKill = String(e.trial);
      process.kill(-first.child.pid!, 'SIGKILL');
    }
  });
  const r1 = await first.done;
  assert.ok(
    killedAt,
    `the sweep ended before ASHA stopped a trial after another had completed (code ${r1.code}): ${r1.stderr.slice(-3000)}`,
  );
  assert.equal(r1.code, null, 'the driver was killed');
  // Completed, and saved with the experiment (a save follows within a second), before the kill.
  const completedAtKill = new Set([...completedAt].filter(([, at]) => killedAt - at >= 2000).map(([t]) => t));
  console.log(`# driver killed at ${since()} after ${[...completedAtKill].join(', ')} completed`);

  // 2. Resume: Tune restores the experiment; completed trials are not started again.
  const r2 = await cli(['sweep', '--engine', 'ray', '--ray-address', rayAddress, '--resume', out, '--json']).done;
  assert.equal(r2.code, 0, r2.stderr.slice(-4000));
  console.log(
    `# resumed sweep done at ${since()}; ASHA rungs restored: ${JSON.stringify(r2.events.find((e) => e.event === 'scheduler-restored') ?? null)}`,
  );
  const told = (events: Event[]) =>
    events
      .filter((e) => e.event === 'trial-result' || e.event === 'trial-stop' || e.event === 'trial')
      .map((e) => `${e.event} ${String(e.trial)}${e.epoch === undefined ? '' : ` @${String(e.epoch)}`}`)
      .join('; ');
  console.log(`# before the kill: ${told(r1.events)}\n# resumed: ${told(r2.events)}`);
  const delivered = r2.events
    .filter((e) => e.event === 'delivered')
    .map((e) => `${String(e.slot)}: ${String(e.code)} (${String(e.left)} left)`);
  console.log(`# resumed sweep delivered the backlogs of ${delivered.join(', ') || 'no slot'}`);
  const restarted = r2.events.filter((e) => e.event === 'trial').map((e) => String(e.trial));
  for (const t of completedAtKill)
    assert.ok(!restarted.includes(t), `completed trial ${t} was started again on resume`);

  const summary = JSON.parse(readFileSync(join(out, 'sweep.json'), 'utf8')) as {
    results: Trial[];
    best: Trial;
    parent: string;
  };
  assert.equal(summary.results.length, 4);
  assert.ok(
    summary.results.every((t) => t.status === 'finished' || t.status === 'stopped'),
    JSON.stringify(summary.results.map((t) => t.status)),
  );
  assert.equal(summary.best.status, 'finished');
  // Whether or not Tune's last save had its stop, the trial ASHA stopped stays stopped.
  const stopped = summary.results.find((t) => t.trial === stoppedAtKill);
  assert.ok(
    stopped?.status === 'stopped' && stopped.epochs === 1,
    `${stoppedAtKill}, stopped by ASHA before the kill, after the resume: ${JSON.stringify(stopped?.history)}`,
  );
  const finished = summary.results.filter((t) => t.status === 'finished');
  assert.equal(
    summary.best.history.at(-1)!.values[METRIC],
    Math.min(...finished.map((t) => t.history.at(-1)!.values[METRIC])),
  );

  // 3. MLflow: the parent run and four children, each with every epoch Tune saw (the sweep
  // sends what trials cut short left in their slots' outboxes before it reports).
  const client = new MlflowClient(mlflow.url);
  const exp = await client.getOrCreateExperiment(EXPERIMENT);
  const parent = await client.getRun(summary.parent);
  assert.equal(parent.info.status, 'FINISHED');
  const children = await client.findRunsByTag(exp, 'mlflow.parentRunId', summary.parent);
  if (children.length !== 4) {
    const report = await childrenReport(client, children, out, join(dir, 'slots'));
    console.log(`# children of the parent run:\n${report.replace(/^/gm, '#   ')}`);
  }
  assert.equal(children.length, 4, `children of the parent run: ${children.join(', ')}`);
  for (const t of summary.results) {
    const [id] = await client.findRunsByTag(exp, 'luna.run_id', t.runId);
    assert.ok(id, `trial ${t.trial}'s run ${t.runId} is in MLflow`);
    assert.ok(children.includes(id), `trial ${t.trial}'s run is a child of the parent`);
    // Step is the samples seen: in step order, the points are the epochs.
    const points = (await client.metricHistory(id, METRIC)).sort((a, b) => a.step - b.step);
    const what = `trial ${t.trial} (${t.status}, ${t.epochs} epoch(s) in Tune): ${points.length} ${METRIC} point(s) in MLflow`;
    assert.ok(t.epochs >= 1 && t.history.length === t.epochs, what);
    // A stopped trial's run may have validated one more epoch before its worker was ended.
    if (t.status === 'finished') {
      assert.equal(points.length, t.epochs, what);
      // Its run ended by itself (ASHA leaves a trial at max_t be) and said so to MLflow.
      assert.equal((await client.getRun(id)).info.status, 'FINISHED', `${what}: its MLflow run's status`);
    } else assert.ok(points.length >= t.epochs && points.length <= 2, what);
    t.history.forEach((h, i) => assert.equal(points[i].value, h.values[METRIC], `${what}: epoch ${h.epoch}`));
  }

  // 4. The same grid as a local sweep: every reported metric of every epoch is equal.
  const local = await cli([
    'sweep',
    ...common.filter((_, i, a) => a[i] !== '--mlflow' && a[i - 1] !== '--mlflow'),
    '--out',
    join(dir, 'local-out'),
    '--cache',
    join(dir, 'local-profile'),
    '--json',
  ]).done;
  assert.equal(local.code, 0, local.stderr.slice(-4000));
  console.log(`# local sweep done at ${since()}`);
  const localDone = local.events.findLast((e) => e.event === 'done') as unknown as {
    results: { runId: string; assignment: Record<string, string> }[];
  };
  for (const t of summary.results) {
    const twin = localDone.results.find((r) => same(r.assignment, t.point));
    assert.ok(twin, `a local run for ${JSON.stringify(t.point)}`);
    for (const h of t.history) {
      const e = local.events.find((x) => x.event === 'epoch' && x.runId === twin.runId && x.epoch === h.epoch) as
        { values: Record<string, number> } | undefined;
      assert.ok(e, `local run ${twin.runId} has epoch ${h.epoch}`);
      for (const [k, v] of Object.entries(h.values))
        assert.equal(v, e.values[k], `${JSON.stringify(t.point)} epoch ${h.epoch} ${k}`);
    }
  }

  // 5. ASHA: a trial worse than the median at the first rung (epoch 1) stopped there.
  const seen = summary.results
    .map(
      (t) =>
        `${t.trial} ${JSON.stringify(t.point)} ${t.status} ${t.history.map((h) => `${h.epoch}:${h.values[METRIC]}`).join(' ')}`,
    )
    .join('\n');
  console.log(`# trials:\n${seen.replace(/^/gm, '#   ')}`);
  assert.ok(
    summary.results.some((t) => t.status === 'stopped' && t.epochs === 1),
    `ASHA stopped at least one trial after its first epoch:\n${seen}`,
  );
}
