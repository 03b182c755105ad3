/**
 * Second pass of a split-K GEMM: out[i] = Σ_s partial[s·stride + offset + i] (vec4s), one
 * thread per output vec4. Shapes are uniforms, so one shader serves every layer.
 *
 * With `subgroups` (when there are at least SUBGROUP_MIN_CHUNKS chunks: the early layers, few
 * outputs and many chunks, where one thread per output sums a long serial chain) one workgroup
 * per output vec4 instead: its 64 threads sum strided chunks, `subgroupAdd` sums each subgroup,
 * and one thread adds the subgroup sums in a fixed order (no atomics, deterministic). It assumes
 * nothing about the subgroup size or which invocations share a subgroup. f32 throughout.
 * Aimed at hardware GPUs, where that serial chain is latency-bound (unmeasured there). On
 * SwiftShader (shared 2-core machine, whole weight-gradient op at batch 4) it is no faster: equal
 * for the first layer (54 output vec4s), ~4% slower for the second (432), ~45% slower for block
 * 2's second conv (864 workgroups with a barrier each, costly on a CPU); at 32 chunks it was 3.7×
 * slower, hence the threshold.
 */
import type { WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';
import { faultKey, maybeFaulty } from './program-util.ts';
import { noteFeatureUse } from './features.ts';

/** Fewer chunks than this are summed by the plain one-thread-per-output program. */
export const SUBGROUP_MIN_CHUNKS = 64;
const MAX_WORKGROUPS = 65535;

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
  /** Whether this instance is the subgroup variant. */
  readonly subgroups: boolean;

  constructor(
    private readonly chunks: number,
    private readonly stride: number,
    private readonly offset: number,
    /** Output floats (a multiple of 4). */
    private readonly count: number,
    /** Use the subgroup variant where it applies (the device must have `subgroups`). */
    subgroups = false,
  ) {
    this.outputShape = [count];
    this.subgroups = subgroups && chunks >= SUBGROUP_MIN_CHUNKS && count / 4 <= MAX_WORKGROUPS;
    this.dispatch = this.subgroups ? [count / 4, 1, 1] : [Math.ceil(count / 4 / 64), 1, 1];
    if (this.subgroups) noteFeatureUse('subgroups');
    this.shaderKey = `lunaSplitKReduce${this.subgroups ? '_subgroups' : ''}${faultKey('SplitKReduceProgram')}`;
  }

  uniformData(): { type: 'int32'; data: number[] }[] {
    return [this.chunks, this.stride, this.offset, this.count / 4].map((v) => ({ type: 'int32' as const, data: [v] }));
  }

  getUserCode(): string {
    if (this.subgroups) {
      return maybeFaulty(
        'SplitKReduceProgram',
        `
    enable subgroups;
    diagnostic(off, subgroup_uniformity);
    var<workgroup> sums: array<vec4<f32>, 64>;
    fn main(index: i32) {
      let li = i32(localIndex);
      let o = i32(workgroupId.x);
      var acc = vec4<f32>(0.0);
      for (var s = li; s < uniforms.chunks; s += 64) {
        acc += P[s * uniforms.stride + uniforms.offset + o];
      }
      let total = subgroupAdd(acc);
      // One slot per subgroup (its lowest invocation), zeros elsewhere: adding zeros is exact.
      let lead = subgroupMin(li);
      sums[li] = select(vec4<f32>(0.0), total, li == lead);
      workgroupBarrier();
      if (li == 0) {
        var sum = vec4<f32>(0.0);
        for (var i = 0; i < 64; i++) {
          sum += sums[i];
        }
        result[o] = sum;
      }
    }`,
      );
    }
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
