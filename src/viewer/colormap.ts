/**
 * Colours the viewer draws data with. Pure.
 *
 * `probColor`: p(nodule) in [0, 1] → blue (0) · yellow (0.5) · red (1), linear between the
 * stops, so "how sure" reads at a glance and both ends stay distinct from grey CT.
 * `heatRgba`: non-negative values (saliency) → a black-red-yellow-white ramp whose alpha
 * grows with the value, for an overlay on the crop.
 */
export type Rgb = readonly [number, number, number];

const PROB_STOPS: readonly Rgb[] = [
  [40, 110, 255],
  [255, 220, 0],
  [255, 20, 0],
];

/** Colour of annotations (the radiologists' nodules): independent of any model. */
export const ANNOTATION_RGB: Rgb = [0, 230, 120];
/** Candidates the model did not score (not in the run's validation set). */
export const UNSCORED_RGB: Rgb = [150, 150, 150];

export function probColor(p: number): Rgb {
  const t = Number.isFinite(p) ? Math.min(1, Math.max(0, p)) : 1;
  const x = t * (PROB_STOPS.length - 1);
  const k = Math.min(PROB_STOPS.length - 2, Math.floor(x));
  const f = x - k;
  const a = PROB_STOPS[k];
  const b = PROB_STOPS[k + 1];
  return [0, 1, 2].map((c) => Math.round(a[c] + (b[c] - a[c]) * f)) as unknown as Rgb;
}

export function cssRgb(c: Rgb, alpha = 1): string {
  return alpha === 1 ? `rgb(${c[0]}, ${c[1]}, ${c[2]})` : `rgba(${c[0]}, ${c[1]}, ${c[2]}, ${alpha})`;
}

/** RGBA of `values` scaled by `max` (values ≥ max are full heat). */
export function heatRgba(
  values: ArrayLike<number>,
  max: number,
  out = new Uint8ClampedArray(values.length * 4),
): Uint8ClampedArray {
  const s = max > 0 ? 1 / max : 0;
  for (let p = 0, o = 0; p < values.length; p++, o += 4) {
    const t = Math.min(1, Math.max(0, Math.abs(values[p]) * s));
    out[o] = Math.round(255 * Math.min(1, t * 3));
    out[o + 1] = Math.round(255 * Math.min(1, Math.max(0, t * 3 - 1)));
    out[o + 2] = Math.round(255 * Math.max(0, t * 3 - 2));
    out[o + 3] = Math.round(255 * Math.min(1, t * 1.5));
  }
  return out;
}
