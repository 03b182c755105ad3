/**
 * MaxPool3D gradient for 2×2×2 windows with stride 2 (no padding, even sizes), in one pass:
 * one thread per window × vec4 of channels reads the window's 8 inputs, finds each lane's
 * argmax (the last maximum in d, h, w order, as tfjs's stock positions kernel does) and
 * writes all 8 input gradients (dy at the argmax, 0 elsewhere). No positions tensor.
 */
import type { WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';
import { faultKey, maybeFaulty } from './program-util.ts';

export class MaxPool3DGradProgram implements WebGPUProgram {
  outputShape: number[];
  shaderKey: string;
  dispatchLayout = { x: [0] };
  dispatch: [number, number, number];
  variableNames = ['dy', 'x'];
  variableComponents = [4, 4];
  outputComponent = 4;
  workgroupSize: [number, number, number] = [64, 1, 1];
  size = true;

  constructor(
    batch: number,
    /** Input spatial size (even). */
    private readonly inShape: readonly [number, number, number],
    private readonly channels: number,
  ) {
    const [d, h, w] = inShape;
    this.outputShape = [batch * d * h * w * channels];
    this.dispatch = [Math.ceil((batch * d * h * w * channels) / 8 / 4 / 64), 1, 1];
    this.shaderKey = `lunaMaxPool3dGrad_${inShape.join('x')}_${channels}${faultKey('MaxPool3DGradProgram')}`;
  }

  getUserCode(): string {
    const [D, H, W] = this.inShape;
    const [OD, OH, OW] = [D / 2, H / 2, W / 2];
    const c4 = this.channels / 4;
    const offsets: string[] = [];
    for (let a = 0; a < 2; a++)
      for (let b = 0; b < 2; b++) for (let c = 0; c < 2; c++) offsets.push(`${(a * H + b) * W + c}`);
    const reads = offsets.map((o, i) => `let v${i} = x[(base + ${o}) * ${c4} + ch];`).join('\n        ');
    // Lane-wise running max: ">=" keeps the last maximum, as the stock kernel does.
    const scan = offsets
      .slice(1)
      .map((_, j) => {
        const i = j + 1;
        return `{ let take = v${i} >= best; best = select(best, v${i}, take); arg = select(arg, vec4<i32>(${i}), take); }`;
      })
      .join('\n        ');
    const writes = offsets
      .map((o, i) => `result[(base + ${o}) * ${c4} + ch] = select(vec4<f32>(0.0), g, arg == vec4<i32>(${i}));`)
      .join('\n        ');
    const code = `
    fn main(index: i32) {
      if (index < uniforms.size / 8) { // size counts input vec4s; the batch is not baked in
        let ch = index % ${c4};
        let win = index / ${c4};
        let ow = win % ${OW};
        let oh = (win / ${OW}) % ${OH};
        let od = (win / ${OW * OH}) % ${OD};
        let n = win / ${OW * OH * OD};
        let base = ((n * ${D} + od * 2) * ${H} + oh * 2) * ${W} + ow * 2;
        ${reads}
        var best = v0;
        var arg = vec4<i32>(0);
        ${scan}
        let g = dy[win * ${c4} + ch];
        ${writes}
      }
    }`;
    return maybeFaulty('MaxPool3DGradProgram', code);
  }
}
