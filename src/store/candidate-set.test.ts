/**
 * loadCandidateSet's table choice and outside-scan filter, decided by candidate-selection.ts:
 * a run's configured table (with the hint when only the other is cached), the preferred cached
 * table for a model file, and the warning for candidates outside their scan.
 */
import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it } from 'vitest';
import { openLabStore, type LabStore } from './lab-store.ts';
import { loadCandidateSet } from './candidate-set.ts';
import { defaultConfig } from '../config/lab-config.ts';
import { outsideWarning } from '../data/candidate-selection.ts';
import { IDENTITY } from '../data/volume.ts';

const dbs: LabStore[] = [];
afterEach(async () => {
  for (const db of dbs.splice(0)) await db.delete();
});

async function cache(tables: ('candidates' | 'candidates_V2')[]): Promise<LabStore> {
  const db = openLabStore(`candidate-set-${dbs.length}-${Date.now()}`);
  dbs.push(db);
  const shape = [10, 20, 20] as const;
  await db.putSeries({
    record: {
      seriesUid: 'S',
      subset: 'subset0',
      format: 'metaimage',
      shape,
      spacing: [1, 1, 1],
      origin: [0, 0, 0],
      direction: IDENTITY,
      hu: { min: -1000, max: 1000, mean: 0 },
      files: [],
      warnings: [],
      digest: 'x',
    },
    voxels: new Int16Array(10 * 20 * 20),
    fingerprints: [],
  });
  await db.putAnnotations([{ seriesUid: 'S', file: 'annotations.csv', rows: [{ xyz: [5, 5, 5], diameterMm: 4 }] }]);
  await db.putCandidates(
    tables.map((source) => ({
      seriesUid: 'S',
      source,
      file: `${source}.csv`,
      rows:
        source === 'candidates'
          ? [
              { xyz: [5, 5, 5], isNodule: true },
              { xyz: [50, 5, 5], isNodule: false },
            ]
          : [
              { xyz: [5, 5, 5], isNodule: true },
              { xyz: [8, 8, 8], isNodule: false },
              { xyz: [9, 9, 9], isNodule: false },
            ],
    })),
  );
  return db;
}

describe('loadCandidateSet', () => {
  it("uses the run's configured table, naming the other when only it is cached", async () => {
    const db = await cache(['candidates_V2']);
    await expect(loadCandidateSet(db, defaultConfig())).rejects.toThrow(
      /No candidates\.csv rows are cached for the selected series, but candidates_V2\.csv is/,
    );
    const c = defaultConfig();
    const v2 = await loadCandidateSet(db, { ...c, data: { ...c.data, candidates: 'candidates_V2' } });
    expect(v2.candidates).toHaveLength(3);
  });

  it("takes the preferred cached table for 'preferred': candidates.csv, else candidates_V2.csv", async () => {
    expect(
      (await loadCandidateSet(await cache(['candidates_V2']), defaultConfig(), { table: 'preferred' })).candidates,
    ).toHaveLength(3);
    const both = await loadCandidateSet(await cache(['candidates_V2', 'candidates']), defaultConfig(), {
      table: 'preferred',
    });
    expect(both.candidates).toHaveLength(1); // candidates.csv's, less the one outside
  });

  it('leaves out candidates outside their scan with the shared warning, matched to annotations', async () => {
    const set = await loadCandidateSet(await cache(['candidates']), defaultConfig());
    expect(set.candidates).toEqual([{ seriesUid: 'S', xyz: [5, 5, 5], isNodule: true, diameterMm: 4 }]);
    expect(set.warnings).toEqual([outsideWarning(1)]);
  });

  it('for the malignancy task, takes nodules from the cached malignancy table and class-0 candidates', async () => {
    const db = await cache(['candidates']);
    const c = defaultConfig();
    const malignancy = { ...c, task: 'malignancy' as const };
    await expect(loadCandidateSet(db, malignancy)).rejects.toThrow(/needs annotations_with_malignancy\.csv/);
    await db.putMalignancy([
      {
        seriesUid: 'S',
        file: 'annotations_with_malignancy.csv',
        rows: [
          { xyz: [4, 4, 4], diameterMm: 6, malignant: false },
          { xyz: [6, 6, 6], diameterMm: 5, malignant: true },
        ],
      },
    ]);
    const set = await loadCandidateSet(db, malignancy);
    // The class-1 candidate is dropped (the annotations stand for it); the one at x = 50 is outside.
    expect(set.candidates).toEqual([
      { seriesUid: 'S', xyz: [6, 6, 6], isNodule: true, diameterMm: 5, malignant: true },
      { seriesUid: 'S', xyz: [4, 4, 4], isNodule: true, diameterMm: 6, malignant: false },
    ]);
    expect(set.warnings).toEqual([outsideWarning(1)]);
    // The nodule task still reads annotations.csv only.
    expect((await loadCandidateSet(db, c)).candidates).toEqual([
      { seriesUid: 'S', xyz: [5, 5, 5], isNodule: true, diameterMm: 4 },
    ]);
  });
});

describe('loadCandidateSet: a run started on named series', () => {
  it('uses only those series, whatever else the cache holds under the same subset', async () => {
    const db = await cache(['candidates']);
    // Another source's scan under the same subset name.
    const other = { ...(await db.getSeries('S'))!, seriesUid: 'T' };
    await db.putSeries({ record: other, voxels: new Int16Array(10 * 20 * 20), fingerprints: [] });
    await db.putCandidates([
      { seriesUid: 'T', source: 'candidates', file: 'candidates.csv', rows: [{ xyz: [5, 5, 5], isNodule: false }] },
    ]);
    const all = await loadCandidateSet(db, defaultConfig());
    expect([...all.series.keys()].sort()).toEqual(['S', 'T']);
    const only = await loadCandidateSet(db, defaultConfig(), { series: ['S'] });
    expect([...only.series.keys()]).toEqual(['S']);
    expect(only.candidates.every((c) => c.seriesUid === 'S')).toBe(true);
    expect(only.dataDigest).not.toBe(all.dataDigest);
    await expect(loadCandidateSet(db, defaultConfig(), { series: ['gone'] })).rejects.toThrow(
      /None of the run's 1 series is cached any more/,
    );
  });
});
