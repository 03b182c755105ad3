/**
 * Fine-tuning in Node (tfjs cpu, fake-indexeddb): a run starts from another run's checkpoint,
 * its frozen parts end bit-identical to the source's (BatchNorm statistics included), the parts
 * it trains move, the head is new, and the run's tags and URL name the source.
 */
import 'fake-indexeddb/auto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { openLabStore, type LabStore } from '../store/lab-store.ts';
import type { RunRecord } from '../store/records.ts';
import { ingestFiles } from '../store/ingest.ts';
import { sourceFromBytes } from '../data/source.ts';
import { generateSynthetic } from '../data/synthetic.ts';
import { resolveConfig, resolveConfigOrThrow, withField, type LabConfigInput } from '../config/lab-config.ts';
import { decodeLabUrl } from '../config/lab-url.ts';
import { buildLunaModel } from '../model/luna-model.ts';
import { Trainer } from './trainer.ts';
import { finetuneParts, trainedParts, partOf } from './finetune.ts';
import {
  loadMlflowModel,
  parseModelSource,
  parsePredictionsCsv,
  parseRunConfig,
  parseTfjsManifest,
} from './model-source.ts';
import { predictionsCsv } from '../tracking/run-tracking.ts';

const base: LabConfigInput = {
  crop: [8, 16, 16],
  model: { blocks: 2, width: 4, blockNorm: true },
  train: { epochs: 1, batchSize: 8, seed: 31 },
  backend: 'cpu',
};

let db: LabStore;
let source: RunRecord;
beforeAll(async () => {
  await tf.setBackend('cpu');
  db = openLabStore('finetune-test');
  const files = [...generateSynthetic({ scans: 3, size: 'tiny', seed: 5 })].map((f) =>
    sourceFromBytes(f.path, f.bytes),
  );
  await ingestFiles(db, files);
  source = await new Trainer(db).start(resolveConfigOrThrow(base), 'source');
  expect(source.status).toBe('finished');
}, 120_000);
afterAll(async () => {
  await db.delete();
});

async function weightsOf(runId: string): Promise<Map<string, Uint8Array>> {
  const cp = (await db.getCheckpoint(runId))!;
  const buf = new Uint8Array(await cp.weights.arrayBuffer());
  const out = new Map<string, Uint8Array>();
  let at = 0;
  for (const s of cp.weightSpecs) {
    const n = s.shape.reduce((a, b) => a * b, 1) * 4;
    out.set(s.name, buf.slice(at, at + n));
    at += n;
  }
  return out;
}

const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((v, i) => v === b[i]);
const part = (name: string) => partOf(name.split('/')[0]);

describe('fine-tuning from a run of this lab', { timeout: 120_000 }, () => {
  it('depth 1: every weight but the new head is the source’s, bit for bit, after training', async () => {
    const config = resolveConfigOrThrow({
      ...base,
      finetune: { from: source.runId, depth: 1 },
      train: { ...base.train, epochs: 2, seed: 32 },
    });
    const run = await new Trainer(db).start(config, 'head only');
    expect(run.error).toBeNull();
    expect(run.status).toBe('finished');
    const [before, after] = [await weightsOf(source.runId), await weightsOf(run.runId)];
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    const frozen = [...after.keys()].filter((k) => part(k) !== 'head_linear');
    // tail_bn and the blocks' BatchNorms (running statistics too), the convs: all untouched.
    expect(frozen.some((k) => k.endsWith('running_mean'))).toBe(true);
    for (const k of frozen) expect(same(after.get(k)!, before.get(k)!), k).toBe(true);
    // The head is new (the run's seed), and it trained.
    const fresh = buildLunaModel(config.model, config.crop, config.train.seed);
    const init = new Uint8Array(fresh.getLayer('head').getWeights()[0].dataSync().buffer);
    fresh.dispose();
    const head = [...after.keys()].find((k) => k.startsWith('head/') && k.endsWith('kernel'))!;
    expect(same(after.get(head)!, before.get(head)!)).toBe(false);
    expect(same(after.get(head)!, init)).toBe(false);
    // The source is recorded: in the config (so the URL) and in the tags.
    expect(decodeLabUrl(run.labUrl).config.finetune).toEqual({ from: source.runId, depth: 1 });
    expect(run.tags).toEqual(
      expect.arrayContaining([
        { key: 'luna.finetune.from', value: source.runId },
        { key: 'luna.finetune.depth', value: '1' },
        { key: 'luna.finetune.source_run', value: source.runId },
        { key: 'luna.finetune.source_epoch', value: '1' },
      ]),
    );
  });

  it('depth 2: the last block trains with the head; the first block and the input BatchNorm stay', async () => {
    const config = resolveConfigOrThrow({ ...base, finetune: { from: source.runId, depth: 2 } });
    const run = await new Trainer(db).start(config, 'last block');
    expect(run.status).toBe('finished');
    const [before, after] = [await weightsOf(source.runId), await weightsOf(run.runId)];
    for (const [k, v] of after) {
      const p = part(k);
      if (p === 'tail_batchnorm' || p === 'block1') expect(same(v, before.get(k)!), k).toBe(true);
      if (p === 'block2' && k.endsWith('kernel')) expect(same(v, before.get(k)!), k).toBe(false);
    }
  });

  it('depth 0 continues from every weight, nothing frozen; depth above the parts is refused', async () => {
    const model = buildLunaModel(resolveConfigOrThrow(base).model, [8, 16, 16], 1);
    expect(finetuneParts(model)).toEqual(['tail_batchnorm', 'block1', 'block2', 'head_linear']);
    expect(trainedParts(model, 0)).toEqual(finetuneParts(model));
    expect(trainedParts(model, 2)).toEqual(['block2', 'head_linear']);
    model.dispose();
    const bad = resolveConfig({ ...base, finetune: { from: source.runId, depth: 5 } });
    expect(bad.issues.map((i) => i.key)).toEqual(['finetune.depth']);
  });

  it('a source that does not fit, or is missing, fails the run with a message naming it', async () => {
    const wider = withField(withField(resolveConfigOrThrow(base), 'finetune.from', source.runId), 'model.width', 8);
    const run = await new Trainer(db).start(wider, 'too wide');
    expect(run.status).toBe('failed');
    expect(run.error).toMatch(
      /finetune.from ".*": weight block1_conv1\/kernel is \[.*\] in the source, \[.*\] in this run's model \(compare model.width/,
    );
    const missing = await new Trainer(db).start(
      withField(resolveConfigOrThrow(base), 'finetune.from', 'ffffffffffffffff'),
    );
    expect(missing.status).toBe('failed');
    expect(missing.error).toBe('finetune.from "ffffffffffffffff": no run ffffffffffffffff in this browser\'s lab');
    const folder = await new Trainer(db).start(withField(resolveConfigOrThrow(base), 'finetune.from', 'runs/a'));
    expect(folder.error).toMatch(/a run folder is read by luna-lab train --from DIR/);
  });
});

describe('model sources', () => {
  it('reads MLflow URIs, lab run ids and folders', () => {
    const id = 'a'.repeat(32);
    expect(parseModelSource(`runs:/${id}/model`)).toEqual({ kind: 'mlflow-run', runId: id, artifactPath: 'model' });
    expect(parseModelSource('models:/luna-lab/3')).toEqual({ kind: 'mlflow-model', name: 'luna-lab', version: '3' });
    expect(parseModelSource('0123456789abcdef')).toEqual({ kind: 'run', runId: '0123456789abcdef' });
    expect(parseModelSource('/tmp/run1')).toEqual({ kind: 'folder', path: '/tmp/run1' });
    expect(() => parseModelSource('models:/luna-lab')).toThrow(/models:\/<name>\/<version number>/);
    expect(() => parseModelSource('runs:/abc/model')).toThrow(/32-hex MLflow run id/);
  });

  it('reads the weights manifest of a tfjs model.json, and names a bad one', () => {
    const json = JSON.stringify({
      weightsManifest: [
        { paths: ['weights.bin'], weights: [{ name: 'head/kernel', shape: [4, 2], dtype: 'float32' }] },
      ],
    });
    expect(parseTfjsManifest(json, 'm.json')).toEqual({
      path: 'weights.bin',
      specs: [{ name: 'head/kernel', shape: [4, 2], dtype: 'float32' }],
    });
    expect(() => parseTfjsManifest('{', 'm.json')).toThrow(/^m.json: not JSON/);
    expect(() => parseTfjsManifest('{}', 'm.json')).toThrow(/^m.json: expected one weights manifest group/);
  });

  it("reads back a run's logged predictions.csv and config.json, and names a bad one", () => {
    const rows = source.predictions.slice(0, 5);
    expect(rows.length).toBeGreaterThan(0);
    const back = parsePredictionsCsv(predictionsCsv({ ...source, predictions: rows }), 'p.csv');
    expect(back.map((r) => [r.seriesUid, r.label, r.diameterMm])).toEqual(
      rows.map((r) => [r.seriesUid, r.label, r.diameterMm]),
    );
    back.forEach((r, i) => {
      expect(r.prob).toBeCloseTo(rows[i].prob, 6);
      r.xyz.forEach((v, k) => expect(v).toBeCloseTo(rows[i].xyz[k], 3));
    });
    expect(() => parsePredictionsCsv('seriesuid,coordX\n1,2\n', 'p.csv')).toThrow(/^p.csv: missing columns coordY, /);
    const bad = predictionsCsv({ ...source, predictions: rows }).replace(/,[01],(?=[\d.]+,[\d.]+\n)/, ',x,');
    expect(() => parsePredictionsCsv(bad, 'p.csv')).toThrow(/^p.csv: row 2: label "x" is not a number/);

    expect(parseRunConfig(JSON.stringify(source.config), 'c.json')).toEqual(source.config);
    expect(() => parseRunConfig('[', 'c.json')).toThrow(/^c.json: not JSON/);
    expect(() => parseRunConfig(JSON.stringify({ crop: [8, 16] }), 'c.json')).toThrow(/^c.json: .*crop/);
  });

  it('refuses what is not an MLflow model URI, naming it, before any request', async () => {
    const never = () => Promise.reject(new Error('no request expected'));
    await expect(loadMlflowModel('models:/x', 'http://127.0.0.1:1', { fetch: never })).rejects.toThrow(
      /^model "models:\/x": expected .*models:\/<name>\/<version number>/,
    );
    await expect(loadMlflowModel('0123456789abcdef', 'http://127.0.0.1:1', { fetch: never })).rejects.toThrow(
      /^model "0123456789abcdef": not an MLflow model URI/,
    );
  });
});
