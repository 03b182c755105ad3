/**
 * One headless lab session for the CLI: the profile's lock taken (profile-lock.ts), the built
 * lab served on 127.0.0.1 from this process, the data folder served beside it, Chromium (through Playwright) on a persistent profile so the IndexedDB
 * cache outlives the process, and the page opened with `?headless=1`. Calls go to the page's
 * `window.lunaHeadless`; its events come back through `onEvent`; its console goes to a file.
 */
import { appendFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { freePort } from './free-port.ts';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import type { HeadlessApi, HeadlessEvent, PageInfo } from '../headless/headless-api.ts';
import { chromiumPath, serveLab, type LabServer } from './browser.ts';
import { serveData, type DataServer } from './data-server.ts';
import { lockProfile, portOwner, type ProfileLock } from './profile-lock.ts';
import { chooseAuto, probeGpu, type AutoChoice } from './device-probe.ts';

export type Device = 'auto' | 'gpu' | 'cpu';
export const DEVICES: readonly Device[] = ['auto', 'gpu', 'cpu'];

/** The GPU flags DESIGN.md and the README name for NVIDIA servers (Vulkan through ANGLE). */
export const GPU_FLAGS = [
  '--enable-unsafe-webgpu',
  '--enable-features=Vulkan',
  '--use-angle=vulkan',
  '--disable-vulkan-surface',
  '--ignore-gpu-blocklist',
];
/** Chromium's CPU implementation of WebGPU (SwiftShader), whatever hardware there is. */
export const CPU_FLAGS = ['--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader'];

export function deviceFlags(device: Device): string[] {
  // No sandbox: CI containers and root shells cannot give Chromium its namespaces.
  return [...(device === 'cpu' ? CPU_FLAGS : GPU_FLAGS), '--no-sandbox'];
}

export interface SessionOptions {
  device: Device;
  /** The persistent browser profile (IndexedDB cache, checkpoints, tracking outbox). */
  profileDir: string;
  /** A folder to serve read-only to the page, if any. */
  dataDir?: string;
  /** Where the page's console and errors are appended. */
  consoleLog: string;
  onEvent: (e: HeadlessEvent) => void;
  /** The lab URL hash to open, so the page's address is the run's lab URL. */
  hash?: string;
}

type Method = keyof HeadlessApi;
type Result<M extends Method> = Awaited<ReturnType<HeadlessApi[M]>>;

/**
 * The lab's port for this profile: chosen once, kept in the profile folder (IndexedDB belongs
 * to an origin, so the cache is found again only on the same port). Call it holding the
 * profile's lock: a busy kept port is then not another luna-lab run's.
 */
export async function profilePort(profileDir: string): Promise<number> {
  const file = join(profileDir, 'luna-lab-port');
  const kept = Number((await readFile(file, 'utf8').catch(() => '')).trim());
  if (Number.isInteger(kept) && kept > 0 && kept < 65536) {
    if (!(await portFree(kept))) {
      const owner = portOwner(kept);
      throw new Error(
        `port ${kept} of the browser profile ${profileDir} is busy: ${owner ? `${owner} listens on it` : 'another program listens on it'}; ` +
          `end it and run again (the port is kept in ${file}: the profile's cache belongs to http://127.0.0.1:${kept})`,
      );
    }
    return kept;
  }
  const port = await freePort();
  await mkdir(profileDir, { recursive: true });
  await writeFile(file, `${port}\n`);
  return port;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((ok) => {
    const srv = createServer();
    srv.once('error', () => ok(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => ok(true)));
  });
}

/** Why the lab page did not come up, with the likely cause where the GPU flags were used. */
export function pageDidNotLoad(e: unknown, gpuFlags: boolean, consoleLog: string): string {
  const what = `the lab page did not load in Chromium (${(e instanceof Error ? e.message : String(e)).split('\n')[0]})`;
  return gpuFlags
    ? `${what}: with the GPU flags, the likely cause is the Vulkan driver (Mesa's lavapipe, for one, hangs Chromium's GPU path at page load); --device cpu avoids it. The page's console is in ${consoleLog}`
    : `${what}. The page's console is in ${consoleLog}`;
}

/**
 * Persistent storage for the lab's origin, so `navigator.storage.persist()` is granted: the
 * browser then never evicts the cache, and the origin gets the large persistent quota. No
 * prompt exists headless; Chromium's CDP permission `durableStorage` is what persist() asks.
 */
export async function grantPersistentStorage(context: BrowserContext, page: Page, origin: string): Promise<void> {
  // Not detached: Chromium drops a DevTools session's permission overrides when it detaches.
  const cdp = await context.newCDPSession(page);
  await cdp.send('Browser.grantPermissions', { origin, permissions: ['durableStorage'] });
}

/** Chromium's per-origin quota (10.74 GiB here, one subset) lifted to what the disk holds
 *  (60.7 GB measured with 56 GB free on the disk): room for all ten subsets where the disk has it. */
export const STORAGE_FLAGS = ['--unlimited-storage'];

export class HeadlessSession {
  private constructor(
    readonly page: Page,
    readonly info: PageInfo,
    readonly dataUrl: string | null,
    /** For --device auto: which adapter the probe found and which flags it chose, and why. */
    readonly autoChoice: AutoChoice | null,
    private readonly context: BrowserContext,
    private readonly servers: (LabServer | DataServer)[],
    private readonly lock: ProfileLock,
  ) {}

  static async open(opts: SessionOptions): Promise<HeadlessSession> {
    const servers: (LabServer | DataServer)[] = [];
    let context: BrowserContext | null = null;
    await mkdir(opts.profileDir, { recursive: true });
    // One run per profile; a dead run's lock (and its leftover Chromium) is taken over.
    const lock = await lockProfile(opts.profileDir);
    try {
      // IndexedDB belongs to an origin: the profile keeps one port, so its cache is found again.
      const lab = await serveLab(process.cwd(), undefined, await profilePort(opts.profileDir));
      servers.push(lab);
      const data = opts.dataDir ? await serveData(opts.dataDir, lab.url) : null;
      if (data) servers.push(data);
      // auto: the GPU flags only where they give a GPU, found by a bounded probe (device-probe.ts).
      const autoChoice = opts.device === 'auto' ? chooseAuto(await probeGpu(chromiumPath(), deviceFlags('gpu'))) : null;
      const gpuFlags = opts.device === 'gpu' || !!autoChoice?.gpu;
      context = await chromium.launchPersistentContext(opts.profileDir, {
        executablePath: chromiumPath(),
        headless: true,
        args: [...deviceFlags(gpuFlags ? 'gpu' : 'cpu'), ...STORAGE_FLAGS],
        // The CLI decides what Ctrl-C does (stop after a checkpoint), not Playwright.
        handleSIGINT: false,
        handleSIGTERM: false,
        handleSIGHUP: false,
      });
      const log = (line: string) => appendFileSync(opts.consoleLog, `${new Date().toISOString()} ${line}\n`);
      await context.exposeFunction('lunaCliEvent', (e: HeadlessEvent) => opts.onEvent(e));
      const page = context.pages()[0] ?? (await context.newPage());
      await grantPersistentStorage(context, page, lab.url);
      page.on('console', (m) => log(`[${m.type()}] ${m.text()}`));
      page.on('pageerror', (e) => log(`[pageerror] ${e.stack ?? e.message}`));
      page.on('worker', (w) => log(`[worker] started ${w.url()}`));
      page.on('crash', () => log('[crash] the page crashed'));
      try {
        await page.goto(`${lab.url}/?headless=1${opts.hash ? `#${opts.hash}` : ''}`);
        await page.waitForFunction(
          () => !!window.lunaHeadless && document.documentElement.dataset.lunaReady === 'true',
          null,
          { timeout: 60_000 },
        );
      } catch (e) {
        throw new Error(pageDidNotLoad(e, gpuFlags, opts.consoleLog), { cause: e });
      }
      const info = await page.evaluate(() => window.lunaHeadless!.info());
      log(`[lab] ${info.labVersion} (${info.labCommit}) on ${info.userAgent}; WebGPU: ${JSON.stringify(info.webgpu)}`);
      return new HeadlessSession(page, info, data?.url ?? null, autoChoice, context, servers, lock);
    } catch (e) {
      await context?.close().catch(() => {});
      await Promise.all(servers.map((s) => s.close()));
      await lock.release();
      throw e;
    }
  }

  /** Call `window.lunaHeadless[method](...args)` in the page. */
  call<M extends Method>(method: M, ...args: Parameters<HeadlessApi[M]>): Promise<Result<M>> {
    return this.page.evaluate(
      ([m, a]) => (window.lunaHeadless![m as Method] as (...x: unknown[]) => unknown)(...(a as unknown[])),
      [method, args] as const,
    ) as Promise<Result<M>>;
  }

  async close(): Promise<void> {
    await this.context.close().catch(() => {});
    await Promise.all(this.servers.map((s) => s.close()));
    await this.lock.release();
  }
}
