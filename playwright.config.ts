import { defineConfig } from '@playwright/test';

/**
 * End-to-end tests run the built app (vite preview) in Debian's Chromium — Playwright is
 * never asked to download a browser. WebGPU is on (SwiftShader where there is no GPU).
 * CHROMIUM_PATH overrides the executable.
 */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Not the lab's own 4173: the tests must never reuse (or be blocked by) a lab the user is running. */
const PORT = Number(process.env.LUNA_E2E_PORT ?? 4183);
/** The built lab to serve (LUNA_DIST lets parallel checkouts of work use their own build). */
const DIST = process.env.LUNA_DIST ?? 'dist';

export default defineConfig({
  testDir: 'e2e',
  testMatch: '**/*.spec.ts',
  globalSetup: './e2e/global-setup.ts',
  timeout: 120_000,
  expect: { timeout: 30_000 },
  fullyParallel: false,
  workers: 1,
  forbidOnly: !!process.env.CI,
  retries: 0,
  reporter: [['list']],
  use: {
    baseURL: `http://127.0.0.1:${PORT}`,
    browserName: 'chromium',
    headless: true,
    launchOptions: {
      executablePath: CHROMIUM_PATH,
      args: ['--enable-unsafe-webgpu', '--no-sandbox'],
    },
    trace: 'off',
  },
  webServer: {
    command: `npx vite preview --host 127.0.0.1 --port ${PORT} --strictPort --outDir ${DIST}`,
    url: `http://127.0.0.1:${PORT}`,
    reuseExistingServer: !process.env.CI,
    timeout: 60_000,
  },
});
