/**
 * Headless Chromium for the CLI (benchmarks, headless training): serves the built lab on
 * 127.0.0.1 from this process (lab-server.ts) and launches Debian's Chromium through Playwright.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { serveLabFolder, type LabServer } from './lab-server.ts';

export type { LabServer };

export const DEFAULT_CHROMIUM = '/usr/bin/chromium';
export const SOFTWARE_WEBGPU_FLAGS = ['--enable-unsafe-webgpu', '--no-sandbox'];

export function chromiumPath(): string {
  const p = process.env.CHROMIUM_PATH ?? DEFAULT_CHROMIUM;
  if (!existsSync(p)) {
    throw new Error(
      `Chromium not found at ${p}. Install Debian's chromium (apt-get install chromium) or set CHROMIUM_PATH.`,
    );
  }
  return p;
}

export async function launchChromium(args: string[] = SOFTWARE_WEBGPU_FLAGS): Promise<Browser> {
  return chromium.launch({ executablePath: chromiumPath(), headless: true, args });
}

/** Serve the built lab (`dist/`, or LUNA_DIST; run `npm run build` first) in this process. */
export async function serveLab(
  root = process.cwd(),
  dist = process.env.LUNA_DIST ?? 'dist',
  fixedPort?: number,
): Promise<LabServer> {
  return serveLabFolder(root, dist, fixedPort ?? 0);
}
