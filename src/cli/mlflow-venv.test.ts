/**
 * `npm run mlflow` on a clean checkout: its own venv with MLflow alone (no PyTorch, none of the
 * test venv's tools), made by .ci/setup-mlflow-venv from the pinned .ci/mlflow-requirements.txt,
 * and a server from it that answers. The first run installs (a minute or two); later runs, and
 * `npm run mlflow` itself, reuse a venv made from the same requirements (the hash stamp).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort } from './free-port.ts';
import { ensureMlflowVenv, mlflowVenv, startMlflowServer } from './mlflow-server.ts';

const REQUIREMENTS = readFileSync(join(process.cwd(), '.ci', 'mlflow-requirements.txt'), 'utf8');

describe('the MLflow venv of npm run mlflow', () => {
  it('holds MLflow and none of the test venv tools, stamped with its requirements; a server from it answers', async () => {
    const mlflow = ensureMlflowVenv(); // installs on first use, else leaves it as it is
    const venv = mlflowVenv();
    expect(readFileSync(join(venv, '.requirements.sha256'), 'utf8').trim()).toBe(
      createHash('sha256').update(REQUIREMENTS).digest('hex'),
    );
    const list = JSON.parse(
      execFileSync(
        join(venv, 'bin', 'python'),
        ['-m', 'pip', 'list', '--format', 'json', '--disable-pip-version-check'],
        {
          encoding: 'utf8',
        },
      ),
    ) as { name: string; version: string }[];
    const names = new Set(list.map((p) => p.name.toLowerCase()));
    expect(list.find((p) => p.name.toLowerCase() === 'mlflow')?.version).toBe(
      /^mlflow==(\S+)$/m.exec(REQUIREMENTS)?.[1],
    );
    for (const heavy of ['torch', 'tensorboard', 'onnx', 'onnxruntime', 'ray'])
      expect(names.has(heavy), heavy).toBe(false);
    // Everything installed is pinned: what the first use installs is what was tested.
    const pinned = new Set(
      [...REQUIREMENTS.matchAll(/^([\w.-]+)==/gm)].map((m) => m[1].toLowerCase().replace(/_/g, '-')),
    );
    for (const p of list) {
      const n = p.name.toLowerCase().replace(/_/g, '-');
      if (!['pip', 'setuptools', 'wheel'].includes(n)) expect(pinned.has(n), `${p.name} is pinned`).toBe(true);
    }
    // And it starts the server `npm run mlflow` starts.
    const server = await startMlflowServer({
      port: await freePort(),
      dir: mkdtempSync(join(tmpdir(), 'luna-mlflow-venv-')),
      executable: mlflow,
      timeoutMs: 240_000,
    });
    try {
      expect(await fetch(`${server.url}/version`).then((r) => r.text())).toBe(
        list.find((p) => p.name === 'mlflow')?.version,
      );
    } finally {
      await server.stop();
    }
  }, 900_000);
});
