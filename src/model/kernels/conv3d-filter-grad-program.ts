/**
 * First pass of the split-K weight gradient of a 3×3×3 stride-1 Conv3D (channels-last):
 * dW[tap, ci, co] = Σ over voxels of x[voxel + tap − pad, ci] · dy[voxel, co], a GEMM whose
 * K (batch × output voxels) is split over workgroups: workgroup s sums the output rows
 * (n, d, h) of chunk s and writes its partial dW — plus the partial bias gradient Σ dy —
 * to its own slot of the output, so no float atomics are needed. `SplitKReduceProgram` adds
 * the slots. Thread (kd, kh, ci4, co4) holds the 3 kw taps × 4 input channels × vec4 of
 * output channels in registers and slides along W, loading one x and one dy vec4 per voxel.
 * Output layout: chunks × (taps·Cin·Cout + Cout) floats.
 */
import type { WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';
import { faultKey, maybeFaulty } from './program-util.ts';

export interface FilterGradParams {
  batch: number;
  inShape: readonly [number, number, number];
  outShape: readonly [number, number, number];
  cin: number;
  cout: number;
  pads: readonly [number, number, number];
}

export class Conv3DFilterGradProgram implements WebGPUProgram {
  outputShape: number[];
  shaderKey: string;
  dispatchLayout = { x: [0] };
  dispatch: [number, number, number];
  variableNames = ['x', 'dy'];
  variableComponents: number[];
  outputComponent = 4;
  workgroupSize: [number, number, number];
  uniforms = 'rows: i32, rowsPerChunk: i32,';
  /** Partial results, each `stride` vec4s. */
  readonly chunks: number;
  readonly stride: number;
  readonly rows: number;
  readonly rowsPerChunk: number;
  private readonly cig: number;
  private readonly cog: number;

  constructor(private readonly p: FilterGradParams) {
    const cin4 = p.cin === 1 ? 1 : p.cin / 4;
    const cout4 = p.cout / 4;
    this.cig = [2, 1].find((c) => cin4 % c === 0)!;
    this.cog = [4, 2, 1].find((c) => cout4 % c === 0)!;
    const blocks = (cin4 / this.cig) * (cout4 / this.cog);
    this.rows = p.batch * p.outShape[0] * p.outShape[1];
    // Enough workgroups to keep every core busy, partial sums well below the weight-sized reduction cost.
    const want = Math.max(
      1,
      Math.min(this.rows, Math.ceil(128 / blocks), Math.floor(8e6 / (27 * p.cin * p.cout + p.cout))),
    );
    this.rowsPerChunk = Math.ceil(this.rows / want);
    this.chunks = Math.ceil(this.rows / this.rowsPerChunk);
    this.stride = (27 * p.cin * p.cout + p.cout) / 4;
    this.workgroupSize = [9 * this.cig * this.cog, 1, 1];
    this.dispatch = [this.chunks, blocks, 1];
    this.outputShape = [this.chunks * this.stride * 4];
    this.variableComponents = [p.cin === 1 ? 1 : 4, 4];
    this.shaderKey =
      `lunaConv3dFilterGrad_${p.inShape.join('x')}_${p.outShape.join('x')}_${p.cin}_${p.cout}_${p.pads.join('x')}_` +
      `${this.cig}_${this.cog}${faultKey('Conv3DFilterGradProgram')}`;
  }

  /** Uniform values for `uniforms`. */
  uniformData(): { type: 'int32'; data: number[] }[] {
    return [
      { type: 'int32', data: [this.rows] },
      { type: 'int32', data: [this.rowsPerChunk] },
    ];
  }

  getUserCode(): string {
    const { p, cig, cog } = this;
    const [D, H, W] = p.inShape;
    const [OD, OH, OW] = p.outShape;
    const cin1 = p.cin === 1;
    const cin4 = cin1 ? 1 : p.cin / 4;
    const cout4 = p.cout / 4;
    const lanes = cin1 ? [''] : ['.x', '.y', '.z', '.w'];
    const zero = cin1 ? 'f32(0.0)' : 'vec4<f32>(0.0)';
    const accDecl: string[] = [];
    const fma: string[] = [];
    const stores: string[] = [];
    for (let kw = 0; kw < 3; kw++) {
      lanes.forEach((lane, j) => {
        accDecl.push(`var a${kw}_${j} = vec4<f32>(0.0);`);
        fma.push(`a${kw}_${j} += g * x${kw}${lane};`);
        // tap = (kd*3+kh)*3+kw; ci = ci4*4+j (or 0 when Cin = 1)
        stores.push(
          `result[base + (((kk * 3 + ${kw}) * ${p.cin} + ${cin1 ? '0' : `ci4 * 4 + ${j}`}) * ${cout4}) + co4] = a${kw}_${j};`,
        );
      });
    }
    const code = `
    fn loadX(rowBase: i32, ok: bool, w: i32) -> ${cin1 ? 'f32' : 'vec4<f32>'} {
      if (ok && w >= 0 && w < ${W}) { return x[rowBase + w * ${cin4}]; }
      return ${zero};
    }
    fn main(flatIndex: i32) {
      let li = i32(localIndex);
      let ci4l = li % ${cig};
      let co4l = (li / ${cig}) % ${cog};
      let kk = li / ${cig * cog};
      let kd = kk / 3;
      let kh = kk % 3;
      let blk = i32(workgroupId.y);
      let ci4 = (blk % ${cin4 / cig}) * ${cig} + ci4l;
      let co4 = (blk / ${cin4 / cig}) * ${cog} + co4l;
      let s = i32(workgroupId.x);
      let r0 = s * uniforms.rowsPerChunk;
      let r1 = min(r0 + uniforms.rowsPerChunk, uniforms.rows);
      ${accDecl.join(' ')}
      var bsum = vec4<f32>(0.0);
      for (var r = r0; r < r1; r++) {
        let n = r / ${OD * OH};
        let od = (r / ${OH}) % ${OD};
        let oh = r % ${OH};
        let xd = od + kd - ${p.pads[0]};
        let xh = oh + kh - ${p.pads[1]};
        let ok = xd >= 0 && xd < ${D} && xh >= 0 && xh < ${H};
        let rowBase = ((n * ${D} + xd) * ${H} + xh) * ${W * cin4} + ci4;
        let dyBase = r * ${OW * cout4} + co4;
        var x0 = loadX(rowBase, ok, ${-p.pads[2]});
        var x1 = loadX(rowBase, ok, ${1 - p.pads[2]});
        for (var ow = 0; ow < ${OW}; ow++) {
          let x2 = loadX(rowBase, ok, ow + ${2 - p.pads[2]});
          let g = dy[dyBase + ow * ${cout4}];
          bsum += g;
          ${fma.join('\n          ')}
          x0 = x1;
          x1 = x2;
        }
      }
      let base = s * ${this.stride};
      ${stores.join('\n      ')}
      if (kk == 0 && ci4 == 0) {
        result[base + ${27 * p.cin * cout4} + co4] = bsum;
      }
    }`;
    return maybeFaulty('Conv3DFilterGradProgram', code);
  }
}
