/**
 * `npm run bench -- --only ingest`: where ingest time goes, by stage, for full-size scans as
 * `luna-lab train --data` reads them (the CLI's data server, ranged fetches), loose files and
 * a Zip64 subset0.zip side by side in one run, under the ways of ingesting the bench worker
 * compares: slabs encoded in the ingest thread one series after another (as before the encode
 * pool), on encode workers, and on encode workers with a series stored while the next loads.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Page } from 'playwright-core';
import { generateSynthetic } from '../data/synthetic.ts';
import type { RemoteFile } from '../headless/remote-source.ts';
import type { IngestStages } from '../store/ingest.ts';
import type { IngestStagesResult, IngestVariant } from '../../workers/bench.worker.ts';
import { STORED_CODEC } from '../data/slab-codec.ts';
import { serveData } from './data-server.ts';
import { Zip64Writer } from './scale-bench.ts';

/** The scans of the bench: `scans` full-size synthetic scans, as loose files and zipped. */
async function writeData(dir: string, scans: number): Promise<void> {
  const members = [...generateSynthetic({ scans, size: 'full', seed: 3 })].filter((f) => f.path.startsWith('subset'));
  const one = members.slice(0, 2);
  for (const f of one) {
    await mkdir(dirname(join(dir, 'loose', f.path)), { recursive: true });
    await writeFile(join(dir, 'loose', f.path), f.bytes);
  }
  for (const [name, list] of [
    ['zip1', one],
    ['zipN', members],
  ] as const) {
    await mkdir(join(dir, name), { recursive: true });
    const zip = new Zip64Writer(join(dir, name, 'subset0.zip'));
    for (const f of list) zip.add(f.path, f.bytes);
    zip.close();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** The run of median duration's stages (the stages of one run add up; medians of each would not). */
function medianRun(r: IngestStagesResult): IngestStagesResult['runs'][number] {
  const ms = median(r.runs.map((x) => x.ms));
  return r.runs.find((x) => x.ms === ms)!;
}

export async function benchIngestStages(page: Page, labUrl: string, tmp: string, scans = 3, repeats = 3) {
  const dir = join(tmp, 'ingest-stages');
  await writeData(dir, scans);
  const server = await serveData(dir, labUrl);
  try {
    const files = (prefix: string): RemoteFile[] =>
      server.files
        .filter((f) => f.path.startsWith(`${prefix}/`))
        .map((f) => ({
          path: f.path.slice(prefix.length + 1),
          size: f.size,
          lastModified: f.lastModified,
          url: `${server.url}/files/${f.path.split('/').map(encodeURIComponent).join('/')}`,
        }));
    const sets = [
      { label: '1 scan, loose .mhd + .raw', files: files('loose') },
      { label: '1 scan, from subset0.zip', files: files('zip1') },
      { label: `${scans} scans, from subset0.zip`, files: files('zipN') },
    ];
    const cores = await page.evaluate(() => navigator.hardwareConcurrency);
    const variants: IngestVariant[] = [
      { encodeWorkers: cores, overlap: true, codec: 'shuffle-deflate' },
      { encodeWorkers: 0, overlap: true, codec: 'shuffle-zstd' },
      { encodeWorkers: cores, overlap: true, codec: 'shuffle-zstd' },
    ];
    const { results, hardwareConcurrency } = await page.evaluate(
      ([s, v, n]) => window.lunaBench!.ingestStages(s, v, n),
      [sets, variants, repeats] as const,
    );
    for (const r of results)
      for (const run of r.runs)
        if (run.errors.length || run.series.length === 0)
          throw new Error(`ingest benchmark (${r.label}): ${JSON.stringify(run.errors.slice(0, 3))}`);
    return { results, hardwareConcurrency, repeats };
  } finally {
    await server.close();
  }
}

export function ingestStagesMarkdown(r: Awaited<ReturnType<typeof benchIngestStages>>): string {
  const how = (v: IngestVariant) =>
    `${v.codec}${v.codec === STORED_CODEC ? ' (now)' : ' (before)'}, ${v.encodeWorkers === 0 ? 'in the ingest thread' : `on ${v.encodeWorkers} encode workers`}${v.overlap ? ', stored while the next loads' : ', one series after another'}`;
  const s = (x: number) => (x / 1000).toFixed(2);
  const parse = (st: IngestStages) => Math.max(0, st.load - st.fetch - st.inflate - st.crc);
  const rows = r.results.map((res) => {
    const run = medianRun(res);
    const st = run.stages;
    const mbs = run.voxelBytes / 1e6 / (run.ms / 1000);
    return `| ${res.label} | ${how(res.variant)} | **${mbs.toFixed(0)}** | ${s(run.ms)} | ${s(st.fetch)} | ${s(st.inflate)} | ${s(st.crc)} | ${s(parse(st))} | ${s(st.clamp)} | ${s(st.digest)} | ${s(st.encode)} | ${s(st.write)} |`;
  });
  return [
    '| data | slabs stored as, encoded | MB/s of voxels | total s | fetch | inflate | CRC-32 | parse | clamp | digest | encode | IndexedDB write |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
    `Seconds per stage, the run of median total of ${r.repeats} (each into a fresh database), full-size synthetic scans`,
    '(512×512, 63 MB of int16 each; the zip deflated at level 6 with Zip64 records), served by the CLI’s data server and',
    'fetched by the bench worker as `luna-lab train --data` fetches them (4 MiB ranges for zip members), ingested by',
    '`ingestFiles` as in the ingest worker. fetch: waiting on HTTP (a zip member’s next range is fetched while the',
    'current one inflates, so it overlaps inflate); parse: the rest of the loading path (MetaImage header and',
    'voxels, ≈ load − fetch − inflate − CRC); encode: byte shuffle + the codec (fflate deflate level 1, or zstd level 1',
    'in WebAssembly), first slab sent → last slab',
    'back; write: the IndexedDB transaction. With a series stored while the next loads, stages overlap and add up to',
    `more than the total. navigator.hardwareConcurrency = ${r.hardwareConcurrency}.`,
  ].join('\n');
}
