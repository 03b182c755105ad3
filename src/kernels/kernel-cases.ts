/**
 * The kernel checks' cases and tolerances, shared by the browser's e2e/kernels.spec.ts and the
 * Node-on-Dawn test (src/gpu-bench/kernels-dawn.test.ts), so both check the same things.
 * Plain data: no tfjs here, so the Playwright spec can import it cheaply.
 */
import type { OpCase } from './kernel-checks.ts';

export const TOL = 1e-4;
/** shader-f16 stages the forward conv's inputs and weights as f16 (11 significant bits, relative
 *  rounding ≤ 2^-11 ≈ 4.9e-4 each) and accumulates in f32: max |f16 − ref| / max |ref| ≤ 5e-3. */
export const TOL_F16 = 5e-3;

/** The ops the small-shape checks run. */
export const OPS = ['conv', 'convInput', 'convFilter', 'poolGrad', 'fused', 'fusedGrad'] as const;

export function smallCases(): OpCase[] {
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
  for (const s of shapes) for (const op of OPS) if (op !== 'poolGrad') cases.push({ ...s, op, cpu: true });
  // Batch sizes are not baked into shaders: the same shapes again at another batch.
  for (const op of OPS) if (op !== 'poolGrad') cases.push({ x: [3, 6, 4, 12, 8], cout: 8, op, cpu: true });
  // [1,4,6,8,8] after [2,4,6,8,8]: the same cached shader must serve another batch size.
  cases.push(
    { op: 'poolGrad', x: [2, 4, 6, 8, 8], cpu: true },
    { op: 'poolGrad', x: [1, 4, 6, 8, 8], cpu: true },
    { op: 'poolGrad', x: [1, 2, 2, 2, 4], cpu: true },
    { op: 'poolGrad', x: [1, 5, 4, 4, 4], cpu: true },
  );
  cases.push(
    { op: 'pool', x: [2, 4, 6, 8, 8], cpu: true },
    { op: 'pool', x: [1, 5, 4, 7, 4], cpu: true },
    { op: 'pool', x: [1, 4, 4, 4, 6], cpu: true },
  );
  return cases;
}

export const LUNA_CASES: OpCase[] = [
  { op: 'conv', x: [1, 32, 48, 48, 1], cout: 8 },
  { op: 'convInput', x: [1, 32, 48, 48, 1], cout: 8, cpu: true },
  { op: 'conv', x: [1, 32, 48, 48, 8], cout: 8, cpu: true },
  { op: 'convInput', x: [1, 16, 24, 24, 16], cout: 16, cpu: true },
  { op: 'convFilter', x: [1, 32, 48, 48, 8], cout: 8 },
  { op: 'convFilter', x: [1, 8, 12, 12, 32], cout: 64, cpu: true },
  { op: 'conv', x: [1, 4, 6, 6, 64], cout: 64, cpu: true },
  { op: 'pool', x: [1, 32, 48, 48, 8] },
  { op: 'poolGrad', x: [1, 32, 48, 48, 8] },
];
