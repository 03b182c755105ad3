/**
 * `npm run bench:codec`: how slab codecs (src/data/slab-codec.ts) do on CT slabs — ratio,
 * encode and decode MB/s of int16 voxels per CPU second (one thread) — on the real LIDC-IDRI slices of
 * ../shared/ct-samples (one 16-slice slab) and a full-size synthetic scan, cut into the stored
 * 16×64×64 tiles (each tile is encoded on its own, as stored). Node only; Chromium's
 * CompressionStream is measured through Node's (the same zlib). Prints a markdown table.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readDicomSeries } from '../data/dicom.ts';
import { generateScan } from '../data/synthetic.ts';
import { clampHu } from '../data/volume.ts';
import { SLAB_CODECS, decodeSlab, encodeSlab, loadSlabCodecs, type SlabCodec } from '../data/slab-codec.ts';
import { STORED_TILE, cutTiles, tileGrid } from '../data/slab-tiles.ts';

const SLAB_SLICES = 16;

async function realSlabs(): Promise<Int16Array[]> {
  const dir = join('..', 'shared', 'ct-samples', 'lidc-idri-0001');
  const files = (await readdir(dir, { recursive: true })).filter((f) => f.endsWith('.dcm'));
  const inputs = await Promise.all(
    files.map(async (f) => ({ file: f, bytes: new Uint8Array(await readFile(join(dir, f))) })),
  );
  const { volumes } = readDicomSeries(inputs);
  const v = volumes[0];
  return cutTiles(tileGrid(v.shape, SLAB_SLICES, STORED_TILE), 0, clampHu(v.data));
}

function syntheticSlabs(): Int16Array[] {
  const scan = generateScan({ size: 'full', index: 0, seed: 7 });
  const slice = scan.shape[1] * scan.shape[2];
  const out: Int16Array[] = [];
  const v = clampHu(scan.data);
  const grid = tileGrid(scan.shape, SLAB_SLICES, STORED_TILE);
  for (let z = 0, c = 0; z + SLAB_SLICES <= scan.shape[0]; z += SLAB_SLICES, c++)
    out.push(...cutTiles(grid, c, v.subarray(z * slice, (z + SLAB_SLICES) * slice)));
  return out;
}

/** CPU ms per call (user + system of this process): the machine is shared, so wall time
 *  would measure the neighbours; the codec runs on one thread, so this is per core. */
function time(f: () => void, minMs = 400): number {
  let n = 0;
  const c0 = process.cpuUsage();
  const cpuMs = () => {
    const c = process.cpuUsage(c0);
    return (c.user + c.system) / 1000;
  };
  do {
    f();
    n++;
  } while (cpuMs() < minMs);
  return cpuMs() / n;
}

async function streamDeflate(bytes: Uint8Array): Promise<number> {
  const s = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new CompressionStream('deflate-raw'));
  return (await new Response(s).arrayBuffer()).byteLength;
}

async function row(name: string, slabs: Int16Array[], codec: SlabCodec, level: number): Promise<string> {
  const raw = slabs.reduce((n, s) => n + s.byteLength, 0);
  let enc: Uint8Array[] = [];
  const encMs = time(() => (enc = slabs.map((s) => encodeSlab(s, codec, level))));
  const stored = enc.reduce((n, e) => n + e.byteLength, 0);
  const decMs = time(() => enc.forEach((e, i) => decodeSlab(e, codec, slabs[i].length)));
  enc.forEach((e, i) => {
    const d = decodeSlab(e, codec, slabs[i].length);
    if (d.some((x, j) => x !== slabs[i][j])) throw new Error(`${codec}: round trip differs`);
  });
  const mbs = (ms: number) => (raw / 1e6 / (ms / 1000)).toFixed(0);
  return `| ${name} | ${codec}${codec === 'raw' ? '' : ` (level ${level})`} | ${(stored / raw).toFixed(3)} | ${mbs(encMs)} | ${codec === 'raw' ? '— (a view)' : mbs(decMs)} |`;
}

async function main(): Promise<void> {
  const sets: [string, Int16Array[]][] = [
    ['LIDC-IDRI-0001, 16 real slices 512×512 (64 tiles)', await realSlabs()],
    ['synthetic full-size scan, 7 slabs of 16×512×512 (448 tiles)', syntheticSlabs()],
  ];
  const lines = ['| data | codec | stored / raw | encode MB/s | decode MB/s |', '|---|---|---|---|---|'];
  for (const [name, slabs] of sets) {
    for (const codec of SLAB_CODECS) {
      for (const level of codec === 'raw' ? [0] : [1, 3, 6]) lines.push(await row(name, slabs, codec, level));
    }
    // The platform's stream (zlib, level 6 fixed) on the shuffled delta, for comparison.
    const shuffled = slabs.map((s) => encodeSlab(s, 'raw'));
    const raw = shuffled.reduce((n, s) => n + s.byteLength, 0);
    let stored = 0;
    const c0 = process.cpuUsage();
    for (const s of shuffled) stored += await streamDeflate(s);
    const c = process.cpuUsage(c0);
    const ms = (c.user + c.system) / 1000;
    lines.push(
      `| ${name} | CompressionStream deflate-raw (no transform) | ${(stored / raw).toFixed(3)} | ${(raw / 1e6 / (ms / 1000)).toFixed(0)} | — |`,
    );
  }
  console.log(lines.join('\n'));
}

await loadSlabCodecs();
await main();
