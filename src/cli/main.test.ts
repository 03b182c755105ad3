/**
 * The CLI end to end in-process: real files from ../shared/ct-samples, captured output.
 */
import { describe, expect, it } from 'vitest';
import { resolve, join } from 'node:path';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { runCli } from './run-cli.test-helper.ts';

const SAMPLES = resolve(process.cwd(), '../shared/ct-samples');
const LIDC = join(SAMPLES, 'lidc-idri-0001');
const LIDC_UID = '1.3.6.1.4.1.14519.5.2.1.6279.6001.179049373636438705059720603192';

const run = runCli;

describe('luna-lab inspect', () => {
  it('describes a DICOM folder as JSON, HU before clamping', async () => {
    const r = await run('inspect', LIDC, '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out) as {
      series: {
        seriesUid: string;
        format: string;
        shape: number[];
        spacing: number[];
        origin: number[];
        direction: number[];
        hu: { min: number; max: number; mean: number };
        files: number;
        warnings: string[];
      }[];
    };
    expect(j.series).toHaveLength(1);
    const s = j.series[0];
    expect(s).toMatchObject({ format: 'dicom', seriesUid: LIDC_UID, shape: [16, 512, 512], files: 16 });
    expect(s.spacing[2]).toBeCloseTo(2.5, 6);
    expect(s.origin[2]).toBeCloseTo(-132.5, 6);
    expect(s.direction).toHaveLength(9);
    expect(s.hu.min).toBe(-2048); // padding outside the field of view, before clamping
    expect(s.hu.max).toBeGreaterThan(1000);
  });

  it('describes a .mhd + .zraw pair', async () => {
    const dir = join(SAMPLES, 'luna16-seg-lungs');
    const mhd = readdirSync(dir).find((f) => f.endsWith('108197895896446896160048741492.mhd'))!;
    const r = await run('inspect', join(dir, mhd), '--json');
    expect(r.code).toBe(0);
    const s = JSON.parse(r.out).series[0];
    expect(s).toMatchObject({ format: 'metaimage', shape: [119, 512, 512] });
    expect(s.hu.min).toBe(0);
    expect(s.hu.max).toBe(5);
  });

  it('names the missing data file and fails', async () => {
    const r = await run('inspect', join(SAMPLES, 'luna16-header-only-raw-missing'));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/1\.3\.6\.1\.4\.1\.14519\.5\.2\.1\.6279\.6001\.102133688497886810253331438797\.raw/);
    expect(r.err).not.toMatch(/\n\s+at /); // no stack trace for expected errors
  });

  it('rejects pydicom scouts with a message and loads the contiguous series', async () => {
    const r = await run('inspect', join(SAMPLES, 'pydicom', 'dicomdirtests', '98892001'), '--json');
    expect(r.code).toBe(1); // CT2N is rejected
    const j = JSON.parse(r.out);
    expect(j.series.map((s: { shape: number[] }) => s.shape)).toContainEqual([5, 16, 16]);
    expect(r.err).toMatch(/orientation|localizer/i);
  });

  it('exits 1 with a clear message for a path that does not exist, 2 for usage', async () => {
    expect((await run('inspect', '/nonexistent/x.mhd')).err).toMatch(/no such file or folder/);
    expect((await run('inspect')).code).toBe(2);
    expect((await run('crop', LIDC)).code).toBe(2);
    expect((await run('crop', LIDC, '--xyz', '1,2')).err).toMatch(/--xyz "1,2"/);
  });
});

describe('luna-lab crop', () => {
  it("lands LIDC-IDRI-0001's annotated nodule inside its crop, with nodule-like HU at the centre", async () => {
    const ann = readFileSync(join(SAMPLES, 'luna16-annotations', 'annotations.csv'), 'utf8')
      .split('\n')
      .find((l) => l.startsWith(LIDC_UID))!
      .split(',');
    const xyz = ann.slice(1, 4).join(',');
    const r = await run('crop', LIDC, '--xyz', xyz, '--size', '16,48,48', '--json');
    expect(r.code).toBe(0);
    const c = JSON.parse(r.out);
    expect(c.seriesUid).toBe(LIDC_UID);
    // z -115.868 from origin -132.5 at 2.5 mm → index round(6.65) = 7
    expect(c.centerIrc[0]).toBe(7);
    for (let a = 0; a < 3; a++) {
      expect(c.centerIrc[a]).toBeGreaterThanOrEqual(c.start[a]);
      expect(c.centerIrc[a]).toBeLessThan(c.start[a] + c.size[a]);
    }
    expect(c.centerHu).toBeGreaterThan(-300); // solid tissue, not lung air
    expect(c.hu.min).toBeGreaterThanOrEqual(-1000);
    expect(c.hu.max).toBeLessThanOrEqual(1000);
    // round(7 - 16/2) = -1: the window is shifted to start at slice 0, not padded
    expect(c.start[0]).toBe(0);
    expect(c.shifted).toBe(true);
    expect(c.padded).toBe(false);
  });

  it('shifts the default 32-slice crop: the 16-slice series is padded, not failed', async () => {
    const r = await run('crop', LIDC, '--xyz', '56.208,86.343,-115.868', '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).padded).toBe(true);
  });

  it('refuses a point outside the volume, naming the voxel', async () => {
    const r = await run('crop', LIDC, '--xyz', '0,0,500');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/outside the volume of shape 16×512×512/);
  });
});

describe('luna-lab synth', () => {
  it('writes the official layout that inspect then reads', async () => {
    const out = mkdtempSync(join(tmpdir(), 'luna-synth-'));
    const r = await run('synth', '--out', out, '--scans', '2', '--size', 'tiny', '--seed', '5');
    expect(r.code).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['annotations.csv', 'candidates.csv', 'subset0']);
    const files = readdirSync(join(out, 'subset0'));
    expect(files.filter((f) => f.endsWith('.mhd'))).toHaveLength(2);
    expect(files.filter((f) => f.endsWith('.raw'))).toHaveLength(2);
    const i = await run('inspect', out, '--json');
    expect(i.code).toBe(0);
    expect(JSON.parse(i.out).series).toHaveLength(2);
    expect((await run('synth', '--out', out, '--size', 'huge')).err).toMatch(/Expecting one of: tiny, small, full/);
  });
});

describe('luna-lab url', () => {
  it('decodes an older link to the config it meant, and notes on stderr where the lab now differs', async () => {
    const r = await run('url', '--decode', 'http://127.0.0.1:4173/#v=1&model.blocks=2&crop=16,24,24');
    expect(r.code).toBe(0);
    const c = JSON.parse(r.out) as { kernels: string; model: { blocks: number } };
    expect(c.kernels).toBe('stock');
    expect(c.model.blocks).toBe(2);
    expect(r.err).toBe(
      "luna-lab: note: kernels = stock: what this v=1 link means by leaving kernels out (the lab's default is now lab)",
    );
    // A current link: no note.
    const now = await run('url', '--decode', '#v=2&model.blocks=2&crop=16,24,24');
    expect(now.code).toBe(0);
    expect((JSON.parse(now.out) as { kernels: string }).kernels).toBe('lab');
    expect(now.err).toBe('');
  });

  it('writes a config file as a current link', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'luna-url-'));
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ model: { blocks: 2 }, crop: [16, 24, 24], kernels: 'stock' }));
    const r = await run('url', '--config', file, '--base', 'http://h:1/');
    expect(r.code).toBe(0);
    expect(r.out).toBe('http://h:1/#v=2&crop=16%2C24%2C24&model.blocks=2&kernels=stock');
  });
});
