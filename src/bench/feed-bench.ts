/**
 * `npm run bench:feed`: how fast one core turns stored (compressed) slabs into augmented
 * training crops, in Node on the lab's own pure code — decode the pieces a 32×48×48 crop spans
 * (the stored codec; whole slabs as before tiling, and x/y tiles of several sizes side by side),
 * cut the crop, augment it as the book does — and how cold crops + augmentation scale from 1
 * to 2 worker threads. Per core figures are CPU time, since the machine is shared. Prints
 * markdown.
 */
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { defaultConfig } from '../config/lab-config.ts';
import { augmentBatch } from '../data/augment-batch.ts';
import { cropWindow, type CropSize } from '../data/crop.ts';
import { decodeSlab, encodeSlab, loadSlabCodecs, STORED_CODEC } from '../data/slab-codec.ts';
import { cutTiles, extractCropFromTiles, placeTile, STORED_TILE, tileGrid, tileShape } from '../data/slab-tiles.ts';
import { generateScan } from '../data/synthetic.ts';
import { clampHu } from '../data/volume.ts';

// The book's crop; FEED_CROP=16,24,24 measures the quick config's.
const SIZE = (process.env.FEED_CROP?.split(',').map(Number) ?? [32, 48, 48]) as unknown as CropSize;
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

/** Cold crops from the stored tiles of a scan of its own, augmented in batches of 32, as a data
 *  worker fed from compressed storage with no cache hit would (wall clock). */
function coldAugmentRate(seconds: number): { crops: number; ms: number } {
  const scan = generateScan({ size: 'full', index: 1, seed: 11 });
  const v = clampHu(scan.data);
  const [D, H, W] = scan.shape;
  const plane = H * W;
  const g = tileGrid(scan.shape, SLAB, STORED_TILE);
  const pieces = new Map<string, Uint8Array>();
  for (let s = 0; s * SLAB < D; s++)
    cutTiles(g, s, v.subarray(s * SLAB * plane, Math.min(D, (s + 1) * SLAB) * plane)).forEach((t, k) =>
      pieces.set(`${s}|${k}`, encodeSlab(t, STORED_CODEC)),
    );
  const crops = new Int16Array(32 * VOX);
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < seconds * 1000) {
    for (let k = 0; k < 32; k++, n++) {
      const win = cropWindow(
        [16 + ((n * 7) % (D - 32)), 24 + ((n * 13) % (H - 48)), 24 + ((n * 17) % (W - 48))],
        scan.shape,
        SIZE,
      );
      const crop = extractCropFromTiles(g, win, (s, t) =>
        decodeSlab(
          pieces.get(`${s}|${t}`)!,
          STORED_CODEC,
          tileShape(g, s, t).reduce((a, b) => a * b, 1),
        ),
      );
      crops.set(crop, k * VOX);
    }
    augmentBatch({ shape: SIZE, cfg, crops, seeds: Array.from({ length: 32 }, (_, k) => n + k + 1) });
  }
  return { crops: n, ms: performance.now() - t0 };
}

await loadSlabCodecs();
if (!isMainThread) {
  const { seconds, cold } = workerData as { seconds: number; cold: boolean };
  parentPort!.postMessage(cold ? coldAugmentRate(seconds) : augmentRate(seconds));
} else {
  const scan = generateScan({ size: 'full', index: 0, seed: 7 });
  const v = clampHu(scan.data);
  const [D, H, W] = scan.shape;
  const plane = H * W;
  // Each layout: whole 16-slice slabs (before tiling) and x/y tiles of them, each tile encoded
  // on its own; cold crops decode every piece they span (no cache hit).
  const layouts: { name: string; tile?: [number, number] }[] = [
    { name: 'whole 16×512×512 slabs (before tiling)' },
    { name: '16×128×128 tiles', tile: [128, 128] },
    { name: '16×64×64 tiles', tile: [64, 64] },
    { name: '16×32×32 tiles', tile: [32, 32] },
  ];
  const layoutRows: string[] = [];
  let c0: NodeJS.CpuUsage;
  let coldRate = 0;
  let tiledRate = 0;
  for (const layout of layouts) {
    const g = tileGrid(scan.shape, SLAB, layout.tile);
    const pieces = new Map<string, Uint8Array>();
    c0 = process.cpuUsage();
    let stored = 0;
    for (let s = 0; s * SLAB < D; s++)
      cutTiles(g, s, v.subarray(s * SLAB * plane, Math.min(D, (s + 1) * SLAB) * plane)).forEach((t, k) => {
        const e = encodeSlab(t, STORED_CODEC);
        stored += e.byteLength;
        pieces.set(`${s}|${k}`, e);
      });
    const encMBs = v.byteLength / 1e6 / (cpuMs(c0) / 1000);
    // The viewer's read: every tile decoded into place (readVolume).
    const whole = new Int16Array(v.length);
    c0 = process.cpuUsage();
    for (const [k, e] of pieces) {
      const [s, t] = k.split('|').map(Number);
      placeTile(
        g,
        s,
        t,
        decodeSlab(
          e,
          STORED_CODEC,
          tileShape(g, s, t).reduce((a, b) => a * b, 1),
        ),
        whole,
      );
    }
    const volMBs = v.byteLength / 1e6 / (cpuMs(c0) / 1000);
    c0 = process.cpuUsage();
    let cold = 0;
    let decoded = 0;
    while (cpuMs(c0) < 3000) {
      const center: [number, number, number] = [
        16 + ((cold * 7) % (D - 32)),
        24 + ((cold * 13) % (H - 48)),
        24 + ((cold * 17) % (W - 48)),
      ];
      const win = cropWindow(center, scan.shape, SIZE);
      extractCropFromTiles(g, win, (s, t) => {
        const n = tileShape(g, s, t).reduce((a, b) => a * b, 1);
        decoded += 2 * n;
        return decodeSlab(pieces.get(`${s}|${t}`)!, STORED_CODEC, n);
      });
      cold++;
    }
    const rate = cold / (cpuMs(c0) / 1000);
    if (!layout.tile) coldRate = rate;
    if (layout.tile?.[0] === STORED_TILE[0] && layout.tile[1] === STORED_TILE[1]) tiledRate = rate;
    layoutRows.push(
      `| ${layout.name}${layout.tile?.[0] === STORED_TILE[0] && layout.tile[1] === STORED_TILE[1] ? ' (stored)' : ''} | ${(stored / v.byteLength).toFixed(3)} | ${encMBs.toFixed(0)} | ${volMBs.toFixed(0)} | ${(decoded / cold / 2 ** 20).toFixed(2)} | ${rate.toFixed(1)} |`,
    );
  }
  // Augmentation alone, one thread, CPU time.
  c0 = process.cpuUsage();
  const one = augmentRate(3);
  const augPerCore = one.crops / (cpuMs(c0) / 1000);
  // 1 and 2 worker threads, wall clock (the scaling the data workers get here).
  const inWorkers = async (n: number, cold = false) => {
    const rs = await Promise.all(
      Array.from(
        { length: n },
        () =>
          new Promise<{ crops: number; ms: number }>((ok, fail) => {
            // Worker threads do not inherit tsx's loader: register it, then load this file.
            const boot = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(import.meta.url)}); })`;
            const w = new Worker(boot, { eval: true, workerData: { seconds: cold ? 6 : 4, cold } });
            w.once('message', ok);
            w.once('error', fail);
          }),
      ),
    );
    return rs.reduce((s, r) => s + r.crops / (r.ms / 1000), 0);
  };
  const w1 = await inWorkers(1);
  const w2 = await inWorkers(2);
  const cw1 = await inWorkers(1, true);
  const cw2 = await inWorkers(2, true);
  // Warm: the tiles decoded once (the in-memory LRU holds them), crops cut from them.
  const g = tileGrid(scan.shape, SLAB, STORED_TILE);
  const warmTiles = new Map<string, Int16Array>();
  c0 = process.cpuUsage();
  let warm = 0;
  while (cpuMs(c0) < 2000) {
    const win = cropWindow([16 + (warm % (D - 32)), 200 + (warm % 90), 200 + ((warm * 7) % 90)], scan.shape, SIZE);
    extractCropFromTiles(g, win, (s, t) => {
      const k = `${s}|${t}`;
      let d = warmTiles.get(k);
      if (!d) {
        const [z0, z1] = [s * SLAB, Math.min(D, (s + 1) * SLAB)];
        d = cutTiles(g, s, v.subarray(z0 * plane, z1 * plane))[t];
        warmTiles.set(k, d);
      }
      return d;
    });
    warm++;
  }
  const warmRate = warm / (cpuMs(c0) / 1000);
  const perCore = 1 / (1 / tiledRate + 1 / augPerCore);
  const perCoreBefore = 1 / (1 / coldRate + 1 / augPerCore);
  console.log(
    [
      `| slab layout (${STORED_CODEC} level 1) | stored / raw | encode MB/s per CPU s | whole-volume decode (viewer) MB/s per CPU s | MiB decoded per crop | cold crops/s per CPU s |`,
      '|---|---|---|---|---|---|',
      ...layoutRows,
      '',
      `| stage (${SIZE.join('×')} crops, full-size synthetic scan) | crops/s |`,
      '|---|---|',
      `| cold crop from whole compressed slabs (before tiling), per CPU second | ${coldRate.toFixed(1)} |`,
      `| cold crop from compressed ${SLAB}×${STORED_TILE.join('×')} tiles, per CPU second | ${tiledRate.toFixed(1)} (×${(tiledRate / coldRate).toFixed(1)}) |`,
      `| warm crop (tiles decoded, in memory), per CPU second | ${warmRate.toFixed(0)} |`,
      `| the book's augmentation alone, per CPU second | ${augPerCore.toFixed(0)} |`,
      `| cold crop + augmentation, per CPU second: before / after tiling | ${perCoreBefore.toFixed(1)} / ${perCore.toFixed(0)} |`,
      `| augmentation on 1 worker thread (wall clock) | ${w1.toFixed(0)} |`,
      `| augmentation on 2 worker threads (wall clock, summed) | ${w2.toFixed(0)} (×${(w2 / w1).toFixed(2)}) |`,
      `| cold crop from tiles + augmentation on 1 worker thread (wall clock) | ${cw1.toFixed(0)} |`,
      `| cold crop from tiles + augmentation on 2 worker threads (wall clock, summed) | ${cw2.toFixed(0)} (×${(cw2 / cw1).toFixed(2)}) |`,
    ].join('\n'),
  );
}
