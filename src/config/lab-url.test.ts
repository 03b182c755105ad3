import { describe, expect, it } from 'vitest';
import { URL_VERSION, decodeLabUrl, encodeLabHash, encodeLabUrl } from './lab-url.ts';
import { CURRENT_URL_VERSION, URL_VERSIONS } from './url-versions.ts';
import {
  defaultConfig,
  resolveConfig,
  resolveConfigOrThrow,
  FIELDS,
  FIELD_BY_KEY,
  formatFieldValue,
  getField,
  setPath,
  type Field,
  type FieldValue,
  type LabConfig,
  type LabConfigInput,
} from './lab-config.ts';
import { createRng } from '../data/rng.ts';

describe('lab URLs', () => {
  it('omits defaults: the default config is just the version', () => {
    expect(encodeLabHash(defaultConfig())).toBe('v=2');
    expect(encodeLabUrl(defaultConfig(), 'http://127.0.0.1:4173/#old')).toBe('http://127.0.0.1:4173/#v=2');
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
      'v=2&data.subsets=subset0%2Csubset1&crop=16%2C24%2C24&model.blocks=2&model.width=4&model.dropout=dropout3d&optimizer.name=adamw&optimizer.lr=0.003&train.seed=42&tracking.server=http%3A%2F%2F127.0.0.1%3A5000&tracking.experiment=my%20exp%2F1',
    );
    const back = decodeLabUrl(`http://x/#${hash}`);
    expect(back.issues).toEqual([]);
    expect(back.config).toEqual(c);
    // every field survives
    expect(FIELDS.every((f) => f.key in Object.fromEntries(FIELDS.map((g) => [g.key, 1])))).toBe(true);
  });

  it('names every malformed part instead of defaulting', () => {
    const r = decodeLabUrl(
      '#v=3&model.blocks=x&bogus=1&train.seed=5&train.seed=6&crop=%E0%A4%A&tracking.server=javascript:alert(1)',
    );
    const byKey = Object.fromEntries(r.issues.map((i) => [i.key, i.reason]));
    expect(byKey['v']).toMatch(/unknown version/);
    expect(byKey['model.blocks']).toBe('not a number');
    expect(byKey['bogus']).toBe('unknown setting');
    expect(byKey['train.seed']).toBe('given more than once');
    expect(r.issues.some((i) => i.reason === 'not valid URL encoding')).toBe(true);
    expect(byKey['tracking.server']).toMatch(/http\(s\) URL/);
    expect(decodeLabUrl('#model.blocks=2').issues[0]).toMatchObject({
      key: 'v',
      reason: expect.stringContaining('missing'),
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Table-driven checks: every case below is generated from FIELDS, so a new field is covered
// (or, if no sample value fits its spec, the coverage test fails and says which).
// ---------------------------------------------------------------------------------------------

/** Strings that some list/text field may accept; each field keeps those its pattern matches. */
const TEXT_POOL = [
  'subset0',
  'a.b-c_D9',
  'subset0:89:1a2b3c4d',
  'subset9:1:00000000',
  'luna16.v2:1234567:ffffffff',
  'my exp/run 1',
  'a/b/c',
  'x',
  'http://127.0.0.1:5000',
  'https://mlflow.example.org:8443/api/x?y=1&z=%20+w#frag',
  'subgroups',
  'shader-f16',
];

/** Lists kept per field: singles, and multi-element ones (unsorted, to exercise canonicalisation). */
function listSamples(pattern: RegExp): string[][] {
  const ok = TEXT_POOL.filter((s) => pattern.test(s));
  const out = ok.map((s) => [s]);
  if (ok.length >= 2) out.push([...ok].reverse());
  return out;
}

const MANY_DIGIT_FLOATS = [0.0001234, 1e-7, 0.123456789012345, 1 / 3];

/** Valid values for a field, derived from its spec; the default is left out. */
function sampleValues(field: Field): unknown[] {
  const s = field.spec;
  const div = 2 ** defaultConfig().model.blocks; // the crop cross-check with the default model
  let vals: unknown[];
  switch (s.kind) {
    case 'int':
      vals = [s.min, s.max, Math.floor((s.min + s.max) / 2)];
      break;
    case 'float':
      vals = [...(s.exclusiveMin ? [] : [s.min]), s.max, (s.min + s.max) / 2, ...MANY_DIGIT_FLOATS].filter(
        (v) => (s.exclusiveMin ? v > s.min : v >= s.min) && v <= s.max,
      );
      break;
    case 'bool':
      vals = [true, false];
      break;
    case 'enum':
      vals = [...s.choices];
      break;
    case 'int3': {
      const lo = Math.ceil(s.min / div) * div;
      const hi = Math.floor(s.max / div) * div;
      const mid = Math.round((lo + hi) / 2 / div) * div;
      vals = [
        [lo, lo, lo],
        [hi, hi, hi],
        [lo, mid, hi],
        [hi, lo, mid],
      ];
      break;
    }
    case 'list':
      vals = listSamples(s.pattern);
      break;
    case 'text':
      vals = TEXT_POOL.filter((t) => s.pattern.test(t));
      break;
  }
  return vals.filter((v) => formatFieldValue(v as FieldValue) !== formatFieldValue(s.default as FieldValue));
}

function configWith(key: string, value: unknown): LabConfig {
  const input: LabConfigInput = {};
  setPath(input, key, value);
  return resolveConfigOrThrow(input);
}

const ONE_FIELD_CASES: [string, string, unknown][] = FIELDS.flatMap((f) =>
  sampleValues(f).map((v) => [f.key, JSON.stringify(v), v] as [string, string, unknown]),
);

describe('lab URLs: every field round-trips on its own', () => {
  it('has non-default samples for every field, every enum choice and both booleans', () => {
    for (const f of FIELDS) {
      const vals = sampleValues(f);
      expect(vals.length, f.key).toBeGreaterThan(0);
      if (f.spec.kind === 'enum') expect(new Set([...vals, f.spec.default]), f.key).toEqual(new Set(f.spec.choices));
      if (f.spec.kind === 'bool') expect(vals, f.key).toEqual([!f.spec.default]);
      if (f.spec.kind === 'list')
        expect(
          vals.some((v) => (v as string[]).length > 1),
          `${f.key}: multi-element`,
        ).toBe(true);
    }
    // the named edge cases are among them
    const has = (key: string, pred: (v: unknown) => boolean) =>
      ONE_FIELD_CASES.some(([k, , v]) => k === key && pred(v));
    expect(has('tracking.experiment', (v) => typeof v === 'string' && v.includes(' ') && v.includes('/'))).toBe(true);
    expect(has('tracking.server', (v) => typeof v === 'string' && /^https?:\/\/./.test(v))).toBe(true);
    expect(has('optimizer.lr', (v) => v === 1e-7)).toBe(true);
    expect(has('optimizer.weightDecay', (v) => v === 0.0001234)).toBe(true);
  });

  it.each(ONE_FIELD_CASES)('%s = %s', (key, _shown, value) => {
    const c = configWith(key, value);
    // differs from the default in this field only
    const def = defaultConfig();
    for (const f of FIELDS) {
      if (f.key !== key) expect(getField(c, f.key), f.key).toEqual(getField(def, f.key));
    }
    expect(getField(c, key)).not.toEqual(getField(def, key));

    const hash = encodeLabHash(c);
    const parts = hash.split('&');
    expect(parts).toHaveLength(2);
    expect(parts[0]).toBe('v=2');
    const eq = parts[1].indexOf('=');
    expect(parts[1].slice(0, eq)).toBe(key);
    expect(decodeURIComponent(parts[1].slice(eq + 1))).toBe(formatFieldValue(getField(c, key) as FieldValue));
    // nothing in the value can break out of its part
    expect(parts[1].slice(eq + 1)).not.toMatch(/[&#=+\s]/);

    const back = decodeLabUrl(encodeLabUrl(c, 'http://127.0.0.1:4173/'));
    expect(back.issues).toEqual([]);
    expect(back.config).toEqual(c);
    expect(encodeLabHash(back.config)).toBe(hash);
  });
});

describe('lab URLs: canonical form', () => {
  const rich = resolveConfigOrThrow({
    data: {
      subsets: ['subset3', 'subset1'],
      candidates: 'candidates_V2',
      digest: ['subset3:88:0123abcd', 'subset1:89:deadbeef'],
    },
    crop: [16, 24, 40],
    model: { blocks: 3, width: 5, blockNorm: true, dropout: 'dropout', dropoutRate: 0.0001234 },
    optimizer: { name: 'adamw', lr: 1e-7, weightDecay: 0.123456789012345 },
    augment: { flip: false, rotate: false, noise: 0 },
    train: { seed: 2 ** 31 - 1, epochs: 1 },
    backend: 'cpu',
    kernels: 'stock',
    gpuFeatures: ['subgroups', 'shader-f16'],
    tracking: { server: 'https://mlflow.example.org:8443/api?x=1&y=a+b#f', experiment: 'team a/run 7' },
  });
  const canonical = encodeLabHash(rich);

  it('encode(decode(url)) is the url', () => {
    for (const url of ['v=2', canonical, `http://h:1/p?q=1#${canonical}`, 'v=2&model.width=2&backend=cpu']) {
      const r = decodeLabUrl(url);
      expect(r.issues, url).toEqual([]);
      const again = url.includes('#') ? encodeLabUrl(r.config, url) : encodeLabHash(r.config);
      expect(again).toBe(url);
    }
  });

  it('keys come out in schema order whatever order they went in', () => {
    const keys = canonical.split('&').map((p) => p.slice(0, p.indexOf('=')));
    expect(keys[0]).toBe('v');
    const order: string[] = FIELDS.map((f) => f.key);
    const idx = keys.slice(1).map((k) => order.indexOf(k));
    expect(idx.every((i) => i >= 0)).toBe(true);
    expect(idx).toEqual([...idx].sort((a, b) => a - b));

    const rng = createRng('lab-url permutations');
    const parts = canonical.split('&');
    for (let i = 0; i < 20; i++) {
      const permuted = rng.shuffle([...parts]).join('&');
      const r = decodeLabUrl(`#${permuted}`);
      expect(r.issues).toEqual([]);
      expect(r.config).toEqual(rich);
      expect(encodeLabHash(r.config)).toBe(canonical);
    }
  });

  it('drops defaults given explicitly, and canonicalises spellings of the same value', () => {
    const r = decodeLabUrl(
      '#v=2&model.blocks=4&crop=32,48,48&backend=webgpu&model.width=02&data.subsets=&model.dropoutRate=0.20' +
        '&tracking.experiment=luna-lab&augment.flip=true&optimizer.lr=1e-3&tracking.server=',
    );
    expect(r.issues).toEqual([]);
    expect(r.config).toEqual(configWith('model.width', 2));
    expect(encodeLabHash(r.config)).toBe('v=2&model.width=2');

    const s = decodeLabUrl(
      '#v=2&data.subsets=subset1,subset0,subset1&tracking.experiment=my+exp&model.dropoutRate=.5&crop=16%2C%2016%2C16',
    );
    expect(s.issues).toEqual([]);
    expect(s.config.data.subsets).toEqual(['subset0', 'subset1']);
    expect(s.config.tracking.experiment).toBe('my exp');
    expect(encodeLabHash(s.config)).toBe(
      'v=2&data.subsets=subset0%2Csubset1&crop=16%2C16%2C16&model.dropoutRate=0.5&tracking.experiment=my%20exp',
    );
  });
});

describe('lab URLs: text values', () => {
  it('resolves text to the form a URL carries back (trimmed, no trailing slash)', () => {
    const c = resolveConfigOrThrow({ tracking: { experiment: '  team a/run 7/ ', server: 'http://127.0.0.1:5000/' } });
    expect(c.tracking).toEqual({ experiment: 'team a/run 7', server: 'http://127.0.0.1:5000', register: '' });
    const back = decodeLabUrl(encodeLabHash(c));
    expect(back.issues).toEqual([]);
    expect(back.config).toEqual(c);
  });

  it('rejects text that is empty or invalid once canonical, rather than storing it', () => {
    expect(resolveConfig({ tracking: { experiment: '/' } }).issues.map((i) => i.key)).toEqual(['tracking.experiment']);
    expect(resolveConfig({ tracking: { experiment: ' ' } }).issues.map((i) => i.key)).toEqual(['tracking.experiment']);
    expect(resolveConfig({ tracking: { server: 'http:///' } }).issues.map((i) => i.key)).toEqual(['tracking.server']);
  });

  it('rejects a lone surrogate (it cannot be percent-encoded), so encoding never throws', () => {
    const r = resolveConfig({ tracking: { server: 'http://a\ud800' } });
    expect(r.issues.map((i) => i.key)).toEqual(['tracking.server']);
    expect(() => encodeLabHash(r.config)).not.toThrow();
    // a well-formed non-ASCII URL is fine
    const ok = resolveConfigOrThrow({ tracking: { server: 'http://h\u00e9/\ud83d\ude00' } });
    expect(decodeLabUrl(encodeLabHash(ok)).config).toEqual(ok);
  });
});

describe('lab URLs: malformed input is named, never used', () => {
  // [hash, key the issue must name, reason]
  const CASES: [string, string, RegExp][] = [
    ['model.blocks=2', 'v', /missing/],
    ['', 'v', /missing/],
    ['v=0', 'v', /unknown version/],
    ['v=3', 'v', /unknown version/],
    ['v=abc', 'v', /unknown version/],
    ['v=1&v=1', 'v', /more than once/],
    ['v=1&bogus=1', 'bogus', /unknown setting/],
    ['v=1&model=2', 'model', /unknown setting/],
    ['v=1&__proto__=1', '__proto__', /unknown setting/],
    ['v=1&model.blocks=2&model.blocks=2', 'model.blocks', /more than once/],
    ['v=1&model.blocks=2&model.blocks=3', 'model.blocks', /more than once/],
    ['v=1&model.blocks=1e', 'model.blocks', /not a number/],
    ['v=1&model.blocks=0x10', 'model.blocks', /not a number/],
    ['v=1&model.blocks=', 'model.blocks', /not a number/],
    ['v=1&model.blocks', 'model.blocks', /not a number/],
    ['v=1&optimizer.lr=NaN', 'optimizer.lr', /not a number/],
    ['v=1&optimizer.lr=Infinity', 'optimizer.lr', /not a number/],
    ['v=1&optimizer.lr=-Infinity', 'optimizer.lr', /not a number/],
    ['v=1&optimizer.lr=1e999', 'optimizer.lr', /finite/],
    ['v=1&optimizer.lr=0', 'optimizer.lr', /out of range/],
    ['v=1&optimizer.lr=-0.1', 'optimizer.lr', /out of range/],
    ['v=1&optimizer.lr=10.5', 'optimizer.lr', /out of range/],
    ['v=1&model.dropoutRate=0.96', 'model.dropoutRate', /out of range/],
    ['v=1&model.blocks=5', 'model.blocks', /out of range/],
    ['v=1&model.blocks=0', 'model.blocks', /out of range/],
    ['v=1&train.seed=2147483648', 'train.seed', /out of range/],
    ['v=1&model.blocks=2.5', 'model.blocks', /not an integer/],
    ['v=1&train.seed=1e-3', 'train.seed', /not an integer/],
    ['v=1&optimizer.name=adam', 'optimizer.name', /expected one of sgd, adamw/],
    ['v=1&optimizer.name=SGD', 'optimizer.name', /expected one of/],
    ['v=1&backend=', 'backend', /expected one of/],
    ['v=1&model.blockNorm=yes', 'model.blockNorm', /true or false/],
    ['v=1&model.blockNorm=1', 'model.blockNorm', /true or false/],
    ['v=1&model.blockNorm=TRUE', 'model.blockNorm', /true or false/],
    ['v=1&crop=32,48', 'crop', /three integers/],
    ['v=1&crop=32,48,48,48', 'crop', /three integers/],
    ['v=1&crop=32,48,4.8', 'crop', /three integers/],
    ['v=1&crop=0,48,48', 'crop', /from 2 to 256/],
    ['v=1&crop=24,48,48', 'crop', /divisible by 2\^model\.blocks = 16/],
    ['v=1&crop=%E0%A4%A', 'crop', /not valid URL encoding/],
    ['v=1&data.subsets=a,,b', 'data.subsets', /not a valid name/],
    ['v=1&data.digest=subset0:1:1a2b3c4', 'data.digest', /not a valid name/],
    ['v=1&tracking.experiment=<script>alert(1)</script>', 'tracking.experiment', /letters, digits/],
    ['v=1&tracking.experiment=%3Cscript%3Ealert(1)%3C%2Fscript%3E', 'tracking.experiment', /letters, digits/],
    ['v=1&data.subsets=<img src=x onerror=alert(1)>', 'data.subsets', /not a valid name/],
    ['v=1&tracking.server=javascript:alert(1)', 'tracking.server', /http\(s\) URL/],
    ['v=1&tracking.server=JavaScript%3Aalert(1)', 'tracking.server', /http\(s\) URL/],
    ['v=1&tracking.server=http://a/"onmouseover="x', 'tracking.server', /http\(s\) URL/],
    ["v=1&tracking.server=http://a/'onmouseover='x", 'tracking.server', /http\(s\) URL/],
    ['v=1&tracking.server=http://a/%3E%3Cscript%3E', 'tracking.server', /http\(s\) URL/],
    ['v=1&tracking.server=data:text/html,x', 'tracking.server', /http\(s\) URL/],
    ['v=1&data.digest=subset0:1:<b>', 'data.digest', /not a valid name/],
  ];

  it.each(CASES)('%s → issue for %s', (hash, key, reason) => {
    let r: ReturnType<typeof decodeLabUrl> | undefined;
    expect(() => (r = decodeLabUrl(`http://127.0.0.1:4173/#${hash}`))).not.toThrow();
    const issue = r!.issues.find((i) => i.key === key && reason.test(i.reason));
    expect(issue, JSON.stringify(r!.issues)).toBeDefined();
    // the rejected value is reported, never used: the field keeps its default (a repeated key
    // keeps its first value; a cross-check names values that are each valid)
    if (FIELD_BY_KEY.has(key) && !/more than once|divisible/.test(issue!.reason)) {
      expect(getField(r!.config, key)).toEqual(getField(defaultConfig(), key));
    }
    expect(JSON.stringify(r!.config)).not.toMatch(/[<>]|script|alert|onerror|onmouseover|javascript/i);
  });

  it('names the setting whose value is badly percent-encoded, and a bad key by its text', () => {
    expect(decodeLabUrl('#v=1&crop=%E0%A4%A').issues).toEqual([
      { key: 'crop', raw: '%E0%A4%A', reason: 'not valid URL encoding' },
    ]);
    expect(decodeLabUrl('#v=1&cr%ZZop=1').issues).toEqual([
      { key: 'cr%ZZop=1', raw: 'cr%ZZop=1', reason: 'not valid URL encoding' },
    ]);
  });

  it('reports the raw text of a rejected value, decoded', () => {
    const r = decodeLabUrl('#v=1&tracking.experiment=%3Cb%3E&model.blocks=%20x');
    expect(r.issues).toContainEqual({ key: 'tracking.experiment', raw: '<b>', reason: expect.any(String) });
    expect(r.issues).toContainEqual({ key: 'model.blocks', raw: ' x', reason: 'not a number' });
  });

  it('reports every problem of a URL at once', () => {
    const r = decodeLabUrl('#v=3&model.blocks=9&bogus=1&optimizer.name=adam');
    expect(r.issues.map((i) => i.key).sort()).toEqual(['bogus', 'model.blocks', 'optimizer.name', 'v']);
  });

  it('never throws, whatever the input', () => {
    const rng = createRng('lab-url fuzz');
    const alphabet = [
      'v',
      '=',
      '1',
      '&',
      '%',
      'E0',
      'A4',
      '#',
      '+',
      ',',
      '.',
      'crop',
      'model.blocks',
      'tracking.server',
      '<',
      '"',
      ' ',
      '\u00e9',
      '\ud800',
      'x',
    ];
    for (let i = 0; i < 500; i++) {
      const n = rng.int(0, 20);
      const s = Array.from({ length: n }, () => rng.pick(alphabet)).join('');
      let r: ReturnType<typeof decodeLabUrl> | undefined;
      expect(() => (r = decodeLabUrl(s)), s).not.toThrow();
      for (const issue of r!.issues) {
        expect(typeof issue.key).toBe('string');
        expect(typeof issue.raw).toBe('string');
        expect(issue.reason.length).toBeGreaterThan(0);
      }
      if (r!.issues.length === 0) expect(decodeLabUrl(encodeLabHash(r!.config)).config).toEqual(r!.config);
    }
  });
});

describe('lab URLs: property test over random configs', () => {
  const rng = createRng('lab-url property');
  const maxBlocks = (FIELD_BY_KEY.get('model.blocks')!.spec as { max: number }).max;
  const cropDiv = 2 ** maxBlocks; // divisible by 2^blocks for every blocks

  const NAME_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-';
  const TEXT_CHARS = NAME_CHARS + ' /';
  const URL_CHARS = NAME_CHARS + '/:?&=#%+~!$()*,;@[]\u00e9';
  const str = (chars: string, lo: number, hi: number) =>
    Array.from({ length: rng.int(lo, hi + 1) }, () => chars[rng.int(0, chars.length)]).join('');
  const hex8 = () => Array.from({ length: 8 }, () => '0123456789abcdef'[rng.int(0, 16)]).join('');

  /** Candidate strings for a list or text field; the field keeps those its pattern accepts. */
  const stringCandidates = () => [
    str(NAME_CHARS, 1, 16),
    'subgroups',
    'shader-f16',
    `${str(NAME_CHARS, 1, 16)}:${rng.int(0, 10_000_000)}:${hex8()}`,
    str(TEXT_CHARS, 1, 100),
    `${rng.pick(['http', 'https'])}://${str(NAME_CHARS, 1, 20)}${rng.chance(0.5) ? `:${rng.int(1, 65536)}` : ''}${str(URL_CHARS, 0, 40)}`,
  ];
  const matched = new Map<string, number>();

  function randomValue(f: Field): unknown {
    const s = f.spec;
    switch (s.kind) {
      case 'int':
        return rng.chance(0.2) ? rng.pick([s.min, s.max]) : rng.int(s.min, s.max + 1);
      case 'float': {
        const r = rng.next();
        if (r < 0.15) return s.max;
        if (r < 0.3) return s.exclusiveMin ? s.max * 1e-9 : s.min;
        if (r < 0.5) return Math.min(s.max, 10 ** -rng.int(1, 12) * rng.uniform(1, 10)); // tiny, many digits
        return rng.uniform(s.min, s.max);
      }
      case 'bool':
        return rng.chance(0.5);
      case 'enum':
        return rng.pick(s.choices);
      case 'int3':
        return Array.from({ length: 3 }, () =>
          rng.chance(0.95)
            ? cropDiv * rng.int(Math.ceil(s.min / cropDiv), Math.floor(s.max / cropDiv) + 1)
            : rng.int(s.min, s.max + 1),
        );
      case 'list': {
        const out: string[] = [];
        for (let i = rng.int(1, 5); i > 0; i--) {
          const ok = stringCandidates().filter((c) => s.pattern.test(c));
          if (ok.length) out.push(rng.pick(ok));
        }
        if (out.length) matched.set(f.key, (matched.get(f.key) ?? 0) + 1);
        return out;
      }
      case 'text': {
        const ok = stringCandidates().filter((c) => s.pattern.test(c));
        if (!ok.length) return undefined;
        matched.set(f.key, (matched.get(f.key) ?? 0) + 1);
        return rng.pick(ok);
      }
    }
  }

  it('decode(encode(c)) is c, and encoding is stable, for 600 random configs', () => {
    const TRIES = 600;
    let kept = 0;
    for (let i = 0; i < TRIES; i++) {
      const input: LabConfigInput = {};
      for (const f of FIELDS) {
        if (rng.chance(0.3)) continue; // leave some at their default
        const v = randomValue(f);
        if (v !== undefined) setPath(input, f.key, v);
      }
      const { config, issues } = resolveConfig(input);
      if (issues.length) {
        // only the cross-checks (crop vs blocks, finetune depth vs blocks) may reject a generated config
        expect(issues.map((x) => x.key).filter((k) => k !== 'crop' && k !== 'finetune.depth')).toEqual([]);
        continue;
      }
      kept++;
      const hash = encodeLabHash(config);
      expect(encodeLabHash(config)).toBe(hash);
      const back = decodeLabUrl(`#${hash}`);
      expect(back.issues, hash).toEqual([]);
      expect(back.config, hash).toEqual(config);
      expect(encodeLabHash(back.config)).toBe(hash);
    }
    // About 5 in 6 pass the cross-checks; the exact count moves with the fields (the stream shifts).
    expect(kept).toBeGreaterThanOrEqual(0.8 * TRIES);
    // every list and text field got generated values, not just its default
    for (const f of FIELDS.filter((g) => g.spec.kind === 'list' || g.spec.kind === 'text')) {
      expect(matched.get(f.key) ?? 0, f.key).toBeGreaterThan(100);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// URL versions: a link means forever what it meant when it was written.
// ---------------------------------------------------------------------------------------------

/** What `v=1` with nothing else meant, written out: the lab's defaults when v=1 was defined
 *  (b851c31), WebGPU on tfjs's stock kernels. Literal on purpose: never derive it from code. */
const V1_BARE = {
  data: { subsets: [], candidates: 'candidates', digest: [] },
  crop: [32, 48, 48],
  model: { blocks: 4, width: 8, blockNorm: false, dropout: 'none', dropoutRate: 0.2 },
  finetune: { from: '', depth: 1 },
  optimizer: { name: 'sgd', lr: 0.001, momentum: 0.99, weightDecay: 0, beta1: 0.9, beta2: 0.999 },
  scheduler: { name: 'none', stepSize: 5, gamma: 0.1 },
  sampling: {
    validation: 'candidate',
    valStride: 10,
    ratio: 1,
    epochSamples: 0,
    trainingLength: 0,
    malignancyRatio: [1, 5, 10],
  },
  augment: { flip: true, offset: 0.1, scale: 0.2, rotate: true, noise: 25, device: 'cpu' },
  train: { epochs: 10, batchSize: 32, validationCadence: 5, seed: 1 },
  backend: 'webgpu',
  kernels: 'stock',
  gpuFeatures: [],
  task: 'nodule',
  tracking: { server: '', experiment: 'luna-lab', register: '' },
} as const;

/** What `v=2` with nothing else means, written out likewise: v=1 with the lab's kernels. */
const V2_BARE = { ...V1_BARE, kernels: 'lab' } as const;

/** [URL written by the encoder before v=2 (generated with the code of 7502237), the config it meant]. */
const OLD_LINKS: [string, unknown][] = [
  ['v=1', V1_BARE],
  [
    'v=1&crop=16%2C24%2C24&model.blocks=2&model.width=4&train.epochs=4&train.batchSize=16',
    {
      ...V1_BARE,
      crop: [16, 24, 24],
      model: { ...V1_BARE.model, blocks: 2, width: 4 },
      train: { ...V1_BARE.train, epochs: 4, batchSize: 16 },
    },
  ],
  [
    'v=1&model.blockNorm=true&model.dropout=dropout3d&model.dropoutRate=0.3&optimizer.name=adamw&optimizer.lr=0.003&optimizer.weightDecay=0.0001&scheduler.name=step&scheduler.stepSize=3&scheduler.gamma=0.5&backend=cpu',
    {
      ...V1_BARE,
      model: { ...V1_BARE.model, blockNorm: true, dropout: 'dropout3d', dropoutRate: 0.3 },
      optimizer: { ...V1_BARE.optimizer, name: 'adamw', lr: 0.003, weightDecay: 0.0001 },
      scheduler: { name: 'step', stepSize: 3, gamma: 0.5 },
      backend: 'cpu',
    },
  ],
  [
    'v=1&data.subsets=subset0%2Csubset1&data.digest=subset0%3A89%3A1a2b3c4d&sampling.validation=series&sampling.ratio=0&augment.flip=false&augment.noise=0&kernels=stock&gpuFeatures=subgroups&tracking.server=http%3A%2F%2F127.0.0.1%3A5000&tracking.experiment=team%20a%2Frun%207',
    {
      ...V1_BARE,
      data: { subsets: ['subset0', 'subset1'], candidates: 'candidates', digest: ['subset0:89:1a2b3c4d'] },
      sampling: { ...V1_BARE.sampling, validation: 'series', ratio: 0 },
      augment: { ...V1_BARE.augment, flip: false, noise: 0 },
      kernels: 'stock',
      gpuFeatures: ['subgroups'],
      tracking: { server: 'http://127.0.0.1:5000', experiment: 'team a/run 7', register: '' },
    },
  ],
  // A run link the lab pinned its data in: written by a lab whose kernels default was lab.
  [
    'v=1&data.subsets=subset0&data.digest=subset0%3A89%3A1a2b3c4d&crop=16%2C24%2C24&model.blocks=2&train.seed=7',
    {
      ...V1_BARE,
      data: { subsets: ['subset0'], candidates: 'candidates', digest: ['subset0:89:1a2b3c4d'] },
      crop: [16, 24, 24],
      model: { ...V1_BARE.model, blocks: 2 },
      train: { ...V1_BARE.train, seed: 7 },
      kernels: 'lab',
    },
  ],
  ['v=1&model.width=4&kernels=stock', { ...V1_BARE, model: { ...V1_BARE.model, width: 4 } }],
];

describe('lab URLs: versions', () => {
  it('writes links in the newest version', () => {
    expect(URL_VERSION).toBe(2);
    expect(URL_VERSIONS.map((v) => v.version)).toEqual([1, 2]);
    expect(CURRENT_URL_VERSION.version).toBe(URL_VERSION);
  });

  it("the newest version's frozen defaults are FIELDS' defaults (changed a default? add a version row)", () => {
    for (const f of FIELDS) {
      expect(
        formatFieldValue(CURRENT_URL_VERSION.defaults[f.key]),
        `${f.key}: its default in FIELDS differs from v=${URL_VERSION}'s; add a version to src/config/url-versions.ts`,
      ).toBe(formatFieldValue(f.spec.default));
    }
  });

  it('every version fixes every setting, and the bare versions mean what they always meant', () => {
    for (const v of URL_VERSIONS)
      expect(Object.keys(v.defaults).sort(), `v=${v.version}`).toEqual(FIELDS.map((f) => f.key).sort());
    expect(decodeLabUrl('v=1')).toEqual({
      config: V1_BARE,
      issues: [],
      notes: [expect.stringMatching(/^kernels = stock: .*v=1.*now lab/)],
    });
    expect(decodeLabUrl('v=2')).toEqual({ config: V2_BARE, issues: [], notes: [] });
    expect(Object.isFrozen(URL_VERSIONS[0].defaults)).toBe(true);
  });

  it.each(OLD_LINKS)('an old link decodes to the config it meant: %s', (hash, meant) => {
    const r = decodeLabUrl(`http://127.0.0.1:4173/#${hash}`);
    expect(r.issues).toEqual([]);
    expect(r.config).toEqual(meant);
    // Written again, it is a current link for the same config.
    const again = encodeLabHash(r.config);
    expect(again.startsWith(`v=${URL_VERSION}`)).toBe(true);
    expect(decodeLabUrl(again)).toEqual({ config: r.config, issues: [], notes: [] });
  });

  it("notes each left-out setting whose old meaning differs from the lab's default, and only those", () => {
    const noteKeys = (hash: string) => decodeLabUrl(hash).notes.map((n) => n.slice(0, n.indexOf(' ')));
    expect(noteKeys('v=1&model.blocks=2&crop=16,24,24')).toEqual(['kernels']);
    expect(noteKeys('v=1&kernels=stock')).toEqual([]); // given: it says what it means
    expect(noteKeys('v=1&kernels=lab')).toEqual([]);
    expect(noteKeys('v=1&data.digest=subset0:89:1a2b3c4d')).toEqual([]); // written by a lab with lab kernels
    expect(noteKeys('v=2&model.blocks=2&crop=16,24,24')).toEqual([]);
    expect(decodeLabUrl('v=1').notes[0]).toBe(
      "kernels = stock: what this v=1 link means by leaving kernels out (the lab's default is now lab)",
    );
  });

  it('a link of a version this lab does not know is named, and not used', () => {
    for (const v of ['3', '0', '1.0', '']) {
      const r = decodeLabUrl(`v=${v}&model.blocks=2`);
      expect(r.issues[0]).toMatchObject({
        key: 'v',
        raw: v,
        reason: expect.stringContaining('this lab reads v=1 to v=2'),
      });
      expect(r.notes).toEqual([]);
    }
  });
});
