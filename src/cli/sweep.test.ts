import { describe, expect, it } from 'vitest';
import { resolveConfigOrThrow } from '../config/lab-config.ts';
import { usageErrorOf } from './run-cli.test-helper.ts';
import { expandGrid, parseGrid, pointName, type Grid } from './sweep.ts';

const thrown = usageErrorOf;

describe('parseGrid', () => {
  it('reads config keys to lists of values, as text, in the file order', () => {
    const grid = parseGrid(
      JSON.stringify({
        'optimizer.lr': [0.001, 0.01],
        'train.batchSize': [16, 32, 64],
        'model.blockNorm': [true, false],
        'optimizer.name': ['sgd', 'adamw'],
      }),
      'grid.json',
    );
    expect(grid).toEqual([
      { key: 'optimizer.lr', values: ['0.001', '0.01'] },
      { key: 'train.batchSize', values: ['16', '32', '64'] },
      { key: 'model.blockNorm', values: ['true', 'false'] },
      { key: 'optimizer.name', values: ['sgd', 'adamw'] },
    ]);
  });

  it('joins array values (crops, subset lists) with commas', () => {
    expect(
      parseGrid('{"crop": [[16,24,24],[32,48,48]], "data.subsets": [["subset0","subset1"], []]}', 'g.json'),
    ).toEqual([
      { key: 'crop', values: ['16,24,24', '32,48,48'] },
      { key: 'data.subsets', values: ['subset0,subset1', ''] },
    ]);
    // The text form works too.
    expect(parseGrid('{"crop": ["16,24,24"]}', 'g.json')).toEqual([{ key: 'crop', values: ['16,24,24'] }]);
  });

  it('refuses what is not JSON, naming the file', () => {
    expect(thrown(() => parseGrid('{"optimizer.lr": [0.1,', 'grid.json')).message).toMatch(
      /^--grid grid\.json: not JSON \(/,
    );
  });

  it('refuses JSON that is not an object', () => {
    for (const text of ['[]', '[["optimizer.lr", [1]]]', 'null', '3', '"x"']) {
      expect(thrown(() => parseGrid(text, 'g.json')).message).toBe(
        '--grid g.json: expected an object of "key": [values]',
      );
    }
  });

  it('names an unknown key', () => {
    expect(thrown(() => parseGrid('{"optimizer.lr": [1], "optimiser.lr": [1]}', 'g.json')).message).toBe(
      '--grid g.json: unknown setting "optimiser.lr"',
    );
  });

  it('refuses an empty list, a non-list and an empty grid', () => {
    expect(thrown(() => parseGrid('{"optimizer.lr": []}', 'g.json')).message).toBe(
      '--grid g.json: "optimizer.lr" must be a non-empty list of values',
    );
    expect(thrown(() => parseGrid('{"optimizer.lr": 0.1}', 'g.json')).message).toBe(
      '--grid g.json: "optimizer.lr" must be a non-empty list of values',
    );
    expect(thrown(() => parseGrid('{}', 'g.json')).message).toBe('--grid g.json: the grid is empty');
  });
});

describe('expandGrid', () => {
  const base = resolveConfigOrThrow({ crop: [16, 24, 24], model: { blocks: 2, width: 4 }, train: { epochs: 2 } });

  it('is the cartesian product, the first key varying slowest', () => {
    const grid: Grid = [
      { key: 'optimizer.lr', values: ['0.001', '0.01'] },
      { key: 'train.batchSize', values: ['16', '32', '64'] },
    ];
    const points = expandGrid(base, grid);
    expect(points).toHaveLength(6);
    expect(points.map((p) => p.assignment)).toEqual([
      { 'optimizer.lr': '0.001', 'train.batchSize': '16' },
      { 'optimizer.lr': '0.001', 'train.batchSize': '32' },
      { 'optimizer.lr': '0.001', 'train.batchSize': '64' },
      { 'optimizer.lr': '0.01', 'train.batchSize': '16' },
      { 'optimizer.lr': '0.01', 'train.batchSize': '32' },
      { 'optimizer.lr': '0.01', 'train.batchSize': '64' },
    ]);
    for (const p of points) {
      expect(p.config.optimizer.lr).toBe(Number(p.assignment['optimizer.lr']));
      expect(p.config.train.batchSize).toBe(Number(p.assignment['train.batchSize']));
      // The rest comes from the base.
      expect(p.config.crop).toEqual([16, 24, 24]);
      expect(p.config.model.width).toBe(4);
      expect(p.config.train.epochs).toBe(2);
    }
    expect(base.optimizer.lr).toBe(0.001);
    expect(base.train.batchSize).toBe(32);
  });

  it('a single key gives one point per value; three keys multiply', () => {
    expect(expandGrid(base, [{ key: 'train.seed', values: ['1', '2', '3'] }]).map((p) => p.config.train.seed)).toEqual([
      1, 2, 3,
    ]);
    const g: Grid = [
      { key: 'optimizer.name', values: ['sgd', 'adamw'] },
      { key: 'model.dropout', values: ['none', 'dropout', 'dropout3d'] },
      { key: 'optimizer.weightDecay', values: ['0', '0.0001'] },
    ];
    const points = expandGrid(base, g);
    expect(points).toHaveLength(12);
    expect(new Set(points.map((p) => JSON.stringify(p.assignment))).size).toBe(12);
    expect(points[11].config.optimizer).toMatchObject({ name: 'adamw', weightDecay: 0.0001 });
    expect(points[11].config.model.dropout).toBe('dropout3d');
  });

  it('crop values from parseGrid become crops', () => {
    const points = expandGrid(base, parseGrid('{"crop": [[16,24,24],[32,48,48]]}', 'g.json'));
    expect(points.map((p) => p.config.crop)).toEqual([
      [16, 24, 24],
      [32, 48, 48],
    ]);
  });

  it('rejects an invalid value naming key and value', () => {
    const e = thrown(() => expandGrid(base, [{ key: 'optimizer.lr', values: ['0.01', '-1'] }]));
    expect(e.message).toMatch(/^grid value optimizer\.lr = -1: /);
    expect(e.message).toContain('out of range');
    expect(e.message).not.toContain('--set');
    const e2 = thrown(() => expandGrid(base, [{ key: 'train.batchSize', values: ['big'] }]));
    expect(e2.message).toBe('grid value train.batchSize = big: train.batchSize not a number');
  });

  it('an unknown key given to expandGrid directly is named', () => {
    expect(thrown(() => expandGrid(base, [{ key: 'model.depth', values: ['3'] }])).message).toBe(
      'grid value model.depth = 3: unknown setting "model.depth"',
    );
  });

  it('a value with a colon is named whole (an MLflow URL)', () => {
    const e = thrown(() => expandGrid(base, [{ key: 'tracking.server', values: ['ftp://x:5000'] }]));
    expect(e.message).toBe(
      'grid value tracking.server = ftp://x:5000: tracking.server expected an http(s) URL such as http://127.0.0.1:5000, or empty',
    );
  });

  it('a point that fails the crop cross-check names the grid value, not an internal source', () => {
    // blocks 2 → crops divisible by 4; blocks 4 → by 16, which 24 is not.
    const e = thrown(() => expandGrid(base, [{ key: 'model.blocks', values: ['2', '4'] }]));
    expect(e.message).toBe(
      'grid value model.blocks = 4: crop = "16,24,24": each size must be divisible by 2^model.blocks = 16',
    );
  });
});

describe('pointName', () => {
  it('last part of each key = value, in order', () => {
    expect(pointName({ 'optimizer.lr': '0.01', 'train.batchSize': '32', crop: '16,24,24' })).toBe(
      'lr=0.01 batchSize=32 crop=16,24,24',
    );
    expect(pointName({})).toBe('');
  });
});
