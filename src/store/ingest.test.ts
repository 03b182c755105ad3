/**
 * A whole drop through the shared loading path into IndexedDB (fake-indexeddb in Node):
 * good scans are cached, each bad file gets its own clear error, nothing is duplicated.
 */
import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { openLabStore, type LabStore } from './lab-store.ts';
import { ingestFiles, type FileProgress } from './ingest.ts';
import { sourceFromBytes, type SourceFile } from '../data/source.ts';
import { generateSynthetic } from '../data/synthetic.ts';
import { clampHu } from '../data/volume.ts';
import { encodeSlab } from '../data/slab-codec.ts';
import { slabEncoderPool } from '../data/slab-encoder.ts';

const SAMPLES = resolve(process.cwd(), '../shared/ct-samples');
const enc = (s: string) => new TextEncoder().encode(s);
let dbn = 0;
const dbs: LabStore[] = [];
const freshDb = () => {
  const db = openLabStore(`ingest-test-${dbn++}`);
  dbs.push(db);
  return db;
};
afterEach(async () => {
  for (const db of dbs.splice(0)) await db.delete();
});

function synthDrop(seed: number, scans = 2): SourceFile[] {
  return [...generateSynthetic({ scans, size: 'tiny', seed })].map((f) =>
    sourceFromBytes(`drop/${f.path}`, f.bytes, 1),
  );
}

function mhd(name: string, fields: Record<string, string>): SourceFile {
  const header = {
    ObjectType: 'Image',
    NDims: '3',
    BinaryData: 'True',
    BinaryDataByteOrderMSB: 'False',
    TransformMatrix: '1 0 0 0 1 0 0 0 1',
    Offset: '0 0 0',
    ElementSpacing: '1 1 1',
    DimSize: '4 4 2',
    ElementType: 'MET_SHORT',
    ElementDataFile: `${name}.raw`,
    ...fields,
  };
  return sourceFromBytes(
    `bad/${name}.mhd`,
    enc(
      Object.entries(header)
        .map(([k, v]) => `${k} = ${v}`)
        .join('\n') + '\n',
    ),
  );
}

describe('ingestFiles: CSVs once, by content', () => {
  it('does not parse a CSV again when only its name or mtime changed, but does when its content did', async () => {
    const db = freshDb();
    const drop = synthDrop(23, 1);
    const csvs = drop.filter((f) => f.path.endsWith('.csv'));
    expect(csvs.length).toBeGreaterThan(0);
    const first = await ingestFiles(db, drop);
    expect(first.tables.map((t) => t.file).sort()).toEqual(csvs.map((f) => f.path).sort());

    // Touched (new mtime) and copied elsewhere: the same bytes, so skipped without parsing.
    const touched = await Promise.all(csvs.map(async (f) => sourceFromBytes(`copy/${f.path}`, await f.bytes(), 99)));
    const again = await ingestFiles(db, touched);
    expect(again.tables).toEqual([]);
    expect(again.skipped.map((s) => s.reason)).toEqual(touched.map(() => 'already cached'));
    // …and found by fingerprint next time (no read at all).
    const reads: string[] = [];
    const spied = touched.map((f) => ({ ...f, bytes: () => (reads.push(f.path), f.bytes()) }));
    await ingestFiles(db, spied);
    expect(reads).toEqual([]);

    // A changed annotations.csv is read, and the old content is forgotten (its rows were replaced).
    const ann = csvs.find((f) => /annotations/.test(f.path))!;
    const text = new TextDecoder().decode(await ann.bytes());
    const changed = sourceFromBytes(ann.path, enc(text.trimEnd() + '\n'.repeat(2)), 5);
    expect((await ingestFiles(db, [changed])).tables.map((t) => t.file)).toEqual([ann.path]);
    expect((await ingestFiles(db, [ann])).tables.map((t) => t.file)).toEqual([ann.path]);

    // Clearing the cache forgets them: the next drop stores the tables again.
    await db.clearAll();
    expect((await ingestFiles(db, csvs)).tables).toHaveLength(csvs.length);
  });
});

describe('ingestFiles: the series of a drop', () => {
  it('names every series the drop holds, cached before or not, and the subsets it would mix', async () => {
    const db = freshDb();
    const a = synthDrop(28, 2);
    const first = await ingestFiles(db, a);
    expect(first.dropSeries.sort()).toEqual([...first.series].sort());
    expect(first.mixed).toEqual([]);
    const again = await ingestFiles(db, a);
    expect(again.series).toEqual([]);
    expect(again.dropSeries.sort()).toEqual([...first.series].sort());
    // Another source's scans under the same subset name.
    const other = await ingestFiles(
      db,
      await Promise.all(synthDrop(29, 1).map(async (f) => sourceFromBytes(`other/${f.path}`, await f.bytes(), 2))),
    );
    expect(other.series).toHaveLength(1);
    expect(other.dropSeries).toEqual(other.series);
    expect(other.mixed).toEqual([{ subset: 'subset0', fromDrop: 1, others: 2 }]);
  });
});

describe('ingestFiles: room on disk', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('refuses a drop larger than the space left before writing anything, with the numbers', async () => {
    const db = freshDb();
    const earlier = await ingestFiles(db, synthDrop(24, 1));
    expect(earlier.series).toHaveLength(1);
    const before = await db.readVolume(earlier.series[0]);
    const drop = synthDrop(25, 2);
    const scanBytes = drop.filter((f) => !f.path.endsWith('.csv')).reduce((n, f) => n + f.size, 0);
    // 100 KiB left: less than the 0.3 of the scans' bytes any CT takes stored.
    vi.stubGlobal('navigator', {
      storage: {
        estimate: async () => ({ usage: 5 << 20, quota: (5 << 20) + 100 * 1024 }),
        persisted: async () => true,
      },
    });
    expect(scanBytes * 0.3).toBeGreaterThan(100 * 1024);
    const reads: string[] = [];
    const report = await ingestFiles(
      db,
      drop.map((f) => ({ ...f, bytes: () => (reads.push(f.path), f.bytes()) })),
    );
    expect(report.series).toEqual([]);
    expect(reads).toEqual([]);
    expect(report.errors).toHaveLength(drop.length);
    expect(report.errors[0].message).toMatch(
      /Not enough browser storage for this drop \(\d+(\.\d+)? (KiB|MiB) of scan files\): stored, it needs at least [\d.]+ (KiB|MiB), only 100\.0 KiB is free \(the browser reports 5\.00 MiB used of a 5\.10 MiB quota, persistent\)/,
    );
    expect(report.errors[0].message).toMatch(/Nothing was written/);
    vi.unstubAllGlobals();
    expect((await db.listSeries()).map((s) => s.seriesUid)).toEqual(earlier.series);
    expect((await db.readVolume(earlier.series[0])).voxels).toEqual(before.voxels);
  });

  it('refuses one series that cannot fit, stored size and numbers named, and keeps the others', async () => {
    const db = freshDb();
    const drop = synthDrop(26, 1);
    const first = await ingestFiles(db, drop);
    const stored = (await db.getSeries(first.series[0]))!.storedBytes!;
    // Room for the drop's lower bound, not for the series as stored.
    const scanBytes = drop.filter((f) => !f.path.endsWith('.csv')).reduce((n, f) => n + f.size, 0);
    const free = Math.ceil(scanBytes * 0.3) + 1;
    expect(free).toBeLessThan(stored);
    vi.stubGlobal('navigator', {
      storage: { estimate: async () => ({ usage: 0, quota: free }) },
    });
    const other = synthDrop(27, 1);
    const report = await ingestFiles(db, other);
    expect(report.series).toEqual([]);
    expect(
      report.errors.some((e) =>
        /Not enough browser storage for series .*: it needs .* only .* is free/.test(e.message),
      ),
    ).toBe(true);
    vi.unstubAllGlobals();
    expect((await db.listSeries()).map((s) => s.seriesUid)).toEqual(first.series);
  });
});

describe('ingestFiles', () => {
  it('caches annotations_with_malignancy.csv through the store, naming its bad rows, and clears it with the rest', async () => {
    const db = freshDb();
    const files = [...generateSynthetic({ scans: 2, size: 'tiny', seed: 5, malignancy: true })].map((f) =>
      sourceFromBytes(`drop/${f.path}`, f.bytes, 1),
    );
    const malFile = files.find((f) => f.path.endsWith('annotations_with_malignancy.csv'))!;
    const text = new TextDecoder().decode(await malFile.bytes());
    const bad = sourceFromBytes(
      'extra/annotations_with_malignancy.csv',
      enc(`${text.split('\n')[0]}\n9.9,1,2,3,5,Perhaps\n`),
    );
    const report = await ingestFiles(db, [...files, bad]);
    const table = report.tables.find((t) => t.file === 'drop/annotations_with_malignancy.csv');
    expect(table).toMatchObject({ kind: 'malignancy', series: 2, rowErrors: 0 });
    expect(report.errors).toContainEqual({
      file: 'extra/annotations_with_malignancy.csv',
      message: 'extra/annotations_with_malignancy.csv:2: mal_bool "Perhaps" is not True or False',
    });
    const uids = report.series;
    const cached = await db.malignancyFor(uids);
    expect(cached.flatMap((r) => r.rows)).toHaveLength(table!.rows);
    expect(cached.every((r) => r.file === 'drop/annotations_with_malignancy.csv')).toBe(true);
    // annotations.csv is cached as before, beside it.
    expect((await db.annotationsFor(uids)).flatMap((r) => r.rows)).toHaveLength(table!.rows);
    await db.clearAll();
    expect(await db.malignancyFor(uids)).toEqual([]);
  });

  it('caches good scans and tables beside clear per-file errors for bad input', async () => {
    const db = freshDb();
    const good = synthDrop(21);
    const bad: SourceFile[] = [
      // truncated .raw
      mhd('truncated', {}),
      sourceFromBytes('bad/truncated.raw', new Uint8Array(10)),
      // DimSize disagreeing with the data size
      mhd('toolarge', { DimSize: '4 4 2' }),
      sourceFromBytes('bad/toolarge.raw', new Uint8Array(4 * 4 * 3 * 2)),
      // unknown ElementType
      mhd('longtype', { ElementType: 'MET_LONG_LONG' }),
      sourceFromBytes('bad/longtype.raw', new Uint8Array(64)),
      // garbage header
      sourceFromBytes(
        'bad/garbage.mhd',
        Uint8Array.from({ length: 300 }, (_, i) => (i * 7919) % 256),
      ),
      // not DICOM, despite the name
      sourceFromBytes('bad/notdicom.dcm', enc('hello, I am a text file, not a DICOM slice\n'.repeat(10))),
      // a CSV missing a column, and one with a non-numeric coordinate
      sourceFromBytes('bad/annotations.csv', enc('seriesuid,coordX,coordY,diameter_mm\n1.2,1,2,3\n')),
      sourceFromBytes(
        'bad2/candidates.csv',
        enc('seriesuid,coordX,coordY,coordZ,class\n1.2.3,abc,2,3,0\n1.2.3,1,2,3,1\n'),
      ),
      // an unknown kind of file
      sourceFromBytes('bad/photo.bin', new Uint8Array(500)),
    ];
    const progress: FileProgress[] = [];
    const report = await ingestFiles(db, [...bad, ...good], { onProgress: (p) => progress.push(p) });

    const uids = good.filter((f) => f.path.endsWith('.mhd')).map((f) => f.path.split('/').pop()!.replace('.mhd', ''));
    expect(report.series.sort()).toEqual(uids.sort());
    const errorFor = (file: string) =>
      report.errors
        .filter((e) => e.file === file)
        .map((e) => e.message)
        .join(' | ');
    expect(errorFor('bad/truncated.mhd')).toMatch(/truncated\.raw.*holds 10 bytes/);
    expect(errorFor('bad/toolarge.mhd')).toMatch(/toolarge\.raw/);
    expect(errorFor('bad/longtype.mhd')).toMatch(/ElementType "MET_LONG_LONG"/);
    expect(errorFor('bad/garbage.mhd')).toMatch(/garbage\.mhd/);
    expect(errorFor('bad/notdicom.dcm')).toMatch(/notdicom\.dcm/);
    expect(errorFor('bad/annotations.csv')).toMatch(/missing column "coordZ"/);
    expect(errorFor('bad2/candidates.csv')).toMatch(/coordX.*abc|abc.*coordX/);
    expect(errorFor('bad/photo.bin')).toMatch(/not a recognised CT file/);
    // the good candidate row of the CSV with one bad row was kept
    expect((await db.candidatesFor(['1.2.3'])).find((r) => r.source === 'candidates')!.rows).toHaveLength(1);
    // every file got a final status
    const final = new Map(progress.map((p) => [p.file, p.status]));
    for (const f of good) expect(final.get(f.path)).toBe('stored');
    expect(final.get('bad/garbage.mhd')).toBe('error');

    const summary = await db.datasetSummary();
    expect(summary.seriesCount).toBe(uids.length);
    for (const s of summary.subsets.flatMap((g) => g.series)) {
      expect(s.subset).toBe('subset0');
      expect(s.positives).toBeGreaterThan(0);
      expect(s.candidates).toBeGreaterThan(s.positives);
      expect(s.annotations).toBeGreaterThan(0);
    }
  });

  it('stores clamped HU with the geometry, and a re-drop duplicates nothing', async () => {
    const db = freshDb();
    const drop = synthDrop(22, 1);
    const first = await ingestFiles(db, drop);
    expect(first.series).toHaveLength(1);
    const { record, voxels } = await db.readVolume(first.series[0]);
    const raw = drop.find((f) => f.path.endsWith('.raw'))!;
    const original = new Int16Array((await raw.bytes()).slice().buffer);
    expect(voxels).toEqual(clampHu(original));
    expect(record.digest).toMatch(/^[0-9a-f]{64}$/);

    const again = await ingestFiles(db, drop);
    expect(again.series).toHaveLength(0);
    // Scans and CSVs alike: nothing is read, parsed or stored again.
    expect(again.skipped.filter((s) => s.reason === 'already cached').length).toBe(
      drop.filter((f) => /\.(mhd|csv)$/.test(f.path)).length,
    );
    expect(again.tables).toEqual([]);
    const forced = await ingestFiles(db, drop, { force: true });
    expect(forced.series).toEqual(first.series);
    expect(await db.listSeries()).toHaveLength(1);
    expect((await db.getSeries(first.series[0]))!.digest).toBe(record.digest);
  });

  it('ingests the real samples: DICOM series, .zraw masks, and the missing .raw error', async () => {
    const db = freshDb();
    const files: SourceFile[] = [];
    const walk = (dir: string, rel: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        if (e.isDirectory()) walk(join(dir, e.name), `${rel}/${e.name}`);
        else files.push(sourceFromBytes(`${rel}/${e.name}`, new Uint8Array(readFileSync(join(dir, e.name)))));
      }
    };
    for (const d of [
      'lidc-idri-0001',
      'luna16-seg-lungs',
      'luna16-header-only-raw-missing',
      'dcmqi',
      'rt-utils-phantom',
    ])
      walk(join(SAMPLES, d), d);
    const report = await ingestFiles(db, files);
    expect(report.series).toContain('1.3.6.1.4.1.14519.5.2.1.6279.6001.179049373636438705059720603192');
    expect(report.series).toContain('1.3.6.1.4.1.14519.5.2.1.6279.6001.108197895896446896160048741492');
    expect(report.series).toHaveLength(5);
    expect(report.errors.map((e) => e.message).join('\n')).toMatch(/102133688497886810253331438797\.raw/);
    // READMEs and checksums are skipped, not errors
    expect(report.errors.every((e) => !/ATTRIBUTION|README/i.test(e.file))).toBe(true);
    const lidc = await db.getSeries('1.3.6.1.4.1.14519.5.2.1.6279.6001.179049373636438705059720603192');
    expect(lidc!.shape).toEqual([16, 512, 512]);
    expect(lidc!.hu.min).toBe(-2048);
    expect(lidc!.subset).toBe('lidc-idri-0001');
  });
});

describe('ingestFiles: slabs encoded by a pool while the next scan loads', () => {
  /** Encode workers as the ingest worker has them, finishing a little later than asked. */
  const pool = (fail?: (v: Int16Array) => boolean) =>
    slabEncoderPool(
      () => ({
        encode: async (v, codec) => {
          await new Promise((ok) => setTimeout(ok, 1));
          if (fail?.(v)) throw new Error('slab encode worker failed: it crashed');
          return encodeSlab(v, codec);
        },
        dispose: () => undefined,
      }),
      2,
    );

  it('stores the same slabs, records and voxels as encoding in this thread', async () => {
    const drop = synthDrop(31, 3);
    const here = freshDb();
    const there = freshDb();
    const a = await ingestFiles(here, drop);
    const b = await ingestFiles(there, drop, { encoder: pool() });
    expect(b.series).toEqual(a.series);
    expect(b.errors).toEqual([]);
    expect(b.series).toHaveLength(3);
    for (const uid of a.series) {
      const x = await here.readVolume(uid);
      const y = await there.readVolume(uid);
      expect(y.voxels).toEqual(x.voxels);
      const { addedAt: _a, ...rx } = x.record;
      const { addedAt: _b, ...ry } = y.record;
      expect(ry).toEqual(rx); // digest, codec and stored size included
    }
  });

  it('a series whose slabs fail to encode is an error for its files only; the next one is stored', async () => {
    const drop = synthDrop(32, 2);
    const db = freshDb();
    let first = true;
    const progress: FileProgress[] = [];
    // The first series' first slab fails; every later slab encodes.
    const r = await ingestFiles(db, drop, {
      encoder: pool(() => (first ? !(first = false) : false)),
      onProgress: (p) => progress.push(p),
    });
    expect(r.series).toHaveLength(1);
    expect(r.errors.map((e) => e.message)).toEqual([
      'slab encode worker failed: it crashed',
      'slab encode worker failed: it crashed',
    ]);
    expect(r.errors.map((e) => e.file.replace(/.*\./, ''))).toEqual(['mhd', 'raw']);
    expect(await db.listSeries()).toHaveLength(1);
    // Every file settles: none is left "reading".
    const last = new Map(progress.map((p) => [p.file, p.status]));
    expect([...last.values()].filter((s) => s === 'reading')).toEqual([]);
  });
});

describe('ingestFiles settles every file', () => {
  const sample = (dir: string) =>
    readdirSync(join(SAMPLES, dir)).map((name) =>
      sourceFromBytes(`${dir}/${name}`, new Uint8Array(readFileSync(join(SAMPLES, dir, name)))),
    );

  it('two refused scouts: both files end as errors pointing to the series, none stays "reading"', async () => {
    const progress: FileProgress[] = [];
    const files = sample('pydicom/dicomdirtests/98892001/CT2N');
    expect(files).toHaveLength(2);
    const report = await ingestFiles(freshDb(), files, { onProgress: (p) => progress.push(p) });
    const final = new Map(progress.map((p) => [p.file, p]));
    for (const f of files) expect(final.get(f.path)?.status).toBe('error');
    expect(new Set(report.errors.map((e) => e.file))).toEqual(new Set(files.map((f) => f.path)));
    expect(report.errors.map((e) => e.message).join('\n')).toMatch(/scout\/localizer[\s\S]*its series was refused/);
  });

  it('a lung mask ({0,3,4,5}) is cached with a warning that it is not CT', async () => {
    const db = freshDb();
    const progress: FileProgress[] = [];
    const report = await ingestFiles(db, sample('luna16-seg-lungs'), { onProgress: (p) => progress.push(p) });
    expect(report.series).toHaveLength(2);
    for (const uid of report.series) {
      const rec = await db.getSeries(uid);
      expect(rec!.warnings.join(' ')).toMatch(/\{0, 3, 4, 5\}.*label mask/);
    }
    expect(progress.filter((p) => p.status === 'stored' && p.warning?.includes('label mask'))).toHaveLength(4);
  });
});
