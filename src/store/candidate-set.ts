/**
 * A run's candidates from the cache: the selected series (by subset, or exactly the data a
 * lab URL pins), their candidate table and annotations, matched and filtered by
 * src/data/candidate-selection.ts, and the digest that names the data. Crops and batches come
 * from src/data (crop-provider.ts, batches.ts) over this store's crop source.
 */
import type { LabConfig } from '../config/lab-config.ts';
import type { Annotation, Candidate, CandidateInfo, MalignancyAnnotation } from '../data/luna-csv.ts';
import { chooseCandidateTable, selectCandidates, selectMalignancyCandidates } from '../data/candidate-selection.ts';
import type { SeriesRecord } from './records.ts';
import type { LabStore } from './lab-store.ts';
import { toHex } from '../data/hex.ts';
import { compareData, describeMismatch, subsetDigests } from './data-selection.ts';

export interface CandidateSet {
  candidates: CandidateInfo[];
  series: Map<string, SeriesRecord>;
  /** sha-256 over the used series' uids and voxel digests: the data's identity. */
  dataDigest: string;
  warnings: string[];
}

export class TrainingDataError extends Error {
  override name = 'TrainingDataError';
}

/**
 * The candidates of the config's series. `table: 'preferred'` takes the preferred cached table
 * (candidate-selection.ts) instead of `config.data.candidates`: a model file to evaluate brings
 * no table choice of its own.
 */
export async function loadCandidateSet(
  db: LabStore,
  config: LabConfig,
  opts: { table?: 'configured' | 'preferred'; series?: readonly string[] } = {},
): Promise<CandidateSet> {
  // `series`: the run was started on these only (RunRecord.series).
  const only = opts.series ? new Set(opts.series) : null;
  const all = (await db.listSeries()).filter((s) => !only || only.has(s.seriesUid));
  // A URL that names its data by digest trains on exactly those subsets.
  const wanted = new Set(
    config.data.subsets.length ? config.data.subsets : config.data.digest.map((d) => d.split(':')[0]),
  );
  const series = all.filter((s) => wanted.size === 0 || wanted.has(s.subset));
  if (config.data.digest.length) {
    // Exactly the data the URL names, or a message saying what is missing — never other data.
    const mismatch = compareData(config.data.digest, await subsetDigests(series));
    if (mismatch.length) throw new TrainingDataError(describeMismatch(mismatch));
  }
  if (!series.length) {
    const have = [...new Set(all.map((s) => s.subset))].sort();
    throw new TrainingDataError(
      all.length
        ? `No cached series in subsets ${[...wanted].join(', ')}; the cache holds ${have.join(', ')}`
        : only
          ? `None of the run's ${only.size} series is cached any more: drop its data again`
          : 'No scans are cached: drop LUNA16 subsets (or load the synthetic demo) first',
    );
  }
  const uids = series.map((s) => s.seriesUid);
  const [candRecords, annRecords] = await Promise.all([db.candidatesFor(uids), db.annotationsFor(uids)]);
  const source = chooseCandidateTable(
    opts.table === 'preferred' ? null : config.data.candidates,
    candRecords.map((r) => r.source),
  );
  const rows: Candidate[] = [];
  for (const r of candRecords) {
    if (r.source !== source) continue;
    for (const c of r.rows)
      rows.push({ seriesUid: r.seriesUid, xyz: [c.xyz[0], c.xyz[1], c.xyz[2]], isNodule: c.isNodule });
  }
  if (!rows.length) {
    const other = candRecords.find((r) => r.source !== source);
    throw new TrainingDataError(
      other
        ? `No ${source}.csv rows are cached for the selected series, but ${other.source}.csv is: choose it under data.candidates`
        : `No candidates are cached for the selected series: drop LUNA16's ${source}.csv with the scans`,
    );
  }
  const annotations: Annotation[] = annRecords.flatMap((r) =>
    r.rows.map((a) => ({
      seriesUid: r.seriesUid,
      xyz: [a.xyz[0], a.xyz[1], a.xyz[2]] as [number, number, number],
      diameterMm: a.diameterMm,
    })),
  );
  const byUid = new Map(series.map((s) => [s.seriesUid, s]));
  const { inside, warnings } =
    config.task === 'malignancy'
      ? selectMalignancyCandidates(rows, await malignancyRows(db, uids), (uid) => byUid.get(uid))
      : selectCandidates(rows, annotations, (uid) => byUid.get(uid));
  const digestInput = series
    .map((s) => `${s.seriesUid}:${s.digest}`)
    .sort()
    .join('\n');
  const hash = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(digestInput));
  return {
    candidates: inside,
    series: byUid,
    dataDigest: toHex(hash),
    warnings,
  };
}

/** The malignancy task's nodules: annotations_with_malignancy.csv as cached for these series. */
async function malignancyRows(db: LabStore, uids: readonly string[]): Promise<MalignancyAnnotation[]> {
  const records = await db.malignancyFor(uids);
  const rows = records.flatMap((r) =>
    r.rows.map((a) => ({
      seriesUid: r.seriesUid,
      xyz: [a.xyz[0], a.xyz[1], a.xyz[2]] as [number, number, number],
      diameterMm: a.diameterMm,
      malignant: a.malignant,
    })),
  );
  if (!rows.length) {
    throw new TrainingDataError(
      'The malignancy task needs annotations_with_malignancy.csv: no malignancy labels are cached for the selected series (drop it with the scans)',
    );
  }
  return rows;
}
