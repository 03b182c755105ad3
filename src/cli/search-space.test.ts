import { describe, expect, it } from 'vitest';
import { resolveConfigOrThrow } from '../config/lab-config.ts';
import { usageErrorOf } from './run-cli.test-helper.ts';
import { checkSearchSpace, gridSize, parseSearchSpace } from './search-space.ts';
import { parseGrid } from './sweep.ts';

const thrown = usageErrorOf;

describe('parseSearchSpace', () => {
  it('reads grid axes, choice and random entries in the file order', () => {
    const space = parseSearchSpace(
      JSON.stringify({
        'train.batchSize': [64, 256],
        'model.dropoutRate': { choice: [0.2, 0.4] },
        'optimizer.lr': { random: [0.0001, 0.01], log: true },
        'sampling.ratio': { random: [1, 4], integer: true },
        crop: { choice: [[16, 24, 24]] },
      }),
      'g.json',
    );
    expect(space).toEqual([
      { key: 'train.batchSize', kind: 'grid', values: ['64', '256'] },
      { key: 'model.dropoutRate', kind: 'choice', values: ['0.2', '0.4'] },
      { key: 'optimizer.lr', kind: 'random', low: 0.0001, high: 0.01, log: true, integer: false },
      { key: 'sampling.ratio', kind: 'random', low: 1, high: 4, log: false, integer: true },
      { key: 'crop', kind: 'choice', values: ['16,24,24'] },
    ]);
    expect(gridSize(space)).toBe(2);
  });

  it('names a bad entry', () => {
    expect(thrown(() => parseSearchSpace('{"optimizer.lr": {"random": [0.1]}}', 'g.json')).message).toBe(
      '--grid g.json: "optimizer.lr": {"random": [low, high]} needs two numbers, low < high (got [0.1])',
    );
    expect(thrown(() => parseSearchSpace('{"optimizer.lr": {"random": [0.1, 0.01]}}', 'g.json')).message).toMatch(
      /low < high/,
    );
    expect(thrown(() => parseSearchSpace('{"optimizer.lr": {"random": [0, 1], "log": true}}', 'g.json')).message).toBe(
      '--grid g.json: "optimizer.lr": "log": true needs low > 0 (got 0)',
    );
    expect(thrown(() => parseSearchSpace('{"optimizer.lr": {"choice": []}}', 'g.json')).message).toBe(
      '--grid g.json: "optimizer.lr": {"choice": [...]} needs a non-empty list of values',
    );
    expect(thrown(() => parseSearchSpace('{"optimizer.lr": {"uniform": [0, 1]}}', 'g.json')).message).toMatch(
      /must be a non-empty list of values, \{"choice"/,
    );
  });

  it('checks every value (both ends of a range) against the schema', () => {
    const base = resolveConfigOrThrow({});
    expect(() =>
      checkSearchSpace(
        base,
        parseSearchSpace('{"optimizer.lr": {"random": [0.001, 0.1]}, "model.blocks": {"choice": [1, 2]}}', 'g.json'),
      ),
    ).not.toThrow();
    expect(
      thrown(() => checkSearchSpace(base, parseSearchSpace('{"model.dropoutRate": {"random": [0.1, 0.99]}}', 'g.json')))
        .message,
    ).toMatch(/^grid value model\.dropoutRate = 0\.99: /);
    expect(
      thrown(() => checkSearchSpace(base, parseSearchSpace('{"model.blocks": {"choice": [1, 9]}}', 'g.json'))).message,
    ).toMatch(/^grid value model\.blocks = 9: /);
  });
});

describe('parseGrid (the local engine)', () => {
  it('refuses sampled entries, pointing at --engine ray', () => {
    expect(thrown(() => parseGrid('{"optimizer.lr": {"choice": [0.1, 0.01]}}', 'g.json')).message).toBe(
      '--grid g.json: "optimizer.lr" is a choice entry; the local engine runs lists of values only (use --engine ray)',
    );
  });
});
