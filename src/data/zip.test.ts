import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadFiles, type LoadItem } from './load.ts';
import { sourceFromBytes, type SourceFile } from './source.ts';
import { generateSynthetic } from './synthetic.ts';
import { baseName, detectKind, dirName, joinPath } from './detect.ts';
import { subsetOf } from './load.ts';
import { crc32, readMember, readZipIndex, type RandomAccess } from './zip.ts';
import type { Volume } from './volume.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const PYTHON = join(ROOT, '.venv/bin/python');
const FIXTURES = join(ROOT, 'src/data/zip_fixtures.py');
const LIDC = resolve(ROOT, '..', 'shared', 'ct-samples', 'lidc-idri-0001');

const tmp = mkdtempSync(join(tmpdir(), 'zip-test-'));
const looseDir = join(tmp, 'loose');
const zips = join(tmp, 'zips');
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function filesUnder(dir: string): SourceFile[] {
  const out: SourceFile[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const abs = join(d, e.name);
      if (e.isDirectory()) walk(abs);
      else out.push(sourceFromBytes(relative(dir, abs).split('\\').join('/'), readFileSync(abs)));
    }
  };
  walk(dir);
  return out;
}

function zipSource(name: string, bytes: Uint8Array = readFileSync(join(zips, name))): SourceFile {
  return sourceFromBytes(name, new Uint8Array(bytes), 1_700_000_000_000);
}

async function collect(files: SourceFile[]): Promise<LoadItem[]> {
  const out: LoadItem[] = [];
  for await (const x of loadFiles(files)) out.push(x);
  return out;
}

const volumes = (items: LoadItem[]) =>
  items.flatMap((i) => (i.type === 'volume' ? [{ volume: i.volume, subset: i.subset }] : []));
const errors = (items: LoadItem[]) => items.flatMap((i) => (i.type === 'error' ? [i.message] : []));

function sameVolume(a: Volume, b: Volume) {
  expect(a.seriesUid).toBe(b.seriesUid);
  expect(a.shape).toEqual(b.shape);
  expect(a.spacing).toEqual(b.spacing);
  expect(a.origin).toEqual(b.origin);
  expect(a.direction).toEqual(b.direction);
  expect(
    Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength).equals(
      Buffer.from(b.data.buffer, b.data.byteOffset, b.data.byteLength),
    ),
  ).toBe(true);
}

/** Offset of the central-directory entry of `name` (the test edits its fields). */
function centralEntry(zip: Uint8Array, name: string): number {
  const want = Buffer.from(name);
  for (let o = zip.length - 46; o >= 0; o--) {
    if (zip[o] === 0x50 && zip[o + 1] === 0x4b && zip[o + 2] === 1 && zip[o + 3] === 2) {
      const len = zip[o + 28] | (zip[o + 29] << 8);
      if (len === want.length && Buffer.from(zip.subarray(o + 46, o + 46 + len)).equals(want)) return o;
    }
  }
  throw new Error(`no central entry for ${name}`);
}

let loose: LoadItem[];
let uids: string[];

beforeAll(async () => {
  for (const f of generateSynthetic({ scans: 2, size: 'tiny', seed: 7 })) {
    const abs = join(looseDir, f.path);
    mkdirSync(dirname(abs), { recursive: true });
    writeFileSync(abs, f.bytes);
  }
  execFileSync(PYTHON, [FIXTURES, looseDir, zips]);
  loose = await collect(filesUnder(looseDir));
  uids = volumes(loose).map((v) => v.volume.seriesUid);
  expect(uids).toHaveLength(2);
}, 60_000);

describe('paths of zip members', () => {
  it('treat the archive as the folder it unpacks to', () => {
    expect(detectKind('dl/subset0.zip', new Uint8Array())).toBe('zip');
    expect(dirName('dl/subset0.zip:subset0/x.mhd')).toBe('dl/subset0.zip:subset0');
    expect(dirName('dl/subset0.zip:x.mhd')).toBe('dl/subset0.zip:');
    expect(joinPath('dl/subset0.zip:', 'x.raw')).toBe('dl/subset0.zip:x.raw');
    expect(joinPath('dl/subset0.zip:subset0', 'x.raw')).toBe('dl/subset0.zip:subset0/x.raw');
    expect(baseName('dl/subset0.zip:x.mhd')).toBe('x.mhd');
    expect(subsetOf('dl/subset0.zip:subset0/x.mhd')).toBe('subset0');
    expect(subsetOf('subset7.zip:x.mhd')).toBe('subset7');
    expect(subsetOf('lidc.zip:lidc/a/1.dcm')).toBe('lidc');
  });
});

describe('zip archives made by Python zipfile', () => {
  for (const name of ['stored.zip', 'deflated.zip', 'zip64.zip', 'descriptors.zip']) {
    it(`${name}: the same volumes, subsets and tables as the loose files`, async () => {
      const items = await collect([zipSource(name)]);
      expect(errors(items)).toEqual([]);
      const [a, b] = [volumes(items), volumes(loose)];
      expect(a.map((v) => v.subset)).toEqual(b.map((v) => v.subset));
      expect(a.map((v) => v.subset)).toEqual(['subset0', 'subset0']);
      a.forEach((v, i) => sameVolume(v.volume, b[i].volume));
      const rows = (xs: LoadItem[]) =>
        xs.flatMap((i) => (i.type === 'candidates' || i.type === 'annotations' ? [i.rows] : []));
      expect(rows(items)).toEqual(rows(loose));
      // Every member is named inside its archive, ready for error messages.
      const v = items.find((i) => i.type === 'volume');
      expect(v?.type === 'volume' && v.sources.map((s) => s.path)).toEqual([
        `${name}:subset0/${uids[0]}.mhd`,
        `${name}:subset0/${uids[0]}.raw`,
      ]);
    });
  }

  it('zip64.zip really carries the Zip64 end record, its locator and Zip64 extra fields', async () => {
    const bytes = readFileSync(join(zips, 'zip64.zip'));
    expect(bytes.includes(Buffer.from([0x50, 0x4b, 6, 6]))).toBe(true);
    expect(bytes.includes(Buffer.from([0x50, 0x4b, 6, 7]))).toBe(true);
    const cd = centralEntry(bytes, `subset0/${uids[0]}.raw`);
    expect(bytes.readUInt32LE(cd + 24)).toBe(0xffffffff); // the size lives in the extra field
    const index = await readZipIndex(randomAccess(bytes), 'zip64.zip');
    const raw = index.members.find((m) => m.name.endsWith(`${uids[0]}.raw`));
    expect(raw?.size).toBe(statSync(join(looseDir, 'subset0', `${uids[0]}.raw`)).size);
  });

  it('descriptors.zip has data descriptors (flag bit 3)', async () => {
    const index = await readZipIndex(randomAccess(readFileSync(join(zips, 'descriptors.zip'))), 'd.zip');
    expect(index.members.every((m) => (m.flags & 8) === 8)).toBe(true);
  });

  it('members at the top of an archive take the subset from its name', async () => {
    const items = await collect([zipSource('subset4.zip', readFileSync(join(zips, 'flat.zip')))]);
    expect(errors(items)).toEqual([]);
    expect(volumes(items).map((v) => [v.volume.seriesUid, v.subset])).toEqual(uids.map((u) => [u, 'subset4']));
  });

  it('a corrupt central directory: members come from the local headers, and the archive is named', async () => {
    const bytes = new Uint8Array(readFileSync(join(zips, 'deflated.zip')));
    bytes[centralEntry(bytes, `subset0/${uids[0]}.raw`)] = 0;
    const items = await collect([zipSource('deflated.zip', bytes)]);
    const errs = errors(items);
    expect(errs).toHaveLength(1);
    expect(errs[0]).toMatch(
      /^deflated\.zip: central directory entry \d+ of \d+ \(byte \d+\) is corrupt; \d+ member\(s\) read/,
    );
    volumes(items).forEach((v, i) => sameVolume(v.volume, volumes(loose)[i].volume));
    expect(volumes(items)).toHaveLength(2);
  });

  it('a truncated archive keeps the members before the cut and names the one cut', async () => {
    const bytes = readFileSync(join(zips, 'deflated.zip'));
    const lastRaw = `subset0/${uids[1]}.raw`;
    const at = bytes.indexOf(Buffer.from(lastRaw)); // its local header's name
    const cut = bytes.subarray(0, at + lastRaw.length + 500);
    const items = await collect([zipSource('deflated.zip', cut)]);
    const errs = errors(items);
    expect(errs[0]).toMatch(/^deflated\.zip: no end-of-central-directory record/);
    expect(errs.slice(1).join('\n')).toContain(`deflated.zip:${lastRaw}: truncated`);
    expect(volumes(items).map((v) => v.volume.seriesUid)).toEqual([uids[0]]);
    sameVolume(volumes(items)[0].volume, volumes(loose)[0].volume);
    expect(items.some((i) => i.type === 'candidates')).toBe(true);
  });

  it('an archive cut inside its first member, or not a zip at all, is one clear error', async () => {
    const bytes = readFileSync(join(zips, 'deflated.zip'));
    const items = await collect([zipSource('x.zip', bytes.subarray(0, 20)), zipSource('y.zip', Buffer.from('hello'))]);
    expect(errors(items)).toEqual([
      expect.stringMatching(/^x\.zip: not a readable zip archive \(no end-of-central-directory record/),
      expect.stringMatching(/^y\.zip: not a readable zip archive/),
    ]);
  });

  it('a member that claims fewer bytes than it holds is refused after at most its claim', async () => {
    const bytes = new Uint8Array(readFileSync(join(zips, 'deflated.zip')));
    const name = `subset0/${uids[0]}.raw`;
    const cd = centralEntry(bytes, name);
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    const real = view.getUint32(cd + 24, true);
    view.setUint32(cd + 24, real >> 1, true);
    const src = randomAccess(bytes);
    const m = (await readZipIndex(src, 'deflated.zip')).members.find((x) => x.name === name)!;
    await expect(readMember(src, m, `deflated.zip:${name}`)).rejects.toThrow(
      `deflated.zip:${name}: inflates to more than its declared ${real >> 1} bytes`,
    );
    // Through the loading path, the pair is refused by name and the other scan loads.
    const items = await collect([zipSource('deflated.zip', bytes)]);
    expect(errors(items)).toContain(`deflated.zip:${name}: inflates to more than its declared ${real >> 1} bytes`);
    expect(volumes(items).map((v) => v.volume.seriesUid)).toEqual([uids[1]]);
  });

  it('a member that claims more than it holds, or more than deflate can make, is refused by name', async () => {
    const bytes = new Uint8Array(readFileSync(join(zips, 'deflated.zip')));
    const name = `subset0/${uids[0]}.raw`;
    const cd = centralEntry(bytes, name);
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    const real = view.getUint32(cd + 24, true);
    const src = randomAccess(bytes);
    const member = async () => (await readZipIndex(src, 'a.zip')).members.find((x) => x.name === name)!;
    view.setUint32(cd + 24, real + 10, true);
    await expect(readMember(src, await member(), `a.zip:${name}`)).rejects.toThrow(
      `a.zip:${name}: inflates to ${real} bytes, not its declared ${real + 10}`,
    );
    view.setUint32(cd + 24, 0xfffffff0, true);
    await expect(readMember(src, await member(), `a.zip:${name}`)).rejects.toThrow(
      /more than deflate can produce|more than the \d+ a member may hold/,
    );
  });

  it('a corrupt stored member fails its CRC-32, named', async () => {
    const bytes = new Uint8Array(readFileSync(join(zips, 'stored.zip')));
    const name = `subset0/${uids[0]}.raw`;
    const at = Buffer.from(bytes).indexOf(Buffer.from(name)) + name.length + 100;
    bytes[at] ^= 0xff;
    const items = await collect([zipSource('stored.zip', bytes)]);
    expect(errors(items)).toContain(`stored.zip:${name}: CRC-32 mismatch: the stored data is corrupt`);
  });

  it('reads a member without reading the archive whole', async () => {
    const bytes = readFileSync(join(zips, 'deflated.zip'));
    let read = 0;
    const src: RandomAccess = {
      size: bytes.length,
      read: async (o, n) => {
        read += Math.min(n, bytes.length - o);
        return new Uint8Array(bytes.subarray(o, o + n));
      },
    };
    const index = await readZipIndex(src, 'a.zip');
    const mhd = index.members.find((m) => m.name.endsWith('.mhd'))!;
    const text = new TextDecoder().decode(await readMember(src, mhd, 'a.zip:x'));
    expect(text).toMatch(/ElementDataFile/);
    expect(read).toBeLessThan(bytes.length / 4);
  });

  it('a deflated member whose CRC-32 disagrees is refused by name', async () => {
    const bytes = new Uint8Array(readFileSync(join(zips, 'deflated.zip')));
    const name = `subset0/${uids[0]}.raw`;
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    const cd = centralEntry(bytes, name);
    view.setUint32(cd + 16, view.getUint32(cd + 16, true) ^ 1, true);
    const src = randomAccess(bytes);
    const m = (await readZipIndex(src, 'a.zip')).members.find((x) => x.name === name)!;
    await expect(readMember(src, m, `a.zip:${name}`)).rejects.toThrow(
      `a.zip:${name}: CRC-32 mismatch: the member is corrupt`,
    );
  });

  it('crc32 is zip’s, whole or continued part by part', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
    const b = new Uint8Array(10_007).map((_, i) => (i * 2654435761) >>> 24);
    expect(crc32(b)).toBe(4153154137); // Python: zlib.crc32(bytes((i * 2654435761 >> 24) & 255 for i in range(10007)))
    const cuts = [0, 1, 8, 13, 4096, 9999, 10_007];
    let c = 0;
    for (let k = 1; k < cuts.length; k++) c = crc32(b.subarray(cuts[k - 1], cuts[k]), c);
    expect(c).toBe(4153154137);
  });
});

describe('without DecompressionStream (fflate inflates)', () => {
  it('reads deflated members and refuses one that lies about its size', async () => {
    vi.stubGlobal('DecompressionStream', undefined);
    try {
      const items = await collect([zipSource('deflated.zip')]);
      expect(errors(items)).toEqual([]);
      volumes(items).forEach((v, i) => sameVolume(v.volume, volumes(loose)[i].volume));
      const bytes = new Uint8Array(readFileSync(join(zips, 'deflated.zip')));
      const name = `subset0/${uids[0]}.raw`;
      const view = new DataView(bytes.buffer, bytes.byteOffset);
      const cd = centralEntry(bytes, name);
      view.setUint32(cd + 24, 1000, true);
      const src = randomAccess(bytes);
      const m = (await readZipIndex(src, 'a.zip')).members.find((x) => x.name === name)!;
      await expect(readMember(src, m, 'a.zip:m')).rejects.toThrow(
        'a.zip:m: inflates to more than its declared 1000 bytes',
      );
    } finally {
      vi.unstubAllGlobals();
    }
  });
});

describe('a zip of DICOM series', () => {
  it('gives the same series and voxels as the loose lidc-idri-0001 files', async () => {
    const out = join(tmp, 'lidc');
    const src = join(tmp, 'lidc-src');
    mkdirSync(src, { recursive: true });
    execFileSync('cp', ['-r', LIDC, src]);
    execFileSync(PYTHON, [FIXTURES, src, out]);
    const looseItems = await collect(filesUnder(src));
    const zipped = await collect([zipSource('lidc-idri-0001.zip', readFileSync(join(out, 'deflated.zip')))]);
    expect(errors(zipped)).toEqual(errors(looseItems).map((m) => m)); // (none expected either way)
    const [a, b] = [volumes(zipped), volumes(looseItems)];
    expect(a.length).toBeGreaterThan(0);
    expect(a.map((v) => v.subset)).toEqual(b.map((v) => v.subset));
    a.forEach((v, i) => sameVolume(v.volume, b[i].volume));
  }, 60_000);
});

function randomAccess(bytes: Uint8Array): RandomAccess {
  return { size: bytes.length, read: async (o, n) => bytes.subarray(o, o + n) };
}
