/**
 * MaxPool3D for 2×2×2 windows with stride 2 (no padding): one thread per window × vec4 of
 * channels, flat indexing (the stock kernel does rank-5 index math per scalar output).
 */
import type { WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';
import { faultKey, maybeFaulty } from './program-util.ts';

export class MaxPool3DProgram implements WebGPUProgram {
  outputShape: number[];
  shaderKey: string;
  dispatchLayout = { x: [0] };
  dispatch: [number, number, number];
  variableNames = ['x'];
  variableComponents = [4];
  outputComponent = 4;
  workgroupSize: [number, number, number] = [64, 1, 1];
  size = true;

  constructor(
    batch: number,
    /** Input spatial size; odd remainders are dropped (floor), as tfjs does. */
    private readonly inShape: readonly [number, number, number],
    private readonly channels: number,
  ) {
    const [d, h, w] = inShape;
    const out = batch * Math.floor(d / 2) * Math.floor(h / 2) * Math.floor(w / 2) * channels;
    this.outputShape = [out];
    this.dispatch = [Math.ceil(out / 4 / 64), 1, 1];
    this.shaderKey = `lunaMaxPool3d_${inShape.join('x')}_${channels}${faultKey('MaxPool3DProgram')}`;
  }

  getUserCode(): string {
    const [D, H, W] = this.inShape;
    const [OD, OH, OW] = [Math.floor(D / 2), Math.floor(H / 2), Math.floor(W / 2)];
    const c4 = this.channels / 4;
    const reads: string[] = [];
    for (let a = 0; a < 2; a++)
      for (let b = 0; b < 2; b++)
        for (let c = 0; c < 2; c++) reads.push(`m = max(m, x[(base + ${(a * H + b) * W + c}) * ${c4} + ch]);`);
    return maybeFaulty(
      'MaxPool3DProgram',
      `
    fn main(index: i32) {
      if (index < uniforms.size) {
        let ch = index % ${c4};
        let win = index / ${c4};
        let ow = win % ${OW};
        let oh = (win / ${OW}) % ${OH};
        let od = (win / ${OW * OH}) % ${OD};
        let n = win / ${OW * OH * OD};
        let base = ((n * ${D} + od * 2) * ${H} + oh * 2) * ${W} + ow * 2;
        var m = x[base * ${c4} + ch];
        ${reads.slice(1).join('\n        ')}
        result[index] = m;
      }
    }`,
    );
  }
}
