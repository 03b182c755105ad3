/**
 * Test-only (Node, reads files): two REAL CT crops of LIDC-IDRI-0001 from ../shared/ct-samples,
 * for tests that compare the model with an independent reference (PyTorch, onnxruntime).
 *
 * Promise: `loadLidcCrops(crop)` reads the series once per process (DICOM, our reader), clamps
 * it to HU [-1000, 1000] and cuts two crops of `crop` = [D, H, W] around the LUNA16 annotation
 * of this series (a nodule) and around a point in the other lung, as the lab's sampler does
 * (shifted inside the volume, padded with air where the volume is thinner than the crop). It
 * checks that the centre voxels are soft tissue and air-filled lung respectively, so a wrong
 * geometry fails here rather than as a vague numeric mismatch. Not named *.test.ts: vitest does
 * not collect it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { cropWindow, extractCrop } from '../data/crop.ts';
import { readDicomSeries } from '../data/dicom.ts';
import { xyzToIrc } from '../data/geometry.ts';
import { clampHu, type Vec3, type Volume } from '../data/volume.ts';

export const LIDC_0001_DIR = path.resolve(
  process.cwd(),
  '../shared/ct-samples/lidc-idri-0001/1.3.6.1.4.1.14519.5.2.1.6279.6001.298806137288633453246975630178',
  '1.3.6.1.4.1.14519.5.2.1.6279.6001.179049373636438705059720603192',
);
/** The LUNA16 annotation of this series (annotations.csv), and a point in the other lung. */
export const LIDC_NODULE_XYZ: Vec3 = [56.208, 86.343, -115.868];
export const LIDC_LUNG_XYZ: Vec3 = [-67.56, 4.08, -115.0];
/** Labels of the two crops, in order: nodule, not a nodule. */
export const LIDC_LABELS = [1, 0] as const;

export interface LidcCrops {
  /** [2, D, H, W] float32 HU, x fastest (the same bytes as [2, D, H, W, 1] and [2, 1, D, H, W]). */
  data: Float32Array;
  /** Per crop: whether the window reached past the volume (padded with air). */
  padded: boolean[];
}

let cached: { volume: Volume; hu: Int16Array } | null = null;

function loadSeries(): { volume: Volume; hu: Int16Array } {
  if (cached) return cached;
  const files = fs
    .readdirSync(LIDC_0001_DIR)
    .map((name) => ({ file: name, bytes: fs.readFileSync(path.join(LIDC_0001_DIR, name)) }));
  const { volumes, errors } = readDicomSeries(files);
  if (errors.length) throw new Error(`LIDC-IDRI-0001: ${errors.map((e) => JSON.stringify(e)).join('; ')}`);
  if (volumes.length !== 1) throw new Error(`LIDC-IDRI-0001: expected 1 series, got ${volumes.length}`);
  cached = { volume: volumes[0], hu: clampHu(volumes[0].data) };
  return cached;
}

export function loadLidcCrops(crop: readonly [number, number, number]): LidcCrops {
  const { volume: v, hu } = loadSeries();
  const n = crop[0] * crop[1] * crop[2];
  const data = new Float32Array(2 * n);
  const padded: boolean[] = [];
  [LIDC_NODULE_XYZ, LIDC_LUNG_XYZ].forEach((xyz, i) => {
    const irc = xyzToIrc(xyz, v);
    const win = cropWindow(irc, v.shape, crop);
    const c = extractCrop(hu, v.shape, win);
    const centre = c[((irc[0] - win.start[0]) * crop[1] + (irc[1] - win.start[1])) * crop[2] + (irc[2] - win.start[2])];
    if (i === 0 && !(centre > -300)) throw new Error(`nodule crop: centre voxel ${centre} HU is not soft tissue`);
    if (i === 1 && !(centre < -700)) throw new Error(`lung crop: centre voxel ${centre} HU is not air-filled lung`);
    padded.push(win.padded);
    data.set(c, i * n);
  });
  return { data, padded };
}
