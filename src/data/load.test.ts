import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadFiles, subsetOf, type LoadItem } from './load.ts';
import { sourceFromBytes } from './source.ts';
import { detectKind, looksLikeDicom } from './detect.ts';

const enc = (s: string) => new TextEncoder().encode(s);

async function collect(it: AsyncGenerator<LoadItem>): Promise<LoadItem[]> {
  const out: LoadItem[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe('subsetOf', () => {
  it('finds LUNA16 subset folders anywhere in the path, else the top folder', () => {
    expect(subsetOf('LUNA16/subset3/1.2.mhd')).toBe('subset3');
    expect(subsetOf('Subset0/1.2.mhd')).toBe('subset0');
    expect(subsetOf('patient7/series/1.dcm')).toBe('patient7');
    expect(subsetOf('loose.mhd')).toBeNull();
  });
});

describe('detectKind', () => {
  it('decides by extension, else by the DICM magic', () => {
    const dicm = new Uint8Array(132);
    dicm.set(enc('DICM'), 128);
    expect(detectKind('a/b.MHD', new Uint8Array())).toBe('mhd');
    expect(detectKind('a/b.zraw', new Uint8Array())).toBe('metadata');
    expect(detectKind('a/17136', dicm)).toBe('dicom');
    expect(detectKind('a/README.md', new Uint8Array())).toBe('ignored');
    expect(detectKind('a/blob', new Uint8Array(132))).toBe('unknown');
    expect(looksLikeDicom(Uint8Array.from([0x08, 0x00, 0x05, 0x00, 0x43, 0x53, 0x0a, 0x00]))).toBe(true);
  });
});

describe('loadFiles', () => {
  it("reads LUNA16's real annotations.csv as the nodules and leaves out the files that share its header", async () => {
    // ../shared/ct-samples/luna16-annotations holds all four; annotations_excluded.csv has
    // annotations.csv's header but lists findings that are not nodules.
    const dir = resolve(process.cwd(), '../shared/ct-samples/luna16-annotations');
    const files = readdirSync(dir).map((name) =>
      sourceFromBytes(`luna16-annotations/${name}`, new Uint8Array(readFileSync(join(dir, name)))),
    );
    const items = await collect(loadFiles(files));
    const tables = items.filter((i) => i.type === 'annotations' || i.type === 'candidates' || i.type === 'malignancy');
    expect(tables.map((t) => t.file).sort()).toEqual([
      'luna16-annotations/annotations.csv',
      'luna16-annotations/annotations_with_malignancy.csv',
    ]);
    const ann = tables.find((t) => t.type === 'annotations');
    expect(ann?.rows.length).toBe(1186);
    // The book's p2ch14 table: 1,182 nodules with mal_bool, read as its own kind.
    const mal = tables.find((t) => t.type === 'malignancy');
    expect(mal?.type === 'malignancy' && mal.rows.length).toBe(1182);
    expect(mal?.type === 'malignancy' && mal.rowErrors).toEqual([]);
    const skipped = Object.fromEntries(
      items.flatMap((i) => (i.type === 'skipped' ? [[i.file.split('/')[1], i.reason]] : [])),
    );
    expect(skipped['annotations_excluded.csv']).toMatch(/excluded findings \(not nodules\).*--excluded/);
    expect(skipped['annotations_with_malignancy.csv']).toBeUndefined();
    expect(skipped['seriesuids.csv']).toMatch(/scan list.*--seriesuids/);
    expect(items.filter((i) => i.type === 'error')).toEqual([]);
  });

  it('pairs a .mhd with the data file its header names, in its own folder', async () => {
    const header = (file: string) =>
      enc(
        `ObjectType = Image\nNDims = 3\nBinaryData = True\nBinaryDataByteOrderMSB = False\nTransformMatrix = 1 0 0 0 1 0 0 0 1\nOffset = 0 0 0\nElementSpacing = 1 1 1\nDimSize = 2 2 1\nElementType = MET_SHORT\nElementDataFile = ${file}\n`,
      );
    const items = await collect(
      loadFiles([
        sourceFromBytes('s0/a.mhd', header('data_a.raw')),
        sourceFromBytes('s0/data_a.raw', new Uint8Array(new Int16Array([1, 2, 3, 4]).buffer)),
        sourceFromBytes('s1/data_a.raw', new Uint8Array(8)),
      ]),
    );
    const vol = items.find((i) => i.type === 'volume');
    expect(vol && vol.type === 'volume' && Array.from(vol.volume.data)).toEqual([1, 2, 3, 4]);
    expect(vol && vol.type === 'volume' && vol.sources.map((s) => s.path)).toEqual(['s0/a.mhd', 's0/data_a.raw']);
    // the other folder's raw is not claimed by anyone: reported, not silently dropped
    const orphan = items.find((i) => i.type === 'error');
    expect(orphan).toMatchObject({ file: 's1/data_a.raw' });
  });

  it('skips files reported as known, with their paired data', async () => {
    const items = await collect(
      loadFiles(
        [
          sourceFromBytes(
            's0/a.mhd',
            enc('NDims = 3\nDimSize = 1 1 1\nElementType = MET_SHORT\nElementDataFile = a.raw\n'),
          ),
          sourceFromBytes('s0/a.raw', new Uint8Array(2)),
        ],
        { isKnown: () => true },
      ),
    );
    expect(items).toEqual([{ type: 'skipped', file: 's0/a.mhd', reason: 'already cached' }]);
  });
});
