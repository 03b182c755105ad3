import { describe, expect, it } from 'vitest';
import { decodeLabUrl, encodeLabHash, encodeLabUrl } from './lab-url.ts';
import { defaultConfig, resolveConfigOrThrow, FIELDS } from './lab-config.ts';

describe('lab URLs', () => {
  it('omits defaults: the default config is just the version', () => {
    expect(encodeLabHash(defaultConfig())).toBe('v=1');
    expect(encodeLabUrl(defaultConfig(), 'http://127.0.0.1:4173/#old')).toBe('http://127.0.0.1:4173/#v=1');
  });

  it('round-trips a config, canonically (schema order, enums by name)', () => {
    const c = resolveConfigOrThrow({
      crop: [16, 24, 24],
      model: { blocks: 2, width: 4, dropout: 'dropout3d' },
      optimizer: { name: 'adamw', lr: 0.003 },
      data: { subsets: ['subset1', 'subset0'] },
      tracking: { server: 'http://127.0.0.1:5000', experiment: 'my exp/1' },
      train: { seed: 42 },
    });
    const hash = encodeLabHash(c);
    expect(hash).toBe(
      'v=1&data.subsets=subset0%2Csubset1&crop=16%2C24%2C24&model.blocks=2&model.width=4&model.dropout=dropout3d&optimizer.name=adamw&optimizer.lr=0.003&train.seed=42&tracking.server=http%3A%2F%2F127.0.0.1%3A5000&tracking.experiment=my%20exp%2F1',
    );
    const back = decodeLabUrl(`http://x/#${hash}`);
    expect(back.issues).toEqual([]);
    expect(back.config).toEqual(c);
    // every field survives
    expect(FIELDS.every((f) => f.key in Object.fromEntries(FIELDS.map((g) => [g.key, 1])))).toBe(true);
  });

  it('names every malformed part instead of defaulting', () => {
    const r = decodeLabUrl('#v=2&model.blocks=x&bogus=1&train.seed=5&train.seed=6&crop=%E0%A4%A&tracking.server=javascript:alert(1)');
    const byKey = Object.fromEntries(r.issues.map((i) => [i.key, i.reason]));
    expect(byKey['v']).toMatch(/unknown version/);
    expect(byKey['model.blocks']).toBe('not a number');
    expect(byKey['bogus']).toBe('unknown setting');
    expect(byKey['train.seed']).toBe('given more than once');
    expect(r.issues.some((i) => i.reason === 'not valid URL encoding')).toBe(true);
    expect(byKey['tracking.server']).toMatch(/http\(s\) URL/);
    expect(decodeLabUrl('#model.blocks=2').issues[0]).toMatchObject({ key: 'v', reason: expect.stringContaining('missing') });
  });
});
