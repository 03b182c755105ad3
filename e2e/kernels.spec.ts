/**
 * The lab's WebGPU kernels (src/model/kernels) in Debian Chromium's WebGPU (SwiftShader here):
 * each against the stock tfjs-backend-webgpu kernel and the cpu backend on random inputs, the
 * gradients of a small model, a training run with lab vs stock kernels, and a broken shader
 * that must fail the run with a message. Small shapes, plus a few LunaModel shapes at batch 1.
 * The same checks again with the optional device feature `subgroups` (f32: same tolerance), and
 * the forward ops with `shader-f16` where the adapter offers it (skipped, with the adapter's
 * feature list, where it does not: Chromium's SwiftShader has no shader-f16).
 */
import { test, expect, type Page } from '@playwright/test';
import type { OpCase, OpResult } from '../src/kernels/kernel-test-page.ts';
import { LUNA_CASES, TOL, TOL_F16, smallCases } from '../src/kernels/kernel-cases.ts';
import type { GpuFeatureName } from '../src/config/lab-config.ts';

async function openTests(page: Page): Promise<void> {
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') console.log(`[page ${m.type()}] ${m.text().slice(0, 300)}`);
  });
  await page.goto('/src/kernels/kernel-test.html');
  await expect(page.locator('html[data-kernel-tests-ready="true"]')).toHaveCount(1);
}

async function compare(page: Page, cases: OpCase[], features: GpuFeatureName[] = [], tol = TOL): Promise<OpResult[]> {
  const results = await page.evaluate(([c, f]) => window.lunaKernelTests!.compareOps(c, f), [cases, features] as const);
  const tag = features.length ? ` [${features.join(',')}]` : '';
  for (const r of results)
    console.log(
      `${r.name}${tag}: vs stock ${r.vsStock.toExponential(2)}, vs cpu ${r.vsCpu?.toExponential(2) ?? '–'}, lab ${r.ms.lab.toFixed(0)} ms, stock ${r.ms.stock.toFixed(0)} ms`,
    );
  for (const r of results) {
    expect(r.refMax, r.name).toBeGreaterThan(0);
    expect(r.vsStock, r.name).toBeLessThan(tol);
    if (r.vsCpu !== null) expect(r.vsCpu, r.name).toBeLessThan(tol);
  }
  return results;
}

/** Makes the page's device with `features` (before anything else runs on it); fails unless the
 *  device has them all. */
async function withFeatures(page: Page, features: GpuFeatureName[]): Promise<void> {
  if (!features.length) return;
  const d = await page.evaluate((f) => window.lunaKernelTests!.initDevice(f), features);
  console.log(`device features ${d.enabled.join(',') || 'none'} (adapter offers: ${d.adapterFeatures.join(', ')})`);
  expect(d.backend).toBe('webgpu');
  expect(d.warning).toBeNull();
  expect(d.enabled).toEqual(features);
}

/** The lab's kernels really built programs with each feature (the checks were not vacuous). */
async function expectFeatureUsed(page: Page, features: GpuFeatureName[]): Promise<void> {
  const uses = await page.evaluate(() => window.lunaKernelTests!.featureUses());
  for (const f of features) expect(uses[f] ?? 0, `programs built with ${f}`).toBeGreaterThan(0);
}

for (const features of [[], ['subgroups']] as GpuFeatureName[][]) {
  const on = features.length ? ` with ${features.join(', ')}` : '';

  test(`small and odd shapes match stock and cpu (incl. borders, batch 1, width 4, fallbacks)${on}`, async ({
    page,
  }) => {
    test.setTimeout(300_000);
    await openTests(page);
    await withFeatures(page, features);
    await compare(page, smallCases(), features);
    await expectFeatureUsed(page, features);
  });

  test(`LunaModel shapes at batch 1 match stock and cpu${on}`, async ({ page }) => {
    test.setTimeout(600_000);
    await openTests(page);
    await withFeatures(page, features);
    await compare(page, LUNA_CASES, features);
    await expectFeatureUsed(page, features);
  });

  test(`gradients of a small LunaModel match stock and cpu${on}`, async ({ page }) => {
    test.setTimeout(300_000);
    await openTests(page);
    await withFeatures(page, features);
    const r = await page.evaluate(
      (f) => window.lunaKernelTests!.modelGrads({ crop: [8, 16, 16], model: { blocks: 2, width: 4 } }, 2, f),
      features,
    );
    console.log(`model grads${on}: vs stock ${r.vsStock.toExponential(2)}, vs cpu ${r.vsCpu.toExponential(2)}`);
    expect(r.refMax).toBeGreaterThan(0);
    expect(r.vsStock).toBeLessThan(TOL);
    expect(r.vsCpu).toBeLessThan(TOL);
    await expectFeatureUsed(page, features);
  });
}

test('shader-f16: forward ops match stock and cpu within the f16 tolerance', async ({ page }) => {
  test.setTimeout(300_000);
  await openTests(page);
  const d = await page.evaluate(() => window.lunaKernelTests!.initDevice(['shader-f16']));
  if (!d.enabled.includes('shader-f16')) {
    // Never a vacuous pass: the run would say so too (its warning is checked here).
    expect(d.warning).toMatch(/running without shader-f16 \(the adapter does not offer it\)/);
  }
  test.skip(
    !d.enabled.includes('shader-f16'),
    `the WebGPU adapter does not offer shader-f16 (it offers: ${d.adapterFeatures.join(', ') || 'no optional features'})`,
  );
  const cases: OpCase[] = [];
  for (const s of [
    { x: [2, 4, 6, 8, 1], cout: 4 },
    { x: [1, 3, 5, 7, 8], cout: 12 },
    { x: [1, 4, 6, 6, 8], cout: 16, pad: 'valid' },
  ] as Pick<OpCase, 'x' | 'cout' | 'pad'>[]) {
    for (const op of ['conv', 'fused'] as const) cases.push({ ...s, op, cpu: true });
  }
  cases.push(
    { op: 'conv', x: [1, 32, 48, 48, 8], cout: 8, cpu: true },
    { op: 'conv', x: [1, 4, 6, 6, 64], cout: 64, cpu: true },
  );
  await compare(page, cases, ['shader-f16'], TOL_F16);
  await expectFeatureUsed(page, ['shader-f16']);
});

test('a small training run with gpuFeatures=subgroups gives the same metrics as without, and says so', async ({
  page,
}) => {
  test.setTimeout(600_000);
  await openTests(page);
  await withFeatures(page, ['subgroups']);
  const plain = await page.evaluate(() => window.lunaKernelTests!.trainRun('lab'));
  // Without the flag the kernels must not use the device's subgroups.
  expect((await page.evaluate(() => window.lunaKernelTests!.featureUses())).subgroups ?? 0).toBe(0);
  const sg = await page.evaluate(() => window.lunaKernelTests!.trainRun('lab', null, ['subgroups']));
  expect(plain.error).toBeNull();
  expect(sg.error).toBeNull();
  expect([plain.status, sg.status]).toEqual(['finished', 'finished']);
  expect(sg.adapter).toMatch(/\(device features: subgroups\)$/);
  expect(plain.adapter).not.toMatch(/device features/);
  expect(sg.warnings.filter((w) => w.startsWith('gpuFeatures'))).toEqual([]);
  await expectFeatureUsed(page, ['subgroups']);
  expect(sg.history.length).toBe(plain.history.length);
  const diffs = sg.history.flatMap((p, i) =>
    Object.entries(p.values)
      .filter(([k]) => !k.startsWith('system/'))
      .map(([k, v]) => Math.abs(v - plain.history[i].values[k])),
  );
  console.log(
    `subgroups vs plain: ${diffs.length} metric values, max |difference| ${Math.max(...diffs).toExponential(2)}`,
  );
  sg.history.forEach((p, i) => {
    for (const [k, v] of Object.entries(p.values)) {
      if (k.startsWith('system/')) continue;
      expect(Math.abs(v - plain.history[i].values[k]), `${k} epoch ${p.epoch}`).toBeLessThanOrEqual(
        1e-3 * Math.max(1, Math.abs(v)),
      );
    }
  });
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
      expect(Math.abs(v - stock.history[i].values[k]), `${k} epoch ${p.epoch}`).toBeLessThanOrEqual(
        1e-3 * Math.max(1, Math.abs(v)),
      );
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
