/**
 * The cache as headless runs use it (issue 12, "Room for all ten subsets"): persistence is
 * asked and granted, a second run on the same profile reads nothing again (no scan, no CSV),
 * the profile keeps no HTTP-cache copy of the data, and a run on a profile that also caches
 * other data under the same subset name trains on its --data only — with the same metrics as
 * on a fresh profile.
 */
import { test, expect } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { runLunaLab } from './cli-run.ts';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SYNTH_CLI } from './paths.ts';

const SMALL = ['--crop', '16,24,24', '--blocks', '2', '--width', '4', '--batch-size', '16', '--seed', '7'];
const tmp = (name: string) => mkdtempSync(join(tmpdir(), `luna-storage-${name}-`));

type Event = Record<string, unknown> & { event: string };

async function train(data: string, profile: string): Promise<{ code: number | null; events: Event[]; stderr: string }> {
  const args = ['train', '--data', data, ...SMALL, '--epochs', '1'];
  args.push('--out', join(tmp('out'), 'out'), '--cache', profile, '--json');
  const r = await runLunaLab(args);
  return { ...r, events: r.events as Event[] };
}

const one = (events: Event[], name: string) => {
  const e = events.find((x) => x.event === name);
  expect(e, `a '${name}' event`).toBeTruthy();
  return e!;
};

/** The files of Chromium's disk cache, as latin1 text (each entry's file starts with its URL). */
function cacheEntries(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => readFileSync(join(e.parentPath, e.name), 'latin1'));
}

test.describe.serial('headless runs and the cache', () => {
  const fresh = tmp('profile');
  let reference: Event | null = null;

  test('persistence granted and shown; a second run reads nothing again; no HTTP-cache copy of the data', async () => {
    test.setTimeout(480_000);
    const first = await train(SYNTH_CLI, fresh);
    expect(first.code, first.stderr).toBe(0);
    expect(one(first.events, 'storage')).toMatchObject({ persisted: true });
    expect(Number(one(first.events, 'storage').quota)).toBeGreaterThan(0);
    const ingested = one(first.events, 'ingested') as Event & { series: number; tables: unknown[] };
    expect(ingested.series).toBe(4);
    expect(ingested.tables.length).toBeGreaterThan(0);
    expect(one(first.events, 'data')).toMatchObject({ otherCachedSeries: 0 });
    reference = one(first.events, 'done');

    const second = await train(SYNTH_CLI, fresh);
    expect(second.code, second.stderr).toBe(0);
    const again = one(second.events, 'ingested') as Event & {
      series: number;
      tables: unknown[];
      alreadyCached: number;
    };
    expect(again.series).toBe(0);
    expect(again.tables).toEqual([]); // no CSV parsed or stored again
    expect(again.alreadyCached).toBe(
      readdirSync(SYNTH_CLI, { recursive: true }).filter((f) => /\.(mhd|csv)$/.test(String(f))).length,
    );
    expect((one(second.events, 'data').series as string[]).length).toBe(4);
    expect(one(second.events, 'done').metrics).toEqual(reference.metrics);

    // Chromium's HTTP cache holds no entry for what the data server served (it said no-store):
    // an entry's file starts with its URL, and only the lab's own assets are there.
    const cached = cacheEntries(join(fresh, 'Default', 'Cache'));
    expect(cached.some((text) => text.includes('/assets/'))).toBe(true);
    const served = readdirSync(SYNTH_CLI, { recursive: true })
      .map(String)
      .filter((f) => /\.(raw|mhd|csv)$/.test(f));
    expect(served.length).toBeGreaterThan(0);
    for (const f of served)
      expect(
        cached.some((text) => text.includes(`/files/${f}`)),
        f,
      ).toBe(false);
  });

  test('on a profile that also caches other subset0 scans, a run trains on its --data only, as on a fresh profile', async () => {
    test.setTimeout(480_000);
    expect(reference, 'needs the fresh-profile run').not.toBeNull();
    const other = join(tmp('other'), 'data');
    execFileSync(process.execPath, [
      'bin/luna-lab.js',
      'synth',
      '--out',
      other,
      '--scans',
      '3',
      '--size',
      'tiny',
      '--seed',
      '9',
    ]);
    expect(readdirSync(join(other, 'subset0')).some((f) => f.endsWith('.mhd'))).toBe(true);
    const shared = tmp('shared');
    const before = await train(other, shared);
    expect(before.code, before.stderr).toBe(0);

    const mine = await train(SYNTH_CLI, shared);
    expect(mine.code, mine.stderr).toBe(0);
    const data = one(mine.events, 'data') as Event & { series: string[]; otherCachedSeries: number };
    expect(data.series).toHaveLength(4);
    expect(data.otherCachedSeries).toBe(3);
    const done = one(mine.events, 'done');
    expect(done.dataDigest).toBe(reference!.dataDigest);
    expect(done.metrics).toEqual(reference!.metrics);
    // The same lab URL (its hash pins the data: 4 series of subset0, by digest).
    expect(String(done.labUrl).split('#')[1]).toBe(String(reference!.labUrl).split('#')[1]);
  });
});
