/**
 * The IndexedDB cache as a `CropSource` (src/data/crop-source.ts): geometry from the cached
 * series records, crops through the store's `readCrop` (which reads only the slabs a crop spans
 * and keeps the crop in the crops table). The last few slabs read are kept in memory and
 * concurrent reads of one slab share a load, so a batch of crops from one scan reads each slab
 * once.
 */
import type { CropSize } from '../data/crop.ts';
import { CropSourceError, type CropSource, type SeriesGeometry } from '../data/crop-source.ts';
import type { Irc } from '../data/volume.ts';
import type { LabStore } from './lab-store.ts';
import type { SeriesRecord, SlabLoader } from './records.ts';

/** Slabs kept in memory: a crop spans at most a few (32 slices over 16-slice slabs: three). */
const SLABS_KEPT = 8;

export class CacheCropSource implements CropSource {
  private readonly slabs = new Map<string, Promise<Int16Array>>();
  private readonly loadSlab: SlabLoader;

  /** `records`: the series this source may crop (e.g. a CandidateSet's). */
  constructor(
    private readonly db: LabStore,
    private readonly records: ReadonlyMap<string, SeriesRecord>,
  ) {
    const fromDb = db.slabLoader();
    this.loadSlab = (uid, chunk) => {
      const key = `${uid}|${chunk}`;
      let p = this.slabs.get(key);
      if (p) {
        this.slabs.delete(key); // most recently used last
      } else {
        p = fromDb(uid, chunk);
        p.catch(() => this.slabs.delete(key)); // a failed read is not kept
      }
      this.slabs.set(key, p);
      while (this.slabs.size > SLABS_KEPT) this.slabs.delete(this.slabs.keys().next().value as string);
      return p;
    };
  }

  async series(seriesUid: string): Promise<SeriesGeometry> {
    const r = this.record(seriesUid);
    return { seriesUid, shape: r.shape, spacing: r.spacing, origin: r.origin, direction: r.direction };
  }

  async crop(seriesUid: string, center: Irc, size: CropSize): Promise<Int16Array> {
    this.record(seriesUid);
    return this.db.readCrop(seriesUid, center, size, this.loadSlab);
  }

  private record(seriesUid: string): SeriesRecord {
    const r = this.records.get(seriesUid);
    if (!r) throw new CropSourceError(`series ${seriesUid} is not in the cache`);
    return r;
  }
}
