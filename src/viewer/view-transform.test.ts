import { describe, expect, it } from 'vitest';
import { ircToXyz, xyzToIrc, type Geometry } from '../data/geometry.ts';
import type { Irc, Vec3 } from '../data/volume.ts';
import { PLANES, planeGeometry } from './plane.ts';
import { ViewTransform, focusView, nearestVoxel, xyzToIrcFloat, zoomAbout, type ViewParams } from './view-transform.ts';

// LIDC-IDRI-0001's real geometry (16 × 512 × 512), and a flipped one (x, y mirrored, z down).
const LIDC: Geometry = {
  origin: [-166, -171.699997, -132.5],
  spacing: [0.703125, 0.703125, 2.5],
  direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
};
const FLIPPED: Geometry = {
  origin: [10, -20, 30],
  spacing: [0.8, 0.9, 1.5],
  direction: [-1, 0, 0, 0, -1, 0, 0, 0, -1],
};
const SHAPE: Irc = [16, 512, 512];
const VIEW: ViewParams = { canvasWidth: 512, canvasHeight: 400, zoom: 1, panX: 0, panY: 0 };

describe('ViewTransform', () => {
  for (const g of [LIDC, FLIPPED]) {
    for (const plane of PLANES) {
      it(`canvas → voxel → world → voxel → canvas round trip (${plane}, ${g === LIDC ? 'LIDC' : 'flipped'})`, () => {
        const pg = planeGeometry(plane, SHAPE, g.spacing, g.direction);
        for (const view of [VIEW, { ...VIEW, zoom: 3.7, panX: -41, panY: 13 }]) {
          const t = new ViewTransform(pg, view, g);
          for (const [x, y] of [
            [10.5, 20.25],
            [256, 200],
            [500, 391],
          ]) {
            const slice = 7;
            const irc = t.canvasToIrc(x, y, slice);
            expect(irc[pg.normal]).toBe(slice);
            const xyz = ircToXyz(irc, g);
            const back = xyzToIrcFloat(xyz, g);
            for (let a = 0; a < 3; a++) expect(back[a]).toBeCloseTo(irc[a], 9);
            const cv = t.xyzToCanvas(xyz);
            expect(cv.x).toBeCloseTo(x, 9);
            expect(cv.y).toBeCloseTo(y, 9);
            expect(cv.depth).toBeCloseTo(slice, 9);
          }
        }
      });
    }
  }

  it("keeps the book's irc↔xyz: for an unsymmetric (rotated) direction its xyz→irc is not irc→xyz inverted", () => {
    // util.xyz2irc multiplies by inv(direction) from the right, irc2xyz by direction from the
    // left; LUNA16's directions are diagonal, where both agree. The viewer inherits this.
    const c = Math.cos(0.3);
    const s = Math.sin(0.3);
    const rotated: Geometry = { origin: [0, 0, 0], spacing: [1, 1, 1], direction: [c, -s, 0, s, c, 0, 0, 0, 1] };
    const back = xyzToIrcFloat(ircToXyz([0, 0, 10], rotated), rotated);
    expect(back[2]).not.toBeCloseTo(10, 3);
  });

  it('draws aspect-correct: a canvas px is the same mm along x and y in every plane', () => {
    for (const plane of PLANES) {
      const t = new ViewTransform(planeGeometry(plane, SHAPE, LIDC.spacing, LIDC.direction), VIEW, LIDC);
      const a = t.canvasToXyz(100, 100, 3);
      const right = t.canvasToXyz(110, 100, 3);
      const down = t.canvasToXyz(100, 110, 3);
      const dist = (p: Vec3, q: Vec3) => Math.hypot(p[0] - q[0], p[1] - q[1], p[2] - q[2]);
      expect(dist(a, right)).toBeCloseTo(dist(a, down), 9);
      expect(dist(a, right)).toBeCloseTo(10 / t.scale, 9);
    }
  });

  it('fits the plane into the canvas and centres it', () => {
    // Coronal LIDC: 512 cols × 0.703 mm = 360 mm wide, 16 × 2.5 = 40 mm high.
    const t = new ViewTransform(planeGeometry('coronal', SHAPE, LIDC.spacing, LIDC.direction), VIEW, LIDC);
    expect(t.scale).toBeCloseTo(512 / 360, 9);
    expect(t.x0).toBeCloseTo(0, 9);
    expect(t.y0).toBeCloseTo((400 - 40 * t.scale) / 2, 9);
  });

  it('axial: the voxel under a canvas point is where xyzToIrc puts its world point', () => {
    const t = new ViewTransform(planeGeometry('axial', SHAPE, LIDC.spacing, LIDC.direction), VIEW, LIDC);
    // The LUNA16 nodule of LIDC-IDRI-0001.
    const nodule: Vec3 = [56.208, 86.343, -115.868];
    const p = t.xyzToCanvas(nodule);
    expect(xyzToIrc(nodule, LIDC)).toEqual([7, 367, 316]);
    expect(nearestVoxel(t.canvasToIrc(p.x, p.y, 7))).toEqual([7, 367, 316]);
    expect(p.depth).toBeCloseTo(6.6528, 4);
  });

  it('coronal and sagittal put the head (higher z) at the top', () => {
    for (const plane of ['coronal', 'sagittal'] as const) {
      const t = new ViewTransform(planeGeometry(plane, SHAPE, LIDC.spacing, LIDC.direction), VIEW, LIDC);
      expect(t.canvasToXyz(256, 190, 100)[2]).toBeGreaterThan(t.canvasToXyz(256, 210, 100)[2]);
    }
  });

  it('zoomAbout keeps the point under the cursor fixed', () => {
    const pg = planeGeometry('axial', SHAPE, LIDC.spacing, LIDC.direction);
    const before = new ViewTransform(pg, VIEW, LIDC);
    const at = before.canvasToIrc(123, 321, 4);
    for (const f of [2, 0.7, 1.25]) {
      const view = zoomAbout({ ...VIEW, panX: 17, panY: -9 }, f, 123, 321);
      const b2 = new ViewTransform(pg, { ...VIEW, panX: 17, panY: -9 }, LIDC);
      const a2 = new ViewTransform(pg, view, LIDC);
      const p = b2.canvasToIrc(123, 321, 4);
      const q = a2.canvasToIrc(123, 321, 4);
      for (let k = 0; k < 3; k++) expect(q[k]).toBeCloseTo(p[k], 9);
    }
    expect(at[0]).toBe(4);
    expect(zoomAbout(VIEW, 1000, 0, 0).zoom).toBe(32);
  });
});

describe('focusView (a jump to a world point)', () => {
  const SQUARE: ViewParams = { canvasWidth: 512, canvasHeight: 512, zoom: 1, panX: 0, panY: 0 };
  const ZOOMED: ViewParams = { ...SQUARE, zoom: 2 };
  const axial = planeGeometry('axial', SHAPE, LIDC.spacing, LIDC.direction);
  const at = (irc: Irc) => ircToXyz(irc, LIDC);
  // Canvas px of the plane's edges: the scan covers the canvas when left ≤ 0 and right ≥ width.
  const edges = (v: ViewParams) => {
    const t = new ViewTransform(axial, v, LIDC);
    const [pw, ph] = t.pixelSize;
    return { left: t.x0, top: t.y0, right: t.x0 + axial.width * pw, bottom: t.y0 + axial.height * ph };
  };

  it('zoomed in, centres a point in the middle of the scan and keeps the zoom', () => {
    const xyz = at([7, 250, 300]);
    const v = focusView(axial, { ...ZOOMED, panX: 40, panY: -70 }, LIDC, xyz);
    expect(v.zoom).toBe(2);
    const p = new ViewTransform(axial, v, LIDC).xyzToCanvas(xyz);
    expect(p.x).toBeCloseTo(256, 6);
    expect(p.y).toBeCloseTo(256, 6);
  });

  it('at zoom 1 the plane fills the canvas: nothing moves, however it was panned', () => {
    const v = focusView(axial, { ...SQUARE, panX: 80, panY: -30 }, LIDC, at([7, 100, 400]));
    expect([v.zoom, Math.abs(v.panX), Math.abs(v.panY)]).toEqual([1, 0, 0]);
    expect(focusView(axial, SQUARE, LIDC, at([7, 100, 400]), 3).zoom).toBe(3);
  });

  it('near the edge: the scan still covers the canvas, the point drawn where the scan is', () => {
    for (const irc of [
      [7, 3, 3],
      [7, 508, 10],
      [7, 256, 509],
    ] as Irc[]) {
      const xyz = at(irc);
      const v = focusView(axial, ZOOMED, LIDC, xyz);
      const e = edges(v);
      expect(e.left).toBeLessThanOrEqual(1e-9);
      expect(e.top).toBeLessThanOrEqual(1e-9);
      expect(e.right).toBeGreaterThanOrEqual(512 - 1e-9);
      expect(e.bottom).toBeGreaterThanOrEqual(512 - 1e-9);
      const p = new ViewTransform(axial, v, LIDC).xyzToCanvas(xyz);
      expect(p.x).toBeGreaterThanOrEqual(0);
      expect(p.x).toBeLessThan(512);
      expect(p.y).toBeGreaterThanOrEqual(0);
      expect(p.y).toBeLessThan(512);
      expect(Math.hypot(p.x - 256, p.y - 256)).toBeGreaterThan(100); // not faked to the centre
    }
  });

  it('a plane smaller than the canvas along an axis stays centred on it (no pan there)', () => {
    // Coronal LIDC at zoom 2: 360 mm × 2.84 px/mm = 1024 px wide, 114 px high on a 512 × 400 canvas.
    const coronal = planeGeometry('coronal', SHAPE, LIDC.spacing, LIDC.direction);
    const v = focusView(coronal, { ...VIEW, zoom: 2 }, LIDC, at([2, 256, 100]));
    expect(Math.abs(v.panY)).toBe(0);
    expect(Math.abs(v.panX)).toBeLessThanOrEqual((1024 - 512) / 2 + 1e-9);
  });
});
