/**
 * Lab URLs in the page: a run's URL (shared with the Copy link button) opened in a fresh browser
 * context names the data it needs, with Train off, until that data is dropped, then trains the same experiment
 * to the same metrics; a URL with bad or script-like values is named, never rendered as HTML;
 * an older version's URL opens as it meant then, with a note.
 */
import { test, expect } from '@playwright/test';
import { SYNTH_CLI } from './paths.ts';
import { dropFolder, metricsOnly, openLab, runs, setConfig, waitTrainIdle } from './lab.ts';

const SMALL = {
  crop: '16,24,24',
  'model.blocks': '2',
  'model.width': '4',
  'train.batchSize': '16',
  'train.epochs': '2',
  'train.seed': '9',
};

test('a run URL re-runs the same experiment in a fresh browser, and names absent data first', async ({
  browser,
  baseURL,
}) => {
  test.setTimeout(600_000);
  const first = await browser.newContext({ baseURL });
  await first.grantPermissions(['clipboard-read', 'clipboard-write']);
  const page = await first.newPage();
  await openLab(page);
  await dropFolder(page, SYNTH_CLI);
  await setConfig(page, SMALL);
  await page.getByTestId('train-start').click();
  await waitTrainIdle(page, 300_000);
  const [original] = await runs(page);
  expect(original.status).toBe('finished');

  const url = (await page.getByTestId('run-url').getAttribute('href'))!;
  // The URL pins the data it trained on: subset0, its 4 series, and their digest.
  expect(decodeURIComponent(url)).toMatch(/data\.subsets=subset0&data\.digest=subset0:4:[0-9a-f]{8}/);
  await page.getByTestId('run-share').click();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(url);
  await first.close();

  // A colleague's browser: nothing cached yet.
  const second = await browser.newContext({ baseURL });
  const fresh = await second.newPage();
  await fresh.goto(url);
  await expect(fresh.locator('html[data-luna-ready="true"]')).toHaveCount(1);
  await expect(fresh.getByTestId('url-data-missing')).toContainText('not cached in this browser: subset0 (4 series)');
  // Train stays off (no failed run is made); the notice says why and offers the demo data.
  await expect(fresh.getByTestId('train-start')).toBeDisabled();
  await expect(fresh.getByTestId('url-data-missing')).toContainText('Train is off');
  await expect(fresh.getByTestId('missing-demo')).toBeVisible();
  expect(await runs(fresh)).toEqual([]);

  await dropFolder(fresh, SYNTH_CLI);
  await expect(fresh.getByTestId('url-data-missing')).toHaveCount(0);
  await fresh.getByTestId('train-start').click();
  await waitTrainIdle(fresh, 300_000);
  const [again] = await runs(fresh);
  expect(again.status).toBe('finished');
  expect(again.dataDigest).toBe(original.dataDigest);
  expect(metricsOnly(again)).toEqual(metricsOnly(original));
  await second.close();
});

test('a URL with bad or script-like values is named in the page and never rendered as HTML', async ({ page }) => {
  const dialogs: string[] = [];
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  await page.goto(
    `/#v=1&model.blocks=9&tracking.experiment=${encodeURIComponent('<img src=x onerror=alert(1)>')}&evil=${encodeURIComponent('<script>alert(2)</script>')}`,
  );
  await expect(page.locator('html[data-luna-ready="true"]')).toHaveCount(1);
  const notice = page.getByTestId('train-notice');
  await expect(notice).toContainText('model.blocks = "9"');
  await expect(notice).toContainText('tracking.experiment = "<img src=x onerror=alert(1)>"');
  await expect(notice).toContainText('evil = "<script>alert(2)</script>": unknown setting');
  expect(await page.locator('img[src="x"]').count()).toBe(0);
  expect(await page.evaluate(() => document.querySelectorAll('script:not([type="module"])').length)).toBe(0);
  // The form kept its defaults rather than half of the URL.
  await expect(page.locator('luna-config-form [name="model.blocks"]')).toHaveValue('4');
  expect(dialogs).toEqual([]);

  await page.goto('/#v=7&model.blocks=2');
  await page.reload();
  await expect(page.getByTestId('train-notice')).toContainText('unknown version');
});

test('an older lab URL opens as the config it meant, with a note where the lab now differs', async ({ page }) => {
  // v=1 without kernels meant tfjs's stock WebGPU kernels (src/config/url-versions.ts).
  await page.goto('/#v=1&model.blocks=2&crop=16,24,24');
  await expect(page.locator('html[data-luna-ready="true"]')).toHaveCount(1);
  await expect(page.getByTestId('train-notice')).toContainText('kernels = stock');
  await expect(page.locator('luna-config-form [name="kernels"]')).toHaveValue('stock');
  await expect(page.locator('luna-config-form [name="model.blocks"]')).toHaveValue('2');
});
