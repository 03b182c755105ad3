/**
 * `luna-lab train` and `luna-lab sweep` end to end: the real CLI process serves the built lab
 * and a data folder, drives Debian's Chromium headless (SwiftShader WebGPU here), logs to the
 * real MLflow server of global setup, and writes its outputs. The same lab URL trained in the
 * page must give exactly the same metrics; a run stopped with SIGINT and resumed must end
 * exactly as one that was never stopped — and so must one killed with SIGKILL mid-epoch, which
 * leaves nothing running; one stopped before its run began trains nothing, and one killed as it
 * began (its run.json only reserving the run's id) is that one run after --resume. `--device auto` with Mesa's lavapipe ICD present must not hang.
 */
import { test, expect } from '@playwright/test';
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NO_SCANS, SYNTH_BROKEN, SYNTH_CLI } from './paths.ts';
import { dropFolder, metricsOnly, runs, waitTrainIdle } from './lab.ts';
import { MlflowClient, type MlflowRunData } from '../src/tracking/mlflow-client.ts';
import { freePort } from '../src/cli/free-port.ts';
import { portOwner, processesOnProfile } from '../src/cli/profile-lock.ts';

/** Small enough for software WebGPU: 4 tiny scans, 16×24×24 crops, two blocks of width 4. */
const SMALL = ['--crop', '16,24,24', '--blocks', '2', '--width', '4', '--batch-size', '16', '--seed', '7'];

interface CliResult {
  code: number | null;
  events: Record<string, unknown>[];
  stdout: string;
  stderr: string;
}

function cli(
  args: string[],
  onEvent?: (e: Record<string, unknown>, kill: (signal?: NodeJS.Signals) => void) => void,
  env: Record<string, string> = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/luna-lab.js', ...args], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    const events: Record<string, unknown>[] = [];
    let buf = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d;
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!line.startsWith('{')) continue;
        const e = JSON.parse(line) as Record<string, unknown>;
        events.push(e);
        onEvent?.(e, (signal = 'SIGINT') => child.kill(signal));
      }
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, events, stdout, stderr }));
  });
}

const done = (r: CliResult) =>
  r.events.findLast((e) => e.event === 'done') as Record<string, unknown> & {
    status: string;
    runId: string;
    labUrl: string;
    dataDigest: string;
    files: string[];
    metrics: { training: Record<string, number>; validating: Record<string, number> };
  };

/** metrics.csv → the seed's metrics per row (system/ timings left out, as in the page's view). */
function csvMetrics(out: string): Record<string, number>[] {
  const [head, ...rows] = readFileSync(join(out, 'metrics.csv'), 'utf8').trim().split('\n');
  const keys = head.split(',');
  return rows.map((r) => {
    const cells = r.split(',');
    const o: Record<string, number> = {};
    keys.forEach((k, i) => {
      if (i >= 2 && !k.startsWith('system/') && cells[i] !== '') o[k] = Number(cells[i]);
    });
    return o;
  });
}

const tagsOf = (run: MlflowRunData) => Object.fromEntries((run.data.tags ?? []).map((t) => [t.key, t.value]));
const paramsOf = (run: MlflowRunData) => Object.fromEntries((run.data.params ?? []).map((t) => [t.key, t.value]));

const tmp = (name: string) => mkdtempSync(join(tmpdir(), `luna-cli-${name}-`));

test.describe.serial('luna-lab train', () => {
  let reference: { out: string; result: CliResult } | null = null;

  test('trains headless, writes every output, logs to MLflow, and equals the same lab URL trained in the page', async ({
    page,
  }) => {
    test.setTimeout(600_000);
    const out = join(tmp('ref'), 'out');
    const result = await cli([
      'train',
      '--data',
      SYNTH_CLI,
      ...SMALL,
      '--epochs',
      '3',
      '--mlflow',
      process.env.LUNA_E2E_MLFLOW!,
      '--out',
      out,
      '--cache',
      tmp('profile'),
      '--json',
      '--name',
      'cli-reference',
    ]);
    expect(result.stderr).not.toContain('error:');
    expect(result.stderr).not.toMatch(/^luna-lab: (?!warning: |note: )/m); // no error line
    expect(result.code).toBe(0);
    reference = { out, result };
    const d = done(result);
    expect(d.status).toBe('finished');
    expect(result.events[0]).toMatchObject({ event: 'start', device: 'auto' });
    expect(String(result.events[0].adapter)).toMatch(/swiftshader/i);

    // Every output of the issue is there.
    for (const f of [
      'run.json',
      'config.json',
      'lab_url.txt',
      'metrics.csv',
      'predictions.csv',
      'console.log',
      'tfjs/model.json',
      'tfjs/weights.bin',
      'model/model.onnx',
      'model/MLmodel',
    ]) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }
    for (const cp of ['checkpoints/final', 'checkpoints/best']) {
      for (const f of ['checkpoint.json', 'weights.bin', 'optimizer.bin'])
        expect(existsSync(join(out, cp, f)), `${cp}/${f}`).toBe(true);
    }
    expect(JSON.parse(readFileSync(join(out, 'checkpoints/final/checkpoint.json'), 'utf8')).epoch).toBe(3);
    expect(readFileSync(join(out, 'lab_url.txt'), 'utf8').trim()).toBe(d.labUrl);
    expect(readFileSync(join(out, 'console.log'), 'utf8')).toContain('[lab]');

    // The last JSON line holds the final metrics under the seed's names.
    expect(Object.keys(d.metrics.validating).sort()).toEqual(
      [
        'correct/all',
        'correct/neg',
        'correct/pos',
        'loss/all',
        'loss/neg',
        'loss/pos',
        'pr/f1_score',
        'pr/precision',
        'pr/recall',
        'pr/accuracy',
        'pr/specificity',
      ].sort(),
    );

    // TensorBoard's own reader: the seed's scalars under training/ and validating/, step = samples.
    const tb = JSON.parse(
      execFileSync('.venv/bin/python', ['src/tracking/tfevents_reference.py', join(out, 'tensorboard')]).toString(),
    ) as {
      files: Record<string, { error: string | null }>;
      scalars: Record<string, Record<string, { step: number }[]>>;
    };
    expect(Object.values(tb.files).every((f) => f.error === null)).toBe(true);
    const scalars = Object.values(tb.scalars)[0];
    const csv = readFileSync(join(out, 'metrics.csv'), 'utf8').trim().split('\n').slice(1);
    const trainingSteps = csv.filter((_, i) => i % 2 === 0).map((r) => Number(r.split(',')[1]));
    expect(scalars['training/loss/all'].map((s) => s.step)).toEqual(trainingSteps);
    expect(scalars['validating/pr/f1_score'].map((s) => s.step)).toEqual([trainingSteps[0], trainingSteps[2]]);

    // MLflow has the run whole: status, every metric point, the model.
    const client = new MlflowClient(process.env.LUNA_E2E_MLFLOW!);
    const exp = await client.getOrCreateExperiment('luna-lab');
    const [mlflowRun] = await client.findRunsByTag(exp, 'luna.run_id', d.runId);
    expect(mlflowRun).toBeTruthy();
    const data = await client.getRun(mlflowRun);
    expect(data.info.status).toBe('FINISHED');
    expect(tagsOf(data)['luna.headless']).toBe('true');
    // The URL that opens the run later (npm start's address), not the run's temporary page.
    expect(tagsOf(data)['luna.lab_url']).toBe(d.labUrl);
    expect(d.labUrl).toMatch(/^http:\/\/127\.0\.0\.1:4173\/#/);
    expect((await client.metricHistory(mlflowRun, 'training/loss/all')).map((m) => m.step)).toEqual(trainingSteps);
    expect((await client.listArtifacts(mlflowRun, 'model')).map((a) => a.path)).toContain('model/model.onnx');

    // The same lab URL in the page, the same data dropped: the same metrics, bit for bit.
    await page.goto(`/#${d.labUrl.split('#')[1]}`);
    await expect(page.locator('html[data-luna-ready="true"]')).toHaveCount(1);
    await dropFolder(page, SYNTH_CLI);
    await page.getByTestId('train-start').click();
    await waitTrainIdle(page, 540_000);
    const [inPage] = await runs(page);
    expect(inPage.status).toBe('finished');
    expect(inPage.dataDigest).toBe(d.dataDigest);
    expect(metricsOnly(inPage)).toEqual(csvMetrics(out));
  });

  test('Ctrl-C stops after the last checkpoint; --resume ends exactly as the uninterrupted run', async () => {
    test.setTimeout(600_000);
    expect(reference, 'needs the reference run').not.toBeNull();
    const out = join(tmp('resume'), 'out');
    const profile = tmp('profile');
    let sent = false;
    const stopped = await cli(
      ['train', '--data', SYNTH_CLI, ...SMALL, '--epochs', '3', '--out', out, '--cache', profile, '--json'],
      (e, kill) => {
        if (e.event === 'epoch' && e.epoch === 1 && !sent) {
          sent = true;
          kill();
        }
      },
    );
    expect(stopped.code).toBe(130);
    expect(done(stopped).status).toBe('stopped');
    expect(JSON.parse(readFileSync(join(out, 'checkpoints/final/checkpoint.json'), 'utf8')).epoch).toBe(1);
    expect(stopped.stderr).toContain(`luna-lab train --resume ${out}`);

    const resumed = await cli(['train', '--resume', out, '--json']);
    expect(resumed.code).toBe(0);
    expect(done(resumed).status).toBe('finished');
    expect(csvMetrics(out)).toEqual(csvMetrics(reference!.out));
    expect(done(resumed).metrics).toEqual(done(reference!.result).metrics);
  });

  test('SIGKILL mid-epoch leaves nothing running; --resume takes the profile over and ends exactly as the uninterrupted run', async () => {
    test.setTimeout(600_000);
    expect(reference, 'needs the reference run').not.toBeNull();
    const out = join(tmp('sigkill'), 'out');
    const profile = tmp('profile');
    let sent = false;
    const killed = await cli(
      ['train', '--data', SYNTH_CLI, ...SMALL, '--epochs', '3', '--out', out, '--cache', profile, '--json'],
      (e, kill) => {
        if (e.event === 'progress' && e.epoch === 2 && e.phase === 'training' && !sent) {
          sent = true;
          kill('SIGKILL');
        }
      },
    );
    expect(sent).toBe(true);
    expect(killed.code).toBeNull(); // killed, no exit status
    // Nothing of the killed run outlives it: no Chromium on its profile, the lab's port free.
    await expect.poll(() => processesOnProfile(profile), { timeout: 15_000 }).toEqual([]);
    const port = Number(readFileSync(join(profile, 'luna-lab-port'), 'utf8'));
    expect(portOwner(port)).toBeNull();
    expect(existsSync(join(profile, 'luna-lab.lock'))).toBe(true); // the dead run's lock, taken over now

    const resumed = await cli(['train', '--resume', out, '--json']);
    expect(resumed.stderr).not.toMatch(/busy|in use/);
    expect(resumed.code).toBe(0);
    expect(done(resumed).status).toBe('finished');
    expect(csvMetrics(out)).toEqual(csvMetrics(reference!.out));
    expect(done(resumed).metrics).toEqual(done(reference!.result).metrics);
    expect(processesOnProfile(profile)).toEqual([]);
    expect(existsSync(join(profile, 'luna-lab.lock'))).toBe(false);
  });

  test('a stop before the run begins trains nothing; a run killed as it began is one run after --resume, in MLflow too', async () => {
    test.setTimeout(600_000);
    expect(reference, 'needs the reference run').not.toBeNull();
    // SIGTERM (a Ray trial's worker died) while Chromium and the data are being set up: no run.
    const early = join(tmp('early'), 'out');
    let sent = false;
    const stopped = await cli(
      ['train', '--data', SYNTH_CLI, ...SMALL, '--epochs', '3', '--out', early, '--cache', tmp('profile'), '--json'],
      (e, kill) => {
        if (e.event === 'start' && !sent) {
          sent = true;
          kill('SIGTERM');
        }
      },
    );
    expect(sent).toBe(true);
    expect(stopped.code).toBe(130);
    expect(stopped.stderr).toContain('stopped before the run began');
    expect(done(stopped)).toBeUndefined();
    expect(existsSync(join(early, 'run.json'))).toBe(false);

    // Killed after run.json reserved the run's id, as its page created the run and sent the
    // MLflow start (issue 15): here that run is made by hand, on a fresh profile.
    const ref = JSON.parse(readFileSync(join(reference!.out, 'run.json'), 'utf8')) as {
      config: { tracking: { server: string; experiment: string } };
      dataDir: string;
      device: string;
    };
    const client = new MlflowClient(ref.config.tracking.server);
    const exp = await client.getOrCreateExperiment(ref.config.tracking.experiment);
    const runId = Array.from({ length: 16 }, () => '0123456789abcdef'[Math.floor(Math.random() * 16)]).join('');
    // As the killed attempt's page would have made it (found again by its luna.run_id tag).
    const orphan = await client.createRun(exp, 'killed as it began', Date.now(), [
      { key: 'luna.run_id', value: runId },
      { key: 'luna.test', value: 'reserved' },
    ]);
    const out = join(tmp('reserved'), 'out');
    execFileSync('mkdir', ['-p', out]);
    const profile = tmp('profile');
    const reserved = { ...ref, runId, name: 'reserved', labUrl: '', profileDir: profile, createdAt: Date.now() };
    writeFileSync(
      join(out, 'run.json'),
      JSON.stringify({
        ...reserved,
        eventsWallTime: 1,
        status: 'starting',
        tags: [{ key: 'luna.test', value: 'reserved' }],
      }),
    );
    const resumed = await cli(['train', '--resume', out, '--json']);
    expect(resumed.code, resumed.stderr.slice(-2000)).toBe(0);
    expect(done(resumed).status).toBe('finished');
    expect(done(resumed).runId).toBe(runId);
    expect(csvMetrics(out)).toEqual(csvMetrics(reference!.out));
    const meta = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')) as { status: string; runId: string };
    expect([meta.status, meta.runId]).toEqual(['finished', runId]);
    // The run the killed attempt made in MLflow is the run: no second one for the folder.
    expect(await client.findRunsByTag(exp, 'luna.run_id', runId)).toEqual([orphan]);
    const mlRun = await client.getRun(orphan);
    expect(mlRun.info.status).toBe('FINISHED');
    const validated = csvMetrics(out).filter((r) => 'validating/loss/all' in r).length;
    expect(validated).toBeGreaterThan(0);
    expect((await client.metricHistory(orphan, 'validating/loss/all')).length).toBe(validated);
  });

  test('a folder without scans, a refused GPU, a broken scan and an unreachable MLflow are reported clearly', async () => {
    test.setTimeout(300_000);
    const noScans = await cli([
      'train',
      '--data',
      NO_SCANS,
      ...SMALL,
      '--out',
      join(tmp('none'), 'out'),
      '--cache',
      tmp('profile'),
    ]);
    expect(noScans.code).toBe(1);
    expect(noScans.stderr).toContain(`no CT series found in ${NO_SCANS}`);

    const gpu = await cli([
      'train',
      '--data',
      SYNTH_CLI,
      ...SMALL,
      '--device',
      'gpu',
      '--out',
      join(tmp('gpu'), 'out'),
      '--cache',
      tmp('profile'),
    ]);
    expect(gpu.code).toBe(1);
    expect(gpu.stderr).toMatch(/--device gpu: .*(software renderer|not available)/);

    // Every bad flag value at once, one line each; a negative number is a value (a range error).
    const usage = await cli(['train', '--data', SYNTH_CLI, '--epochs', 'zero', '--lr', '-1']);
    expect(usage.code).toBe(2);
    expect(usage.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^luna-lab: --(epochs "zero"|lr "-1")/),
      expect.stringMatching(/^luna-lab: --(epochs "zero"|lr "-1")/),
    ]);

    // A truncated .raw among good scans: named, and the run trains on the rest. MLflow is down:
    // the run finishes, and the undelivered backlog is reported with exit status 3.
    const closed = await freePort();
    const out = join(tmp('broken'), 'out');
    const broken = await cli([
      'train',
      '--data',
      SYNTH_BROKEN,
      ...SMALL,
      '--epochs',
      '1',
      '--mlflow',
      `http://127.0.0.1:${closed}`,
      '--out',
      out,
      '--cache',
      tmp('profile'),
    ]);
    const truncated = readdirSync(join(SYNTH_BROKEN, 'subset0'))
      .filter((f) => f.endsWith('.raw'))
      .sort()[0];
    expect(broken.stderr).toContain(truncated.replace(/\.raw$/, ''));
    expect(broken.stdout).toContain('ingested 2 series');
    expect(broken.stderr).toMatch(/tracking item\(s\) were not delivered to http:\/\/127\.0\.0\.1:\d+/);
    expect(broken.code).toBe(3);
    expect(existsSync(join(out, 'model/model.onnx'))).toBe(true);
    // Piped, not a terminal: plain progress lines (each phase's last step at least), and a lab
    // URL on the npm start address that opens the run later, not the session's dead port.
    expect(broken.stdout).toMatch(/^epoch 1\/1 train \[#+\] (\d+)\/\1 · .* samples\/s · ETA /m);
    expect(broken.stdout).not.toContain('\r');
    expect(broken.stdout).toMatch(/^lab URL \(open it with npm start running\): http:\/\/127\.0\.0\.1:4173\/#v=2&/m);
    expect(readFileSync(join(out, 'lab_url.txt'), 'utf8')).toMatch(/^http:\/\/127\.0\.0\.1:4173\/#v=2&/);
  });
});

test('luna-lab sweep runs a grid under one MLflow parent run and names the best', async () => {
  test.setTimeout(600_000);
  const dir = tmp('sweep');
  const grid = join(dir, 'grid.json');
  writeFileSync(grid, JSON.stringify({ 'optimizer.lr': [0.001, 0.01] }));
  const experiment = 'sweep-e2e';
  const r = await cli([
    'sweep',
    '--grid',
    grid,
    '--data',
    SYNTH_CLI,
    ...SMALL,
    '--epochs',
    '1',
    '--mlflow',
    process.env.LUNA_E2E_MLFLOW!,
    '--experiment',
    experiment,
    '--out',
    join(dir, 'out'),
    '--cache',
    tmp('profile'),
    '--json',
  ]);
  expect(r.code).toBe(0);
  const d = r.events.findLast((e) => e.event === 'done') as {
    results: { runId: string; f1: number; status: string }[];
    best: { runId: string; f1: number };
    parent: string;
  };
  expect(d.results).toHaveLength(2);
  expect(d.results.every((x) => x.status === 'finished')).toBe(true);
  expect(d.best.f1).toBe(Math.max(...d.results.map((x) => x.f1)));

  const client = new MlflowClient(process.env.LUNA_E2E_MLFLOW!);
  const exp = await client.getOrCreateExperiment(experiment);
  const parent = await client.getRun(d.parent);
  expect(parent.info.status).toBe('FINISHED');
  expect(tagsOf(parent)['luna.best_run_id']).toBe(d.best.runId);
  for (const child of d.results) {
    const [id] = await client.findRunsByTag(exp, 'luna.run_id', child.runId);
    const run = await client.getRun(id);
    expect(tagsOf(run)['mlflow.parentRunId']).toBe(d.parent);
    expect(paramsOf(run)['lab/optimizer.lr']).toBe(child.runId === d.results[0].runId ? '0.001' : '0.01');
  }
});

test("--device auto with Mesa's lavapipe ICD present does not hang: the bounded probe takes SwiftShader and says why", async () => {
  test.setTimeout(300_000);
  // Unpacked from Debian's mesa-vulkan-drivers into .cache (nothing installed system-wide).
  const icd = process.env.LUNA_LAVAPIPE_ICD ?? execFileSync('bash', ['.ci/lavapipe']).toString().trim();
  expect(existsSync(icd), icd).toBe(true);
  const r = await cli(
    [
      'train',
      '--data',
      SYNTH_CLI,
      ...SMALL,
      '--epochs',
      '1',
      '--out',
      join(tmp('lavapipe'), 'out'),
      '--cache',
      tmp('profile'),
      '--json',
    ],
    undefined,
    { VK_ICD_FILENAMES: icd },
  );
  expect(r.code).toBe(0);
  const start = r.events.find((e) => e.event === 'start')!;
  expect(start).toMatchObject({ device: 'auto' });
  expect(String(start.adapter)).toMatch(/swiftshader/i);
  expect(String(start.deviceReason)).toMatch(
    /^the GPU flags give (no WebGPU adapter|only a software adapter) \(.+\): using Chromium's SwiftShader, as --device cpu does$/,
  );
  expect(done(r).status).toBe('finished');
});
