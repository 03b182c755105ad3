/** `luna-lab` as the e2e tests run it: a child process, its exit code, output and JSON event lines. */
import { spawn } from 'node:child_process';

/** One line of `--json` output (`{"event": …, …}`). */
export type CliEvent = Record<string, unknown>;

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The stdout lines that are JSON objects, parsed, in order. */
  events: CliEvent[];
}

/** Run `node bin/luna-lab.js ARGS` (this checkout's CLI) to its end. */
export function runLunaLab(args: string[]): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/luna-lab.js', ...args], { env: process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const events = stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as CliEvent);
      resolve({ code, stdout, stderr, events });
    });
  });
}
