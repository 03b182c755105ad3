/**
 * Drop → ingest worker → IndexedDB → dataset panel, in Debian Chromium with the real app.
 */
import { test, expect, type Page } from '@playwright/test';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { SYNTH_GOOD, SYNTH_BROKEN, CT_SAMPLES } from './paths.ts';

async function openLab(page: Page) {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/');
  await expect(page.locator('html[data-luna-ready="true"]')).toHaveCount(1);
  return errors;
}

async function waitIdle(page: Page) {
  await expect(page.locator('html[data-ingest="idle"]')).toHaveCount(1, { timeout: 90_000 });
}

/** Counts per series from the synthetic candidates.csv, as the panel must show them. */
function expectedCounts(dir: string) {
  const lines = readFileSync(join(dir, 'candidates.csv'), 'utf8').trim().split(/\r?\n/).slice(1);
  const counts = new Map<string, { candidates: number; positives: number }>();
  for (const line of lines) {
    const [uid, , , , cls] = line.split(',');
    const c = counts.get(uid) ?? { candidates: 0, positives: 0 };
    c.candidates++;
    if (cls.trim() === '1') c.positives++;
    counts.set(uid, c);
  }
  return counts;
}

test('a dropped synthetic subset folder is parsed, cached, counted, and survives a reload', async ({ page }) => {
  const errors = await openLab(page);
  await expect(page.getByTestId('dataset-empty')).toBeVisible();
  await page.getByTestId('folder-input').setInputFiles(SYNTH_GOOD);
  await waitIdle(page);

  const uids = readdirSync(join(SYNTH_GOOD, 'subset0'))
    .filter((f) => f.endsWith('.mhd'))
    .map((f) => f.replace(/\.mhd$/, ''));
  const rows = page.getByTestId('series-row');
  await expect(rows).toHaveCount(uids.length);
  await expect(page.locator('[data-testid=subset][data-subset=subset0]')).toBeVisible();
  const counts = expectedCounts(SYNTH_GOOD);
  for (const uid of uids) {
    const row = page.locator(`[data-testid=series-row][data-series="${uid}"]`);
    await expect(row.getByTestId('candidates')).toHaveText(String(counts.get(uid)!.candidates));
    await expect(row.getByTestId('positives')).toHaveText(String(counts.get(uid)!.positives));
    expect(counts.get(uid)!.positives).toBeGreaterThan(0);
  }
  await expect(page.getByTestId('storage')).toContainText('used of');

  // A reload shows the cache from IndexedDB alone: no files are given to the page.
  await page.reload();
  await expect(page.locator('html[data-luna-ready="true"]')).toHaveCount(1);
  await expect(rows).toHaveCount(uids.length);
  await expect(page.getByTestId('ingest-files')).toHaveCount(0);

  // Dropping the same folder again duplicates nothing.
  await page.getByTestId('folder-input').setInputFiles(SYNTH_GOOD);
  await waitIdle(page);
  await expect(rows).toHaveCount(uids.length);
  await expect(page.getByTestId('ingest-report')).toContainText('0 series stored');
  expect(errors).toEqual([]);
});

test('a folder with one broken scan shows the error beside the good series', async ({ page }) => {
  await openLab(page);
  await page.getByTestId('folder-input').setInputFiles(SYNTH_BROKEN);
  await waitIdle(page);
  const raws = readdirSync(join(SYNTH_BROKEN, 'subset0'))
    .filter((f) => f.endsWith('.raw'))
    .sort();
  const brokenUid = raws[0].replace(/\.raw$/, '');
  await expect(page.getByTestId('series-row')).toHaveCount(raws.length - 1);
  await expect(page.locator(`[data-testid=series-row][data-series="${brokenUid}"]`)).toHaveCount(0);
  const errorLine = page.locator('[data-testid=ingest-files] li[data-status=error]');
  await expect(errorLine).toHaveCount(2); // the .mhd and its .raw
  await expect(errorLine.first().getByTestId('file-message')).toContainText(`${brokenUid}.raw`);
});

test('real DICOM and MetaImage samples load from a drop', async ({ page }) => {
  await openLab(page);
  await page.getByTestId('folder-input').setInputFiles(join(CT_SAMPLES, 'lidc-idri-0001'));
  await waitIdle(page);
  const lidc = page.locator(
    '[data-testid=series-row][data-series="1.3.6.1.4.1.14519.5.2.1.6279.6001.179049373636438705059720603192"]',
  );
  await expect(lidc).toContainText('16×512×512');
  await expect(lidc).toContainText('dicom');

  // Loose files dropped (DataTransfer without directory entries): a .mhd + .zraw pair.
  const dir = join(CT_SAMPLES, 'luna16-seg-lungs');
  const names = readdirSync(dir).filter((f) =>
    f.startsWith('1.3.6.1.4.1.14519.5.2.1.6279.6001.108197895896446896160048741492'),
  );
  const payload = names.map((name) => ({ name, b64: readFileSync(join(dir, name)).toString('base64') }));
  await page.evaluate((files) => {
    const dt = new DataTransfer();
    for (const f of files) {
      const bytes = Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0));
      dt.items.add(new File([bytes], f.name));
    }
    const zone = document
      .querySelector('luna-app')!
      .shadowRoot!.querySelector('luna-drop-zone')!
      .shadowRoot!.querySelector('[data-testid=drop-zone]')!;
    zone.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, payload);
  await expect(page.locator('html[data-ingest="running"]'))
    .toHaveCount(1)
    .catch(() => undefined);
  await waitIdle(page);
  await expect(page.locator('[data-testid=series-row][data-series$="108197895896446896160048741492"]')).toContainText(
    '119×512×512',
  );

  // The header whose .raw is missing: the error names the missing file.
  await page.getByTestId('folder-input').setInputFiles(join(CT_SAMPLES, 'luna16-header-only-raw-missing'));
  await waitIdle(page);
  await expect(page.locator('[data-testid=ingest-files] li[data-status=error]').first()).toContainText('.raw');
  await expect(page.getByTestId('series-row')).toHaveCount(2);
});

test('the demo button ingests synthetic data; series can be deleted', async ({ page }) => {
  await openLab(page);
  page.on('dialog', (d) => void d.accept());
  await expect(page.getByTestId('dataset-empty')).toBeVisible();
  await page.getByTestId('demo-button').click();
  await waitIdle(page);
  const rows = page.getByTestId('series-row');
  await expect(rows).toHaveCount(12);
  await expect(page.locator('[data-testid=subset]')).toHaveCount(2);
  await rows.first().getByRole('button').click();
  await expect(rows).toHaveCount(11);
  await page.getByTestId('clear-all').click();
  await expect(page.getByTestId('dataset-empty')).toBeVisible();
});
