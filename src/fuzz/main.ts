/**
 * `npm run fuzz [-- --seed N --cases N --samples DIR --verbose]`: the fuzz harness over the
 * real samples, printing each failure as it happens and the classification table at the end;
 * exit code 1 when any case failed. Cases run in a worker thread watched from here: a case
 * still running after 3× the per-case bound is a `hang`, the worker is terminated and the run
 * goes on from the next case. Not part of CI's default run (a short seeded run is, in
 * fuzz.test.ts).
 */
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { FAILURES, formatTable, type CaseSummary } from './harness.ts';
import type { WorkerInput, WorkerMessage } from './worker.ts';

const { values } = parseArgs({
  options: {
    seed: { type: 'string', default: '1' },
    cases: { type: 'string', default: '400' },
    samples: { type: 'string', default: path.resolve(process.cwd(), '../shared/ct-samples') },
    verbose: { type: 'boolean', default: false },
  },
});

const TIME_BOUND_MS = 10_000;
const WATCHDOG_MS = 3 * TIME_BOUND_MS;
const cases = Number(values.cases);
const results: CaseSummary[] = [];

function report(r: CaseSummary): void {
  results.push(r);
  if (FAILURES.has(r.outcome)) {
    process.stdout.write(`FAIL case ${r.case.id} [${r.outcome}] ${r.case.family}: ${r.case.detail}\n  ${r.note}\n`);
  }
}

/** Runs cases from `startAt` in a worker; resolves with the id to resume at, or null when done. */
function runFrom(startAt: number): Promise<number | null> {
  const input: WorkerInput = {
    seed: values.seed,
    cases,
    samplesDir: values.samples,
    startAt,
    timeBoundMs: TIME_BOUND_MS,
  };
  // tsx's loader is not inherited by worker threads, so the worker registers it first.
  const entry = new URL('./worker.ts', import.meta.url).href;
  const boot = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  const worker = new Worker(boot, { eval: true, workerData: input });
  return new Promise((resolve, reject) => {
    let current: Extract<WorkerMessage, { type: 'start' }> | null = null;
    let timer: NodeJS.Timeout | undefined;
    worker.on('message', (m: WorkerMessage) => {
      clearTimeout(timer);
      if (m.type === 'start') {
        current = m;
        if (values.verbose) process.stderr.write(`case ${m.id}: ${m.family}: ${m.detail}\n`);
        timer = setTimeout(() => {
          const hung = current;
          void worker.terminate();
          if (hung === null) return;
          report({
            case: { id: hung.id, base: '', family: hung.family, detail: hung.detail, target: '', mustRefuse: false },
            outcome: 'hang',
            note: `still running after ${WATCHDOG_MS} ms; worker terminated`,
            ms: WATCHDOG_MS,
            peakGrowth: 0,
          });
          resolve(hung.id + 1 < cases ? hung.id + 1 : null);
        }, WATCHDOG_MS);
      } else if (m.type === 'result') {
        current = null;
        report(m.result);
      } else {
        void worker.terminate();
        resolve(null);
      }
    });
    worker.on('error', reject);
  });
}

const t0 = performance.now();
let next: number | null = 0;
while (next !== null) next = await runFrom(next);
const seconds = (performance.now() - t0) / 1000;
const failures = results.filter((r) => FAILURES.has(r.outcome)).length;
const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
process.stdout.write(
  `\nfuzz: seed ${values.seed}, ${results.length} cases in ${seconds.toFixed(1)} s on ${cpu} (${os.cpus().length} cores), ` +
    `Node ${process.version}; ${failures} failure(s)\n\n${formatTable(results)}\n`,
);
process.exitCode = failures > 0 ? 1 : 0;
