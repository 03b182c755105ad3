/**
 * The data a run used, as it travels in a lab URL: per subset, its series count and a short
 * digest (sha-256 over the sorted `seriesUid:voxelDigest` lines of its series), written
 * `subset0:89:1a2b3c4d`. Short enough for a URL with all ten LUNA16 subsets, and precise
 * enough to tell a colleague which subsets are missing or hold different scans. Runs in Node
 * and the browser (WebCrypto).
 */
import { toHex } from '../data/hex.ts';

export interface SeriesIdentity {
  seriesUid: string;
  subset: string;
  /** sha-256 of the series' voxel data (SeriesRecord.digest). */
  digest: string;
}

export interface SubsetDigest {
  subset: string;
  series: number;
  digest: string;
}

export async function subsetDigests(series: readonly SeriesIdentity[]): Promise<SubsetDigest[]> {
  const bySubset = new Map<string, string[]>();
  for (const s of series) {
    const lines = bySubset.get(s.subset) ?? [];
    lines.push(`${s.seriesUid}:${s.digest}`);
    bySubset.set(s.subset, lines);
  }
  const out: SubsetDigest[] = [];
  for (const [subset, lines] of [...bySubset].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const hash = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(lines.sort().join('\n')));
    out.push({ subset, series: lines.length, digest: toHex(hash).slice(0, 8) });
  }
  return out;
}

export function formatSubsetDigest(d: SubsetDigest): string {
  return `${d.subset}:${d.series}:${d.digest}`;
}

export function parseSubsetDigest(text: string): SubsetDigest {
  const [subset, series, digest] = text.split(':');
  return { subset, series: Number(series), digest };
}

export type DataMismatch =
  | { kind: 'missing'; subset: string; series: number }
  | { kind: 'different'; subset: string; expected: number; cached: number };

/** What the cache lacks, or holds differently, of the data a URL names. Extra cached subsets
 *  do not matter: a URL with a digest also names its subsets. */
export function compareData(expected: readonly string[], cached: readonly SubsetDigest[]): DataMismatch[] {
  const have = new Map(cached.map((c) => [c.subset, c]));
  const out: DataMismatch[] = [];
  for (const e of expected.map(parseSubsetDigest)) {
    const c = have.get(e.subset);
    if (!c) out.push({ kind: 'missing', subset: e.subset, series: e.series });
    else if (c.digest !== e.digest || c.series !== e.series)
      out.push({ kind: 'different', subset: e.subset, expected: e.series, cached: c.series });
  }
  return out;
}

/** One message for the page and the trainer: what is missing, and how to get it. */
export function describeMismatch(m: readonly DataMismatch[]): string {
  const missing = m.filter((x) => x.kind === 'missing');
  const different = m.filter((x) => x.kind === 'different');
  const parts: string[] = [];
  if (missing.length) {
    parts.push(`not cached in this browser: ${missing.map((x) => `${x.subset} (${x.series} series)`).join(', ')}`);
  }
  if (different.length) {
    parts.push(
      `cached with different scans: ${different
        .map((x) => (x.kind === 'different' ? `${x.subset} (${x.cached} series here, ${x.expected} in the URL)` : ''))
        .join(', ')}`,
    );
  }
  return (
    `This lab URL trained on data this browser does not have — ${parts.join('; ')}. ` +
    'Drop those subset folders (LUNA16: https://luna16.grand-challenge.org/Download/, with annotations.csv and candidates.csv) ' +
    '— or, for data you made, the same files — and the run can start.'
  );
}
