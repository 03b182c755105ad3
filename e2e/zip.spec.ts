/**
 * LUNA16 as it is downloaded: zips dropped on the page give the same cache as the loose files
 * (series, geometry, voxel digests), member by member; a headless run trains on a zip given as
 * `--data`. The archives are made by Python's zipfile (src/data/zip_fixtures.py), Zip64 forced.
 */
import { test, expect, type Browser, type Page } from '@playwright/test';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, symlinkSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CT_SAMPLES, SYNTH_CLI, SYNTH_GOOD } from './paths.ts';
import { openLab, waitIngestIdle } from './lab.ts';

const PYTHON = resolve('.venv/bin/python');
const FIXTURES = resolve('src/data/zip_fixtures.py');

/** Zip `dir`'s contents (its folder name kept when `keepName`) as `name`, Zip64 records forced. */
function zipOf(dir: string, name: string, keepName = false): string {
  const work = mkdtempSync(join(tmpdir(), 'luna-zip-e2e-'));
  let src = dir;
  if (keepName) {
    src = join(work, 'src');
    execFileSync('mkdir', ['-p', src]);
    symlinkSync(dir, join(src, dir.split('/').pop()!));
  }
  execFileSync(PYTHON, [FIXTURES, src, join(work, 'out')]);
  const out = join(work, name);
  copyFileSync(join(work, 'out', 'zip64.zip'), out);
  return out;
}

interface SeriesView {
  seriesUid: string;
  subset: string;
  shape: number[];
  spacing: number[];
  origin: number[];
  direction: number[];
  digest: string;
  hu: unknown;
}

/** The cache's series records, straight from IndexedDB. */
async function cachedSeries(page: Page): Promise<SeriesView[]> {
  const rows = await page.evaluate(
    () =>
      new Promise<SeriesView[]>((ok, fail) => {
        const req = indexedDB.open('luna-lab');
        req.onerror = () => fail(req.error);
        req.onsuccess = () => {
          const db = req.result;
          const all = db.transaction('series').objectStore('series').getAll();
          all.onerror = () => fail(all.error);
          all.onsuccess = () => {
            db.close();
            ok(
              (all.result as SeriesView[]).map((r) => ({
                seriesUid: r.seriesUid,
                subset: r.subset,
                shape: r.shape,
                spacing: r.spacing,
                origin: r.origin,
                direction: r.direction,
                digest: r.digest,
                hu: r.hu,
              })),
            );
          };
        };
      }),
  );
  return rows.sort((a, b) => a.seriesUid.localeCompare(b.seriesUid));
}

/** The series a fresh browser context caches from `pick` (loose folder or a zip). */
async function ingestFresh(browser: Browser, pick: (page: Page) => Promise<void>) {
  const context = await browser.newContext({ baseURL: test.info().project.use.baseURL });
  try {
    const page = await context.newPage();
    const errors = await openLab(page);
    await pick(page);
    await waitIngestIdle(page);
    const files = await page.locator('[data-testid=ingest-files] li').allTextContents();
    const failed = await page.locator('[data-testid=ingest-files] li[data-status=error]').allTextContents();
    return { series: await cachedSeries(page), files, failed, errors };
  } finally {
    await context.close();
  }
}

test('a zipped synthetic subset (LUNA16 layout, Zip64) caches what its loose files do', async ({ browser }) => {
  const zip = zipOf(SYNTH_GOOD, 'subset0.zip');
  const loose = await ingestFresh(browser, (p) => p.getByTestId('folder-input').setInputFiles(SYNTH_GOOD));
  const zipped = await ingestFresh(browser, (p) => p.getByTestId('files-input').setInputFiles(zip));
  expect(zipped.errors).toEqual([]);
  expect(zipped.failed).toEqual([]);
  expect(loose.series.length).toBe(3);
  expect(zipped.series).toEqual(loose.series);
  expect(zipped.series.every((s) => s.subset === 'subset0')).toBe(true);
  // Progress is per member, each named inside its archive.
  const uid = loose.series[0].seriesUid;
  expect(zipped.files.join('\n')).toContain(`subset0.zip:subset0/${uid}.mhd`);
  expect(zipped.files.join('\n')).toContain('subset0.zip:candidates.csv');
});

test('a zip of the lidc-idri-0001 DICOM sample caches what its loose files do', async ({ browser }) => {
  const dir = join(CT_SAMPLES, 'lidc-idri-0001');
  const zip = zipOf(dir, 'lidc-idri-0001.zip', true);
  const loose = await ingestFresh(browser, (p) => p.getByTestId('folder-input').setInputFiles(dir));
  const zipped = await ingestFresh(browser, (p) => p.getByTestId('files-input').setInputFiles(zip));
  expect(zipped.errors).toEqual([]);
  expect(loose.series.length).toBeGreaterThan(0);
  expect(zipped.series).toEqual(loose.series);
  expect(zipped.failed.length).toBe(loose.failed.length);
});

test('luna-lab train --data subset0.zip trains on the zip’s scans', async () => {
  test.setTimeout(600_000);
  const zip = zipOf(SYNTH_CLI, 'subset0.zip');
  const out = join(mkdtempSync(join(tmpdir(), 'luna-zip-train-')), 'out');
  const profile = mkdtempSync(join(tmpdir(), 'luna-zip-profile-'));
  const small = ['--crop', '16,24,24', '--blocks', '2', '--width', '4', '--batch-size', '16', '--seed', '7'];
  const args = ['bin/luna-lab.js', 'train', '--data', zip, ...small, '--epochs', '1', '--out', out];
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>(
    (ok, fail) => {
      const child = spawn(process.execPath, [...args, '--cache', profile, '--json']);
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d));
      child.stderr.on('data', (d: Buffer) => (stderr += d));
      child.on('error', fail);
      child.on('close', (c) => ok({ code: c, stdout, stderr }));
    },
  );
  expect(stderr).not.toMatch(/^luna-lab: (?!warning: |note: )/m);
  expect(code).toBe(0);
  const events = stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const stored = events.filter((e) => e.event === 'ingest' && e.status === 'stored').map((e) => String(e.file));
  expect(stored.filter((f) => /^subset0\.zip:subset0\/.*\.mhd$/.test(f))).toHaveLength(4);
  const done = events.findLast((e) => e.event === 'done') as { status: string; labUrl: string };
  expect(done.status).toBe('finished');
  // The run's URL pins the data it trained on: the zip's four subset0 series.
  expect(decodeURIComponent(done.labUrl)).toMatch(/data\.digest=subset0:4:[0-9a-f]{8}/);
});
