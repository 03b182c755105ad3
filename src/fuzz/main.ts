/**
 * `npm run fuzz [-- --seed N --cases N --samples DIR]`: the fuzz harness over the real samples,
 * printing each failure as it happens and the classification table at the end. Exit code 1
 * when any case failed. Not part of CI's default run (a short seeded run is, in fuzz.test.ts).
 */
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { FAILURES, formatTable, runFuzz } from './harness.ts';

const { values } = parseArgs({
  options: {
    seed: { type: 'string', default: '1' },
    cases: { type: 'string', default: '400' },
    samples: { type: 'string', default: path.resolve(process.cwd(), '../shared/ct-samples') },
    verbose: { type: 'boolean', default: false },
  },
});

const cases = Number(values.cases);
const t0 = performance.now();
const results = await runFuzz({
  seed: values.seed,
  cases,
  samplesDir: values.samples,
  onStart: (c) => {
    if (values.verbose) process.stderr.write(`case ${c.id}: ${c.family}: ${c.detail}\n`);
  },
  onResult: (r) => {
    if (FAILURES.has(r.outcome)) {
      process.stdout.write(`FAIL case ${r.case.id} [${r.outcome}] ${r.case.family}: ${r.case.detail}\n  ${r.note}\n`);
    }
  },
});
const seconds = (performance.now() - t0) / 1000;
const failures = results.filter((r) => FAILURES.has(r.outcome)).length;
const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
process.stdout.write(
  `\nfuzz: seed ${values.seed}, ${results.length} cases in ${seconds.toFixed(1)} s on ${cpu} (${os.cpus().length} cores), ` +
    `Node ${process.version}; ${failures} failure(s)\n\n${formatTable(results)}\n`,
);
process.exitCode = failures > 0 ? 1 : 0;
