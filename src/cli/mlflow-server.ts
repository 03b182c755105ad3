/**
 * A real MLflow tracking server for development, tests and CI: `mlflow server`, sqlite
 * backend, artifacts served by the server, bound to 127.0.0.1. Node only. `npm run mlflow`
 * runs it from its own venv, MLflow alone (.cache/mlflow-venv, made on first use by
 * .ci/setup-mlflow-venv); the tests run it from the test venv (.venv, .ci/setup-venv).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join, resolve } from 'node:path';

/** The checkout: two folders up from src/cli/ and from dist/cli/ alike. */
const CHECKOUT = fileURLToPath(new URL('../../', import.meta.url));

export interface MlflowServer {
  url: string;
  port: number;
  /** Stop the server (SIGTERM, then SIGKILL); its data stays in `dir`. */
  stop(): Promise<void>;
}

export interface MlflowServerOptions {
  port?: number;
  /** Where the sqlite database, the artifacts and the server's log live. */
  dir?: string;
  /** Project root holding .venv. */
  root?: string;
  /** The mlflow to run (default: the test venv's, mlflowExecutable). */
  executable?: string;
  timeoutMs?: number;
}

/** The venv of `npm run mlflow`: LUNA_MLFLOW_VENV, else .cache/mlflow-venv of the checkout. */
export function mlflowVenv(root = CHECKOUT): string {
  return resolve(root, process.env.LUNA_MLFLOW_VENV ?? join('.cache', 'mlflow-venv'));
}

/**
 * The mlflow executable of `npm run mlflow`'s venv, which .ci/setup-mlflow-venv makes on first
 * use (saying so: it takes a minute or two) and leaves as it is while its requirements hold.
 */
export function ensureMlflowVenv(root = CHECKOUT): string {
  const venv = mlflowVenv(root);
  const r = spawnSync('bash', [join(root, '.ci', 'setup-mlflow-venv')], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, LUNA_MLFLOW_VENV: venv },
  });
  if (r.status !== 0)
    throw new Error(
      `could not install MLflow into ${venv} (${r.error?.message ?? `.ci/setup-mlflow-venv exited ${r.status}`}; pip's messages are above)`,
    );
  return join(venv, 'bin', 'mlflow');
}

/** The test venv's mlflow (.venv, .ci/setup-venv), what the tests start. */
export function mlflowExecutable(root = process.cwd()): string {
  const exe = join(root, '.venv', 'bin', 'mlflow');
  if (!existsSync(exe))
    throw new Error(`${exe} not found: run "bash .ci/setup-venv" to install MLflow into the project's venv`);
  return exe;
}

export async function startMlflowServer(o: MlflowServerOptions = {}): Promise<MlflowServer> {
  const root = o.root ?? process.cwd();
  const port = o.port ?? 5000;
  const dir = resolve(o.dir ?? join(root, '.cache', 'mlflow'));
  mkdirSync(join(dir, 'artifacts'), { recursive: true });
  const url = `http://127.0.0.1:${port}`;
  if (await answers(url)) throw new Error(`something already listens on ${url}; stop it or choose another --port`);
  const log = openSync(join(dir, 'server.log'), 'a');
  const child: ChildProcess = spawn(
    o.executable ?? mlflowExecutable(root),
    [
      'server',
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--backend-store-uri',
      `sqlite:///${join(dir, 'mlflow.db')}`,
      '--artifacts-destination',
      join(dir, 'artifacts'),
      '--serve-artifacts',
      '--workers',
      '1',
    ],
    // Its own process group: mlflow runs its web server as a child, and stop() must end both.
    {
      stdio: ['ignore', log, log],
      detached: true,
      env: { ...process.env, MLFLOW_ENABLE_TELEMETRY: 'false', DO_NOT_TRACK: 'true' },
    },
  );
  const deadline = Date.now() + (o.timeoutMs ?? 120_000);
  while (!(await answers(url))) {
    if (child.exitCode !== null)
      throw new Error(`mlflow server exited with code ${child.exitCode}; see ${join(dir, 'server.log')}`);
    if (Date.now() > deadline) {
      process.kill(-child.pid!, 'SIGKILL');
      throw new Error(`mlflow server did not answer on ${url} in time; see ${join(dir, 'server.log')}`);
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  const signalGroup = (sig: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, sig);
    } catch {
      /* already gone */
    }
  };
  return {
    url,
    port,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        await new Promise<void>((done) => {
          const kill = setTimeout(() => signalGroup('SIGKILL'), 10_000);
          child.once('exit', () => {
            clearTimeout(kill);
            done();
          });
          signalGroup('SIGTERM');
        });
      }
      signalGroup('SIGKILL'); // children that outlived their parent
      for (let i = 0; i < 50 && (await answers(url)); i++) await new Promise((r) => setTimeout(r, 100));
    },
  };
}

async function answers(url: string): Promise<boolean> {
  try {
    const r = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) });
    return r.ok;
  } catch {
    return false;
  }
}

/**
 * End an MLflow server on `port` that another process started (found by its command line),
 * with its whole process group (mlflow runs its web and job workers as children).
 */
export async function stopMlflowOnPort(port: number): Promise<void> {
  const { execFileSync } = await import('node:child_process');
  const run = (cmd: string, args: string[]) => {
    try {
      return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    } catch {
      return ''; // no match
    }
  };
  const pids = run('pgrep', ['-f', '--', `mlflow server .*--port ${port} `])
    .split(/\s+/)
    .filter(Boolean);
  const groups = new Set(pids.map((pid) => run('ps', ['-o', 'pgid=', '-p', pid]).trim()).filter(Boolean));
  for (const sig of ['SIGTERM', 'SIGKILL'] as const) {
    for (const g of groups) {
      try {
        process.kill(-Number(g), sig);
      } catch {
        /* gone */
      }
    }
    for (let i = 0; i < 50 && (await answers(`http://127.0.0.1:${port}`)); i++)
      await new Promise((r) => setTimeout(r, 100));
  }
}
