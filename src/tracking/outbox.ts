/**
 * The tracking outbox: everything bound for the MLflow server is first written to IndexedDB
 * (in the same transaction as the run's own history, where there is one), then delivered in
 * order, one run at a time, and deleted only once the server has answered 2xx.
 *
 * Promises:
 * - Nothing is lost: an unreachable server or a 5xx leaves the item in place and retries with
 *   backoff; a reload resumes delivery where it stopped.
 * - Nothing twice: metric points carry the timestamp they were made with, and MLflow keeps a
 *   (key, timestamp, step, value) point once however often it is sent; params, tags and
 *   artifacts are idempotent; a run is found by its `luna.run_id` tag before one is created,
 *   and a model version by its run before one is registered. Every context of a profile (its
 *   tabs, a page's train workers) delivers under one Web Lock, so two never both find no run
 *   and both create one (issue 15).
 * - A refusal (4xx) is not retried blindly: the item is marked failed with the server's
 *   message and waits for the user to retry or discard it; the run's later items wait too.
 */
import { MlflowClient, MlflowError, splitLogBatch, type FetchLike } from './mlflow-client.ts';
import type { OutboxItem, OutboxPayload, TrackingRecord } from '../store/records.ts';
import type { LabStore } from '../store/lab-store.ts';

export const RUN_ID_TAG = 'luna.run_id';

/** The MLflow model directory every lab run logs (src/tracking/artifacts.ts). */
export const MODEL_ARTIFACT = 'model';

export function outboxItem(runId: string, server: string, payload: OutboxPayload, now = Date.now()): OutboxItem {
  return { runId, server, payload, createdAt: now, attempts: 0, notBefore: 0, state: 'pending', lastError: null };
}

/** Metric points become as many batch items as the server's limits require. */
export function metricItems(
  runId: string,
  server: string,
  metrics: { key: string; value: number; timestamp: number; step: number }[],
): OutboxItem[] {
  return splitLogBatch(metrics).map((b) => outboxItem(runId, server, { kind: 'batch', ...b }));
}

export interface OutboxState {
  pending: number;
  failed: { id: number; runId: string; message: string }[];
  /** The last delivery error (network or server), while items are still pending. */
  lastError: string | null;
  /** When the next retry is due (ms since the epoch), if one is scheduled. */
  retryAt: number | null;
}

export interface DeliveryOptions {
  fetch?: FetchLike;
  now?: () => number;
  /** Delay before retry n (1-based), ms. */
  backoff?: (attempt: number) => number;
}

/** The Web Lock every delivery pass of a profile holds (`navigator.locks`: one origin, one profile). */
export const DELIVERY_LOCK = 'luna-lab-outbox-delivery';

/** Run `pass` holding the profile's delivery lock; where the runtime has no Web Locks (Node),
 *  there is one context per store and `flush` already shares its pass. */
function underDeliveryLock<T>(pass: () => Promise<T>): Promise<T> {
  const locks = (globalThis as { navigator?: { locks?: LockManager } }).navigator?.locks;
  // The lock is held until the callback's promise settles, and request() answers with its value.
  return locks ? (locks.request(DELIVERY_LOCK, pass) as unknown as Promise<T>) : pass();
}

const defaultBackoff = (n: number) => Math.min(30_000, 500 * 2 ** Math.min(n - 1, 6));

export class Delivery {
  private running: Promise<OutboxState> | null = null;
  private requested = false;
  private readonly clients = new Map<string, MlflowClient>();
  private readonly now: () => number;
  private readonly backoff: (attempt: number) => number;

  constructor(
    private readonly store: LabStore,
    private readonly opts: DeliveryOptions = {},
  ) {
    this.now = opts.now ?? Date.now;
    this.backoff = opts.backoff ?? defaultBackoff;
  }

  private client(server: string): MlflowClient {
    let c = this.clients.get(server);
    if (!c) {
      c = new MlflowClient(server, this.opts.fetch);
      this.clients.set(server, c);
    }
    return c;
  }

  /** Deliver what is due; concurrent calls share one pass, which looks again for items
   *  enqueued while it ran (so a late call is never answered by a pass that missed them). */
  flush(): Promise<OutboxState> {
    this.requested = true;
    this.running ??= underDeliveryLock(() => this.pass()).finally(() => (this.running = null));
    return this.running;
  }

  private async pass(): Promise<OutboxState> {
    let lastError: string | null = null;
    const blocked = new Set<string>();
    for (;;) {
      this.requested = false;
      // Each run's oldest item goes first; a run whose oldest item failed or waits, waits.
      const heads = await this.store.outboxHeads();
      const next = heads.find((i) => !blocked.has(i.runId) && i.state === 'pending' && i.notBefore <= this.now());
      if (!next) {
        if (this.requested) continue; // a flush arrived while this pass was reading
        break;
      }
      try {
        await this.deliver(next);
        await this.store.deleteOutboxItem(next.id!);
      } catch (e) {
        const err =
          e instanceof MlflowError ? e : new MlflowError(next.server, 0, e instanceof Error ? e.message : String(e));
        lastError = err.message;
        blocked.add(next.runId);
        await this.store.updateOutboxItem(next.id!, {
          attempts: next.attempts + 1,
          lastError: err.message,
          ...(err.retryable
            ? { notBefore: this.now() + this.backoff(next.attempts + 1) }
            : { state: 'failed' as const }),
        });
      }
    }
    return this.state(lastError);
  }

  async state(lastError: string | null = null): Promise<OutboxState> {
    const items = await this.store.listOutbox();
    const pending = items.filter((i) => i.state === 'pending');
    const waits = pending.map((i) => i.notBefore).filter((t) => t > this.now());
    return {
      pending: pending.length,
      failed: items
        .filter((i) => i.state === 'failed')
        .map((i) => ({ id: i.id!, runId: i.runId, message: i.lastError ?? 'refused' })),
      lastError: lastError ?? pending.find((i) => i.lastError)?.lastError ?? null,
      retryAt: waits.length ? Math.min(...waits) : null,
    };
  }

  /** Try a refused item again (after fixing the server's settings, say). */
  async retry(id: number): Promise<void> {
    await this.store.updateOutboxItem(id, { state: 'pending', notBefore: 0 });
  }

  /** Give up on a refused item; the run's later items go ahead. */
  async discard(id: number): Promise<void> {
    await this.store.deleteOutboxItem(id);
  }

  private async deliver(item: OutboxItem): Promise<void> {
    const client = this.client(item.server);
    const p = item.payload;
    if (p.kind === 'start') {
      const experimentId = await client.getOrCreateExperiment(p.experiment);
      // An earlier attempt may have created the run and lost the answer: find it first.
      const existing = await client.findRunsByTag(experimentId, RUN_ID_TAG, item.runId);
      const tags = [...p.tags.filter((t) => t.key !== RUN_ID_TAG), { key: RUN_ID_TAG, value: item.runId }];
      const mlflowRunId = existing[0] ?? (await client.createRun(experimentId, p.runName, p.startTime, tags));
      const rec: TrackingRecord = { runId: item.runId, server: item.server, experimentId, mlflowRunId };
      await this.store.putTracking(rec);
      return;
    }
    const rec = await this.store.getTracking(item.runId);
    if (!rec || rec.server !== item.server) {
      throw new MlflowError(
        item.server,
        400,
        `run ${item.runId} was never created on this server (its start was discarded); push the run again`,
      );
    }
    switch (p.kind) {
      case 'batch':
        return client.logBatch(rec.mlflowRunId, p);
      case 'inputs':
        return client.logInputs(rec.mlflowRunId, p.datasets);
      case 'artifact':
        return client.uploadArtifact(rec.experimentId, rec.mlflowRunId, p.path, p.data, p.contentType);
      case 'status':
        return client.updateRun(rec.mlflowRunId, p.status, p.endTime);
      case 'register':
        return registerModel(client, rec.mlflowRunId, p.name);
    }
  }
}

/**
 * A version of registered model `name` for the run's `model/` artifact (MLmodel with its
 * signature, model.onnx), as `mlflow.register_model("runs:/<id>/model", name)` makes it. Once
 * only: a version this run already made (an earlier attempt whose answer was lost) is kept.
 */
async function registerModel(client: MlflowClient, mlflowRunId: string, name: string): Promise<void> {
  await client.createRegisteredModel(name);
  if ((await client.modelVersionsOfRun(name, mlflowRunId)).length) return;
  const run = await client.getRun(mlflowRunId);
  const root = run.info.artifact_uri;
  if (!root) throw new MlflowError(client.base, 400, `run ${mlflowRunId} has no artifact_uri to register a model from`);
  await client.createModelVersion(name, `${root.replace(/\/+$/, '')}/${MODEL_ARTIFACT}`, mlflowRunId);
}
