/** Shared steps of the e2e tests: open the lab, wait on its readiness flags, set the config. */
import { expect, type Locator, type Page } from '@playwright/test';
import type { LunaFrocChart } from '../src/ui/froc-chart.ts';
import type { EvalOutcome } from '../src/ui/inference-client.ts';

export async function openLab(page: Page): Promise<string[]> {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/');
  await expect(page.locator('html[data-luna-ready="true"]')).toHaveCount(1);
  return errors;
}

export async function waitIngestIdle(page: Page): Promise<void> {
  await expect(page.locator('html[data-ingest="idle"]')).toHaveCount(1, { timeout: 90_000 });
}

export async function dropFolder(page: Page, dir: string): Promise<void> {
  await page.getByTestId('folder-input').setInputFiles(dir);
  await waitIngestIdle(page);
}

/** Fill the training form field by field, as a person would (text, checkboxes, selects). */
export async function setConfig(page: Page, fields: Record<string, string | boolean>): Promise<void> {
  for (const [key, value] of Object.entries(fields)) {
    const el = page.locator(`luna-config-form [name="${key}"]`);
    const tag = await el.evaluate((e) => `${e.tagName}:${(e as HTMLInputElement).type}`);
    if (tag.startsWith('SELECT')) await el.selectOption(String(value));
    else if (tag === 'INPUT:checkbox') await el.setChecked(value === true || value === 'true');
    else {
      await el.fill(String(value));
      await el.press('Tab');
    }
  }
  await expect(page.getByTestId('config-issues')).toHaveCount(0);
}

export interface RunView {
  runId: string;
  status: string;
  backend: string | null;
  adapter: string | null;
  epochsDone: number;
  error: string | null;
  dataDigest: string;
  history: { epoch: number; step: number; values: Record<string, number> }[];
  predictions: { label: number; prob: number }[];
}

export async function runs(page: Page): Promise<RunView[]> {
  return page.evaluate(() => (window.lunaTrain?.runs ?? []) as unknown as RunView[]);
}

export async function waitTrainIdle(page: Page, timeout: number): Promise<void> {
  await expect(page.locator('html[data-train="idle"]')).toHaveCount(1, { timeout });
}

/** Metric values without the system/ measurements (times, memory), which vary run to run. */
export function metricsOnly(run: RunView): Record<string, number>[] {
  return run.history.map((p) => Object.fromEntries(Object.entries(p.values).filter(([k]) => !k.startsWith('system/'))));
}

/** Small enough for software WebGPU: 8×16×16 crops, two blocks of width 4 (form fields). */
export const SMALL_MODEL = {
  crop: '8,16,16',
  'model.blocks': '2',
  'model.width': '4',
  'optimizer.name': 'adamw',
  'optimizer.lr': '0.003',
  'sampling.valStride': '3',
  'sampling.epochSamples': '128',
  'train.batchSize': '16',
  'train.seed': '3',
};

/**
 * After a jump: the point is on the canvas, and along each axis the scan either covers the
 * canvas (no black band beside it) with the point centred unless the scan's edge stops it, or,
 * smaller than the canvas, sits centred on it.
 */
export async function expectScanInView(viewer: Locator, q: { x: number; y: number }, size = 512) {
  const b = await viewer.evaluate((el) => (el as HTMLElementTagNameMap['luna-ct-viewer']).planeBox());
  if (!b) throw new Error('the viewer shows nothing');
  for (const [lo, hi, at] of [
    [b.left, b.right, q.x],
    [b.top, b.bottom, q.y],
  ]) {
    expect(at).toBeGreaterThanOrEqual(0);
    expect(at).toBeLessThan(size);
    if (hi - lo >= size) {
      expect(lo).toBeLessThanOrEqual(0.5);
      expect(hi).toBeGreaterThanOrEqual(size - 0.5);
      if (Math.abs(at - size / 2) >= 1) expect(Math.min(Math.abs(lo), Math.abs(hi - size))).toBeLessThan(0.5);
    } else {
      expect(Math.abs(lo + hi - size)).toBeLessThan(1);
    }
  }
}

/** Click the FROC curve's last point with false positives, where the chart draws it. */
export async function clickFrocPoint(page: Page, froc: EvalOutcome['froc']): Promise<void> {
  const point = froc.curve.findLast((p) => Number.isFinite(p.threshold) && p.fpsPerScan > 0);
  expect(point).toBeDefined();
  const at = await page
    .locator('luna-froc-chart')
    .evaluate((el, p) => (el as LunaFrocChart).positionOf(p.fpsPerScan, p.sensitivity), point!);
  expect(at).not.toBeNull();
  await page.locator('luna-froc-chart .u-over').click({ position: at! });
}
