/**
 * The lab's TensorBoard event files judged by TensorBoard itself: src/tracking/tfevents_reference.py
 * (in the project's .venv, tensorboard from .ci/requirements.txt) reads them with the stub record
 * reader that raises on a bad CRC, and with the multiplexer + data provider that
 * `tensorboard --logdir` serves the scalars dashboard from. Values are compared as float32 bits,
 * so NaN and infinities count too. A missing venv or module FAILS here, never skips.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MetricPoint } from '../store/records.ts';
import { EventFileWriter, eventFileName, maskedCrc32c, scalarRecord, tfRecord, writeMetricPoints } from './tfevents.ts';

const ROOT = process.cwd();
const PYTHON = path.join(ROOT, '.venv/bin/python');
const SCRIPT = path.join(ROOT, 'src/tracking/tfevents_reference.py');
const SETUP =
  'run `bash .ci/setup-venv` (installs tensorboard from .ci/requirements.txt into .venv) and re-run the tests';

interface StrictEvent {
  wall_time: number;
  step: number;
  what: string | null;
  file_version?: string;
  values?: { tag: string; kind: string; bits: string }[];
}
interface Report {
  tensorboard_version: string;
  files: Record<string, { events: StrictEvent[]; error: string | null }>;
  scalars: Record<string, Record<string, { step: number; wall_time: number; bits: string }[]>>;
}

/** Float32 bits as Python's struct.pack('<f').hex() writes them. */
function f32Bits(x: number): string {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setFloat32(0, x, true);
  return Buffer.from(b).toString('hex');
}

function readBack(logdir: string): Report {
  if (!fs.existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: ${SETUP}`);
  const r = spawnSync(PYTHON, [SCRIPT, logdir], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0)
    throw new Error(`tfevents_reference.py exited ${r.status}: ${r.stderr}\n(${SETUP} if tensorboard is missing)`);
  return JSON.parse(r.stdout) as Report;
}

const T0 = 1_780_000_000.25;
const BIG = 2 ** 40 + 3; // an int64 step past 32 bits
const POINTS: MetricPoint[] = [
  {
    epoch: 1,
    step: 1000,
    values: { 'training/loss/all': 0.6931, 'training/pr/f1_score': NaN, 'validating/loss/all': 0.7 },
  },
  {
    epoch: 2,
    step: BIG,
    values: { 'training/loss/all': 0.5, 'training/pr/f1_score': 0.25, 'validating/loss/all': Infinity },
  },
];
// tag -> [step, value, wall time] in the order written.
const EXPECTED: Record<string, [number, number, number][]> = {
  'training/loss/all': [
    [1000, 0.6931, T0],
    [BIG, 0.5, T0],
    [2 ** 53 - 1, -Infinity, T0 + 5],
  ],
  'training/pr/f1_score': [
    [1000, NaN, T0],
    [BIG, 0.25, T0],
  ],
  'validating/loss/all': [
    [1000, 0.7, T0],
    [BIG, Infinity, T0],
  ],
};

let dir = '';
let report: Report;
let fileName = '';

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'luna-tfevents-'));
  const run = path.join(dir, 'run-a');
  fs.mkdirSync(run);
  fileName = eventFileName(T0, 'luna-host');
  const file = path.join(run, fileName);
  const w = new EventFileWriter(T0);
  // Written as the headless CLI will: the header first, then appended drains.
  fs.writeFileSync(file, w.drain());
  writeMetricPoints(w, POINTS.slice(0, 1));
  fs.appendFileSync(file, w.drain());
  writeMetricPoints(w, POINTS.slice(1));
  w.scalar('training/loss/all', -Infinity, 2 ** 53 - 1, T0 + 5);
  fs.appendFileSync(file, w.drain());
  expect(fs.readFileSync(file)).toEqual(Buffer.from(w.bytes()));

  // A copy with one data byte flipped in its last record, which the strict reader must reject.
  const bad = Buffer.from(w.bytes());
  bad[bad.length - 6] ^= 0x01;
  fs.mkdirSync(path.join(dir, 'corrupt'));
  fs.writeFileSync(path.join(dir, 'corrupt', fileName), bad);

  report = readBack(dir);
}, 120_000);

afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('CRC32C and TFRecord framing', () => {
  it('computes CRC32C and its TFRecord mask', () => {
    // CRC32C("123456789") = 0xe3069283 (RFC 3720 check value), masked as TFRecord does.
    const crc = 0xe3069283;
    const masked = ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
    expect(maskedCrc32c(new TextEncoder().encode('123456789'))).toBe(masked);
  });

  it('frames a record as length, length CRC, data, data CRC', () => {
    const data = new Uint8Array([1, 2, 3]);
    const rec = tfRecord(data);
    const v = new DataView(rec.buffer);
    expect(rec.length).toBe(8 + 4 + 3 + 4);
    expect(v.getBigUint64(0, true)).toBe(3n);
    expect(v.getUint32(8, true)).toBe(maskedCrc32c(rec.subarray(0, 8)));
    expect([...rec.subarray(12, 15)]).toEqual([1, 2, 3]);
    expect(v.getUint32(15, true)).toBe(maskedCrc32c(data));
  });
});

describe('event file names and input checks', () => {
  it('names files as TensorFlow does', () => {
    expect(eventFileName(1_780_000_000.9, 'host-1')).toBe('events.out.tfevents.1780000000.host-1');
    expect(eventFileName(12, 'h')).toBe('events.out.tfevents.0000000012.h');
    expect(() => eventFileName(1, 'a/b')).toThrow(/host "a\/b"/);
  });

  it('rejects steps an int64 from a JS number cannot carry exactly, and bad tags', () => {
    expect(() => scalarRecord({ tag: 'x', value: 1, step: 2 ** 53, wallTimeSec: 1 })).toThrow(
      /step 9007199254740992 for x/,
    );
    expect(() => scalarRecord({ tag: 'x', value: 1, step: 1.5, wallTimeSec: 1 })).toThrow(/step 1.5/);
    expect(() => scalarRecord({ tag: '', value: 1, step: 1, wallTimeSec: 1 })).toThrow(/tag ""/);
    expect(() => new EventFileWriter(NaN)).toThrow(/wall time NaN/);
  });
});

describe('read back by TensorBoard', () => {
  it('is installed (.venv with tensorboard from .ci/setup-venv)', () => {
    expect(report.tensorboard_version).toMatch(/^\d+\.\d+/);
  });

  it('accepts every record and CRC, starting with the file_version event', () => {
    const { events, error } = report.files[`run-a/${fileName}`];
    expect(error).toBeNull();
    const n = Object.values(EXPECTED).reduce((k, pts) => k + pts.length, 0);
    expect(events).toHaveLength(1 + n);
    expect(events[0]).toMatchObject({ what: 'file_version', file_version: 'brain.Event:2', wall_time: T0, step: 0 });
    for (const e of events.slice(1)) {
      expect(e.what).toBe('summary');
      expect(e.values).toHaveLength(1);
      expect(e.values![0].kind).toBe('simple_value');
    }
  });

  it('rejects a flipped byte (the reader really checks the data CRC)', () => {
    const { events, error } = report.files[`corrupt/${fileName}`];
    expect(error).toMatch(/failed event crc32 check/);
    expect(events).toHaveLength(Object.values(EXPECTED).reduce((k, pts) => k + pts.length, 0)); // all but the last
  });

  it('serves the scalars dashboard the tags, int64 steps, float32 values and wall times written', () => {
    const run = report.scalars['run-a'];
    expect(Object.keys(run).sort()).toEqual(Object.keys(EXPECTED).sort());
    for (const [tag, pts] of Object.entries(EXPECTED)) {
      expect(
        run[tag].map((d) => d.step),
        tag,
      ).toEqual(pts.map(([s]) => s));
      expect(
        run[tag].map((d) => d.bits),
        tag,
      ).toEqual(pts.map(([, v]) => f32Bits(v)));
      expect(
        run[tag].map((d) => d.wall_time),
        tag,
      ).toEqual(pts.map(([, , t]) => t));
    }
  });
});
