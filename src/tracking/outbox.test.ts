/**
 * The MLflow client and the tracking outbox against a real `mlflow server` (from .venv),
 * with fake-indexeddb for the outbox: delivery, an outage in the middle, and refusals.
 */
import 'fake-indexeddb/auto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createServer, type Server } from 'node:http';
import { freePort } from '../cli/free-port.ts';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMlflowServer, type MlflowServer } from '../cli/mlflow-server.ts';
import { openLabStore } from '../store/lab-store.ts';
import { MlflowClient, MlflowError, type FetchLike } from './mlflow-client.ts';
import { Delivery, metricItems, outboxItem } from './outbox.ts';

/** The MlflowError a call fails with (the test fails if it succeeds or throws something else). */
async function failure(p: Promise<unknown>): Promise<MlflowError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof MlflowError) return e;
    throw e;
  }
  throw new Error('expected the call to fail');
}

let server: MlflowServer;
let port: number;
let dir: string;
let dbn = 0;

beforeAll(async () => {
  port = await freePort();
  dir = mkdtempSync(join(tmpdir(), 'luna-mlflow-'));
  server = await startMlflowServer({ port, dir });
}, 180_000);

afterAll(async () => {
  await server?.stop();
});

const points = (n: number, key = 'training/loss/all', t0 = 1_700_000_000_000) =>
  Array.from({ length: n }, (_, i) => ({ key, value: i === 3 ? NaN : 1 / (i + 1), timestamp: t0, step: i * 16 }));

function start(runId: string, url = server.url) {
  return outboxItem(runId, url, {
    kind: 'start',
    experiment: 'outbox-test',
    runName: runId,
    startTime: Date.now(),
    tags: [{ key: 'mlflow.source.name', value: 'luna-lab' }],
  });
}

describe('MlflowClient', () => {
  it('talks to a real server: version, experiment, run, batch (NaN), inputs, artifact, status', async () => {
    const c = new MlflowClient(server.url);
    expect(await c.version()).toMatch(/^3\.\d+/);
    const exp = await c.getOrCreateExperiment('client-test');
    expect(await c.getOrCreateExperiment('client-test')).toBe(exp);
    const run = await c.createRun(exp, 'r1', Date.now(), [{ key: 'luna.run_id', value: 'abc' }]);
    expect(await c.findRunsByTag(exp, 'luna.run_id', 'abc')).toEqual([run]);
    await c.logBatch(run, {
      metrics: points(5),
      params: [{ key: 'model/n_block', value: '4' }],
      tags: [{ key: 't', value: 'v' }],
    });
    const hist = await c.metricHistory(run, 'training/loss/all');
    expect(hist).toHaveLength(5);
    expect(hist.find((m) => m.step === 48)!.value).toBeNaN();
    await c.logInputs(run, [{ name: 'luna16', digest: 'abcdef', sourceType: 'local', source: '{}' }]);
    await c.uploadArtifact(exp, run, 'config/config.json', '{"a":1}', 'application/json');
    await c.updateRun(run, 'FINISHED', Date.now());
    const got = await c.getRun(run);
    expect(got.info.status).toBe('FINISHED');
    expect(got.data.params).toContainEqual({ key: 'model/n_block', value: '4' });
    expect(got.inputs?.dataset_inputs?.[0].dataset.digest).toBe('abcdef');
    expect((await c.listArtifacts(run, 'config')).map((f) => f.path)).toEqual(['config/config.json']);
  });

  it('says clearly what went wrong: unreachable, 404, 400 with the server message, a bad URL', async () => {
    const down = new MlflowClient(`http://127.0.0.1:${await freePort()}`);
    const e1 = await failure(down.version());
    expect(e1).toBeInstanceOf(MlflowError);
    expect(e1.status).toBe(0);
    expect(e1.retryable).toBe(true);
    const e2 = await failure(new MlflowClient(`${server.url}/not-mlflow`).getOrCreateExperiment('x'));
    expect(e2.status).toBe(404);
    expect(e2.retryable).toBe(false);
    expect(e2.message).toContain('/not-mlflow/api/2.0/mlflow/experiments/get-by-name');
    const c = new MlflowClient(server.url);
    const exp = await c.getOrCreateExperiment('client-test');
    const run = await c.createRun(exp, 'r2', Date.now(), []);
    await c.logBatch(run, { params: [{ key: 'lr', value: '0.1' }] });
    const e3 = await failure(c.logBatch(run, { params: [{ key: 'lr', value: '0.2' }] }));
    expect(e3.status).toBe(400);
    expect(e3.errorCode).toBe('INVALID_PARAMETER_VALUE');
    expect(e3.message).toMatch(/lr/);
    expect(() => new MlflowClient('ftp://x')).toThrow(/unsupported protocol/);
  });

  it('reports a 403 from the host/origin check with what to do about it', async () => {
    // MLflow ≥ 3.5 refuses writes from origins it was not told to allow.
    const c = new MlflowClient(server.url, (url, init) =>
      fetch(url, {
        ...init,
        headers: { ...(init?.headers as Record<string, string>), Origin: 'http://lab.example.org' },
      }),
    );
    const e = await failure(c.getOrCreateExperiment('cors-test'));
    expect(e).toBeInstanceOf(MlflowError);
    expect(e.status).toBe(403);
    expect(e.message).toMatch(/cors-allowed-origins/);
  });

  it('rejects malformed JSON from something that is not MLflow', async () => {
    // A stand-in for a misbehaving proxy: real MLflow never answers like this.
    const bad: Server = createServer((_, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end('{"experiment": ');
    });
    await new Promise<void>((r) => bad.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(bad.address() as { port: number }).port}`;
    const e = await failure(new MlflowClient(url).getOrCreateExperiment('x'));
    expect(e.message).toMatch(/malformed JSON/);
    const v = await failure(new MlflowClient(url).version());
    expect(v.message).toMatch(/does not look like an MLflow server/);
    await new Promise((r) => bad.close(r));
  });
});

/** Web Locks as a browser grants them to the contexts of one profile: a request waits for the one before. */
function webLocks() {
  const tails = new Map<string, Promise<unknown>>();
  return {
    request<T>(name: string, granted: () => Promise<T>): Promise<T> {
      const run = (tails.get(name) ?? Promise.resolve()).then(() => granted());
      tails.set(
        name,
        run.catch(() => {}),
      );
      return run;
    },
  };
}

describe('Delivery (the outbox)', () => {
  it('two contexts of one profile (two train workers of a page, two tabs) create its run once', async () => {
    const name = `outbox-${dbn++}`;
    const [db, other] = [openLabStore(name), openLabStore(name)];
    await db.enqueue([start('run-d'), ...metricItems('run-d', server.url, points(3))]);
    // Searches answer slowly: two passes at once would each find no run and each create one.
    const slowSearch: FetchLike = async (url, init) => {
      if (url.endsWith('/runs/search')) await new Promise((r) => setTimeout(r, 300));
      return fetch(url, init);
    };
    vi.stubGlobal('navigator', { locks: webLocks() });
    try {
      await Promise.all([
        new Delivery(db, { fetch: slowSearch }).flush(),
        new Delivery(other, { fetch: slowSearch }).flush(),
      ]);
    } finally {
      vi.unstubAllGlobals();
    }
    const c = new MlflowClient(server.url);
    const runs = await c.findRunsByTag(await c.getOrCreateExperiment('outbox-test'), 'luna.run_id', 'run-d');
    expect(runs).toHaveLength(1);
    expect((await db.getTracking('run-d'))!.mlflowRunId).toBe(runs[0]);
    expect(await c.metricHistory(runs[0], 'training/loss/all')).toHaveLength(3);
    expect(await db.outboxCount()).toBe(0);
    await db.delete();
  });

  it('delivers a run in order and empties the outbox; 2500 points go in 3 batches', async () => {
    const db = openLabStore(`outbox-${dbn++}`);
    await db.enqueue([
      start('run-a'),
      ...metricItems('run-a', server.url, points(2500)),
      outboxItem('run-a', server.url, { kind: 'status', status: 'FINISHED', endTime: Date.now() }),
    ]);
    expect(await db.outboxCount()).toBe(5);
    const state = await new Delivery(db).flush();
    expect(state).toMatchObject({ pending: 0, failed: [] });
    const rec = (await db.getTracking('run-a'))!;
    const c = new MlflowClient(server.url);
    expect(await c.metricHistory(rec.mlflowRunId, 'training/loss/all')).toHaveLength(2500);
    expect((await c.getRun(rec.mlflowRunId)).info.status).toBe('FINISHED');
    await db.delete();
  });

  it('survives an outage: keeps everything, retries with backoff, delivers each point exactly once', async () => {
    const db = openLabStore(`outbox-${dbn++}`);
    let clock = Date.now();
    const delivery = new Delivery(db, { now: () => clock });
    await db.enqueue([start('run-b'), ...metricItems('run-b', server.url, points(10, 'validating/pr/f1_score', 1))]);
    await delivery.flush();
    await server.stop();
    await db.enqueue(
      metricItems(
        'run-b',
        server.url,
        points(10, 'validating/pr/f1_score', 2).map((p) => ({ ...p, step: p.step + 1000 })),
      ),
    );
    const down = await delivery.flush();
    expect(down.pending).toBe(1);
    expect(down.lastError).toMatch(/unreachable/);
    expect(down.retryAt).toBeGreaterThan(clock);
    // Before the backoff has passed nothing is tried; after it, still down: the wait grows.
    expect((await delivery.flush()).pending).toBe(1);
    clock = down.retryAt! + 1;
    const again = await delivery.flush();
    expect(again.retryAt! - clock).toBeGreaterThan(down.retryAt! - (down.retryAt! - 500));
    server = await startMlflowServer({ port, dir });
    clock = again.retryAt! + 1;
    expect(await delivery.flush()).toMatchObject({ pending: 0, failed: [] });
    const rec = (await db.getTracking('run-b'))!;
    const c = new MlflowClient(server.url);
    const hist = await c.metricHistory(rec.mlflowRunId, 'validating/pr/f1_score');
    expect(hist).toHaveLength(20);
    // A batch re-sent after a lost answer (same points, same timestamps) adds nothing.
    await db.enqueue(metricItems('run-b', server.url, points(10, 'validating/pr/f1_score', 1)));
    await delivery.flush();
    expect(await c.metricHistory(rec.mlflowRunId, 'validating/pr/f1_score')).toHaveLength(20);
    // A start re-sent finds the run by its tag instead of making a second one.
    await db.enqueue([start('run-b')]);
    await delivery.flush();
    expect((await db.getTracking('run-b'))!.mlflowRunId).toBe(rec.mlflowRunId);
    await db.delete();
  }, 240_000);

  it('retries a write that lost a race in the MLflow database (two runs logging one dataset)', async () => {
    // What MLflow (SQLite store) answered in test:ray when two trials started at once.
    const lost =
      '(sqlite3.IntegrityError) UNIQUE constraint failed: datasets.experiment_id, datasets.name, datasets.digest\n' +
      '[SQL: INSERT INTO datasets (dataset_uuid, experiment_id, name, digest) VALUES (?, ?, ?, ?)]';
    expect(new MlflowError('log-inputs', 400, lost, 'BAD_REQUEST').retryable).toBe(true);
    expect(new MlflowError('log-batch', 400, 'Invalid value for param', 'INVALID_PARAMETER_VALUE').retryable).toBe(
      false,
    );
    let raced = false;
    const racing: FetchLike = async (url, init) => {
      if (!url.endsWith('/runs/log-inputs') || raced) return fetch(url, init);
      raced = true;
      return new Response(JSON.stringify({ error_code: 'BAD_REQUEST', message: lost }), {
        status: 400,
        headers: { 'Content-Type': 'application/json' },
      });
    };
    const db = openLabStore(`outbox-${dbn++}`);
    let clock = Date.now();
    const delivery = new Delivery(db, { fetch: racing, now: () => clock });
    const dataset = { name: 'luna16', digest: 'race', sourceType: 'local', source: '{}' };
    await db.enqueue([
      start('run-e'),
      outboxItem('run-e', server.url, { kind: 'inputs', datasets: [dataset] }),
      ...metricItems('run-e', server.url, points(3)),
    ]);
    const first = await delivery.flush();
    expect(first).toMatchObject({ pending: 2, failed: [] });
    expect(first.lastError).toMatch(/UNIQUE constraint failed/);
    clock = first.retryAt! + 1;
    expect(await delivery.flush()).toMatchObject({ pending: 0, failed: [] });
    const c = new MlflowClient(server.url);
    const id = (await db.getTracking('run-e'))!.mlflowRunId;
    expect((await c.getRun(id)).inputs?.dataset_inputs?.map((d) => d.dataset.digest)).toEqual(['race']);
    expect(await c.metricHistory(id, 'training/loss/all')).toHaveLength(3);
    await db.delete();
  });

  it('holds a refused item (4xx) with the server message, the run waits behind it, retry/discard', async () => {
    const db = openLabStore(`outbox-${dbn++}`);
    const delivery = new Delivery(db);
    await db.enqueue([
      start('run-c'),
      outboxItem('run-c', server.url, { kind: 'batch', metrics: [], params: [{ key: 'seed', value: '1' }], tags: [] }),
      outboxItem('run-c', server.url, { kind: 'batch', metrics: [], params: [{ key: 'seed', value: '2' }], tags: [] }),
      ...metricItems('run-c', server.url, points(3)),
    ]);
    const s1 = await delivery.flush();
    expect(s1.failed).toHaveLength(1);
    expect(s1.failed[0].message).toMatch(/400 INVALID_PARAMETER_VALUE/);
    expect(s1.pending).toBe(1); // the metrics wait behind the refusal
    const s2 = await delivery.flush();
    expect(s2.failed).toHaveLength(1); // not retried by itself
    expect((await db.getOutboxItem(s1.failed[0].id))!.attempts).toBe(1);
    await delivery.discard(s1.failed[0].id);
    expect(await delivery.flush()).toMatchObject({ pending: 0, failed: [] });
    await db.delete();
  }, 60_000);
});
