/**
 * The lab's WebGPU kernels (src/model/kernels) in Debian Chromium's WebGPU (SwiftShader here):
 * each against the stock tfjs-backend-webgpu kernel and the cpu backend on random inputs, the
 * gradients of a small model, a training run with lab vs stock kernels, and a broken shader
 * that must fail the run with a message. Small shapes, plus a few LunaModel shapes at batch 1.
 */
import { test, expect, type Page } from '@playwright/test';
import type { OpCase, OpResult } from '../src/kernels/kernel-test-page.ts';

const TOL = 1e-4;

async function openTests(page: Page): Promise<void> {
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') console.log(`[page ${m.type()}] ${m.text().slice(0, 300)}`);
  });
  await page.goto('/src/kernels/kernel-test.html');
  await expect(page.locator('html[data-kernel-tests-ready="true"]')).toHaveCount(1);
}

async function compare(page: Page, cases: OpCase[]): Promise<OpResult[]> {
  const results = await page.evaluate((c) => window.lunaKernelTests!.compareOps(c), cases);
  for (const r of results) console.log(`${r.name}: vs stock ${r.vsStock.toExponential(2)}, vs cpu ${r.vsCpu?.toExponential(2) ?? '–'}, lab ${r.ms.lab.toFixed(0)} ms, stock ${r.ms.stock.toFixed(0)} ms`);
  for (const r of results) {
    expect(r.refMax, r.name).toBeGreaterThan(0);
    expect(r.vsStock, r.name).toBeLessThan(TOL);
    if (r.vsCpu !== null) expect(r.vsCpu, r.name).toBeLessThan(TOL);
  }
  return results;
}

const ops = ['conv', 'convInput', 'convFilter', 'poolGrad', 'fused', 'fusedGrad'] as const;

test('small and odd shapes match stock and cpu (incl. borders, batch 1, width 4, fallbacks)', async ({ page }) => {
  test.setTimeout(300_000);
  await openTests(page);
  const shapes: Pick<OpCase, 'x' | 'cout' | 'pad'>[] = [
    { x: [2, 4, 6, 8, 1], cout: 4 }, // Cin = 1 path
    { x: [1, 4, 6, 8, 4], cout: 4 }, // width 4
    { x: [2, 6, 4, 12, 8], cout: 8 },
    { x: [1, 3, 5, 7, 8], cout: 12 }, // odd sizes: partial tiles
    { x: [1, 4, 6, 6, 8], cout: 16, pad: 'valid' },
    { x: [1, 4, 4, 4, 6], cout: 8 }, // Cin not a multiple of 4 → stock fallback
    { x: [1, 4, 4, 4, 4], cout: 6 }, // Cout not a multiple of 4 → stock fallback
  ];
  const cases: OpCase[] = [];
  for (const s of shapes) for (const op of ops) if (op !== 'poolGrad') cases.push({ ...s, op, cpu: true });
  // Batch sizes are not baked into shaders: the same shapes again at another batch.
  for (const op of ops) if (op !== 'poolGrad') cases.push({ x: [3, 6, 4, 12, 8], cout: 8, op, cpu: true });
  // [1,4,6,8,8] after [2,4,6,8,8]: the same cached shader must serve another batch size.
  cases.push({ op: 'poolGrad', x: [2, 4, 6, 8, 8], cpu: true }, { op: 'poolGrad', x: [1, 4, 6, 8, 8], cpu: true }, { op: 'poolGrad', x: [1, 2, 2, 2, 4], cpu: true }, { op: 'poolGrad', x: [1, 5, 4, 4, 4], cpu: true });
  cases.push({ op: 'pool', x: [2, 4, 6, 8, 8], cpu: true }, { op: 'pool', x: [1, 5, 4, 7, 4], cpu: true }, { op: 'pool', x: [1, 4, 4, 4, 6], cpu: true });
  await compare(page, cases);
});

test('LunaModel shapes at batch 1 match stock and cpu', async ({ page }) => {
  test.setTimeout(600_000);
  await openTests(page);
  await compare(page, [
    { op: 'conv', x: [1, 32, 48, 48, 1], cout: 8 },
    { op: 'convInput', x: [1, 32, 48, 48, 1], cout: 8, cpu: true },
    { op: 'conv', x: [1, 32, 48, 48, 8], cout: 8, cpu: true },
    { op: 'convInput', x: [1, 16, 24, 24, 16], cout: 16, cpu: true },
    { op: 'convFilter', x: [1, 32, 48, 48, 8], cout: 8 },
    { op: 'convFilter', x: [1, 8, 12, 12, 32], cout: 64, cpu: true },
    { op: 'conv', x: [1, 4, 6, 6, 64], cout: 64, cpu: true },
    { op: 'pool', x: [1, 32, 48, 48, 8] },
    { op: 'poolGrad', x: [1, 32, 48, 48, 8] },
  ]);
});

test('gradients of a small LunaModel match stock and cpu', async ({ page }) => {
  test.setTimeout(300_000);
  await openTests(page);
  const r = await page.evaluate(() => window.lunaKernelTests!.modelGrads({ crop: [8, 16, 16], model: { blocks: 2, width: 4 } }, 2));
  console.log(`model grads: vs stock ${r.vsStock.toExponential(2)}, vs cpu ${r.vsCpu.toExponential(2)}`);
  expect(r.refMax).toBeGreaterThan(0);
  expect(r.vsStock).toBeLessThan(TOL);
  expect(r.vsCpu).toBeLessThan(TOL);
});

test('a small training run gives the same metrics with lab and stock kernels', async ({ page }) => {
  test.setTimeout(600_000);
  await openTests(page);
  const lab = await page.evaluate(() => window.lunaKernelTests!.trainRun('lab'));
  const stock = await page.evaluate(() => window.lunaKernelTests!.trainRun('stock'));
  expect(lab.error).toBeNull();
  expect(stock.error).toBeNull();
  expect([lab.status, stock.status]).toEqual(['finished', 'finished']);
  expect(lab.backend).toBe('webgpu');
  expect(lab.history.length).toBe(stock.history.length);
  lab.history.forEach((p, i) => {
    for (const [k, v] of Object.entries(p.values)) {
      if (k.startsWith('system/')) continue;
      expect(Math.abs(v - stock.history[i].values[k]), `${k} epoch ${p.epoch}`).toBeLessThanOrEqual(1e-3 * Math.max(1, Math.abs(v)));
    }
  });
});

test('a broken shader fails the run with a message instead of training on zeros', async ({ page }) => {
  test.setTimeout(300_000);
  await openTests(page);
  // Without the guard tfjs only warns and the output is zeros: the failure mode being guarded.
  expect(await page.evaluate(() => window.lunaKernelTests!.brokenShaderWithoutGuard())).toEqual([0, 0, 0, 0]);
  const run = await page.evaluate(() => window.lunaKernelTests!.trainRun('lab', 'Conv3DTiledProgram'));
  expect(run.status).toBe('failed');
  expect(run.error).toMatch(/WebGPU validation error .*training step/);
  expect(run.history).toEqual([]);
});
