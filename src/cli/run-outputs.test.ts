import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultConfig } from '../config/lab-config.ts';
import type { CheckpointOut } from '../headless/headless-api.ts';
import type { MetricPoint } from '../store/records.ts';
import {
  OUT,
  finalMetrics,
  metricsCsv,
  readMeta,
  readRunFolderWeights,
  writeCheckpoint,
  writeFiles,
  writeHistory,
  writeMeta,
  type RunMeta,
} from './run-outputs.ts';

let out: string;
beforeEach(async () => {
  out = await mkdtemp(join(tmpdir(), 'luna-run-outputs-'));
});
afterEach(async () => {
  await rm(out, { recursive: true, force: true });
});

const b64 = (bytes: number[]) => Buffer.from(bytes).toString('base64');

const history: MetricPoint[] = [
  { epoch: 1, step: 100, values: { 'training/loss/all': 0.9, 'training/pr/f1_score': 0.1 } },
  { epoch: 1, step: 100, values: { 'validating/loss/all': 0.8, 'validating/pr/f1_score': 0.2 } },
  { epoch: 2, step: 200, values: { 'training/loss/all': 0.5, 'training/pr/f1_score': 0.4, 'system/seconds': 12.5 } },
  { epoch: 3, step: 300, values: { 'training/loss/all': 0.25 } },
];

describe('metricsCsv', () => {
  it('one column per key (the union, sorted) after epoch and step; blanks where a point lacks a key', () => {
    expect(metricsCsv(history)).toBe(
      [
        'epoch,step,system/seconds,training/loss/all,training/pr/f1_score,validating/loss/all,validating/pr/f1_score',
        '1,100,,0.9,0.1,,',
        '1,100,,,,0.8,0.2',
        '2,200,12.5,0.5,0.4,,',
        '3,300,,0.25,,,',
        '',
      ].join('\n'),
    );
  });

  it('an empty history is the header alone', () => {
    expect(metricsCsv([])).toBe('epoch,step\n');
  });

  it('a value of 0 is written, not left blank', () => {
    expect(metricsCsv([{ epoch: 1, step: 0, values: { a: 0 } }])).toBe('epoch,step,a\n1,0,0\n');
  });
});

describe('finalMetrics', () => {
  it('the last training point and the last validation point, prefixes stripped', () => {
    expect(finalMetrics(history)).toEqual({
      training: { 'loss/all': 0.25 },
      validating: { 'loss/all': 0.8, 'pr/f1_score': 0.2 },
    });
  });

  it('takes only the keys of its phase from a mixed point', () => {
    const mixed: MetricPoint[] = [
      { epoch: 1, step: 1, values: { 'training/loss/all': 1, 'validating/loss/all': 2, 'system/x': 3 } },
    ];
    expect(finalMetrics(mixed)).toEqual({ training: { 'loss/all': 1 }, validating: { 'loss/all': 2 } });
  });

  it('empty objects when a phase never ran', () => {
    expect(finalMetrics([])).toEqual({ training: {}, validating: {} });
    expect(finalMetrics(history.filter((p) => !('validating/loss/all' in p.values))).validating).toEqual({});
  });
});

describe('writeHistory', () => {
  it('writes metrics.csv and one TensorBoard event file named events.out.tfevents.<10 digits>.<host>', async () => {
    const r = await writeHistory(out, history, 1_700_000_123.9);
    expect(r.csv).toBe(join(out, OUT.metrics));
    expect(await readFile(r.csv, 'utf8')).toBe(metricsCsv(history));
    const files = await readdir(join(out, OUT.tensorboard));
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^events\.out\.tfevents\.\d{10}\.[^/\\]+$/);
    expect(files[0]).toBe(`events.out.tfevents.1700000123.${hostname().replace(/[/\\]/g, '_')}`);
    expect(r.events).toBe(join(out, OUT.tensorboard, files[0]));
    expect((await stat(r.events)).size).toBeGreaterThan(0);
    // No temporary files are left behind.
    expect((await readdir(out)).sort()).toEqual([OUT.metrics, OUT.tensorboard].sort());
  });

  it('rewrites the same file when called again with the same wall time (a resumed run)', async () => {
    const first = await writeHistory(out, history, 1_700_000_000);
    const size1 = (await stat(first.events)).size;
    const second = await writeHistory(out, history.slice(0, 2), 1_700_000_000);
    expect(second.events).toBe(first.events);
    expect(await readdir(join(out, OUT.tensorboard))).toHaveLength(1);
    expect((await stat(second.events)).size).toBeLessThan(size1);
    expect(await readFile(second.csv, 'utf8')).toBe(metricsCsv(history.slice(0, 2)));
  });

  it('pads a small wall time to 10 digits', async () => {
    const r = await writeHistory(out, [], 42);
    expect(r.events).toMatch(/events\.out\.tfevents\.0000000042\./);
    expect((await stat(r.events)).size).toBeGreaterThan(0); // the file_version record
  });
});

describe('writeCheckpoint', () => {
  it('writes checkpoint.json, weights.bin and optimizer.bin; the JSON has the format and no base64 blobs', async () => {
    const weights = [1, 2, 3, 250, 251, 252];
    const optimizer = [9, 8, 7, 6];
    const cp: CheckpointOut = {
      epoch: 3,
      samplesSeen: 300,
      weightSpecs: [{ name: 'conv/kernel', shape: [3, 3, 3, 1, 8], dtype: 'float32' }],
      optimizerSpecs: [],
      state: { sampler: { epoch: 3 }, rng: [1, 2, 3, 4] },
      weights: b64(weights),
      optimizer: b64(optimizer),
    };
    const dir = join(out, OUT.final);
    await writeCheckpoint(dir, cp);
    expect((await readdir(dir)).sort()).toEqual(['checkpoint.json', 'optimizer.bin', 'weights.bin']);
    expect([...(await readFile(join(dir, 'weights.bin')))]).toEqual(weights);
    expect([...(await readFile(join(dir, 'optimizer.bin')))]).toEqual(optimizer);
    const text = await readFile(join(dir, 'checkpoint.json'), 'utf8');
    const json = JSON.parse(text) as Record<string, unknown>;
    expect(json.format).toBe('luna-lab-checkpoint/1');
    expect(json).toEqual({
      format: 'luna-lab-checkpoint/1',
      epoch: 3,
      samplesSeen: 300,
      weightSpecs: cp.weightSpecs,
      optimizerSpecs: [],
      state: cp.state,
    });
    expect(json).not.toHaveProperty('weights');
    expect(json).not.toHaveProperty('optimizer');
    expect(text).not.toContain(cp.weights);
  });

  it('overwrites an earlier checkpoint in the same folder', async () => {
    const dir = join(out, OUT.best);
    const cp = (epoch: number, w: number[]): CheckpointOut => ({
      epoch,
      samplesSeen: epoch,
      weightSpecs: [],
      optimizerSpecs: [],
      state: null,
      weights: b64(w),
      optimizer: b64([]),
    });
    await writeCheckpoint(dir, cp(1, [1, 1, 1, 1]));
    await writeCheckpoint(dir, cp(2, [2, 2]));
    expect([...(await readFile(join(dir, 'weights.bin')))]).toEqual([2, 2]);
    expect((await readFile(join(dir, 'optimizer.bin'))).length).toBe(0);
    expect((JSON.parse(await readFile(join(dir, 'checkpoint.json'), 'utf8')) as { epoch: number }).epoch).toBe(2);
    expect(await readdir(dir)).toHaveLength(3);
  });
});

describe('writeFiles', () => {
  it('writes each file (folders created) and returns the paths', async () => {
    const paths = await writeFiles(out, [
      { path: 'config.json', base64: b64([...Buffer.from('{}')]) },
      { path: 'model/tfjs/model.json', base64: b64([...Buffer.from('{"a":1}')]) },
      { path: 'model/model.onnx', base64: b64([0, 1, 2]) },
    ]);
    expect(paths).toEqual(['config.json', 'model/tfjs/model.json', 'model/model.onnx']);
    expect(await readFile(join(out, 'model', 'tfjs', 'model.json'), 'utf8')).toBe('{"a":1}');
    expect([...(await readFile(join(out, 'model', 'model.onnx')))]).toEqual([0, 1, 2]);
  });

  it.each(['../escape.txt', 'a/../../escape.txt', 'a/..', '/etc/escape', 'a//b', ''])(
    'refuses %j, writing nothing outside',
    async (path) => {
      await expect(writeFiles(join(out, 'run'), [{ path, base64: b64([1]) }])).rejects.toThrow(
        /refusing to write .* outside/,
      );
      expect(await readdir(out)).toEqual([]);
    },
  );

  it('checks every path before writing any', async () => {
    await expect(
      writeFiles(out, [
        { path: 'ok.txt', base64: b64([1]) },
        { path: '../bad', base64: b64([1]) },
      ]),
    ).rejects.toThrow(/\.\.\/bad/);
    expect(await readdir(out)).toEqual([]);
  });
});

describe('writeMeta / readMeta', () => {
  const meta: RunMeta = {
    runId: 'run-abc',
    name: 'luna 1',
    config: defaultConfig(),
    labUrl: 'http://127.0.0.1:5173/#v=1',
    dataDir: '/data/luna',
    profileDir: '/home/u/.cache/luna-lab/profile',
    device: 'cpu',
    createdAt: 1_700_000_000_000,
    eventsWallTime: 1_700_000_000,
    status: 'running',
    adapter: null,
    backend: 'webgpu',
  };

  it('round-trips run.json', async () => {
    await writeMeta(out, meta);
    expect(await readdir(out)).toEqual([OUT.meta]);
    expect(await readMeta(out)).toEqual(meta);
    await writeMeta(out, { ...meta, status: 'finished' });
    expect((await readMeta(out)).status).toBe('finished');
  });

  it('names the missing file and what --resume needs', async () => {
    await expect(readMeta(out)).rejects.toThrow(
      `${join(out, 'run.json')} is missing: --resume needs the --out folder of an earlier luna-lab train`,
    );
  });

  it.each(['runId', 'config', 'dataDir', 'profileDir'] as const)('names a missing field %s', async (field) => {
    const partial: Record<string, unknown> = { ...meta };
    delete partial[field];
    await writeFile(join(out, OUT.meta), JSON.stringify(partial));
    await expect(readMeta(out)).rejects.toThrow(`${join(out, 'run.json')}: field "${field}" is missing`);
  });

  it('names the file when run.json is not JSON or not an object', async () => {
    await writeFile(join(out, OUT.meta), '{"runId": "x", ');
    await expect(readMeta(out)).rejects.toThrow(`${join(out, 'run.json')}: not JSON (`);
    for (const text of ['null', '[]', '"run"']) {
      await writeFile(join(out, OUT.meta), text);
      await expect(readMeta(out)).rejects.toThrow(`${join(out, 'run.json')}: expected a JSON object`);
    }
  });
});

describe('readRunFolderWeights (--from DIR)', () => {
  const spec = { name: 'head/kernel', shape: [2, 2], dtype: 'float32' as const };
  it("reads the folder's final checkpoint and names the folder, its run and epoch in tags", async () => {
    const cp: CheckpointOut = {
      epoch: 2,
      samplesSeen: 20,
      weightSpecs: [spec],
      optimizerSpecs: [],
      state: {},
      weights: b64([1, 2, 3, 4]),
      optimizer: b64([]),
    };
    await writeCheckpoint(join(out, OUT.final), cp);
    await writeMeta(out, {
      runId: '0123456789abcdef',
      name: 'n',
      config: defaultConfig(),
      labUrl: '',
      dataDir: '/d',
      profileDir: '/p',
      device: 'cpu',
      createdAt: 0,
      eventsWallTime: 0,
    });
    expect(await readRunFolderWeights(out)).toEqual({
      specs: [spec],
      base64: b64([1, 2, 3, 4]),
      tags: [
        { key: 'luna.finetune.source_folder', value: out },
        { key: 'luna.finetune.source_run', value: '0123456789abcdef' },
        { key: 'luna.finetune.source_epoch', value: '2' },
      ],
    });
  });

  it('falls back to the exported tfjs model, and names a folder that has neither', async () => {
    await writeFiles(out, [
      {
        path: 'tfjs/model.json',
        base64: Buffer.from(
          JSON.stringify({ weightsManifest: [{ paths: ['weights.bin'], weights: [spec] }] }),
        ).toString('base64'),
      },
      { path: 'tfjs/weights.bin', base64: b64([5, 6]) },
    ]);
    expect(await readRunFolderWeights(out)).toMatchObject({ specs: [spec], base64: b64([5, 6]) });
    await expect(readRunFolderWeights(join(out, 'nope'), 'runs/nope')).rejects.toThrow(
      '--from runs/nope: neither checkpoints/final/checkpoint.json nor tfjs/model.json is there (expected the --out folder of a luna-lab train)',
    );
  });
});
