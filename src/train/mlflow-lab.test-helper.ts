/**
 * The fixture of the trainer's tests against a real `mlflow server` (Node, tfjs cpu,
 * fake-indexeddb): a server on a free port with its own folder, and a lab store holding two
 * tiny synthetic scans. Registers the suite's beforeAll/afterAll; the test file imports
 * 'fake-indexeddb/auto' first.
 */
import { afterAll, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../cli/free-port.ts';
import { startMlflowServer, type MlflowServer } from '../cli/mlflow-server.ts';
import { openLabStore, type LabStore } from '../store/lab-store.ts';
import { ingestFiles } from '../store/ingest.ts';
import { sourceFromBytes } from '../data/source.ts';
import { generateSynthetic } from '../data/synthetic.ts';

export interface MlflowLab {
  readonly server: MlflowServer;
  readonly db: LabStore;
}

/** `name` names the store and the server's folder. Read the fields inside tests (set in beforeAll). */
export function useMlflowLab(name: string): MlflowLab {
  let server: MlflowServer | undefined;
  let db: LabStore | undefined;
  beforeAll(async () => {
    await tf.setBackend('cpu');
    server = await startMlflowServer({ port: await freePort(), dir: mkdtempSync(join(tmpdir(), `luna-${name}-`)) });
    db = openLabStore(`${name}-test`);
    await ingestFiles(
      db,
      [...generateSynthetic({ scans: 2, size: 'tiny', seed: 8 })].map((f) => sourceFromBytes(f.path, f.bytes)),
    );
  }, 180_000);
  afterAll(async () => {
    await db?.delete();
    await server?.stop();
  }, 60_000);
  return {
    get server() {
      if (!server) throw new Error('useMlflowLab: the server starts in beforeAll');
      return server;
    },
    get db() {
      if (!db) throw new Error('useMlflowLab: the store opens in beforeAll');
      return db;
    },
  };
}
