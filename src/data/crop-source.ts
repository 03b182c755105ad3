/**
 * Where a job reads its crops from: a `CropSource` gives each series' shape and world geometry
 * and crops of clamped HU (int16, [-1000, 1000]) around a voxel, cut as src/data/crop.ts cuts
 * them (the book's window, shifted inside the volume). Two implementations: `VolumeCropSource`
 * here, over decoded volumes in memory (the CLI, Node tests), and the IndexedDB cache's in
 * src/store/cache-crop-source.ts (the page, headless runs). A job written against this
 * interface crops identically from either.
 */
import { cropWindow, extractCrop, type CropSize } from './crop.ts';
import { xyzToIrc, type Geometry } from './geometry.ts';
import { clampHu, type Irc, type Vec3, type Volume } from './volume.ts';

export interface SeriesGeometry extends Geometry {
  readonly seriesUid: string;
  /** [index, row, col] voxels. */
  readonly shape: Irc;
}

export interface CropSource {
  /** The series' geometry; rejects, naming the series, when the source does not hold it. */
  series(seriesUid: string): Promise<SeriesGeometry>;
  /** A crop of `size` around `center` (irc) of clamped HU, x fastest; rejects when the series is unknown. */
  crop(seriesUid: string, center: Irc, size: CropSize): Promise<Int16Array>;
}

/** The crop around a world point (its voxel by xyzToIrc, as training and evaluation centre crops). */
export async function cropAtWorld(
  source: CropSource,
  seriesUid: string,
  xyz: Vec3,
  size: CropSize,
): Promise<Int16Array> {
  const g = await source.series(seriesUid);
  return source.crop(seriesUid, xyzToIrc(xyz, g), size);
}

export class CropSourceError extends Error {
  override name = 'CropSourceError';
}

/**
 * Volumes held in memory, clamped to HU on first use. A caller that streams scans (the CLI
 * holds one at a time) `add`s each and `delete`s it when done.
 */
export class VolumeCropSource implements CropSource {
  private readonly volumes = new Map<string, { volume: Volume; hu: Int16Array | null }>();

  constructor(volumes: Iterable<Volume> = []) {
    for (const v of volumes) this.add(v);
  }

  add(volume: Volume): void {
    this.volumes.set(volume.seriesUid, { volume, hu: null });
  }

  delete(seriesUid: string): void {
    this.volumes.delete(seriesUid);
  }

  clear(): void {
    this.volumes.clear();
  }

  get seriesUids(): string[] {
    return [...this.volumes.keys()];
  }

  async series(seriesUid: string): Promise<SeriesGeometry> {
    const { volume: v } = this.entry(seriesUid);
    return { seriesUid, shape: v.shape, spacing: v.spacing, origin: v.origin, direction: v.direction };
  }

  async crop(seriesUid: string, center: Irc, size: CropSize): Promise<Int16Array> {
    const e = this.entry(seriesUid);
    e.hu ??= clampHu(e.volume.data);
    return extractCrop(e.hu, e.volume.shape, cropWindow(center, e.volume.shape, size));
  }

  private entry(seriesUid: string): { volume: Volume; hu: Int16Array | null } {
    const e = this.volumes.get(seriesUid);
    if (!e)
      throw new CropSourceError(`series ${seriesUid} is not loaded (loaded: ${this.seriesUids.join(', ') || 'none'})`);
    return e;
  }
}
