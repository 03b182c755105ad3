/**
 * A volume whose voxels take only a few small non-negative values is a label mask (LUNA16's
 * `seg-lungs-LUNA16` holds {0, 3, 4, 5}), not a CT in HU: any chest CT has air near −1000 HU.
 * It is cached with a warning that says so, since it reads like a CT (same geometry, same
 * series UID) and training on it would learn nothing.
 */
import type { HuStats } from './volume.ts';

/** Masks have a handful of labels; a CT has hundreds of distinct values. */
const MAX_LABELS = 16;

/** The warning for a mask-like volume, or null for a CT. Only volumes with no negative voxel are scanned. */
export function labelMaskWarning(voxels: ArrayLike<number>, hu: HuStats, file: string): string | null {
  if (!(hu.min >= 0) || hu.max > 255) return null;
  const seen = new Set<number>();
  for (let i = 0; i < voxels.length; i++) {
    seen.add(voxels[i]);
    if (seen.size > MAX_LABELS) return null;
  }
  const values = [...seen].sort((a, b) => a - b).join(', ');
  return (
    `${file}: every voxel is one of {${values}}, with no air (about −1000 HU): this looks like a label mask ` +
    `(such as LUNA16's seg-lungs), not a CT in HU; training on it learns nothing`
  );
}
