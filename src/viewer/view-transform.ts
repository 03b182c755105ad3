/**
 * Canvas ↔ display pixel ↔ voxel ↔ world for one plane of one volume. Pure.
 *
 * Promise: the plane is drawn aspect-correct (one canvas px is the same number of mm along
 * both canvas axes), fitted into the canvas, centred, then scaled by `zoom` about the canvas
 * centre and shifted by `pan` (canvas px). Display pixel coordinates are continuous: voxel k
 * covers [k, k+1), its centre is k + 0.5. Voxel coordinates are continuous (index, row, col)
 * whose integers are voxel centres, as `ircToXyz` takes them; world mm go through
 * src/data/geometry.ts, exactly the book's irc↔xyz.
 */
import { ircToXyz, xyzToCriFloat, type Geometry } from '../data/geometry.ts';
import type { Irc, Vec3 } from '../data/volume.ts';
import type { PlaneGeometry } from './plane.ts';

export interface ViewParams {
  canvasWidth: number;
  canvasHeight: number;
  /** 1 = the whole plane fits the canvas. */
  zoom: number;
  panX: number;
  panY: number;
}

export class ViewTransform {
  /** Canvas px per mm. */
  readonly scale: number;
  /** Canvas position of the plane's top-left corner. */
  readonly x0: number;
  readonly y0: number;

  constructor(
    readonly plane: PlaneGeometry,
    readonly view: ViewParams,
    readonly geometry: Geometry,
  ) {
    const wMm = plane.width * plane.pixelMm[0];
    const hMm = plane.height * plane.pixelMm[1];
    this.scale = Math.min(view.canvasWidth / wMm, view.canvasHeight / hMm) * view.zoom;
    this.x0 = (view.canvasWidth - wMm * this.scale) / 2 + view.panX;
    this.y0 = (view.canvasHeight - hMm * this.scale) / 2 + view.panY;
  }

  /** Canvas px of one display pixel along x and y. */
  get pixelSize(): readonly [number, number] {
    return [this.plane.pixelMm[0] * this.scale, this.plane.pixelMm[1] * this.scale];
  }

  canvasToDisplay(x: number, y: number): [number, number] {
    const [pw, ph] = this.pixelSize;
    return [(x - this.x0) / pw, (y - this.y0) / ph];
  }

  displayToCanvas(px: number, py: number): [number, number] {
    const [pw, ph] = this.pixelSize;
    return [this.x0 + px * pw, this.y0 + py * ph];
  }

  /** Continuous voxel coordinates of a display point on slice `slice` (along the normal). */
  displayToIrc(px: number, py: number, slice: number): Irc {
    const g = this.plane;
    const out = [0, 0, 0];
    out[g.normal] = slice;
    out[g.u] = px - 0.5;
    out[g.v] = g.flipV ? g.height - py - 0.5 : py - 0.5;
    return [out[0], out[1], out[2]];
  }

  /** Display point of continuous voxel coordinates, and its depth along the normal. */
  ircToDisplay(irc: Irc): { px: number; py: number; depth: number } {
    const g = this.plane;
    return {
      px: irc[g.u] + 0.5,
      py: g.flipV ? g.height - irc[g.v] - 0.5 : irc[g.v] + 0.5,
      depth: irc[g.normal],
    };
  }

  canvasToIrc(x: number, y: number, slice: number): Irc {
    const [px, py] = this.canvasToDisplay(x, y);
    return this.displayToIrc(px, py, slice);
  }

  ircToCanvas(irc: Irc): { x: number; y: number; depth: number } {
    const d = this.ircToDisplay(irc);
    const [x, y] = this.displayToCanvas(d.px, d.py);
    return { x, y, depth: d.depth };
  }

  canvasToXyz(x: number, y: number, slice: number): Vec3 {
    return ircToXyz(this.canvasToIrc(x, y, slice), this.geometry);
  }

  xyzToCanvas(xyz: Vec3): { x: number; y: number; depth: number } {
    return this.ircToCanvas(xyzToIrcFloat(xyz, this.geometry));
  }

  mmToCanvas(mm: number): number {
    return mm * this.scale;
  }
}

/** Continuous (unrounded) voxel coordinates of a world point: `xyzToIrc` without rounding. */
export function xyzToIrcFloat(xyz: Vec3, g: Geometry): Irc {
  const cri = xyzToCriFloat(xyz, g);
  return [cri[2], cri[1], cri[0]];
}

/** Nearest voxel (rounded to the nearest centre) of continuous voxel coordinates. */
export function nearestVoxel(irc: Irc): Irc {
  return [Math.round(irc[0]), Math.round(irc[1]), Math.round(irc[2])];
}

/** Zoom about a canvas point: the world under (x, y) stays under it. */
export function zoomAbout(view: ViewParams, factor: number, x: number, y: number, min = 0.5, max = 32): ViewParams {
  const zoom = Math.min(max, Math.max(min, view.zoom * factor));
  const f = zoom / view.zoom;
  // A point at offset o from the centre (after pan) moves to o·f; shift the pan to undo it.
  const cx = view.canvasWidth / 2 + view.panX;
  const cy = view.canvasHeight / 2 + view.panY;
  return { ...view, zoom, panX: view.panX + (x - cx) * (1 - f), panY: view.panY + (y - cy) * (1 - f) };
}

/**
 * The view after a jump to world point `xyz`: the zoom kept (at least `minZoom`), the point at
 * the canvas centre where it can be, but the pan limited on each axis so a plane larger than the
 * canvas still covers it (no empty band beside the scan) and a smaller one stays centred. At
 * zoom 1 the whole plane is in view, so nothing moves; a point near the scan's edge is drawn
 * off-centre, where the scan really is.
 */
export function focusView(
  plane: PlaneGeometry,
  view: ViewParams,
  geometry: Geometry,
  xyz: Vec3,
  minZoom = 1,
): ViewParams {
  const zoomed = { ...view, zoom: Math.max(view.zoom, minZoom), panX: 0, panY: 0 };
  const t = new ViewTransform(plane, zoomed, geometry);
  const p = t.xyzToCanvas(xyz);
  const limit = (extentPx: number, canvas: number) => Math.max(0, (extentPx - canvas) / 2);
  const clamp = (v: number, l: number) => Math.min(l, Math.max(-l, v));
  const [pw, ph] = t.pixelSize;
  return {
    ...zoomed,
    panX: clamp(view.canvasWidth / 2 - p.x, limit(plane.width * pw, view.canvasWidth)),
    panY: clamp(view.canvasHeight / 2 - p.y, limit(plane.height * ph, view.canvasHeight)),
  };
}
