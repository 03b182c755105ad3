/**
 * Which Conv3D configurations the lab's kernels cover: 3×3×3 filters, stride 1, no dilation,
 * float32, channels-last, Cin = 1 or a multiple of 4, Cout a multiple of 4, symmetric padding.
 * Everything else goes to the stock kernel.
 */
import * as tf from '@tensorflow/tfjs';

export interface Conv3DPlan {
  batch: number;
  inShape: [number, number, number];
  outShape: [number, number, number];
  cin: number;
  cout: number;
  pads: [number, number, number];
}

type Pad = 'valid' | 'same' | number;

function allOne(v: number | number[] | undefined): boolean {
  return v === undefined || (Array.isArray(v) ? v.every((s) => s === 1) : v === 1);
}

export function conv3dPlan(
  xShape: number[],
  filterShape: number[],
  strides: number | number[] | undefined,
  pad: Pad,
  dilations: number | number[] | undefined,
  dataFormat?: string,
): Conv3DPlan | null {
  if (xShape.length !== 5 || filterShape.length !== 5) return null;
  if (dataFormat !== undefined && dataFormat !== 'NDHWC') return null;
  if (!allOne(strides) || !allOne(dilations)) return null;
  const [k0, k1, k2, cin, cout] = filterShape;
  if (k0 !== 3 || k1 !== 3 || k2 !== 3) return null;
  if (!(cin === 1 || cin % 4 === 0) || cout % 4 !== 0 || xShape[4] !== cin) return null;
  if (typeof pad !== 'string' && typeof pad !== 'number') return null;
  const info = tf.backend_util.computeConv3DInfo(
    xShape as [number, number, number, number, number],
    filterShape as [number, number, number, number, number],
    1,
    1,
    pad,
  );
  const p = info.padInfo;
  if (p.front !== p.back || p.top !== p.bottom || p.left !== p.right || p.front > 2 || p.top > 2 || p.left > 2)
    return null;
  if (info.outDepth < 1 || info.outHeight < 1 || info.outWidth < 1) return null;
  return {
    batch: xShape[0],
    inShape: [xShape[1], xShape[2], xShape[3]],
    outShape: [info.outDepth, info.outHeight, info.outWidth],
    cin,
    cout,
    pads: [p.front, p.top, p.left],
  };
}
