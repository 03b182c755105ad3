import { describe, expect, it } from 'vitest';
import { defaultConfig, resolveConfigOrThrow } from '../config/lab-config.ts';
import { encodeLabUrl } from '../config/lab-url.ts';
import { COMMANDS, UsageError, parseArgs } from './args.ts';
import { FIELD_FLAGS, resolveTrainConfig, withFieldText, type ConfigSources } from './train-config.ts';
import { FIELD_BY_KEY } from '../config/lab-config.ts';
import { DataError } from '../data/errors.ts';

const URL_SMALL = 'http://127.0.0.1:5173/#v=1&crop=16,24,24&model.blocks=2&model.width=4&train.epochs=3';

function usageError(src: ConfigSources): UsageError {
  try {
    resolveTrainConfig(src);
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return e as UsageError;
  }
  throw new Error('expected a UsageError');
}

/** What a config file holds is input, not usage: a DataError (exit 1) naming the file. */
function inputError(src: ConfigSources): DataError {
  try {
    resolveTrainConfig(src);
  } catch (e) {
    expect(e).toBeInstanceOf(DataError);
    return e as DataError;
  }
  throw new Error('expected a DataError');
}

describe('resolveTrainConfig', () => {
  it('with nothing given, is the default config', () => {
    expect(resolveTrainConfig({})).toEqual(defaultConfig());
  });

  it('reads a lab URL, or just its hash', () => {
    const c = resolveTrainConfig({ url: URL_SMALL });
    expect(c.crop).toEqual([16, 24, 24]);
    expect(c.model.blocks).toBe(2);
    expect(c.model.width).toBe(4);
    expect(c.train.epochs).toBe(3);
    expect(c.optimizer.lr).toBe(defaultConfig().optimizer.lr);
    expect(resolveTrainConfig({ url: URL_SMALL.slice(URL_SMALL.indexOf('#') + 1) })).toEqual(c);
    // What the page encodes, the CLI reads back.
    expect(resolveTrainConfig({ url: encodeLabUrl(c, 'http://localhost:1/') })).toEqual(c);
    expect(Object.isFrozen(c.model)).toBe(true);
  });

  it('reads a config file (the JSON the page writes)', () => {
    const c = resolveTrainConfig({
      configFile: {
        name: 'run/config.json',
        text: JSON.stringify({ model: { blocks: 2 }, crop: [16, 24, 24], optimizer: { name: 'adamw' } }),
      },
    });
    expect(c.model.blocks).toBe(2);
    expect(c.crop).toEqual([16, 24, 24]);
    expect(c.optimizer.name).toBe('adamw');
    expect(c.train.batchSize).toBe(32);
    // A whole config round-trips.
    expect(resolveTrainConfig({ configFile: { name: 'c.json', text: JSON.stringify(c) } })).toEqual(c);
  });

  it('refuses a URL and a config file together', () => {
    const e = usageError({ url: URL_SMALL, configFile: { name: 'c.json', text: '{}' } });
    expect(e.message).toMatch(/--url or --config, not both/);
    // An empty --url still counts as given.
    expect(usageError({ url: '', configFile: { name: 'c.json', text: '{}' } }).message).toMatch(/not both/);
  });

  it('flags override what the URL says', () => {
    const c = resolveTrainConfig({
      url: URL_SMALL,
      flags: { epochs: '7', lr: '0.01', optimizer: 'adamw', crop: '32,48,48', blocks: '3', subsets: 'subset1,subset0' },
    });
    expect(c.train.epochs).toBe(7);
    expect(c.optimizer.lr).toBe(0.01);
    expect(c.optimizer.name).toBe('adamw');
    expect(c.crop).toEqual([32, 48, 48]);
    expect(c.model.blocks).toBe(3);
    expect(c.model.width).toBe(4); // from the URL, untouched
    expect(c.data.subsets).toEqual(['subset0', 'subset1']);
  });

  it('--from, --finetune-depth and --register set the fine-tuning and registry fields; a bad depth is named', () => {
    const c = resolveTrainConfig({
      flags: { from: 'models:/luna/3', 'finetune-depth': '2', register: 'luna-lab' },
    });
    expect(c.finetune).toEqual({ from: 'models:/luna/3', depth: 2 });
    expect(c.tracking.register).toBe('luna-lab');
    expect(usageError({ flags: { from: 'runs/a', 'finetune-depth': '9' } }).message).toMatch(/finetune.depth/);
    expect(usageError({ flags: { register: 'a b' } }).message).toMatch(/tracking.register/);
  });

  it('flags override a config file; undefined flags change nothing', () => {
    const file = { name: 'c.json', text: JSON.stringify({ train: { epochs: 2, batchSize: 8 } }) };
    const c = resolveTrainConfig({
      configFile: file,
      flags: { 'batch-size': '4', epochs: undefined, mlflow: 'http://127.0.0.1:5000/' },
    });
    expect(c.train.epochs).toBe(2);
    expect(c.train.batchSize).toBe(4);
    expect(c.tracking.server).toBe('http://127.0.0.1:5000');
  });

  it('applies --set items in order, after the flags', () => {
    const c = resolveTrainConfig({
      flags: { lr: '0.5' },
      sets: ['optimizer.momentum=0.9', 'optimizer.lr=0.25', 'augment.flip=false', ' scheduler.name =step'],
    });
    expect(c.optimizer.momentum).toBe(0.9);
    expect(c.optimizer.lr).toBe(0.25);
    expect(c.augment.flip).toBe(false);
    expect(c.scheduler.name).toBe('step');
    // Only the first '=' splits.
    expect(() => resolveTrainConfig({ sets: ['tracking.experiment=a=b'] })).toThrow(/tracking\.experiment/);
    expect(resolveTrainConfig({ sets: ['tracking.experiment=a b'] }).tracking.experiment).toBe('a b');
  });

  it('every flag of FIELD_FLAGS names a config field', () => {
    for (const key of Object.values(FIELD_FLAGS)) expect(FIELD_BY_KEY.has(key)).toBe(true);
  });

  it('keeps every flag spelling the CLI had, read off the config table', () => {
    expect(FIELD_FLAGS).toEqual({
      epochs: 'train.epochs',
      'batch-size': 'train.batchSize',
      seed: 'train.seed',
      lr: 'optimizer.lr',
      optimizer: 'optimizer.name',
      'weight-decay': 'optimizer.weightDecay',
      blocks: 'model.blocks',
      width: 'model.width',
      crop: 'crop',
      subsets: 'data.subsets',
      task: 'task',
      backend: 'backend',
      kernels: 'kernels',
      'training-length': 'sampling.trainingLength',
      'gpu-features': 'gpuFeatures',
      experiment: 'tracking.experiment',
      mlflow: 'tracking.server',
      from: 'finetune.from',
      'finetune-depth': 'finetune.depth',
      register: 'tracking.register',
    });
    // train and sweep take each of them (and --set), as options of the command.
    for (const command of ['train', 'sweep'] as const) {
      for (const flag of [...Object.keys(FIELD_FLAGS), 'set'])
        expect(COMMANDS[command].options, `${command} --${flag}`).toHaveProperty([flag]);
    }
    expect(
      parseArgs(['train', '--gpu-features', 'subgroups', '--batch-size', '4', '--set', 'augment.flip=false']).values,
    ).toMatchObject({ 'gpu-features': 'subgroups', 'batch-size': '4', set: 'augment.flip=false' });
    // The seed's --training-length, under its own name.
    expect(resolveTrainConfig({ flags: { 'training-length': '2000' } }).sampling.trainingLength).toBe(2000);
    expect(() => resolveTrainConfig({ flags: { 'training-length': '-3' } })).toThrow(/sampling\.trainingLength/);
  });

  it('names an unknown --set key, and a --set without KEY=VALUE', () => {
    expect(usageError({ sets: ['model.depth=3'] }).message).toBe('--set model.depth: unknown setting "model.depth"');
    expect(usageError({ sets: ['model.blocks'] }).message).toMatch(/^--set "model\.blocks": expected KEY=VALUE/);
    expect(usageError({ sets: ['=3'] }).message).toMatch(/^--set "=3": expected KEY=VALUE/);
  });

  it('a bad flag value names the flag, the text and the field', () => {
    expect(usageError({ flags: { epochs: '0' } }).message).toBe(
      '--epochs "0": train.epochs out of range (≥ 1 and ≤ 100000)',
    );
    expect(usageError({ flags: { crop: '16,24' } }).message).toBe(
      '--crop "16,24": crop expected three integers, e.g. 32,48,48',
    );
    expect(usageError({ flags: { lr: 'fast' } }).message).toBe('--lr "fast": optimizer.lr not a number');
    expect(usageError({ flags: { lr: '0' } }).message).toMatch(/^--lr "0": optimizer\.lr out of range \(> 0/);
    expect(usageError({ flags: { optimizer: 'adam' } }).message).toBe(
      '--optimizer "adam": optimizer.name expected one of sgd, adamw',
    );
    expect(usageError({ flags: { mlflow: 'ftp://x' } }).message).toMatch(
      /^--mlflow "ftp:\/\/x": tracking\.server expected an http\(s\) URL/,
    );
    expect(usageError({ sets: ['augment.flip=yes'] }).message).toBe(
      '--set augment.flip "yes": augment.flip expected true or false',
    );
  });

  it('a crop not divisible by 2^blocks is the cross-check issue, attributed to its source', () => {
    // Default blocks = 4 → 16 divides neither 24.
    expect(usageError({ flags: { crop: '16,24,24' } }).message).toBe(
      'flags: crop = "16,24,24": each size must be divisible by 2^model.blocks = 16',
    );
    expect(usageError({ url: '#v=1&model.blocks=3', flags: { crop: '12,24,24' } }).message).toMatch(
      /^--url: crop = "12,24,24": each size must be divisible by 2\^model\.blocks = 8$/,
    );
    expect(inputError({ configFile: { name: 'c.json', text: '{"crop":[16,24,24]}' } }).message).toMatch(
      /^--config c\.json: crop = "16,24,24": .*= 16$/,
    );
    // Fine once blocks agrees.
    expect(resolveTrainConfig({ flags: { crop: '16,24,24', blocks: '3' } }).crop).toEqual([16, 24, 24]);
  });

  it('rejects a URL with an unknown key, a bad value or no version, naming them', () => {
    expect(usageError({ url: '#v=1&model.depth=3' }).message).toBe('--url: model.depth = "3": unknown setting');
    expect(usageError({ url: '#v=1&train.epochs=0' }).message).toMatch(/^--url: train\.epochs = "0": out of range/);
    expect(usageError({ url: '#model.blocks=2' }).message).toMatch(/^--url: v = "": missing/);
    expect(usageError({ url: '#v=3' }).message).toMatch(/^--url: v = "3": unknown version/);
  });

  it('rejects a config file that is not JSON or not an object, naming the file (input: exit 1)', () => {
    for (const text of ['[1,2]', 'null', '3', '"model"']) {
      expect(inputError({ configFile: { name: 'bad.json', text } }).message).toBe(
        '--config bad.json: not a lab config (expected a JSON object)',
      );
    }
    expect(inputError({ configFile: { name: 'bad.json', text: '{"model": ' } }).message).toMatch(
      /^--config bad\.json: not a lab config \(/,
    );
  });

  it('rejects unknown keys and bad values inside a config file, naming them', () => {
    expect(inputError({ configFile: { name: 'c.json', text: '{"model":{"depth":3}}' } }).message).toBe(
      '--config c.json: model.depth = "3": unknown setting',
    );
    expect(inputError({ configFile: { name: 'c.json', text: '{"train":{"epochs":"10"}}' } }).message).toBe(
      '--config c.json: train.epochs = "10": not a finite number',
    );
  });

  it('a flag into a config file whose section is not an object is a usage error, not a TypeError', () => {
    for (const text of ['{"model": 3}', '{"model": "big"}', '{"model": true}']) {
      expect(usageError({ configFile: { name: 'c.json', text }, flags: { blocks: '2' } }).message).toBe(
        '--blocks: cannot set model.blocks: --config c.json has a value that is not an object on its path',
      );
    }
    // Without an override the same file is reported by the schema.
    expect(inputError({ configFile: { name: 'c.json', text: '{"model": 3}' } }).message).toBe(
      '--config c.json: model = "3": unknown setting',
    );
  });

  it('does not change the config file input it was given between calls', () => {
    const src: ConfigSources = {
      configFile: { name: 'c.json', text: '{"train":{"epochs":2}}' },
      flags: { epochs: '5' },
    };
    expect(resolveTrainConfig(src).train.epochs).toBe(5);
    expect(resolveTrainConfig({ configFile: src.configFile }).train.epochs).toBe(2);
  });
});

describe('withFieldText', () => {
  const base = resolveConfigOrThrow({ crop: [16, 24, 24], model: { blocks: 2 } });

  it('sets one field from its text form and keeps the rest', () => {
    const c = withFieldText(base, 'optimizer.lr', '0.05');
    expect(c.optimizer.lr).toBe(0.05);
    expect(c.crop).toEqual([16, 24, 24]);
    expect(c.model.blocks).toBe(2);
    expect(base.optimizer.lr).toBe(0.001);
    expect(withFieldText(base, 'crop', '32,48,48').crop).toEqual([32, 48, 48]);
    expect(withFieldText(base, 'model.blockNorm', 'true').model.blockNorm).toBe(true);
  });

  it('validates: a bad value, an unknown key and a failed cross-check throw UsageError', () => {
    expect(() => withFieldText(base, 'optimizer.lr', '-1')).toThrow(UsageError);
    expect(() => withFieldText(base, 'optimizer.lr', '-1')).toThrow(/optimizer\.lr out of range/);
    expect(() => withFieldText(base, 'model.depth', '3')).toThrow(/unknown setting "model\.depth"/);
    expect(() => withFieldText(base, 'model.blocks', '4')).toThrow(
      /crop = "16,24,24": each size must be divisible by 2\^model\.blocks = 16/,
    );
  });
});
