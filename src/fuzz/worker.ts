/**
 * The fuzz run in a worker thread, so that `main.ts` can stop a case that truly hangs (a
 * synchronous loop blocks the thread it runs on, and no timer there could fire). Posts
 * `start` before each case and `result` after it, then `done`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { runFuzz, summarize, type CaseSummary } from './harness.ts';

export interface WorkerInput {
  seed: string;
  cases: number;
  samplesDir: string;
  startAt: number;
  timeBoundMs: number;
}

export type WorkerMessage =
  | { type: 'start'; id: number; family: string; detail: string }
  | { type: 'result'; result: CaseSummary }
  | { type: 'done' };

const input = workerData as WorkerInput;
const post = (m: WorkerMessage): void => parentPort?.postMessage(m);
await runFuzz({
  ...input,
  onStart: (c) => post({ type: 'start', id: c.id, family: c.family, detail: c.detail }),
  onResult: (r) => post({ type: 'result', result: summarize(r) }),
});
post({ type: 'done' });
