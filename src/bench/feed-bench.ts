/**
 * `npm run bench:feed`: how fast one core turns stored (compressed) slabs into augmented
 * training crops, in Node on the lab's own pure code — decode the slabs a 32×48×48 crop
 * spans (shuffle-deflate), cut the crop, augment it as the book does — and how augmentation
 * scales from 1 to 2 worker threads. Per core figures are CPU time, since the machine is shared.
 * Prints markdown.
 */
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { defaultConfig } from '../config/lab-config.ts';
import { augmentBatch } from '../data/augment-batch.ts';
import { cropWindow, extractCropFromSlices, type CropSize } from '../data/crop.ts';
import { decodeSlab, encodeSlab, STORED_CODEC } from '../data/slab-codec.ts';
import { generateScan } from '../data/synthetic.ts';
import { clampHu } from '../data/volume.ts';

const SIZE: CropSize = [32, 48, 48];
const VOX = SIZE[0] * SIZE[1] * SIZE[2];
const SLAB = 16;
const cfg = defaultConfig().augment;

function cpuMs(c0: NodeJS.CpuUsage): number {
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000;
}

function augmentRate(seconds: number): { crops: number; ms: number } {
  const crops = new Int16Array(32 * VOX).map((_, i) => (i % 2001) - 1000);
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < seconds * 1000) {
    augmentBatch({ shape: SIZE, cfg, crops, seeds: Array.from({ length: 32 }, (_, k) => n + k + 1) });
    n += 32;
  }
  return { crops: n, ms: performance.now() - t0 };
}

if (!isMainThread) {
  parentPort!.postMessage(augmentRate((workerData as { seconds: number }).seconds));
} else {
  const scan = generateScan({ size: 'full', index: 0, seed: 7 });
  const v = clampHu(scan.data);
  const [D, H, W] = scan.shape;
  const plane = H * W;
  const slabs: Uint8Array[] = [];
  for (let z = 0; z < D; z += SLAB)
    slabs.push(encodeSlab(v.subarray(z * plane, Math.min(D, z + SLAB) * plane), STORED_CODEC));

  // Cold crops: every crop decodes the 2–3 slabs it spans (no slab cache hit).
  let c0 = process.cpuUsage();
  let cold = 0;
  while (cpuMs(c0) < 3000) {
    const center: [number, number, number] = [
      16 + ((cold * 7) % (D - 32)),
      24 + ((cold * 13) % (H - 48)),
      24 + ((cold * 17) % (W - 48)),
    ];
    const win = cropWindow(center, scan.shape, SIZE);
    const a = Math.floor(win.start[0] / SLAB);
    const b = Math.floor((win.start[0] + SIZE[0] - 1) / SLAB);
    const dec = new Map<number, Int16Array>();
    for (let s = a; s <= b; s++) dec.set(s, decodeSlab(slabs[s], STORED_CODEC, Math.min(SLAB, D - s * SLAB) * plane));
    extractCropFromSlices(
      (z) => ({ data: dec.get(Math.floor(z / SLAB))!, offset: (z % SLAB) * plane }),
      scan.shape,
      win,
    );
    cold++;
  }
  const coldRate = cold / (cpuMs(c0) / 1000);
  // Augmentation alone, one thread, CPU time.
  c0 = process.cpuUsage();
  const one = augmentRate(3);
  const augPerCore = one.crops / (cpuMs(c0) / 1000);
  // 1 and 2 worker threads, wall clock (the scaling the data workers get here).
  const inWorkers = async (n: number) => {
    const rs = await Promise.all(
      Array.from(
        { length: n },
        () =>
          new Promise<{ crops: number; ms: number }>((ok, fail) => {
            // Worker threads do not inherit tsx's loader: register it, then load this file.
            const boot = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(import.meta.url)}); })`;
            const w = new Worker(boot, { eval: true, workerData: { seconds: 4 } });
            w.once('message', ok);
            w.once('error', fail);
          }),
      ),
    );
    return rs.reduce((s, r) => s + r.crops / (r.ms / 1000), 0);
  };
  const w1 = await inWorkers(1);
  const w2 = await inWorkers(2);
  console.log(
    [
      '| stage (32×48×48 crops, full-size synthetic scan) | crops/s |',
      '|---|---|',
      `| cold crop from compressed slabs (decode the 2–3 slabs it spans + cut), per CPU second | ${coldRate.toFixed(1)} |`,
      `| the book's augmentation alone, per CPU second | ${augPerCore.toFixed(0)} |`,
      `| augmentation on 1 worker thread (wall clock) | ${w1.toFixed(0)} |`,
      `| augmentation on 2 worker threads (wall clock, summed) | ${w2.toFixed(0)} (×${(w2 / w1).toFixed(2)}) |`,
    ].join('\n'),
  );
}
