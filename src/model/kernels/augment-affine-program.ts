/**
 * The GPU path's augmentation (src/data/augment-gpu.ts) as one WebGPU program: one thread per
 * output voxel of a batch [n, D, H, W]; per sample a 16-float parameter row (the transform in
 * voxel units, noise sd and key: `kernelParams`). The maths is applyTransform's (augment.ts:
 * border padding = clamp the source coordinate, trilinear blend in the same order, the far edge
 * reusing the edge voxel) and counterNormal's (the same integer hash, Box–Muller) in f32.
 */
import type { WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';
import { PARAMS_PER_SAMPLE } from '../../data/augment-gpu.ts';
import { faultKey, maybeFaulty } from './program-util.ts';

export class AugmentAffineProgram implements WebGPUProgram {
  outputShape: number[];
  shaderKey: string;
  dispatchLayout = { x: [0] };
  dispatch: [number, number, number];
  variableNames = ['crops', 'affine'];
  workgroupSize: [number, number, number] = [64, 1, 1];
  size = true;

  constructor(
    batch: number,
    /** Crop [D, H, W]. */
    private readonly shape: readonly [number, number, number],
  ) {
    const out = batch * shape[0] * shape[1] * shape[2];
    this.outputShape = [out];
    this.dispatch = [Math.ceil(out / 64), 1, 1];
    this.shaderKey = `lunaAugmentAffine_${shape.join('x')}${faultKey('AugmentAffineProgram')}`;
  }

  getUserCode(): string {
    const [D, H, W] = this.shape;
    const P = PARAMS_PER_SAMPLE;
    return maybeFaulty(
      'AugmentAffineProgram',
      `
    fn lunaHash(v: u32) -> u32 {
      var x = v;
      x = x ^ (x >> 16u);
      x = x * 0x7feb352du;
      x = x ^ (x >> 15u);
      x = x * 0x846ca68bu;
      return x ^ (x >> 16u);
    }
    fn lunaUniform(key: u32, c: u32) -> f32 {
      return f32(lunaHash(key ^ lunaHash(c)) >> 8u) / 16777216.0;
    }
    fn main(index: i32) {
      if (index < uniforms.size) {
        let n = index / ${D * H * W};
        let v = index - n * ${D * H * W};
        let c = f32(v % ${W});
        let r = f32((v / ${W}) % ${H});
        let i = f32(v / ${H * W});
        let q = n * ${P};
        let sx = clamp(affine[q + 3] + affine[q] * c + affine[q + 1] * r + affine[q + 2] * i, 0.0, ${W - 1}.0);
        let sy = clamp(affine[q + 7] + affine[q + 4] * c + affine[q + 5] * r + affine[q + 6] * i, 0.0, ${H - 1}.0);
        let sz = clamp(affine[q + 11] + affine[q + 8] * c + affine[q + 9] * r + affine[q + 10] * i, 0.0, ${D - 1}.0);
        let x0 = i32(floor(sx));
        let y0 = i32(floor(sy));
        let z0 = i32(floor(sz));
        let fx = sx - f32(x0);
        let fy = sy - f32(y0);
        let fz = sz - f32(z0);
        let dx = select(0, 1, x0 < ${W - 1});
        let dy = select(0, ${W}, y0 < ${H - 1});
        let dz = select(0, ${H * W}, z0 < ${D - 1});
        let p = n * ${D * H * W} + z0 * ${H * W} + y0 * ${W} + x0;
        let v000 = crops[p];
        let v001 = crops[p + dx];
        let v010 = crops[p + dy];
        let v011 = crops[p + dy + dx];
        let v100 = crops[p + dz];
        let v101 = crops[p + dz + dx];
        let v110 = crops[p + dz + dy];
        let v111 = crops[p + dz + dy + dx];
        let a00 = v000 + fx * (v001 - v000);
        let a01 = v010 + fx * (v011 - v010);
        let a10 = v100 + fx * (v101 - v100);
        let a11 = v110 + fx * (v111 - v110);
        let b0 = a00 + fy * (a01 - a00);
        let b1 = a10 + fy * (a11 - a10);
        var out = b0 + fz * (b1 - b0);
        let sd = affine[q + 12];
        if (sd > 0.0) {
          let key = u32(affine[q + 13]) | (u32(affine[q + 14]) << 16u);
          let u1 = 1.0 - lunaUniform(key, 2u * u32(v));
          let u2 = lunaUniform(key, 2u * u32(v) + 1u);
          // cos(2πu) as −cos(π(2u − 1)): an argument in [−π, π), where WGSL bounds cos's error.
          out = out - sd * sqrt(-2.0 * log(u1)) * cos(3.14159265358979 * (2.0 * u2 - 1.0));
        }
        result[index] = out;
      }
    }`,
    );
  }
}
