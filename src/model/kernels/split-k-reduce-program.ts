/**
 * Second pass of a split-K GEMM: out[i] = Σ_s partial[s·stride + offset + i] (vec4s), one
 * thread per output vec4. Shapes are uniforms, so one shader serves every layer.
 */
import type { WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';
import { faultKey, maybeFaulty } from './program-util.ts';

export class SplitKReduceProgram implements WebGPUProgram {
  outputShape: number[];
  shaderKey: string;
  dispatchLayout = { x: [0] };
  dispatch: [number, number, number];
  variableNames = ['P'];
  variableComponents = [4];
  outputComponent = 4;
  workgroupSize: [number, number, number] = [64, 1, 1];
  uniforms = 'chunks: i32, stride: i32, offset: i32, count: i32,';

  constructor(
    private readonly chunks: number,
    private readonly stride: number,
    private readonly offset: number,
    /** Output floats (a multiple of 4). */
    private readonly count: number,
  ) {
    this.outputShape = [count];
    this.dispatch = [Math.ceil(count / 4 / 64), 1, 1];
    this.shaderKey = `lunaSplitKReduce${faultKey('SplitKReduceProgram')}`;
  }

  uniformData(): { type: 'int32'; data: number[] }[] {
    return [this.chunks, this.stride, this.offset, this.count / 4].map((v) => ({ type: 'int32' as const, data: [v] }));
  }

  getUserCode(): string {
    return maybeFaulty(
      'SplitKReduceProgram',
      `
    fn main(index: i32) {
      if (index < uniforms.count) {
        var acc = vec4<f32>(0.0);
        for (var s = 0; s < uniforms.chunks; s++) {
          acc += P[s * uniforms.stride + uniforms.offset + index];
        }
        result[index] = acc;
      }
    }`,
    );
  }
}
