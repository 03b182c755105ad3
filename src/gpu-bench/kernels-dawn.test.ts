/**
 * The browser kernel checks (e2e/kernels.spec.ts) in Node on Dawn (dawn.node, the npm package
 * `webgpu`): the lab's kernels against the stock tfjs-backend-webgpu kernels and the cpu backend,
 * forward and gradients, within the same tolerances, on the same cases (src/kernels/kernel-cases.ts)
 * through the same code (src/kernels/kernel-checks.ts). Without a GPU the adapter is Chromium's
 * SwiftShader Vulkan (VK_ICD_FILENAMES, set here to it when unset); the tests skip, with the
 * reason in their names, where the Vulkan loader or an ICD is missing. Small shapes only:
 * SwiftShader on 2 cores is slow. The device is made once per file with every optional feature
 * the adapter offers of subgroups / shader-f16; plain checks run with the features off.
 */
import { beforeAll, describe, expect, test } from 'vitest';
import { defaultIcd, installDawn, releaseDawn } from './dawn.ts';
import {
  compareOps,
  featureUses,
  initDevice,
  modelGrads,
  type OpCase,
  type OpResult,
} from '../kernels/kernel-checks.ts';
import { TOL, TOL_F16, smallCases } from '../kernels/kernel-cases.ts';
import type { GpuFeatureName } from '../config/lab-config.ts';

if (!process.env.VK_ICD_FILENAMES) {
  const icd = defaultIcd();
  if (icd) process.env.VK_ICD_FILENAMES = icd;
}
const dawn = await installDawn();
const skip = dawn.available ? '' : ` — skipped: ${dawn.reason}`;
const offered = (f: GpuFeatureName) => dawn.available && dawn.features.includes(f);
const deviceFeatures = (['subgroups', 'shader-f16'] as const).filter(offered);

function check(results: OpResult[], tol: number): void {
  for (const r of results) {
    expect(r.refMax, r.name).toBeGreaterThan(0);
    expect(r.vsStock, r.name).toBeLessThan(tol);
    if (r.vsCpu !== null) expect(r.vsCpu, r.name).toBeLessThan(tol);
  }
}

/** A few LunaModel layer shapes at batch 1, small enough for SwiftShader + the cpu backend. */
const LUNA_SMALL: OpCase[] = [
  { op: 'conv', x: [1, 8, 12, 12, 1], cout: 8, cpu: true },
  { op: 'convInput', x: [1, 8, 12, 12, 1], cout: 8, cpu: true },
  { op: 'convInput', x: [1, 8, 12, 12, 16], cout: 16, cpu: true },
  { op: 'convFilter', x: [1, 8, 12, 12, 32], cout: 64, cpu: true },
  { op: 'conv', x: [1, 4, 6, 6, 64], cout: 64, cpu: true },
  { op: 'poolGrad', x: [1, 8, 12, 12, 8], cpu: true },
];

describe.skipIf(!dawn.available)(`lab kernels in Node on Dawn${skip}`, () => {
  beforeAll(async () => {
    const d = await initDevice([...deviceFeatures]);
    expect(d.backend).toBe('webgpu');
    expect(d.enabled).toEqual([...deviceFeatures].sort());
    return () => releaseDawn();
  });

  const variants: GpuFeatureName[][] = [[], ...(offered('subgroups') ? [['subgroups'] as GpuFeatureName[]] : [])];
  for (const features of variants) {
    const on = features.length ? ` with ${features.join(', ')}` : '';

    test(`small and odd shapes match stock and cpu (forward and gradients)${on}`, async () => {
      check(await compareOps(smallCases(), features), TOL);
      for (const f of features) expect(featureUses()[f] ?? 0, `programs built with ${f}`).toBeGreaterThan(0);
    }, 300_000);

    test(`LunaModel layer shapes (reduced) match stock and cpu${on}`, async () => {
      check(await compareOps(LUNA_SMALL, features), TOL);
    }, 300_000);

    test(`gradients of a small LunaModel match stock and cpu${on}`, async () => {
      const r = await modelGrads({ crop: [8, 16, 16], model: { blocks: 2, width: 4 } }, 2, features);
      expect(r.refMax).toBeGreaterThan(0);
      expect(r.vsStock).toBeLessThan(TOL);
      expect(r.vsCpu).toBeLessThan(TOL);
    }, 300_000);
  }

  test.skipIf(!offered('shader-f16'))(
    `shader-f16: forward ops match stock and cpu within the f16 tolerance${offered('shader-f16') ? '' : ` — skipped: the adapter does not offer shader-f16 (it offers: ${dawn.available ? dawn.features.join(', ') : 'none'})`}`,
    async () => {
      const cases: OpCase[] = [];
      for (const s of [
        { x: [2, 4, 6, 8, 1], cout: 4 },
        { x: [1, 3, 5, 7, 8], cout: 12 },
        { x: [1, 4, 6, 6, 8], cout: 16, pad: 'valid' },
      ] as Pick<OpCase, 'x' | 'cout' | 'pad'>[]) {
        for (const op of ['conv', 'fused'] as const) cases.push({ ...s, op, cpu: true });
      }
      check(await compareOps(cases, ['shader-f16']), TOL_F16);
      expect(featureUses()['shader-f16'] ?? 0).toBeGreaterThan(0);
    },
    300_000,
  );
});

test('without dawn.node or a Vulkan ICD the reason is given, never a throw', () => {
  if (dawn.available) expect(dawn.description).not.toBe('');
  else expect(dawn.reason).toMatch(/dawn\.node|Vulkan|adapter/);
});
