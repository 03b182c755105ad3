/**
 * Headless Chromium for the CLI (benchmarks now, headless training later): serves the built
 * lab with `vite preview` on 127.0.0.1 and launches Debian's Chromium through Playwright.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { freePort } from './free-port.ts';
import { chromium, type Browser } from 'playwright-core';

export const DEFAULT_CHROMIUM = '/usr/bin/chromium';
export const SOFTWARE_WEBGPU_FLAGS = ['--enable-unsafe-webgpu', '--no-sandbox'];

export function chromiumPath(): string {
  const p = process.env.CHROMIUM_PATH ?? DEFAULT_CHROMIUM;
  if (!existsSync(p)) {
    throw new Error(`Chromium not found at ${p}. Install Debian's chromium (apt-get install chromium) or set CHROMIUM_PATH.`);
  }
  return p;
}

export async function launchChromium(args: string[] = SOFTWARE_WEBGPU_FLAGS): Promise<Browser> {
  return chromium.launch({ executablePath: chromiumPath(), headless: true, args });
}

export interface LabServer {
  url: string;
  close(): Promise<void>;
}

/** Serve the built lab (`dist/`, or LUNA_DIST; run `npm run build` first) and wait until it answers. */
export async function serveLab(root = process.cwd(), dist = process.env.LUNA_DIST ?? 'dist', fixedPort?: number): Promise<LabServer> {
  if (!existsSync(`${root}/${dist}/index.html`)) throw new Error(`${root}/${dist} is missing: run "npm run build" first`);
  const port = fixedPort ?? (await freePort());
  const vite = `${root}/node_modules/vite/bin/vite.js`;
  const child: ChildProcess = spawn(process.execPath, [vite, 'preview', '--host', '127.0.0.1', '--port', String(port), '--strictPort', '--outDir', dist], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`vite preview exited with code ${child.exitCode}`);
    try {
      if ((await fetch(url)).ok) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) {
      child.kill();
      throw new Error(`vite preview did not answer on ${url} within 30 s`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    close: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill();
      }),
  };
}
