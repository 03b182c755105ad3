/**
 * The workspace as a new user meets it (issue 16), in Debian Chromium: load the demo, quick
 * train with the charts moving during epoch 1, the run list, inspect, evaluate, share; the
 * layout's boxes checked for overflow and overlap at 1280×800 and 800×1000 (screenshots taken
 * and attached, the boxes read from the same page); Train within 10 Tab presses; the demo's
 * quick run ends with validation F1 > 0; a reload during a run shows that run's config; a link
 * whose data is missing keeps Train off with the reason and the demo button.
 */
import { test, expect, type Page, type TestInfo } from '@playwright/test';
import { openLab, runs, setConfig, waitIngestIdle, waitTrainIdle } from './lab.ts';

interface Box {
  name: string;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

/** Screenshot the page, then read the boxes it shows: nothing wider than the viewport, no
 *  element past its right edge (outside a scrolling box), the areas side by side or stacked,
 *  never on top of each other. */
async function checkLayout(page: Page, info: TestInfo, name: string): Promise<void> {
  const path = info.outputPath(`${name}.png`);
  await page.screenshot({ path, fullPage: true });
  await info.attach(name, { path, contentType: 'image/png' });
  const r = await page.evaluate(() => {
    const vw = document.documentElement.clientWidth;
    const app = document.querySelector('luna-app')!.shadowRoot!;
    const box = (e: Element, name: string) => {
      const b = e.getBoundingClientRect();
      return { name, left: b.left, right: b.right, top: b.top + scrollY, bottom: b.bottom + scrollY };
    };
    const areas = [...app.querySelectorAll('header, section.pane')].map((e) => box(e, e.id || e.tagName));
    const over: string[] = [];
    const walk = (el: Element, clipped: boolean) => {
      const b = el.getBoundingClientRect();
      const style = getComputedStyle(el);
      if (!clipped && b.width > 0 && style.visibility !== 'hidden' && (b.right > vw + 0.5 || b.left < -0.5))
        over.push(
          `${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}.${el.className} ${b.left.toFixed(0)}–${b.right.toFixed(0)}`,
        );
      const clips = clipped || ['auto', 'hidden', 'scroll', 'clip'].includes(style.overflowX);
      for (const c of el.shadowRoot ? [...el.shadowRoot.children] : []) walk(c, clips);
      for (const c of el.children) walk(c, clips);
    };
    // The skip link sits above the page until it is focused.
    walk(document.body, false);
    return { vw, scrollWidth: document.documentElement.scrollWidth, areas, over };
  });
  expect(
    r.over.filter((o) => !o.startsWith('button.skip')),
    `${name}: elements past the viewport`,
  ).toEqual([]);
  expect(r.scrollWidth, `${name}: page wider than the viewport`).toBeLessThanOrEqual(r.vw);
  const overlap = (a: Box, b: Box) =>
    Math.min(a.right, b.right) - Math.max(a.left, b.left) > 1 &&
    Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 1;
  const panes = r.areas.filter((a) => a.name !== 'HEADER');
  expect(panes.map((p) => p.name)).toEqual(['data', 'train', 'evaluate', 'inspect']);
  for (const [i, a] of panes.entries())
    for (const b of panes.slice(i + 1)) expect(overlap(a, b), `${name}: ${a.name} overlaps ${b.name}`).toBe(false);
}

/** The focused element's test id, looking through shadow roots. */
function focused(page: Page): Promise<string | null> {
  return page.evaluate(() => {
    let a = document.activeElement;
    while (a?.shadowRoot?.activeElement) a = a.shadowRoot.activeElement;
    return a?.getAttribute('data-testid') ?? a?.textContent?.trim() ?? null;
  });
}

async function tabsToTrain(page: Page, most: number): Promise<number> {
  for (let n = 1; n <= most; n++) {
    await page.keyboard.press('Tab');
    if ((await focused(page)) === 'train-start') return n;
  }
  return Infinity;
}

test('a new user: demo, quick train with live charts, runs, inspect, evaluate, share; layout at two sizes', async ({
  browser,
  baseURL,
}, info) => {
  test.setTimeout(600_000);
  const context = await browser.newContext({ baseURL, viewport: { width: 1280, height: 800 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  const page = await context.newPage();
  const errors = await openLab(page);
  await checkLayout(page, info, 'empty-1280x800');

  // Keyboard: Train within 10 Tab presses of page load, and one Tab + Enter by the skip link.
  expect(await tabsToTrain(page, 10)).toBeLessThanOrEqual(10);
  await page.reload();
  await expect(page.locator('html[data-luna-ready="true"]')).toHaveCount(1);
  await page.keyboard.press('Tab');
  expect(await focused(page)).toBe('skip-to-train');
  await page.keyboard.press('Enter');
  expect(await focused(page)).toBe('train-start');
  // The viewer says what to do while empty; every control has a name.
  await expect(page.getByTestId('viewer-empty')).toBeVisible();
  const unnamed = await page.evaluate(() => {
    const out: string[] = [];
    const walk = (root: ParentNode) => {
      for (const el of root.querySelectorAll('*')) {
        if (el.shadowRoot) walk(el.shadowRoot);
        if (!el.matches('button, input:not([type=hidden]), select, textarea, a[href]')) continue;
        if ((el as HTMLInputElement).type === 'file' || getComputedStyle(el).display === 'none') continue;
        const id = el.id;
        const root2 = el.getRootNode() as ShadowRoot | Document;
        const label = id ? root2.querySelector(`label[for="${id}"]`) : null;
        const name =
          el.getAttribute('aria-label') || el.closest('label')?.textContent || label?.textContent || el.textContent;
        if (!name?.trim()) out.push(el.outerHTML.slice(0, 80));
      }
    };
    walk(document);
    return out;
  });
  expect(unnamed).toEqual([]);

  // Load the demo.
  await page.getByTestId('demo-button').click();
  await waitIngestIdle(page);
  await expect(page.getByTestId('series-row')).toHaveCount(12);

  // Quick train; the loss chart gains points while epoch 1 trains (per-step loss).
  await page.getByTestId('preset-quick').click();
  await page.getByTestId('train-start').click();
  const lossPoints = page.locator('luna-metrics-chart[data-metric="loss/all"] .plot');
  const during = async () => ({
    epoch: await page.evaluate(() => window.lunaTrain?.progress?.epoch ?? 0),
    points: Number((await lossPoints.getAttribute('data-points').catch(() => '0')) ?? 0),
  });
  const seen: { epoch: number; points: number }[] = [];
  await expect
    .poll(
      async () => {
        const d = await during();
        if (d.epoch === 1) seen.push(d);
        return new Set(seen.map((s) => s.points)).size;
      },
      { timeout: 120_000, intervals: [100] },
    )
    .toBeGreaterThanOrEqual(2);
  expect(Math.min(...seen.map((s) => s.points))).toBeGreaterThan(0);
  await expect(page.getByTestId('train-progress')).toContainText('ETA');
  await checkLayout(page, info, 'training-1280x800');
  await waitTrainIdle(page, 400_000);

  // The run list: the demo's quick run ends with validation F1 > 0.
  const [run] = await runs(page);
  expect(run.error).toBeNull();
  expect(run.status).toBe('finished');
  const f1 = run.history.findLast((p) => 'validating/pr/f1_score' in p.values)!.values['validating/pr/f1_score'];
  console.log(`demo quick run: validation F1 ${f1.toFixed(3)} over ${run.predictions.length} candidates`);
  expect(f1).toBeGreaterThan(0);
  const row = page.locator(`[data-testid=run-row][data-run="${run.runId}"]`);
  await expect(row.getByTestId('run-f1')).toHaveText(f1.toFixed(3));
  await expect(row.getByTestId('run-delete')).toHaveAccessibleName(/Delete run/);

  // Inspect: the run's predictions, one on the viewer.
  await row.getByTestId('run-inspect').click();
  await expect(page.locator(`luna-inspect-panel[data-run="${run.runId}"]`)).toHaveCount(1);
  await page.locator('luna-prediction-browser tbody tr').first().click();
  await expect(page.locator('luna-ct-viewer[data-state="ready"]')).toHaveCount(1, { timeout: 60_000 });
  await expect(page.getByTestId('viewer-empty')).toHaveCount(0);

  // Evaluate the run (LUNA16 FROC on its validation series).
  await page.getByTestId('eval-model').selectOption(run.runId);
  await page.getByTestId('eval-start').click();
  await expect(page.locator('luna-eval-panel[data-eval="idle"]')).toHaveCount(1, { timeout: 300_000 });
  await expect(page.getByTestId('eval-failure')).toHaveCount(0);
  await expect(row.getByTestId('run-cpm')).toHaveAttribute('data-cpm', /\d/);

  // Share: the link is shown short, copied whole.
  const link = page.getByTestId('run-url');
  const url = (await link.getAttribute('href'))!;
  expect((await link.innerText()).length).toBeLessThan(url.length);
  await page.getByTestId('run-share').click();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(url);
  await checkLayout(page, info, 'done-1280x800');
  await page.setViewportSize({ width: 800, height: 1000 });
  await checkLayout(page, info, 'done-800x1000');
  expect(errors).toEqual([]);
  await context.close();

  // The link in a browser without its data: Train is off, with the reason and the demo button.
  const other = await browser.newContext({ baseURL, viewport: { width: 800, height: 1000 } });
  const fresh = await other.newPage();
  await fresh.goto(url);
  await expect(fresh.locator('html[data-luna-ready="true"]')).toHaveCount(1);
  await expect(fresh.getByTestId('url-data-missing')).toContainText('not cached in this browser');
  await expect(fresh.getByTestId('train-start')).toBeDisabled();
  await checkLayout(fresh, info, 'missing-data-800x1000');
  await fresh.getByTestId('missing-demo').click();
  await waitIngestIdle(fresh);
  await expect(fresh.getByTestId('url-data-missing')).toHaveCount(0);
  await expect(fresh.getByTestId('train-start')).toBeEnabled();
  await other.close();
});

test('a reload during a run shows that run’s config; Stop says it acts after this step', async ({ page }) => {
  test.setTimeout(300_000);
  await openLab(page);
  await page.getByTestId('demo-button').click();
  await waitIngestIdle(page);
  await page.getByTestId('preset-quick').click();
  await setConfig(page, {
    'train.epochs': '6',
    'train.seed': '4242',
    'sampling.epochSamples': '48',
    'model.width': '3',
  });
  await page.getByTestId('train-start').click();
  await expect.poll(async () => (await runs(page))[0]?.epochsDone ?? 0, { timeout: 200_000 }).toBeGreaterThanOrEqual(1);
  await page.reload();
  await expect(page.getByTestId('train-notice')).toContainText('Resuming');
  const field = (key: string) => page.locator(`luna-config-form [name="${key}"]`);
  await expect(field('train.seed')).toHaveValue('4242');
  await expect(field('train.epochs')).toHaveValue('6');
  await expect(field('model.width')).toHaveValue('3');
  await expect(field('sampling.epochSamples')).toHaveValue('48');

  await expect(page.getByTestId('train-progress')).toBeVisible({ timeout: 120_000 });
  // Read the line in the same task as the click: a small model's step may end right after it.
  const said = await page.evaluate(async () => {
    const panel = document.querySelector('luna-app')!.shadowRoot!.querySelector('luna-train-panel')!;
    panel.shadowRoot!.querySelector<HTMLButtonElement>('[data-testid=train-stop]')!.click();
    await panel.updateComplete;
    return panel.shadowRoot!.querySelector('[data-testid=train-pending]')?.textContent ?? null;
  });
  expect(said).toBe('stopping after this step');
  await waitTrainIdle(page, 120_000);
  expect((await runs(page))[0].status).toBe('stopped');
});
