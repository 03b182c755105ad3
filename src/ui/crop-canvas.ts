/**
 * Drawing one central slice of a model input crop (and, optionally, its saliency) onto a
 * canvas: the gallery's thumbnails and the crop view. DOM only; the geometry is
 * src/viewer/plane.ts, the grey src/viewer/window-level.ts, the heat src/viewer/colormap.ts.
 */
import { IDENTITY, type Vec3 } from '../data/volume.ts';
import { extractPlane, planeGeometry, type Plane } from '../viewer/plane.ts';
import { planeToRgba, windowLut, type WindowLevel } from '../viewer/window-level.ts';
import { heatRgba } from '../viewer/colormap.ts';

export interface CropImage {
  crop: ArrayLike<number>;
  shape: readonly [number, number, number];
  /** The series' voxel spacing (x, y, z mm), for the aspect. */
  spacing: Vec3;
}

export interface Overlay {
  values: Float32Array;
  /** Full scale of the heat ramp. */
  max: number;
}

/** Draw the central `plane` slice of the crop, `height` canvas px high, aspect-correct.
 *  The canvas is resized to fit; returns the slice index drawn. */
export function drawCropSlice(
  canvas: HTMLCanvasElement,
  img: CropImage,
  plane: Plane,
  wl: WindowLevel,
  height: number,
  overlay?: Overlay,
): number {
  // Crops are axis-aligned with the volume; a crop's own direction is irrelevant to its aspect,
  // but coronal/sagittal keep the viewer's head-up flip.
  const g = planeGeometry(plane, img.shape, img.spacing, IDENTITY);
  const k = Math.floor(g.depth / 2);
  const grey = new ImageData(g.width, g.height);
  planeToRgba(extractPlane(img.crop, img.shape, g, k), windowLut(wl), grey.data);
  const mmW = g.width * g.pixelMm[0];
  const mmH = g.height * g.pixelMm[1];
  canvas.height = height;
  canvas.width = Math.max(1, Math.round((height * mmW) / mmH));
  const ctx = canvas.getContext('2d')!;
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(toCanvas(grey), 0, 0, canvas.width, canvas.height);
  if (overlay) {
    const heat = new ImageData(g.width, g.height);
    heatRgba(
      extractPlane(overlay.values, img.shape, g, k, new Float32Array(g.width * g.height)),
      overlay.max,
      heat.data,
    );
    ctx.drawImage(toCanvas(heat), 0, 0, canvas.width, canvas.height);
  }
  return k;
}

function toCanvas(data: ImageData): HTMLCanvasElement {
  const c = document.createElement('canvas');
  c.width = data.width;
  c.height = data.height;
  c.getContext('2d')!.putImageData(data, 0, 0);
  return c;
}
