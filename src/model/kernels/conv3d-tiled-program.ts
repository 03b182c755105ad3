/**
 * Conv3D (3×3×3, stride 1, any padding) as an implicit GEMM on WebGPU, channels-last.
 * Each workgroup stages its input halo and the weights of CT vec4s of output channels in
 * workgroup memory, four input channels at a time; each thread accumulates VW neighbouring
 * voxels along W × all CT vec4s of output channels in registers (sliding the halo row over
 * the three kw taps). Software WebGPU (SwiftShader) runs invocations as SIMD lanes, where
 * every load is a gather: the register blocking is what keeps loads per FMA low, and
 * neighbouring lanes differ only spatially, so they read the same weights. Cin = 1 has its own path (scalar halo, no channel chunks). Optional fused
 * bias + ReLU, so the pre-activation is never written. All shapes are baked into the shader
 * (and its shaderKey); the batch index comes from the dispatch, so it is not.
 *
 * `f16` (device feature shader-f16, forward only): the halo and weights are staged in workgroup
 * memory as f16 (half the bytes per load; inputs rounded to 11 significant bits) and widened to
 * f32 for the multiply-adds, which accumulate in f32. Not for gradients: small dy values would
 * lose their precision or flush to zero in f16.
 */
import type { WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';
import { faultKey, maybeFaulty } from './program-util.ts';
import { noteFeatureUse } from './features.ts';

export interface Conv3DTiledParams {
  batch: number;
  /** Input spatial size [D, H, W]. */
  inShape: readonly [number, number, number];
  /** Output spatial size [D, H, W]. */
  outShape: readonly [number, number, number];
  cin: number;
  cout: number;
  /** Padding before each spatial axis (front, top, left). */
  pads: readonly [number, number, number];
  bias: boolean;
  relu: boolean;
  /** Store only the first of the 4 output channels (cout = 4 computed, 1 written): the input
   *  gradient of a Cin = 1 convolution, with zero-padded weights. */
  firstChannelOnly?: boolean;
  /** Stage the halo and weights as f16 (needs the shader-f16 device feature). */
  f16?: boolean;
}

const MAX_WORKGROUP_BYTES = 16384;

export class Conv3DTiledProgram implements WebGPUProgram {
  outputShape: number[];
  shaderKey: string;
  dispatchLayout = { x: [0] };
  dispatch: [number, number, number];
  variableNames: string[];
  variableComponents: number[];
  outputComponent = 4;
  workgroupSize: [number, number, number];
  private readonly t: { vw: number; tw: number; th: number; td: number; ct: number; rh: number };

  constructor(private readonly p: Conv3DTiledParams) {
    const [od, oh, ow] = p.outShape;
    const cout4 = p.cout / 4;
    const vw = [8, 6, 4, 3, 2].find((v) => ow % v === 0) ?? Math.min(4, ow);
    let tw = vw;
    for (let k = Math.max(1, Math.floor(16 / vw)); k >= 1; k--) {
      if (ow % (k * vw) === 0 || k === 1) {
        tw = k * vw;
        break;
      }
    }
    const ct = [2, 1].find((c) => cout4 % c === 0)!;
    const budget = Math.max(1, Math.floor(32 / (tw / vw)));
    const th = Math.min(budget >= 4 ? 4 : budget >= 2 ? 2 : 1, oh);
    let td = Math.max(1, Math.min(4, Math.floor(budget / th), od));
    const haloBytes = (d: number) =>
      (d + 2) * (th + 2) * (tw + 2) * (p.cin === 1 ? 4 : 16) + (p.cin === 1 ? 27 : 108) * ct * 16;
    while (td > 1 && haloBytes(td) > MAX_WORKGROUP_BYTES) td--;
    // Two output rows per thread where the tile has them: each staged weight serves twice the voxels.
    const rh = th % 2 === 0 ? 2 : 1;
    this.t = { vw, tw, th, td, ct, rh };
    this.workgroupSize = [(tw / vw) * (th / rh) * td, 1, 1];
    const tiles = Math.ceil(od / td) * Math.ceil(oh / th) * Math.ceil(ow / tw);
    this.dispatch = [tiles, p.batch, cout4 / ct];
    if (p.firstChannelOnly && p.cout !== 4) throw new Error(`firstChannelOnly needs cout 4, got ${p.cout}`);
    if (p.firstChannelOnly) this.outputComponent = 1;
    this.outputShape = [p.batch * od * oh * ow * (p.firstChannelOnly ? 1 : p.cout)];
    this.variableNames = p.bias ? ['x', 'W', 'B'] : ['x', 'W'];
    this.variableComponents = p.bias ? [p.cin === 1 ? 1 : 4, 4, 4] : [p.cin === 1 ? 1 : 4, 4];
    this.shaderKey =
      `lunaConv3d_${p.inShape.join('x')}_${p.outShape.join('x')}_${p.cin}_${p.cout}_${p.pads.join('x')}_` +
      `${p.bias}_${p.relu}_${!!p.firstChannelOnly}_${vw}_${tw}_${th}_${td}_${ct}_${rh}${p.f16 ? '_f16' : ''}${faultKey('Conv3DTiledProgram')}`;
    if (p.f16) noteFeatureUse('shader-f16');
  }

  getUserCode(): string {
    const { p, t } = this;
    const [D, H, W] = p.inShape;
    const [OD, OH, OW] = p.outShape;
    const cin1 = p.cin === 1;
    const twt = t.tw / t.vw;
    const wg = this.workgroupSize[0];
    const [HD, HH, HW] = [t.td + 2, t.th + 2, t.tw + 2];
    const halo = HD * HH * HW;
    const nw = cin1 ? 27 * t.ct : 108 * t.ct;
    const vec = 'vec4<f32>';
    // Workgroup element types, and the widening of a loaded element to f32 (identity without f16).
    const f16 = !!p.f16;
    const xsType = f16 ? (cin1 ? 'f16' : 'vec4<f16>') : cin1 ? 'f32' : vec;
    const wsType = f16 ? 'vec4<f16>' : vec;
    const widenX = (e: string) => (f16 ? (cin1 ? `f32(${e})` : `${vec}(${e})`) : e);
    const widenW = (e: string) => (f16 ? `${vec}(${e})` : e);
    const narrowX = (e: string) => (f16 ? `${xsType}(${e})` : e);
    const narrowW = (e: string) => (f16 ? `${wsType}(${e})` : e);
    // The 9 (kd, kh) rows stay a loop (fully unrolled shaders took SwiftShader ~5–9 s to compile);
    // kw, the voxels and the channel vec4s are unrolled so the accumulators live in registers.
    const R = Array.from({ length: t.rh }, (_, r) => r);
    const lines: string[] = [
      `for (var kk = 0; kk < 9; kk++) {`,
      `let row = ((tz + kk / 3) * ${HH} + ty * ${t.rh} + kk % 3) * ${HW} + tx * ${t.vw};`,
    ];
    for (const r of R)
      for (let i = 0; i < t.vw + 2; i++) lines.push(`let x${r}_${i} = ${widenX(`xs[row + ${r * HW + i}]`)};`);
    for (let kw = 0; kw < 3; kw++) {
      for (let c = 0; c < t.ct; c++) {
        if (cin1) {
          lines.push(`{ let w = ${widenW(`ws[(kk * 3 + ${kw}) * ${t.ct} + ${c}]`)};`);
          for (const r of R) for (let v = 0; v < t.vw; v++) lines.push(`acc${v}_${r}_${c} += w * x${r}_${v + kw};`);
        } else {
          lines.push(`{ let b = (kk * 3 + ${kw}) * ${4 * t.ct} + ${c};`);
          lines.push(
            `let m = mat4x4<f32>(${[0, 1, 2, 3].map((j) => widenW(j ? `ws[b + ${j * t.ct}]` : 'ws[b]')).join(', ')});`,
          );
          for (const r of R) for (let v = 0; v < t.vw; v++) lines.push(`acc${v}_${r}_${c} += m * x${r}_${v + kw};`);
        }
        lines.push('}');
      }
    }
    lines.push('}');
    const compute = lines.join('\n      ');
    const accs: string[] = [];
    const writes: string[] = [];
    for (const r of R) {
      writes.push(`if (oh0 + ${r} < ${OH}) { let rowOut = ((n * ${OD} + od) * ${OH} + oh0 + ${r}) * ${OW};`);
      for (let v = 0; v < t.vw; v++) {
        for (let c = 0; c < t.ct; c++) {
          accs.push(`var acc${v}_${r}_${c} = ${vec}(0.0);`);
          writes.push(`{ let ow = ow0 + ${v};
        if (ow < ${OW}) {
          var o = acc${v}_${r}_${c};
          ${p.bias ? `o += B[coBase + ${c}];` : ''}
          ${p.relu ? `o = max(o, ${vec}(0.0));` : ''}
          ${p.firstChannelOnly ? 'result[rowOut + ow] = o.x;' : `result[(rowOut + ow) * ${p.cout / 4} + coBase + ${c}] = o;`}
        } }`);
        }
      }
      writes.push('}');
    }
    const loadHalo = (c4: string) => `
      for (var i = li; i < ${halo}; i += ${wg}) {
        let hw = i % ${HW};
        let hh = (i / ${HW}) % ${HH};
        let hd = i / ${HW * HH};
        let d = d0 + hd;
        let h = h0 + hh;
        let w = w0 + hw;
        var v = ${cin1 ? 'f32(0.0)' : `${vec}(0.0)`};
        if (d >= 0 && d < ${D} && h >= 0 && h < ${H} && w >= 0 && w < ${W}) {
          v = x[xBase + ((d * ${H} + h) * ${W} + w) * ${cin1 ? 1 : p.cin / 4}${cin1 ? '' : ` + ${c4}`}];
        }
        xs[i] = ${narrowX('v')};
      }`;
    const loadWeights = cin1
      ? `for (var i = li; i < ${nw}; i += ${wg}) {
        ws[i] = ${narrowW(`W[(i / ${t.ct}) * ${p.cout / 4} + coBase + i % ${t.ct}]`)};
      }`
      : `for (var i = li; i < ${nw}; i += ${wg}) {
        let kj = i / ${t.ct};
        ws[i] = ${narrowW(`W[((kj / 4) * ${p.cin} + c4 * 4 + kj % 4) * ${p.cout / 4} + coBase + i % ${t.ct}]`)};
      }`;
    const code = `${f16 ? '\n    enable f16;' : ''}
    var<workgroup> xs: array<${xsType}, ${halo}>;
    var<workgroup> ws: array<${wsType}, ${nw}>;
    fn main(flatIndex: i32) {
      _ = uniforms.NAN; // keeps the uniform binding in the auto layout tfjs binds
      let li = i32(localIndex);
      let s = li;
      let tx = s % ${twt};
      let ty = (s / ${twt}) % ${t.th / t.rh};
      let tz = s / ${(twt * t.th) / t.rh};
      let tile = i32(workgroupId.x);
      let tilesW = ${Math.ceil(OW / t.tw)};
      let tilesH = ${Math.ceil(OH / t.th)};
      let bw = tile % tilesW;
      let bh = (tile / tilesW) % tilesH;
      let bd = tile / (tilesW * tilesH);
      let n = i32(workgroupId.y);
      let coBase = i32(workgroupId.z) * ${t.ct};
      let d0 = bd * ${t.td} - ${p.pads[0]};
      let h0 = bh * ${t.th} - ${p.pads[1]};
      let w0 = bw * ${t.tw} - ${p.pads[2]};
      let xBase = n * ${D * H * W * (cin1 ? 1 : p.cin / 4)};
      ${accs.join(' ')}
      ${
        cin1
          ? `${loadHalo('0')}
      ${loadWeights}
      workgroupBarrier();
      ${compute}`
          : `for (var c4 = 0; c4 < ${p.cin / 4}; c4++) {
      ${loadHalo('c4')}
      ${loadWeights}
      workgroupBarrier();
      ${compute}
      workgroupBarrier();
      }`
      }
      let od = bd * ${t.td} + tz;
      let oh0 = bh * ${t.th} + ty * ${t.rh};
      let ow0 = bw * ${t.tw} + tx * ${t.vw};
      if (od < ${OD}) {
      ${writes.join('\n      ')}
      }
    }`;
    return maybeFaulty('Conv3DTiledProgram', code);
  }
}
