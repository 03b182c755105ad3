/**
 * Crops by candidate for training and benchmarks: the candidate's voxel (xyzToIrc on its
 * series' geometry), the crop read from any `CropSource` (the IndexedDB cache, volumes in
 * memory), kept in memory up to a byte budget with concurrent reads of one crop shared.
 */
import type { CropSize } from './crop.ts';
import { xyzToIrc, type Geometry } from './geometry.ts';
import type { CandidateInfo } from './luna-csv.ts';
import type { Irc } from './volume.ts';
import { SharedLoads } from './byte-lru.ts';
import { CropSourceError, type CropSource } from './crop-source.ts';

export class CropProvider {
  private readonly crops: SharedLoads<Int16Array>;

  /** `geometry`: the series the candidates come from (e.g. a CandidateSet's records). */
  constructor(
    private readonly source: CropSource,
    private readonly geometry: ReadonlyMap<string, Geometry>,
    readonly crop: CropSize,
    budgetBytes = 256 << 20,
  ) {
    this.crops = new SharedLoads(budgetBytes);
  }

  centerOf(c: CandidateInfo): Irc {
    const g = this.geometry.get(c.seriesUid);
    if (!g) throw new CropSourceError(`series ${c.seriesUid} is not in the cache`);
    return xyzToIrc(c.xyz, g);
  }

  get(c: CandidateInfo): Promise<Int16Array> {
    const center = this.centerOf(c);
    return this.crops.get(`${c.seriesUid}|${center.join(',')}`, () => this.source.crop(c.seriesUid, center, this.crop));
  }
}
