import { describe, expect, it } from 'vitest';
import { xyzToIrc } from './geometry.ts';
import { matchCandidates, parseLunaCsv, type Annotation, type Candidate } from './luna-csv.ts';
import { readMetaImage } from './metaimage.ts';
import {
  generateScan,
  generateSynthetic,
  luna16MhdHeader,
  synthAnnotations,
  synthScanFiles,
  synthScanShape,
  synthVolume,
  SYNTH_HU,
  type SynthFile,
  type SynthScan,
  type SynthSize,
} from './synthetic.ts';
import { IDENTITY, type Vec3 } from './volume.ts';

const dec = new TextDecoder();

function huAt(scan: SynthScan, xyz: Vec3): number {
  const [k, j, i] = xyzToIrc(xyz, { origin: scan.origin, spacing: scan.spacing, direction: IDENTITY });
  const [nz, ny, nx] = scan.shape;
  expect(k >= 0 && k < nz && j >= 0 && j < ny && i >= 0 && i < nx).toBe(true);
  return scan.data[(k * ny + j) * nx + i];
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

const scanCache = new Map<string, SynthScan>();
function scan(size: SynthSize, index: number, seed = 11): SynthScan {
  const key = `${size}/${index}/${seed}`;
  let s = scanCache.get(key);
  if (!s) {
    s = generateScan({ size, seed, index });
    scanCache.set(key, s);
  }
  return s;
}
const TINY = Array.from({ length: 8 }, (_, i) => i);

describe('synthScanShape', () => {
  it('gives [index, row, col] per size', () => {
    expect(synthScanShape('tiny')).toEqual([40, 64, 64]);
    expect(synthScanShape('small')).toEqual([64, 128, 128]);
    expect(synthScanShape('full')).toEqual([120, 512, 512]);
    expect(() => synthScanShape('huge' as SynthSize)).toThrow(RangeError);
  });
});

describe('generateSynthetic: files', () => {
  const files = (opts: Parameters<typeof generateSynthetic>[0]): SynthFile[] => [...generateSynthetic(opts)];

  it('yields .mhd then .raw per scan, then annotations.csv and candidates.csv, in subsetK folders', () => {
    const out = files({ scans: 4, size: 'tiny', seed: 3, subsets: 3 });
    expect(out).toHaveLength(10);
    const paths = out.map((f) => f.path);
    expect(paths.slice(-2)).toEqual(['annotations.csv', 'candidates.csv']);
    const uids: string[] = [];
    for (let n = 0; n < 4; n++) {
      const m = /^subset(\d)\/(1\.3\.6\.1\.4\.1\.55555\.1\.2\.\d+\.\d+)\.mhd$/.exec(paths[2 * n]);
      expect(m, paths[2 * n]).not.toBeNull();
      expect(Number(m![1])).toBe(n % 3);
      expect(paths[2 * n + 1]).toBe(`subset${n % 3}/${m![2]}.raw`);
      uids.push(m![2]);
      // A valid DICOM UID: digits and dots, no leading zeros, at most 64 characters.
      expect(m![2].length).toBeLessThanOrEqual(64);
      expect(m![2].split('.').every((c) => /^(0|[1-9]\d*)$/.test(c))).toBe(true);
    }
    expect(new Set(uids).size).toBe(4);
  });

  it('is deterministic for a seed and differs between seeds; scan n does not depend on the count', () => {
    const a = files({ scans: 2, size: 'tiny', seed: 5 });
    const b = files({ scans: 2, size: 'tiny', seed: 5 });
    expect(a.map((f) => f.path)).toEqual(b.map((f) => f.path));
    for (let i = 0; i < a.length; i++) expect(Buffer.from(a[i].bytes).equals(Buffer.from(b[i].bytes))).toBe(true);

    const c = files({ scans: 2, size: 'tiny', seed: 6 });
    expect(c[0].path).not.toBe(a[0].path);
    expect(Buffer.from(c[1].bytes).equals(Buffer.from(a[1].bytes))).toBe(false);

    const one = files({ scans: 1, size: 'tiny', seed: 5 });
    expect(one[0].path).toBe(a[0].path);
    expect(Buffer.from(one[1].bytes).equals(Buffer.from(a[1].bytes))).toBe(true);
  });

  it('with malignancy, appends annotations_with_malignancy.csv and leaves every other file byte for byte', () => {
    const plain = files({ scans: 4, size: 'tiny', seed: 5, subsets: 2 });
    const mal = files({ scans: 4, size: 'tiny', seed: 5, subsets: 2, malignancy: true });
    expect(mal).toHaveLength(plain.length + 1);
    for (let i = 0; i < plain.length; i++) {
      expect(mal[i].path).toBe(plain[i].path);
      expect(Buffer.from(mal[i].bytes).equals(Buffer.from(plain[i].bytes)), plain[i].path).toBe(true);
    }
    const last = mal[mal.length - 1];
    expect(last.path).toBe('annotations_with_malignancy.csv');
    const parsed = parseLunaCsv(dec.decode(last.bytes), last.path);
    expect(parsed.kind).toBe('malignancy');
    expect(parsed.errors).toEqual([]);
    // The same nodules as annotations.csv, malignant exactly where part-solid.
    const scans = [0, 1, 2, 3].map((index) => generateScan({ size: 'tiny', seed: 5, index, subsets: 2 }));
    const expected = scans.flatMap((scan) =>
      scan.nodules.map((n) => ({
        seriesUid: scan.seriesUid,
        xyz: n.xyz,
        diameterMm: n.diameterMm,
        malignant: n.kind === 'part-solid',
      })),
    );
    const rows = parsed.kind === 'malignancy' ? parsed.rows : [];
    expect(rows).toEqual(expected);
    expect(rows.some((r) => r.malignant) && rows.some((r) => !r.malignant)).toBe(true);
  });

  it('is lazy: the first file comes before any other scan is generated', () => {
    const gen = generateSynthetic({ scans: 1000, size: 'tiny', seed: 1 });
    const t0 = performance.now();
    const first = gen.next();
    expect(first.done).toBe(false);
    expect(first.value!.path.endsWith('.mhd')).toBe(true);
    expect(performance.now() - t0).toBeLessThan(5000);
    gen.return(undefined);
  });

  it('writes LUNA16 headers that the MetaImage reader reads back to the same volume', () => {
    const out = files({ scans: 2, size: 'tiny', seed: 9 });
    const s0 = generateScan({ size: 'tiny', seed: 9, index: 0 });
    const [mhd, raw] = out;
    const text = dec.decode(mhd.bytes);
    const lines = text.split('\n');
    expect(lines.map((l) => l.split(' = ')[0])).toEqual([
      'ObjectType',
      'NDims',
      'BinaryData',
      'BinaryDataByteOrderMSB',
      'CompressedData',
      'TransformMatrix',
      'Offset',
      'CenterOfRotation',
      'AnatomicalOrientation',
      'ElementSpacing',
      'DimSize',
      'ElementType',
      'ElementDataFile',
      '',
    ]);
    expect(text).toContain('ObjectType = Image\nNDims = 3\nBinaryData = True\nBinaryDataByteOrderMSB = False\n');
    expect(text).toContain('CompressedData = False\nTransformMatrix = 1 0 0 0 1 0 0 0 1\n');
    expect(text).toContain('CenterOfRotation = 0 0 0\nAnatomicalOrientation = RAI\n');
    expect(text).toContain('DimSize = 64 64 40\nElementType = MET_SHORT\n');
    expect(text).toContain(`ElementDataFile = ${s0.seriesUid}.raw\n`);
    const offset = lines[6].split(' = ')[1].split(' ').map(Number);
    expect(offset[0]).toBeLessThan(0);
    expect(offset[1]).toBeLessThan(0);
    expect(offset[2]).toBeLessThan(0);
    expect(raw.bytes.length).toBe(64 * 64 * 40 * 2);

    const vol = readMetaImage({
      file: mhd.path.split('/')[1],
      bytes: mhd.bytes,
      data: { file: raw.path.split('/')[1], bytes: raw.bytes },
    });
    expect(vol.seriesUid).toBe(s0.seriesUid);
    expect(vol.shape).toEqual([40, 64, 64]);
    expect(vol.spacing).toEqual(s0.spacing);
    expect(vol.origin).toEqual(s0.origin);
    expect(vol.direction).toEqual(IDENTITY);
    expect(vol.data).toBeInstanceOf(Int16Array);
    expect(Buffer.from(new Uint8Array((vol.data as Int16Array).buffer)).equals(Buffer.from(raw.bytes))).toBe(true);
    // x fastest, little-endian: voxel 1 is bytes 2..3.
    expect(vol.data[1]).toBe(new DataView(raw.bytes.buffer, raw.bytes.byteOffset).getInt16(2, true));
    expect(synthVolume(s0).data).toEqual(vol.data);
  });

  it('writes annotations.csv and candidates.csv that parse cleanly and agree with the scans', () => {
    const out = files({ scans: 3, size: 'tiny', seed: 4 });
    const ann = parseLunaCsv(dec.decode(out[6].bytes), 'annotations.csv');
    const cand = parseLunaCsv(dec.decode(out[7].bytes), 'candidates.csv');
    expect(ann.kind).toBe('annotations');
    expect(cand.kind).toBe('candidates');
    expect(ann.errors).toEqual([]);
    expect(cand.errors).toEqual([]);
    expect(dec.decode(out[6].bytes).startsWith('seriesuid,coordX,coordY,coordZ,diameter_mm\n')).toBe(true);
    expect(dec.decode(out[7].bytes).startsWith('seriesuid,coordX,coordY,coordZ,class\n')).toBe(true);
    const scans = [0, 1, 2].map((index) => generateScan({ size: 'tiny', seed: 4, index }));
    expect(ann.rows).toEqual(scans.flatMap(synthAnnotations));
    expect(cand.rows).toEqual(scans.flatMap((s) => s.candidates.map(({ kind: _k, ...c }) => c)));
  });

  it('rejects bad options', () => {
    expect(() => files({ scans: -1, size: 'tiny', seed: 1 })).toThrow(RangeError);
    expect(() => files({ scans: 1, size: 'tiny', seed: 1, subsets: 0 })).toThrow(RangeError);
    expect(() => files({ scans: 1, size: 'big' as SynthSize, seed: 1 })).toThrow(RangeError);
    expect(() => files({ scans: 1, size: 'tiny', seed: NaN })).toThrow(RangeError);
    expect(files({ scans: 0, size: 'tiny', seed: 1 }).map((f) => f.path)).toEqual([
      'annotations.csv',
      'candidates.csv',
    ]);
  });
});

describe('generateScan: content', () => {
  it('has realistic geometry', () => {
    for (const size of ['tiny', 'small'] as const) {
      const s = scan(size, 0);
      expect(s.shape).toEqual(synthScanShape(size));
      expect(s.origin.every((o) => o < 0)).toBe(true);
      expect(s.spacing[0]).toBe(s.spacing[1]);
      expect(s.data.length).toBe(s.shape[0] * s.shape[1] * s.shape[2]);
    }
  });

  it('gives each tissue its HU: air -1000, lung ~-850, fat ~-100, soft tissue ~40, bone >= 300', () => {
    for (const size of ['tiny', 'small'] as const) {
      const s = scan(size, 1);
      const med = (pts: Vec3[]) => {
        expect(pts.length).toBeGreaterThanOrEqual(8);
        return median(pts.map((p) => huAt(s, p)));
      };
      expect(Math.abs(med(s.landmarks.air) - SYNTH_HU.air)).toBeLessThan(20);
      expect(med(s.landmarks.lung)).toBeGreaterThan(-895);
      expect(med(s.landmarks.lung)).toBeLessThan(-805);
      expect(Math.abs(med(s.landmarks.fat) - SYNTH_HU.fat)).toBeLessThan(20);
      expect(Math.abs(med(s.landmarks.soft) - SYNTH_HU.soft)).toBeLessThan(20);
      expect(med(s.landmarks.bone)).toBeGreaterThan(300);
    }
  });

  it('adds Gaussian noise of about 20 HU everywhere', () => {
    const s = scan('small', 2);
    // The first rows of the first slice lie outside the body: air plus noise.
    const corner = Array.from(s.data.subarray(0, 128 * 8));
    const mean = corner.reduce((a, b) => a + b, 0) / corner.length;
    const sd = Math.sqrt(corner.reduce((a, b) => a + (b - mean) ** 2, 0) / corner.length);
    expect(Math.abs(mean - SYNTH_HU.air)).toBeLessThan(3);
    expect(sd).toBeGreaterThan(15);
    expect(sd).toBeLessThan(28);
  });

  it('puts 3-30 mm nodules in the lungs with a solid voxel at every annotated centre', () => {
    let partSolid = 0;
    let total = 0;
    for (const index of TINY) {
      const s = scan('tiny', index);
      expect(s.nodules.length).toBeGreaterThanOrEqual(1);
      for (const n of s.nodules) {
        total++;
        if (n.kind === 'part-solid') partSolid++;
        expect(n.diameterMm).toBeGreaterThanOrEqual(3);
        expect(n.diameterMm).toBeLessThanOrEqual(30);
        expect(huAt(s, n.xyz)).toBeGreaterThan(-300);
      }
    }
    for (const index of [0, 1, 2]) {
      const s = scan('small', index);
      for (const n of s.nodules) expect(huAt(s, n.xyz)).toBeGreaterThan(-300);
    }
    expect(partSolid).toBeGreaterThan(0);
    expect(partSolid).toBeLessThan(total);
  });

  it('gives part-solid nodules a ground-glass halo around the solid core', () => {
    let checked = 0;
    for (const index of TINY) {
      const s = scan('tiny', index);
      for (const n of s.nodules.filter((x) => x.kind === 'part-solid')) {
        // Between core and edge, along the axes: mostly ground glass (partial volume aside).
        const minSemi = Math.min(...n.semiAxesMm);
        const d = (minSemi * (1 + n.coreRatio)) / 2;
        const probes: Vec3[] = [];
        for (const a of [0, 1, 2])
          for (const sgn of [-1, 1]) {
            const p: [number, number, number] = [n.xyz[0], n.xyz[1], n.xyz[2]];
            p[a] += sgn * d;
            probes.push(p);
          }
        const m = median(probes.map((p) => huAt(s, p)));
        expect(m).toBeGreaterThan(-800);
        expect(m).toBeLessThan(-150);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(0);
  });

  it('lists candidates the book matching assigns correctly: every nodule found, negatives unmatched', () => {
    const allCands: Candidate[] = [];
    const allAnns: Annotation[] = [];
    let pos = 0;
    let neg = 0;
    for (const index of TINY) {
      const s = scan('tiny', index);
      const anns = synthAnnotations(s);
      allAnns.push(...anns);
      allCands.push(...s.candidates);
      const { candidates, unmatchedAnnotations } = matchCandidates(s.candidates, anns);
      expect(unmatchedAnnotations).toEqual([]);
      for (const c of candidates) {
        if (c.isNodule) {
          pos++;
          expect(c.diameterMm).toBeGreaterThan(0);
        } else {
          neg++;
          expect(c.diameterMm).toBe(0);
        }
      }
      expect(s.candidates.every((c) => c.seriesUid === s.seriesUid)).toBe(true);
      expect(s.candidates.filter((c) => c.isNodule).every((c) => c.kind === 'nodule')).toBe(true);
    }
    expect(neg).toBeGreaterThanOrEqual(3 * pos);
    // Across series, too (different uids never match).
    const all = matchCandidates(allCands, allAnns);
    expect(all.unmatchedAnnotations).toEqual([]);
    expect(all.candidates.filter((c) => c.isNodule && c.diameterMm > 0)).toHaveLength(pos);
  });

  it('places negatives on vessels (vessel-like HU), in the chest wall and in empty lung', () => {
    const kinds = { vessel: 0, wall: 0, lung: 0 };
    for (const index of TINY) {
      const s = scan('tiny', index);
      for (const c of s.candidates) {
        const hu = huAt(s, c.xyz);
        if (c.kind === 'vessel') {
          kinds.vessel++;
          expect(hu).toBeGreaterThan(-300);
          expect(hu).toBeLessThan(200);
        } else if (c.kind === 'wall') {
          kinds.wall++;
          expect(hu).toBeGreaterThan(-300);
        } else if (c.kind === 'lung') {
          kinds.lung++;
          expect(hu).toBeLessThan(-700);
        }
      }
    }
    expect(kinds.vessel).toBeGreaterThanOrEqual(TINY.length * 4);
    expect(kinds.wall).toBeGreaterThan(0);
    expect(kinds.lung).toBeGreaterThan(0);
  });

  it('a full-size 512x512x120 scan generates in a few seconds', () => {
    const t0 = performance.now();
    const s = generateScan({ size: 'full', seed: 1, index: 0 });
    const ms = performance.now() - t0;
    expect(s.shape).toEqual([120, 512, 512]);
    expect(s.spacing[0]).toBeGreaterThan(0.6);
    expect(s.spacing[0]).toBeLessThan(0.8);
    expect(s.spacing[2]).toBe(2.5);
    const [mhd, raw] = synthScanFiles(s);
    expect(raw.bytes.length).toBe(512 * 512 * 120 * 2);
    expect(dec.decode(mhd.bytes)).toContain('DimSize = 512 512 120\n');
    for (const n of s.nodules) expect(huAt(s, n.xyz)).toBeGreaterThan(-300);
    // Generous: the point is "seconds, not minutes" on a slow CI machine.
    expect(ms).toBeLessThan(20_000);
  });
});

describe('luna16MhdHeader', () => {
  it('formats numbers without float noise and ends with a newline', () => {
    const h = luna16MhdHeader({
      dataFile: 'x.raw',
      shape: [3, 2, 1],
      spacing: [0.7, 0.7, 2.5],
      origin: [-170.1, -190, -300.25],
    });
    expect(h).toContain('Offset = -170.1 -190 -300.25\n');
    expect(h).toContain('ElementSpacing = 0.7 0.7 2.5\n');
    expect(h).toContain('DimSize = 1 2 3\n');
    expect(h.endsWith('ElementDataFile = x.raw\n')).toBe(true);
  });
});
