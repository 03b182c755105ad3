/**
 * Writes the synthetic LUNA16-format folders the e2e tests drop, with the project's own
 * CLI (`luna-lab synth`), and a copy with one deliberately broken scan; starts a real MLflow
 * server (from .venv) for the tracking tests and stops it at the end.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, truncateSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../src/cli/free-port.ts';
import { E2E_DATA, MLFLOW_DIR, NO_SCANS, SYNTH_CLI, SYNTH_GOOD, SYNTH_BROKEN, SYNTH_TRAIN } from './paths.ts';
import { startMlflowServer, stopMlflowOnPort } from '../src/cli/mlflow-server.ts';

export default async function globalSetup(): Promise<() => Promise<void>> {
  rmSync(E2E_DATA, { recursive: true, force: true });
  mkdirSync(E2E_DATA, { recursive: true });
  const cli = join(process.cwd(), 'bin', 'luna-lab.js');
  execFileSync(
    process.execPath,
    [cli, 'synth', '--out', SYNTH_GOOD, '--scans', '3', '--size', 'tiny', '--seed', '11'],
    { stdio: 'inherit' },
  );
  execFileSync(
    process.execPath,
    [cli, 'synth', '--out', SYNTH_BROKEN, '--scans', '3', '--size', 'tiny', '--seed', '12'],
    { stdio: 'inherit' },
  );
  execFileSync(
    process.execPath,
    [cli, 'synth', '--out', SYNTH_TRAIN, '--scans', '8', '--size', 'small', '--seed', '16'],
    { stdio: 'inherit' },
  );
  execFileSync(process.execPath, [cli, 'synth', '--out', SYNTH_CLI, '--scans', '4', '--size', 'tiny', '--seed', '5'], {
    stdio: 'inherit',
  });
  mkdirSync(NO_SCANS, { recursive: true });
  copyFileSync(join(SYNTH_CLI, 'annotations.csv'), join(NO_SCANS, 'annotations.csv'));
  // Break one scan of the second set: cut its .raw in half.
  const subset = join(SYNTH_BROKEN, 'subset0');
  const raw = readdirSync(subset)
    .filter((f) => f.endsWith('.raw'))
    .sort()[0];
  truncateSync(join(subset, raw), Math.floor(statSync(join(subset, raw)).size / 2));
  if (!existsSync(SYNTH_GOOD)) throw new Error('synthetic data was not written');

  // A real MLflow server for the tracking tests; its address reaches the tests by env.
  const port = await freePort();
  const server = await startMlflowServer({ port, dir: MLFLOW_DIR });
  process.env.LUNA_E2E_MLFLOW = server.url;
  process.env.LUNA_E2E_MLFLOW_PORT = String(port);
  return async () => {
    await server.stop();
    // A test may have replaced the server on the same port (the outage test).
    await stopMlflowOnPort(port);
  };
}
