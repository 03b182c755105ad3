/**
 * The IndexedDB cache as a `CropSource` (src/data/crop-source.ts): geometry from the cached
 * series records, crops through the store's `readCrop` (which reads only the tiles a crop spans
 * and keeps the crop in the crops table). Tiles decoded are kept in memory up to a byte budget
 * and concurrent reads of one tile share a load, so a batch of crops from one scan decodes
 * each tile once.
 */
import type { CropSize } from '../data/crop.ts';
import { CropSourceError, type CropSource, type SeriesGeometry } from '../data/crop-source.ts';
import type { Irc } from '../data/volume.ts';
import { SharedLoads } from '../data/byte-lru.ts';
import type { LabStore } from './lab-store.ts';
import type { SeriesRecord, TileLoader } from './records.ts';

export class CacheCropSource implements CropSource {
  private readonly loadTile: TileLoader;

  /** `records`: the series this source may crop (e.g. a CandidateSet's); decoded tiles are
   *  kept in memory up to `slabBudgetBytes` (training revisits the same scans every epoch). */
  constructor(
    private readonly db: LabStore,
    private readonly records: ReadonlyMap<string, SeriesRecord>,
    slabBudgetBytes = 256 << 20,
  ) {
    const fromDb = db.tileLoader();
    const tiles = new SharedLoads<Int16Array>(slabBudgetBytes);
    this.loadTile = (uid, chunk, tile) => tiles.get(`${uid}|${chunk}|${tile}`, () => fromDb(uid, chunk, tile));
  }

  async series(seriesUid: string): Promise<SeriesGeometry> {
    const r = this.record(seriesUid);
    return { seriesUid, shape: r.shape, spacing: r.spacing, origin: r.origin, direction: r.direction };
  }

  async crop(seriesUid: string, center: Irc, size: CropSize): Promise<Int16Array> {
    this.record(seriesUid);
    return this.db.readCrop(seriesUid, center, size, this.loadTile);
  }

  private record(seriesUid: string): SeriesRecord {
    const r = this.records.get(seriesUid);
    if (!r) throw new CropSourceError(`series ${seriesUid} is not in the cache`);
    return r;
  }
}
