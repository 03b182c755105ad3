import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeOutDir } from './out-dir.ts';
import { runCli } from './run-cli.test-helper.ts';

const root = mkdtempSync(join(tmpdir(), 'luna-out-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('makeOutDir', () => {
  it('takes back the folders it made while they hold no file, and only those', async () => {
    const a = await makeOutDir(join(root, 'a', 'b', 'c'));
    mkdirSync(join(root, 'a', 'b', 'c', 'empty-sub'));
    await a.discardIfEmpty();
    expect(existsSync(join(root, 'a'))).toBe(false); // the topmost folder it created

    const kept = await makeOutDir(join(root, 'k', 'run'));
    writeFileSync(join(root, 'k', 'run', 'console.log'), 'what the browser said\n');
    await kept.discardIfEmpty();
    expect(existsSync(join(root, 'k', 'run', 'console.log'))).toBe(true);

    mkdirSync(join(root, 'there'));
    await (await makeOutDir(join(root, 'there'))).discardIfEmpty();
    expect(existsSync(join(root, 'there'))).toBe(true); // not made by this call
  });
});

describe('a failed command leaves no empty --out folder', () => {
  it('train that cannot start Chromium exits 1 and removes the --out it made', async () => {
    const data = join(root, 'data');
    expect((await runCli('synth', '--out', data, '--scans', '1', '--size', 'tiny')).code).toBe(0);
    const out = join(root, 'runs', 'first');
    const before = { chromium: process.env.CHROMIUM_PATH, dist: process.env.LUNA_DIST };
    process.env.CHROMIUM_PATH = join(root, 'no-chromium');
    process.env.LUNA_DIST = join(root, 'no-dist');
    try {
      const r = await runCli('train', '--data', data, '--out', out, '--device', 'cpu', '--cache', join(root, 'cache'));
      expect(r.code).toBe(1);
      expect(r.errCalls).toHaveLength(1);
      expect(r.err).toMatch(/^luna-lab: /);
    } finally {
      for (const [k, v] of [
        ['CHROMIUM_PATH', before.chromium],
        ['LUNA_DIST', before.dist],
      ] as const)
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
    }
    expect(existsSync(join(root, 'runs'))).toBe(false);
  });
});
