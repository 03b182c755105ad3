/**
 * Conv3D weights [k,k,k,Cin,Cout] → flipped and transposed [k,k,k,Cout,CinPad], so that the input
 * gradient of a stride-1 convolution is the forward kernel run on dy with these weights. CinPad
 * ≥ Cin pads with zeros (Cin = 1 → 4: the forward kernel wants output channels in vec4s).
 */
import type { WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';
import { faultKey, maybeFaulty } from './program-util.ts';

export class WeightFlipProgram implements WebGPUProgram {
  outputShape: number[];
  shaderKey: string;
  dispatchLayout = { x: [0] };
  dispatch: [number, number, number];
  variableNames = ['W'];
  workgroupSize: [number, number, number] = [64, 1, 1];
  size = true;

  constructor(
    private readonly k: number,
    private readonly cin: number,
    private readonly cout: number,
    private readonly cinPad = cin,
  ) {
    const n = k * k * k * cinPad * cout;
    this.outputShape = [n];
    this.dispatch = [Math.ceil(n / 64), 1, 1];
    this.shaderKey = `lunaWeightFlip_${k}_${cin}_${cout}_${cinPad}${faultKey('WeightFlipProgram')}`;
  }

  getUserCode(): string {
    const { k, cin, cout, cinPad } = this;
    const taps = k * k * k;
    return maybeFaulty(
      'WeightFlipProgram',
      `
    fn main(index: i32) {
      if (index < uniforms.size) {
        let ci = index % ${cinPad};
        let co = (index / ${cinPad}) % ${cout};
        let tap = index / ${cinPad * cout};
        var v = 0.0;
        if (ci < ${cin}) { v = W[((${taps - 1} - tap) * ${cin} + ci) * ${cout} + co]; }
        result[index] = v;
      }
    }`,
    );
  }
}
