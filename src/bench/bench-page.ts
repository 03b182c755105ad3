/**
 * The benchmark page: exposes the bench worker to the CLI as `window.lunaBench`. Each call
 * gets a fresh worker, so every backend starts clean.
 */
import * as Comlink from 'comlink';
import type { BenchApi } from '../../workers/bench.worker.ts';

function fresh(): { api: Comlink.Remote<BenchApi>; done: () => void } {
  const worker = new Worker(new URL('../../workers/bench.worker.ts', import.meta.url), {
    type: 'module',
    name: 'bench',
  });
  return { api: Comlink.wrap<BenchApi>(worker), done: () => worker.terminate() };
}

async function call<T>(fn: (api: Comlink.Remote<BenchApi>) => Promise<T>): Promise<T> {
  const w = fresh();
  try {
    return await fn(w.api);
  } finally {
    w.done();
  }
}

const bench = {
  trainStep: (...a: Parameters<BenchApi['trainStep']>) => call((api) => api.trainStep(...a)),
  profileOps: (...a: Parameters<BenchApi['profileOps']>) => call((api) => api.profileOps(...a)),
  pipeline: (...a: Parameters<BenchApi['pipeline']>) => call((api) => api.pipeline(...a)),
  inference: (...a: Parameters<BenchApi['inference']>) => call((api) => api.inference(...a)),
  ingestStages: (...a: Parameters<BenchApi['ingestStages']>) => call((api) => api.ingestStages(...a)),
};

declare global {
  interface Window {
    lunaBench?: typeof bench;
  }
}

window.lunaBench = bench;
document.documentElement.dataset.benchReady = 'true';
