import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  compareData,
  describeMismatch,
  formatSubsetDigest,
  parseSubsetDigest,
  subsetDigests,
  type SeriesIdentity,
  type SubsetDigest,
} from './data-selection.ts';
import { FIELD_BY_KEY, resolveConfig } from '../config/lab-config.ts';
import { decodeLabUrl, encodeLabHash } from '../config/lab-url.ts';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const voxel = (n: number) => sha(`voxels ${n}`); // stands in for SeriesRecord.digest

const SERIES: SeriesIdentity[] = [
  {
    seriesUid: '1.3.6.1.4.1.14519.5.2.1.6279.6001.105756658031515062000744821260',
    subset: 'subset1',
    digest: voxel(1),
  },
  {
    seriesUid: '1.3.6.1.4.1.14519.5.2.1.6279.6001.100225287222365663678666836860',
    subset: 'subset0',
    digest: voxel(2),
  },
  {
    seriesUid: '1.3.6.1.4.1.14519.5.2.1.6279.6001.108197895896446896160048741492',
    subset: 'subset1',
    digest: voxel(3),
  },
  {
    seriesUid: '1.3.6.1.4.1.14519.5.2.1.6279.6001.102133688497886810253331438797',
    subset: 'subset10',
    digest: voxel(4),
  },
  {
    seriesUid: '1.3.6.1.4.1.14519.5.2.1.6279.6001.104562737760173137525888934217',
    subset: 'subset1',
    digest: voxel(5),
  },
];

describe('subsetDigests', () => {
  it('groups by subset, sorts subsets, counts series, digests are 8 hex digits', async () => {
    const d = await subsetDigests(SERIES);
    expect(d.map((x) => x.subset)).toEqual(['subset0', 'subset1', 'subset10']);
    expect(d.map((x) => x.series)).toEqual([1, 3, 1]);
    for (const x of d) expect(x.digest).toMatch(/^[0-9a-f]{8}$/);
    expect(new Set(d.map((x) => x.digest)).size).toBe(3);
    expect(await subsetDigests([])).toEqual([]);
  });

  it('matches sha-256 over the sorted "uid:digest" lines, computed independently', async () => {
    const tiny: SeriesIdentity[] = [
      { seriesUid: 'b', subset: 's', digest: 'ff' },
      { seriesUid: 'a', subset: 's', digest: '00' },
      { seriesUid: 'c', subset: 't', digest: '01' },
    ];
    expect(await subsetDigests(tiny)).toEqual([
      { subset: 's', series: 2, digest: sha('a:00\nb:ff').slice(0, 8) },
      { subset: 't', series: 1, digest: sha('c:01').slice(0, 8) },
    ]);
    // pinned: digests already in shared URLs must not change meaning
    expect((await subsetDigests(tiny)).map((x) => x.digest)).toEqual(['dfbb57a1', '55a24fd4']);
  });

  it('does not depend on the order of its input', async () => {
    const want = await subsetDigests(SERIES);
    expect(await subsetDigests([...SERIES].reverse())).toEqual(want);
    expect(await subsetDigests([SERIES[2], SERIES[4], SERIES[0], SERIES[3], SERIES[1]])).toEqual(want);
  });

  it('changes when one voxel digest changes, or a series is added, and only for that subset', async () => {
    const base = await subsetDigests(SERIES);
    const changed = await subsetDigests(SERIES.map((s, i) => (i === 2 ? { ...s, digest: voxel(99) } : s)));
    expect(changed.map((x) => x.subset === 'subset1')).toEqual([false, true, false]);
    expect(changed[1].digest).not.toBe(base[1].digest);
    expect(changed[1].series).toBe(3);
    expect([changed[0], changed[2]]).toEqual([base[0], base[2]]);

    const added = await subsetDigests([...SERIES, { seriesUid: '1.2.3', subset: 'subset0', digest: voxel(6) }]);
    expect(added[0]).toMatchObject({ subset: 'subset0', series: 2 });
    expect(added[0].digest).not.toBe(base[0].digest);
    expect(added.slice(1)).toEqual(base.slice(1));

    // moving a series to another subset changes both
    const moved = await subsetDigests(SERIES.map((s, i) => (i === 0 ? { ...s, subset: 'subset0' } : s)));
    expect(moved[0].digest).not.toBe(base[0].digest);
    expect(moved[1].digest).not.toBe(base[1].digest);
  });
});

describe('formatSubsetDigest / parseSubsetDigest', () => {
  it('round-trip, in the form the data.digest field accepts', async () => {
    const field = FIELD_BY_KEY.get('data.digest')!;
    if (field.spec.kind !== 'list') throw new Error('data.digest should be a list field');
    const digests = await subsetDigests(SERIES);
    const texts = digests.map(formatSubsetDigest);
    expect(texts[0]).toBe(`subset0:1:${digests[0].digest}`);
    for (const [i, t] of texts.entries()) {
      expect(parseSubsetDigest(t)).toEqual(digests[i]);
      expect(t).toMatch(field.spec.pattern);
    }
    const r = resolveConfig({ data: { digest: texts } });
    expect(r.issues).toEqual([]);
    expect([...r.config.data.digest]).toEqual([...texts].sort());
    // and it travels through a lab URL
    expect(decodeLabUrl(encodeLabHash(r.config)).config.data.digest).toEqual(r.config.data.digest);
  });

  it('round-trips names with dots and dashes, and large counts', () => {
    const d: SubsetDigest = { subset: 'luna-16.v2_a', series: 1234567, digest: '0a1b2c3d' };
    expect(parseSubsetDigest(formatSubsetDigest(d))).toEqual(d);
    expect(resolveConfig({ data: { digest: [formatSubsetDigest(d)] } }).issues).toEqual([]);
  });
});

describe('compareData', () => {
  const cached: SubsetDigest[] = [
    { subset: 'subset0', series: 89, digest: '1a2b3c4d' },
    { subset: 'subset1', series: 88, digest: 'deadbeef' },
    { subset: 'subset2', series: 90, digest: '00ff00ff' },
  ];
  const text = cached.map(formatSubsetDigest);

  it('finds nothing when everything is there (extra cached subsets are ignored)', () => {
    expect(compareData(text, cached)).toEqual([]);
    expect(compareData([text[1]], cached)).toEqual([]);
    expect(compareData([], cached)).toEqual([]);
  });

  it('reports a missing subset with its series count', () => {
    expect(compareData([...text, 'subset7:91:abcdef01'], cached)).toEqual([
      { kind: 'missing', subset: 'subset7', series: 91 },
    ]);
    expect(compareData(text, [])).toEqual(cached.map((c) => ({ kind: 'missing', subset: c.subset, series: c.series })));
  });

  it('reports a different digest, and a different count', () => {
    expect(compareData(['subset1:88:deadbeee'], cached)).toEqual([
      { kind: 'different', subset: 'subset1', expected: 88, cached: 88 },
    ]);
    expect(compareData(['subset0:90:1a2b3c4d'], cached)).toEqual([
      { kind: 'different', subset: 'subset0', expected: 90, cached: 89 },
    ]);
  });

  it('reports each problem, in the order the URL names them', () => {
    expect(compareData(['subset9:10:abcdef01', 'subset0:89:1a2b3c4d', 'subset2:1:00ff00ff'], cached)).toEqual([
      { kind: 'missing', subset: 'subset9', series: 10 },
      { kind: 'different', subset: 'subset2', expected: 1, cached: 90 },
    ]);
  });
});

describe('describeMismatch', () => {
  it('names each missing subset with its count, each different one, and says how to get the data', () => {
    const msg = describeMismatch([
      { kind: 'missing', subset: 'subset3', series: 89 },
      { kind: 'missing', subset: 'subset4', series: 1 },
      { kind: 'different', subset: 'subset0', expected: 90, cached: 88 },
    ]);
    expect(msg).toContain('subset3 (89 series)');
    expect(msg).toContain('subset4 (1 series)');
    expect(msg).toMatch(/not cached in this browser: subset3 \(89 series\), subset4 \(1 series\)/);
    expect(msg).toMatch(/different scans: subset0 \(88 series here, 90 in the URL\)/);
    expect(msg).toMatch(/drop those subset folders/i);
    expect(msg).toContain('https://luna16.grand-challenge.org/');
  });

  it('mentions only what applies', () => {
    const missing = describeMismatch([{ kind: 'missing', subset: 'subset3', series: 89 }]);
    expect(missing).toContain('subset3 (89 series)');
    expect(missing).not.toMatch(/different scans/);
    const different = describeMismatch([{ kind: 'different', subset: 'subset0', expected: 90, cached: 90 }]);
    expect(different).toContain('subset0 (90 series here, 90 in the URL)');
    expect(different).not.toMatch(/not cached/);
    expect(different).toMatch(/drop those subset folders/i);
  });
});
