/**
 * Inspecting predictions in Debian Chromium with the real app: the CT viewer on a real LIDC
 * series with the official annotations.csv, and the prediction browser on a run trained
 * through the page (a small model on the synthetic training scans, software WebGPU).
 * Screenshots are checked for content: each PNG is decoded (in the page, by the browser's own
 * decoder) and its pixels are tested where the geometry says things must be.
 */
import { test, expect, type Locator, type Page } from '@playwright/test';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CT_SAMPLES, SYNTH_TRAIN } from './paths.ts';
import { SMALL_MODEL, dropFolder, expectScanInView, openLab, runs, setConfig, waitTrainIdle } from './lab.ts';
import { parseMetaHeader } from '../src/data/metaimage.ts';
import { xyzToIrc, type Geometry } from '../src/data/geometry.ts';
import type { Mat3, Vec3 } from '../src/data/volume.ts';
import { probColor, ANNOTATION_RGB } from '../src/viewer/colormap.ts';

const LIDC_UID = '1.3.6.1.4.1.14519.5.2.1.6279.6001.179049373636438705059720603192';
/** annotations.csv's nodule of LIDC-IDRI-0001. */
const NODULE: Vec3 = [56.208, 86.343, -115.868];
const NODULE_D = 23.35;
/** The series' DICOM geometry (ImagePositionPatient of the lowest slice, PixelSpacing, 2.5 mm
 *  slices), as src/data/dicom.test.ts reads it from the files. */
const LIDC_ORIGIN = [-166, -171.699997, -132.5];
const LIDC_PIXEL = 0.703125;
const LIDC_SLICE = 2.5;

/** RGBA pixels of a PNG screenshot, decoded by the browser's PNG decoder. */
class Png {
  constructor(
    readonly width: number,
    readonly height: number,
    readonly data: Uint8Array,
  ) {}

  static async decode(page: Page, png: Buffer): Promise<Png> {
    const out = await page.evaluate(async (b64) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const bitmap = await createImageBitmap(new Blob([bytes], { type: 'image/png' }));
      const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
      const ctx = canvas.getContext('2d')!;
      ctx.drawImage(bitmap, 0, 0);
      const rgba = ctx.getImageData(0, 0, bitmap.width, bitmap.height).data;
      let bin = '';
      for (let i = 0; i < rgba.length; i += 0x8000) bin += String.fromCharCode(...rgba.subarray(i, i + 0x8000));
      return { width: bitmap.width, height: bitmap.height, b64: btoa(bin) };
    }, png.toString('base64'));
    return new Png(out.width, out.height, new Uint8Array(Buffer.from(out.b64, 'base64')));
  }

  at(x: number, y: number): [number, number, number] {
    const o = (Math.round(y) * this.width + Math.round(x)) * 4;
    return [this.data[o], this.data[o + 1], this.data[o + 2]];
  }

  /** Grey values (red channel) on a circle of radius r around (x, y). */
  ring(x: number, y: number, r: number, n = 48): number[] {
    return Array.from(
      { length: n },
      (_, k) => this.at(x + r * Math.cos((2 * Math.PI * k) / n), y + r * Math.sin((2 * Math.PI * k) / n))[0],
    );
  }

  /** Mean grey of the disc of radius r around (x, y). */
  discMean(x: number, y: number, r: number): number {
    let s = 0;
    let n = 0;
    for (let dy = -r; dy <= r; dy++) {
      for (let dx = -r; dx <= r; dx++) {
        if (dx * dx + dy * dy > r * r) continue;
        s += this.at(x + dx, y + dy)[0];
        n++;
      }
    }
    return s / n;
  }

  /** Pixels close to colour `c` within the box of half-size `half` around (x, y) (all if omitted). */
  countColour(c: readonly number[], tol: number, box?: { x: number; y: number; half: number }): number {
    let n = 0;
    const x0 = box ? Math.max(0, Math.round(box.x - box.half)) : 0;
    const x1 = box ? Math.min(this.width - 1, Math.round(box.x + box.half)) : this.width - 1;
    const y0 = box ? Math.max(0, Math.round(box.y - box.half)) : 0;
    const y1 = box ? Math.min(this.height - 1, Math.round(box.y + box.half)) : this.height - 1;
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        const p = this.at(x, y);
        if (Math.abs(p[0] - c[0]) <= tol && Math.abs(p[1] - c[1]) <= tol && Math.abs(p[2] - c[2]) <= tol) n++;
      }
    }
    return n;
  }
}

/** A screenshot of exactly the element's box, its origin on the device pixel the browser snaps
 *  it to (an element screenshot of a box at a fractional offset comes out a pixel larger). */
async function shot(page: Page, target: Locator, name?: string): Promise<Png> {
  await target.scrollIntoViewIfNeeded();
  const box = (await target.boundingBox())!;
  const clip = {
    x: Math.round(box.x),
    y: Math.round(box.y),
    width: Math.round(box.width),
    height: Math.round(box.height),
  };
  const png = await page.screenshot({ clip });
  // Kept in the test's output folder (test-results/…) for a person to look at.
  if (name) writeFileSync(test.info().outputPath(`${name}.png`), png);
  return Png.decode(page, png);
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const near = (a: readonly number[], b: readonly number[], tol: number) => a.every((v, k) => Math.abs(v - b[k]) <= tol);

async function viewerState(viewer: Locator) {
  return viewer.evaluate((el) => ({ ...(el as HTMLElement).dataset }));
}

async function pointOf(viewer: Locator, xyz: Vec3) {
  const p = await viewer.evaluate((el, w) => (el as HTMLElementTagNameMap['luna-ct-viewer']).canvasPointOf(w), xyz);
  if (!p) throw new Error('the viewer shows nothing');
  return p;
}

test('LIDC-IDRI-0001: the annotated nodule is drawn where annotations.csv puts it, on dense tissue, in every plane', async ({
  page,
}) => {
  test.setTimeout(180_000);
  const errors = await openLab(page);
  await dropFolder(page, join(CT_SAMPLES, 'lidc-idri-0001'));
  await dropFolder(page, join(CT_SAMPLES, 'luna16-annotations'));

  const viewer = page.locator('luna-ct-viewer');
  const canvas = viewer.getByTestId('viewer-canvas');
  await viewer.getByTestId('viewer-series').selectOption(LIDC_UID);
  await expect(viewer).toHaveAttribute('data-state', 'ready');
  await expect(viewer).toHaveAttribute('data-window', '1500');
  await expect(viewer).toHaveAttribute('data-level', '-600');

  // The series has one nodule in annotations.csv: jump to it.
  await expect(viewer.getByTestId('annotation-jump')).toHaveCount(1);
  await viewer.getByTestId('annotation-jump').click();
  // Voxel of the nodule from the DICOM geometry (identity direction): (z, y, x) offsets / spacing.
  const want = {
    index: Math.round((NODULE[2] - LIDC_ORIGIN[2]) / LIDC_SLICE),
    row: Math.round((NODULE[1] - LIDC_ORIGIN[1]) / LIDC_PIXEL),
    col: Math.round((NODULE[0] - LIDC_ORIGIN[0]) / LIDC_PIXEL),
  };
  expect(want).toEqual({ index: 7, row: 367, col: 316 });
  await expect(viewer).toHaveAttribute('data-slice-index', String(want.index));
  await expect(viewer).toHaveAttribute('data-slice-row', String(want.row));
  await expect(viewer).toHaveAttribute('data-slice-col', String(want.col));
  await expect(viewer.getByTestId('viewer-slice')).toHaveText(`slice ${want.index + 1}/16`);

  // Axial, zoom 1: 512 voxels of 0.703 mm fill 512 px, so one voxel is one canvas px.
  const p = await pointOf(viewer, NODULE);
  const img = await shot(page, canvas, 'lidc-axial-nodule');
  expect([img.width, img.height]).toEqual([512, 512]);
  const rPx = NODULE_D / 2 / LIDC_PIXEL;
  // The circle: annotation green all around the nodule at its radius.
  const onCircle = Array.from({ length: 24 }, (_, k) => {
    const a = (2 * Math.PI * k) / 24;
    return (
      img.countColour(ANNOTATION_RGB, 40, { x: p.x + rPx * Math.cos(a), y: p.y + rPx * Math.sin(a), half: 1.5 }) > 0
    );
  });
  expect(onCircle.filter(Boolean).length).toBeGreaterThanOrEqual(22);
  // Inside it: soft tissue (~90 HU → grey ≈ 245 in the lung window); 25 voxels out: mostly
  // aerated lung (≈ −820 HU → grey ≈ 90).
  const core = img.discMean(p.x, p.y, 8);
  const lung = median(img.ring(p.x, p.y, 25));
  expect(core).toBeGreaterThan(200);
  expect(lung).toBeLessThan(140);
  expect(core - lung).toBeGreaterThan(80);

  // Hover: world, voxel and HU of the point under the mouse.
  const box = (await canvas.boundingBox())!;
  await page.mouse.move(box.x + p.x, box.y + p.y);
  // One voxel is one px here: the mouse lands within half a px, so row and col within one voxel.
  await expect(viewer.getByTestId('hover-irc')).toContainText(`irc ${want.index}, `);
  const irc = (await viewer.getByTestId('hover-irc').textContent())!.replace('irc ', '').split(', ').map(Number);
  expect(Math.abs(irc[1] - want.row)).toBeLessThanOrEqual(1);
  expect(Math.abs(irc[2] - want.col)).toBeLessThanOrEqual(1);
  const hu = Number((await viewer.getByTestId('hover-hu').textContent())!.replace(' HU', ''));
  expect(hu).toBeGreaterThan(-100);
  const xyz = (await viewer.getByTestId('hover-xyz').textContent())!
    .replace(/xyz | mm/g, '')
    .split(', ')
    .map(Number);
  expect(Math.abs(xyz[0] - NODULE[0])).toBeLessThan(1);
  expect(Math.abs(xyz[1] - NODULE[1])).toBeLessThan(1);
  expect(Math.abs(xyz[2] - -115)).toBeLessThan(0.01); // slice 7 lies at z = −132.5 + 7 · 2.5

  // Scrolling: the sphere (radius 4.67 slices from index 6.65) crosses slices 2..11 only.
  await canvas.focus();
  for (let k = want.index; k < 11; k++) await page.keyboard.press('ArrowDown');
  await expect(viewer).toHaveAttribute('data-slice-index', '11');
  expect((await shot(page, canvas)).countColour(ANNOTATION_RGB, 40)).toBeGreaterThan(20);
  await page.keyboard.press('ArrowDown');
  await expect(viewer).toHaveAttribute('data-slice-index', '12');
  expect((await shot(page, canvas)).countColour(ANNOTATION_RGB, 40)).toBe(0);
  await canvas.hover();
  await page.mouse.wheel(0, -300);
  await expect(viewer).toHaveAttribute('data-slice-index', '11');

  // Mediastinal window: aerated lung goes black, the nodule stays bright.
  await viewer.getByTestId('annotation-jump').click();
  await viewer.getByTestId('preset-mediastinal').click();
  await expect(viewer).toHaveAttribute('data-window', '350');
  await expect(viewer).toHaveAttribute('data-level', '50');
  const med = await shot(page, canvas, 'lidc-axial-mediastinal');
  expect(median(med.ring(p.x, p.y, 25))).toBeLessThan(20);
  expect(med.discMean(p.x, p.y, 4)).toBeGreaterThan(120); // 90 HU → 153
  // Free window/level: dragging right widens the window.
  await page.mouse.move(box.x + 100, box.y + 100);
  await page.mouse.down();
  await page.mouse.move(box.x + 150, box.y + 100, { steps: 5 });
  await page.mouse.up();
  await expect(viewer).toHaveAttribute('data-window', '550');

  // Zoom about the cursor, then the coronal and sagittal planes through the same voxel.
  await viewer.getByTestId('preset-lung').click();
  await canvas.hover({ position: { x: p.x, y: p.y } });
  await page.keyboard.down('Control');
  await page.mouse.wheel(0, -100);
  await page.keyboard.up('Control');
  await expect(viewer).toHaveAttribute('data-zoom', '1.250');
  const zoomed = await pointOf(viewer, NODULE);
  expect(Math.hypot(zoomed.x - p.x, zoomed.y - p.y)).toBeLessThan(1);
  for (const plane of ['coronal', 'sagittal'] as const) {
    await viewer.getByTestId(`plane-${plane}`).click();
    await expect(viewer).toHaveAttribute('data-plane', plane);
    const q = await pointOf(viewer, NODULE);
    expect(Math.abs(q.slicesAway)).toBeLessThan(0.5);
    const pic = await shot(page, canvas, `lidc-${plane}`);
    // The circle's sides are within the image in both planes (the 40 mm slab holds the middle of the sphere).
    for (const side of [-1, 1]) {
      expect(pic.countColour(ANNOTATION_RGB, 40, { x: q.x + side * rPx, y: q.y, half: 2 })).toBeGreaterThan(0);
    }
    expect(pic.discMean(q.x, q.y, 3)).toBeGreaterThan(200);
  }
  expect(errors).toEqual([]);
});

/** Small enough for software WebGPU: the training spec's model, two epochs of 64 samples. */
const SMALL = { ...SMALL_MODEL, 'sampling.epochSamples': '64', 'train.epochs': '2', 'train.validationCadence': '1' };

/** Geometry of each synthetic training scan, from its .mhd header. */
function synthGeometry(): Map<string, Geometry> {
  const out = new Map<string, Geometry>();
  for (const sub of readdirSync(SYNTH_TRAIN).filter((d) => d.startsWith('subset'))) {
    for (const f of readdirSync(join(SYNTH_TRAIN, sub)).filter((n) => n.endsWith('.mhd'))) {
      const h = parseMetaHeader(new Uint8Array(readFileSync(join(SYNTH_TRAIN, sub, f))), f);
      out.set(f.replace(/\.mhd$/, ''), {
        origin: h.offset as unknown as Vec3,
        spacing: h.elementSpacing as unknown as Vec3,
        direction: h.transformMatrix as unknown as Mat3,
      });
    }
  }
  return out;
}

function countsAt(predictions: { label: number; prob: number }[], t: number) {
  const c = { TP: 0, FP: 0, FN: 0, TN: 0 };
  for (const p of predictions) {
    const pos = !(p.prob <= t);
    c[p.label === 1 ? (pos ? 'TP' : 'FN') : pos ? 'FP' : 'TN']++;
  }
  return c;
}

test('prediction browser: outcomes at a threshold, the worst mistakes, the viewer jumps to them, colours and saliency', async ({
  page,
}) => {
  test.setTimeout(300_000);
  const errors = await openLab(page);
  await dropFolder(page, SYNTH_TRAIN);
  await page.getByTestId('preset-quick').click();
  await setConfig(page, SMALL);
  await page.getByTestId('train-start').click();
  await waitTrainIdle(page, 240_000);
  const [run] = await runs(page);
  expect(run.status).toBe('finished');
  const preds = run.predictions as unknown as { seriesUid: string; xyz: Vec3; label: 0 | 1; prob: number }[];
  expect(preds.length).toBeGreaterThan(10);

  await page.locator(`[data-testid=run-row][data-run="${run.runId}"]`).getByTestId('run-inspect').click();
  const panel = page.locator('luna-inspect-panel');
  await expect(panel).toHaveAttribute('data-run', run.runId);
  const browser = page.locator('luna-prediction-browser');
  const rows = browser.getByTestId('prediction-row');
  await expect(rows).toHaveCount(Math.min(100, preds.length));

  // Counts at the default threshold and at others, against the run's own predictions.
  for (const t of [0.5, 0.3, 0.7, 0]) {
    await browser.getByTestId('threshold').fill(String(t));
    await expect(browser).toHaveAttribute('data-threshold', String(t));
    const want = countsAt(preds, t);
    for (const o of ['TP', 'FP', 'FN', 'TN'] as const)
      await expect(browser.getByTestId(`count-${o}`)).toHaveAttribute('data-count', String(want[o]));
  }

  // Filter by outcome (at threshold 0 every negative is a false positive) and series; sort by p.
  await browser.getByTestId('filter-outcome').selectOption('FP');
  const negatives = preds.filter((p) => p.label === 0).length;
  await expect(browser).toHaveAttribute('data-rows', String(negatives));
  expect(new Set(await rows.evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.outcome)))).toEqual(
    new Set(['FP']),
  );
  await browser.getByTestId('filter-outcome').selectOption('all');
  const uid = preds[0].seriesUid;
  await browser.getByTestId('filter-series').selectOption(uid);
  await expect(browser).toHaveAttribute('data-rows', String(preds.filter((p) => p.seriesUid === uid).length));
  await browser.getByTestId('filter-series').selectOption('all');
  await browser.getByTestId('sort-prob').click();
  const probs = await rows.evaluateAll((els) => els.map((e) => Number((e as HTMLElement).dataset.prob)));
  expect(probs).toEqual([...probs].sort((a, b) => b - a));

  // The worst false positives at threshold 0: the negatives the model finds most nodule-like,
  // each with a thumbnail of its input crop.
  const gallery = browser.getByTestId('gallery-fp').getByTestId('gallery-item');
  const worst = preds
    .map((p, index) => ({ ...p, index }))
    .filter((p) => p.label === 0)
    .sort((a, b) => b.prob - a.prob)
    .slice(0, 6);
  await expect(gallery).toHaveCount(worst.length);
  expect(await gallery.evaluateAll((els) => els.map((e) => Number((e as HTMLElement).dataset.index)))).toEqual(
    worst.map((w) => w.index),
  );
  const thumb = gallery.first().locator('canvas[data-drawn]');
  await expect(thumb).toHaveCount(1);
  const t = await shot(page, thumb, 'gallery-thumbnail');
  const greys = new Set<number>();
  for (let y = 0; y < t.height; y += 2) for (let x = 0; x < t.width; x += 2) greys.add(t.at(x, y)[0]);
  expect(greys.size).toBeGreaterThan(10); // a CT crop, not a blank square

  // Clicking gallery items moves the viewer to each candidate's voxel; its dot has the colour of its p.
  const geometry = synthGeometry();
  const viewer = page.locator('luna-ct-viewer');
  const seen: { prob: number; rgb: [number, number, number] }[] = [];
  for (const k of [0, worst.length - 1]) {
    const w = worst[k];
    const before = await viewerState(viewer);
    await gallery.nth(k).click();
    const irc = xyzToIrc(w.xyz, geometry.get(w.seriesUid)!);
    await expect(viewer).toHaveAttribute('data-series', w.seriesUid);
    await expect(viewer).toHaveAttribute('data-slice-index', String(irc[0]));
    await expect(viewer).toHaveAttribute('data-slice-row', String(irc[1]));
    await expect(viewer).toHaveAttribute('data-slice-col', String(irc[2]));
    if (k === 0) expect(before.sliceIndex === String(irc[0]) && before.series === w.seriesUid).toBe(false);
    const q = await pointOf(viewer, w.xyz);
    await expectScanInView(viewer, q); // centred on the candidate as far as the scan fills the canvas
    const pic = await shot(page, viewer.getByTestId('viewer-canvas'), `candidate-${w.index}`);
    const rgb = pic.at(q.x, q.y);
    expect(near(rgb, probColor(w.prob), 8)).toBe(true);
    seen.push({ prob: w.prob, rgb });
  }
  // Higher p, redder and less blue (blue → yellow → red).
  const [hi, lo] = seen;
  expect(hi.prob).toBeGreaterThanOrEqual(lo.prob);
  expect(hi.rgb[0]).toBeGreaterThanOrEqual(lo.rgb[0] - 2);
  expect(hi.rgb[2]).toBeLessThanOrEqual(lo.rgb[2] + 2);

  // A positive too: a row click works like a gallery click.
  const pos = preds.findIndex((p) => p.label === 1);
  await browser.getByTestId('sort-index').click();
  await browser.locator(`[data-testid=prediction-row][data-index="${pos}"]`).click();
  await expect(viewer).toHaveAttribute(
    'data-slice-index',
    String(xyzToIrc(preds[pos].xyz, geometry.get(preds[pos].seriesUid)!)[0]),
  );

  // Saliency from the last checkpoint: its p(nodule) is the stored prediction's (same weights,
  // same crop), and the overlay changes the crop view.
  const cropView = page.locator('luna-crop-view');
  const axial = cropView.getByTestId('crop-axial');
  await expect(cropView).toHaveAttribute('data-drawn', 'plain');
  const plain = await shot(page, axial);
  await cropView.getByTestId('saliency-toggle').check();
  await expect(cropView).toHaveAttribute('data-saliency', 'ready', { timeout: 120_000 });
  expect(Math.abs(Number(await cropView.getAttribute('data-prob')) - preds[pos].prob)).toBeLessThan(1e-3);
  expect(Number(await cropView.getAttribute('data-max'))).toBeGreaterThan(0);
  await expect(cropView).toHaveAttribute('data-epoch', '2');
  await expect(cropView).toHaveAttribute('data-drawn', 'saliency');
  const heat = await shot(page, axial, 'saliency-axial');
  await shot(page, panel, 'inspect-panel');
  let changed = 0;
  let warm = 0;
  for (let y = 0; y < heat.height; y++) {
    for (let x = 0; x < heat.width; x++) {
      const a = plain.at(x, y);
      const b = heat.at(x, y);
      if (!near(a, b, 2)) changed++;
      if (b[0] - b[2] > 40) warm++; // grey has r = b; the heat ramp is red/yellow
    }
  }
  expect(changed).toBeGreaterThan(50);
  expect(warm).toBeGreaterThan(20);
  expect(errors).toEqual([]);
});
