/**
 * What `--device auto` runs on, decided before the lab is opened: a throwaway Chromium with
 * the GPU flags asks `navigator.gpu.requestAdapter()` on a blank loopback page, bounded in time. A real
 * GPU keeps the GPU flags; a software adapter, no adapter, an error or no answer in time (a
 * Vulkan driver such as Mesa's lavapipe can hang Chromium's GPU path at page load) takes
 * Chromium's own software adapter (SwiftShader, the `--device cpu` flags) instead. The choice
 * says which adapter it took and why.
 */
import { chromium } from 'playwright-core';
import { describeAdapter, isSoftwareAdapter } from '../model/backend.ts';

export interface GpuProbe {
  /** The adapter the GPU flags give (describeAdapter's words), or null. */
  adapter: string | null;
  fallback: boolean;
  /** Why there is no adapter: an error, or the bound that passed. */
  error: string | null;
}

export interface AutoChoice {
  /** true: the GPU flags; false: SwiftShader (the cpu flags). */
  gpu: boolean;
  /** The adapter the probe saw, if any. */
  adapter: string | null;
  /** Why, in words for the terminal. */
  reason: string;
}

export const PROBE_TIMEOUT_MS = 15_000;
const PROBE_URL = 'http://127.0.0.1/luna-lab-gpu-probe';

/** Decide from a probe (pure). */
export function chooseAuto(probe: GpuProbe): AutoChoice {
  if (probe.adapter && !probe.fallback && !isSoftwareAdapter(probe.adapter)) {
    return { gpu: true, adapter: probe.adapter, reason: `the GPU flags give a GPU adapter (${probe.adapter})` };
  }
  const why = probe.adapter
    ? `the GPU flags give only a software adapter (${probe.adapter})`
    : `the GPU flags give no WebGPU adapter (${probe.error ?? 'requestAdapter() returned null'})`;
  return { gpu: false, adapter: probe.adapter, reason: `${why}: using Chromium's SwiftShader, as --device cpu does` };
}

/** Launch Chromium with `args`, ask for a WebGPU adapter, all within `timeoutMs`. */
export async function probeGpu(
  executablePath: string,
  args: string[],
  timeoutMs = PROBE_TIMEOUT_MS,
): Promise<GpuProbe> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const launched = chromium.launch({
    executablePath,
    headless: true,
    args,
    timeout: timeoutMs,
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
  });
  const work = (async (): Promise<GpuProbe> => {
    const browser = await launched;
    const page = await browser.newPage();
    // WebGPU needs a secure context, which about:blank is not: a loopback page, served by the route.
    await page.route(PROBE_URL, (r) =>
      r.fulfill({ contentType: 'text/html', body: '<!doctype html><title>luna-lab GPU probe</title>' }),
    );
    await page.goto(PROBE_URL, { timeout: timeoutMs });
    const info = await page.evaluate(async () => {
      type Adapter = { info?: Record<string, string>; isFallbackAdapter?: boolean };
      const gpu = (navigator as unknown as { gpu?: { requestAdapter(): Promise<Adapter | null> } }).gpu;
      if (!gpu) return { error: 'navigator.gpu is missing' };
      const a = await gpu.requestAdapter();
      if (!a) return { error: 'requestAdapter() returned null' };
      const i = a.info ?? {};
      return {
        vendor: i.vendor,
        architecture: i.architecture,
        device: i.device,
        description: i.description,
        fallback: !!a.isFallbackAdapter,
      };
    });
    if ('error' in info) return { adapter: null, fallback: false, error: info.error ?? null };
    return { adapter: describeAdapter(info), fallback: info.fallback, error: null };
  })();
  const bound = new Promise<GpuProbe>((ok) => {
    timer = setTimeout(
      () => ok({ adapter: null, fallback: false, error: `no answer within ${timeoutMs / 1000} s` }),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([
      work.catch((e: unknown) => ({ adapter: null, fallback: false, error: firstLine(e) })),
      bound,
    ]);
  } finally {
    clearTimeout(timer);
    // A hung browser is killed by Playwright's close after its grace time; do not wait for it.
    void launched.then((b) => b.close()).catch(() => {});
  }
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0];
}
