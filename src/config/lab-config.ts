/**
 * The lab config: one table (`FIELDS`) that every run is described by. It feeds the defaults,
 * validation, the page's training panel, the CLI flags, the MLflow params and (later) the
 * lab URL. A run is a resolved `LabConfig`: complete, validated, frozen; nothing downstream
 * re-applies defaults.
 *
 * Keys are dotted paths into the nested config ("model.blocks"). Enums are stored by name.
 * Validation never falls back silently: each bad value comes back as `{ key, raw, reason }`.
 */

export type BackendName = 'webgpu' | 'webgl' | 'cpu';
/** WebGPU kernels for 3-D conv / pooling: the lab's tiled ones, or tfjs's stock ones. */
export type KernelsName = 'lab' | 'stock';
/** Optional WebGPU device features the lab's kernels can use when the adapter offers them. */
export type GpuFeatureName = 'shader-f16' | 'subgroups';
export type OptimizerName = 'sgd' | 'adamw';
export type SchedulerName = 'none' | 'step';
export type DropoutKind = 'none' | 'dropout' | 'dropout3d';
export type ValidationSplit = 'candidate' | 'series';
export type CandidateTable = 'candidates' | 'candidates_V2';

export interface LabConfig {
  readonly data: {
    /** Subsets (dataset groups) to use; empty = every cached series. */
    readonly subsets: readonly string[];
    readonly candidates: CandidateTable;
    /** The data a run used, per subset `name:series:digest8` (src/store/data-selection.ts);
     *  set by the lab in a run's URL so that opening it can tell missing or different data. */
    readonly digest: readonly string[];
  };
  /** Crop size [index, row, col]; each must be divisible by 2^model.blocks. */
  readonly crop: readonly [number, number, number];
  readonly model: {
    readonly blocks: number;
    /** Channels of the first block; doubled by each block after it. */
    readonly width: number;
    /** BatchNorm3d after each conv (the conv then has no bias). */
    readonly blockNorm: boolean;
    readonly dropout: DropoutKind;
    readonly dropoutRate: number;
  };
  readonly optimizer: {
    readonly name: OptimizerName;
    readonly lr: number;
    readonly momentum: number;
    readonly weightDecay: number;
    readonly beta1: number;
    readonly beta2: number;
  };
  readonly scheduler: {
    readonly name: SchedulerName;
    readonly stepSize: number;
    readonly gamma: number;
  };
  readonly sampling: {
    readonly validation: ValidationSplit;
    readonly valStride: number;
    /** Negatives per positive in a training epoch (the book's ratio_int); 0 = unbalanced. */
    readonly ratio: number;
    /** Training samples per epoch; 0 = as many as there are training candidates. */
    readonly epochSamples: number;
  };
  readonly augment: {
    readonly flip: boolean;
    readonly offset: number;
    readonly scale: number;
    readonly rotate: boolean;
    readonly noise: number;
  };
  readonly train: {
    readonly epochs: number;
    readonly batchSize: number;
    readonly seed: number;
    /** Validate at epoch 1, every Nth epoch and the last (the book's validation_cadence). */
    readonly validationCadence: number;
  };
  readonly backend: BackendName;
  readonly kernels: KernelsName;
  /** Optional WebGPU features to ask the device for and let the lab's kernels use (empty: none). */
  readonly gpuFeatures: readonly GpuFeatureName[];
  readonly tracking: {
    /** MLflow tracking server, e.g. http://127.0.0.1:5000; empty = runs stay in this browser. */
    readonly server: string;
    readonly experiment: string;
  };
}

export type FieldSpec =
  | { kind: 'int'; min: number; max: number; default: number }
  | { kind: 'float'; min: number; max: number; default: number; exclusiveMin?: boolean }
  | { kind: 'bool'; default: boolean }
  | { kind: 'enum'; choices: readonly string[]; default: string }
  | { kind: 'int3'; min: number; max: number; default: readonly [number, number, number] }
  | { kind: 'list'; pattern: RegExp; default: readonly string[]; expected?: string }
  | { kind: 'text'; pattern: RegExp; default: string; expected: string };

export interface Field {
  key: string;
  spec: FieldSpec;
  help: string;
}

const SEED_MAX = 2 ** 31 - 1;

/** The table. Order is display order (panel, CLI help, MLflow params). */
export const FIELDS: readonly Field[] = [
  { key: 'data.subsets', spec: { kind: 'list', pattern: /^[\w.-]{1,64}$/, default: [] }, help: 'subsets to train on, e.g. "subset0,subset1" (empty: all cached)' },
  { key: 'data.candidates', spec: { kind: 'enum', choices: ['candidates', 'candidates_V2'], default: 'candidates' }, help: 'candidate table' },
  {
    key: 'data.digest',
    spec: { kind: 'list', pattern: /^[\w.-]{1,64}:\d{1,7}:[0-9a-f]{8}$/, default: [] },
    help: 'the data a shared run used, per subset "name:series:digest" (set by the lab; empty: whatever is cached)',
  },
  { key: 'crop', spec: { kind: 'int3', min: 2, max: 256, default: [32, 48, 48] }, help: 'crop size index,row,col, e.g. "32,48,48"' },
  { key: 'model.blocks', spec: { kind: 'int', min: 1, max: 4, default: 4 }, help: 'LunaBlocks (conv, conv, max-pool)' },
  { key: 'model.width', spec: { kind: 'int', min: 1, max: 64, default: 8 }, help: 'channels of the first block (doubled per block)' },
  { key: 'model.blockNorm', spec: { kind: 'bool', default: false }, help: 'BatchNorm3d after each conv (the seed variant)' },
  { key: 'model.dropout', spec: { kind: 'enum', choices: ['none', 'dropout', 'dropout3d'], default: 'none' }, help: 'dropout after each block' },
  { key: 'model.dropoutRate', spec: { kind: 'float', min: 0, max: 0.95, default: 0.2 }, help: 'dropout probability' },
  { key: 'optimizer.name', spec: { kind: 'enum', choices: ['sgd', 'adamw'], default: 'sgd' }, help: 'SGD with momentum (book) or AdamW (seed)' },
  { key: 'optimizer.lr', spec: { kind: 'float', min: 0, max: 10, default: 0.001, exclusiveMin: true }, help: 'learning rate' },
  { key: 'optimizer.momentum', spec: { kind: 'float', min: 0, max: 0.9999, default: 0.99 }, help: 'SGD momentum' },
  { key: 'optimizer.weightDecay', spec: { kind: 'float', min: 0, max: 1, default: 0 }, help: 'weight decay (AdamW: decoupled; SGD: L2); the seed uses 1e-4 with AdamW' },
  { key: 'optimizer.beta1', spec: { kind: 'float', min: 0, max: 0.9999, default: 0.9 }, help: 'AdamW beta1' },
  { key: 'optimizer.beta2', spec: { kind: 'float', min: 0, max: 0.99999, default: 0.999 }, help: 'AdamW beta2' },
  { key: 'scheduler.name', spec: { kind: 'enum', choices: ['none', 'step'], default: 'none' }, help: 'learning-rate schedule (StepLR)' },
  { key: 'scheduler.stepSize', spec: { kind: 'int', min: 1, max: 10000, default: 5 }, help: 'StepLR: epochs between decays' },
  { key: 'scheduler.gamma', spec: { kind: 'float', min: 0, max: 1, default: 0.1, exclusiveMin: true }, help: 'StepLR: decay factor' },
  { key: 'sampling.validation', spec: { kind: 'enum', choices: ['candidate', 'series'], default: 'candidate' }, help: 'validation split: every Nth candidate or every Nth series' },
  { key: 'sampling.valStride', spec: { kind: 'int', min: 2, max: 1000, default: 10 }, help: 'N of "every Nth" for validation' },
  { key: 'sampling.ratio', spec: { kind: 'int', min: 0, max: 1000, default: 1 }, help: 'negatives per positive in training (0: unbalanced)' },
  { key: 'sampling.epochSamples', spec: { kind: 'int', min: 0, max: 10_000_000, default: 0 }, help: 'training samples per epoch (0: one per training candidate)' },
  { key: 'augment.flip', spec: { kind: 'bool', default: true }, help: 'random flips on each axis' },
  { key: 'augment.offset', spec: { kind: 'float', min: 0, max: 1, default: 0.1 }, help: 'random shift, fraction of the crop (0: off)' },
  { key: 'augment.scale', spec: { kind: 'float', min: 0, max: 0.9, default: 0.2 }, help: 'random scale ±fraction (0: off)' },
  { key: 'augment.rotate', spec: { kind: 'bool', default: true }, help: 'random rotation in the axial (x/y) plane' },
  { key: 'augment.noise', spec: { kind: 'float', min: 0, max: 1000, default: 25 }, help: 'Gaussian noise, HU standard deviation (0: off)' },
  { key: 'train.epochs', spec: { kind: 'int', min: 1, max: 100_000, default: 10 }, help: 'epochs' },
  { key: 'train.batchSize', spec: { kind: 'int', min: 1, max: 4096, default: 32 }, help: 'batch size' },
  { key: 'train.validationCadence', spec: { kind: 'int', min: 1, max: 100_000, default: 5 }, help: 'validate at epoch 1, every Nth epoch and the last' },
  { key: 'train.seed', spec: { kind: 'int', min: 1, max: SEED_MAX, default: 1 }, help: 'seed of every random stream (1..2^31-1)' },
  { key: 'backend', spec: { kind: 'enum', choices: ['webgpu', 'webgl', 'cpu'], default: 'webgpu' }, help: 'preferred tfjs backend (falls back to webgl, then cpu)' },
  { key: 'kernels', spec: { kind: 'enum', choices: ['lab', 'stock'], default: 'lab' }, help: "WebGPU conv3d/pooling kernels: the lab's fast ones or tfjs's stock ones" },
  {
    key: 'gpuFeatures',
    spec: { kind: 'list', pattern: /^(shader-f16|subgroups)$/, default: [], expected: 'shader-f16 or subgroups' },
    help: 'optional WebGPU features for the lab kernels where the adapter offers them, e.g. "subgroups" or "shader-f16,subgroups" (empty: none)',
  },
  {
    key: 'tracking.server',
    spec: { kind: 'text', pattern: /^(https?:\/\/[^\s"'<>`]{1,500})?$/, default: '', expected: 'an http(s) URL such as http://127.0.0.1:5000, or empty' },
    help: 'MLflow tracking server (empty: runs stay in this browser)',
  },
  {
    key: 'tracking.experiment',
    spec: { kind: 'text', pattern: /^[\w .\-/]{1,100}$/, default: 'luna-lab', expected: 'a name of letters, digits, spaces, . _ - /' },
    help: 'MLflow experiment name',
  },
];

export const FIELD_BY_KEY: ReadonlyMap<string, Field> = new Map(FIELDS.map((f) => [f.key, f]));

export type FieldValue = number | boolean | string | readonly string[] | readonly [number, number, number];

/** Any partial nesting of the config, e.g. from JSON, a URL or CLI flags. */
export type LabConfigInput = { [k: string]: unknown };

export interface ConfigIssue {
  key: string;
  raw: string;
  reason: string;
}

export function getField(cfg: LabConfig | LabConfigInput, key: string): unknown {
  let node: unknown = cfg;
  for (const part of key.split('.')) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

/** Set a dotted key in a nested input object, creating the levels on the way. */
export function setPath(target: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split('.');
  let node = target;
  for (const part of parts.slice(0, -1)) {
    node[part] ??= {};
    node = node[part] as Record<string, unknown>;
  }
  node[parts[parts.length - 1]] = value;
}

function show(v: unknown): string {
  if (typeof v === 'string') return v;
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

/** Check one value (already typed: numbers as numbers) against its field. */
export function checkValue(field: Field, value: unknown): { value: FieldValue } | { reason: string } {
  const s = field.spec;
  switch (s.kind) {
    case 'int':
    case 'float': {
      if (typeof value !== 'number' || !Number.isFinite(value)) return { reason: 'not a finite number' };
      if (s.kind === 'int' && !Number.isInteger(value)) return { reason: 'not an integer' };
      const lowOk = s.kind === 'float' && s.exclusiveMin ? value > s.min : value >= s.min;
      if (!lowOk || value > s.max) {
        return { reason: `out of range (${s.kind === 'float' && s.exclusiveMin ? `> ${s.min}` : `≥ ${s.min}`} and ≤ ${s.max})` };
      }
      return { value };
    }
    case 'bool':
      return typeof value === 'boolean' ? { value } : { reason: 'expected true or false' };
    case 'enum':
      return typeof value === 'string' && s.choices.includes(value) ? { value } : { reason: `expected one of ${s.choices.join(', ')}` };
    case 'int3': {
      if (!Array.isArray(value) || value.length !== 3) return { reason: 'expected three integers' };
      if (!value.every((v) => typeof v === 'number' && Number.isInteger(v) && v >= s.min && v <= s.max)) {
        return { reason: `expected three integers from ${s.min} to ${s.max}` };
      }
      return { value: [value[0], value[1], value[2]] as const };
    }
    case 'text': {
      // A lone surrogate cannot be percent-encoded (encodeURIComponent throws on it).
      if (typeof value !== 'string' || /\p{Cs}/u.test(value)) return { reason: `expected ${s.expected}` };
      // Check the canonical form (no surrounding spaces, no trailing slash), as parseFieldText
      // trims too: a value accepted here reads back the same from a URL or a flag.
      const v = value.trim().replace(/[\s/]+$/, '');
      return s.pattern.test(v) ? { value: v } : { reason: `expected ${s.expected}` };
    }
    case 'list': {
      if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) return { reason: 'expected a list of names' };
      const bad = value.find((v) => !s.pattern.test(v));
      if (bad !== undefined) return { reason: s.expected ? `"${bad}" is not one of: ${s.expected}` : `"${bad}" is not a valid name (letters, digits, . _ -)` };
      return { value: [...new Set(value)].sort() };
    }
  }
}

/** Parse a field's text form (URL, CLI flag, form input) into a value, strictly. */
export function parseFieldText(field: Field, text: string): { value: FieldValue } | { reason: string } {
  const s = field.spec;
  const t = text.trim();
  switch (s.kind) {
    case 'int':
    case 'float': {
      // Number('') is 0 and Number('0x10') is 16: accept plain decimals only.
      if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(t)) return { reason: 'not a number' };
      return checkValue(field, Number(t));
    }
    case 'bool':
      return t === 'true' ? { value: true } : t === 'false' ? { value: false } : { reason: 'expected true or false' };
    case 'enum':
      return checkValue(field, t);
    case 'int3': {
      const parts = t.split(',');
      if (parts.length !== 3 || parts.some((p) => !/^\d+$/.test(p.trim()))) return { reason: 'expected three integers, e.g. 32,48,48' };
      return checkValue(field, parts.map((p) => Number(p)));
    }
    case 'list':
      return checkValue(field, t === '' ? [] : t.split(',').map((p) => p.trim()));
    case 'text':
      return checkValue(field, t);
  }
}

export function formatFieldValue(value: FieldValue): string {
  return Array.isArray(value) ? value.join(',') : String(value);
}

export function defaultConfig(): LabConfig {
  const out: Record<string, unknown> = {};
  for (const f of FIELDS) setPath(out, f.key, f.spec.default);
  return deepFreeze(out) as unknown as LabConfig;
}

/**
 * Resolve a partial input into a complete config. Unknown keys and bad values are issues,
 * never silently dropped or defaulted; the config returned is only meaningful when
 * `issues` is empty.
 */
export function resolveConfig(input: LabConfigInput = {}): { config: LabConfig; issues: ConfigIssue[] } {
  const issues: ConfigIssue[] = [];
  const out: Record<string, unknown> = {};
  for (const f of FIELDS) {
    const raw = getField(input, f.key);
    if (raw === undefined) {
      setPath(out, f.key, f.spec.default);
      continue;
    }
    const r = checkValue(f, raw);
    if ('reason' in r) {
      issues.push({ key: f.key, raw: show(raw), reason: r.reason });
      setPath(out, f.key, f.spec.default);
    } else setPath(out, f.key, r.value);
  }
  for (const key of leafKeys(input)) {
    if (!FIELD_BY_KEY.has(key)) issues.push({ key, raw: show(getField(input, key)), reason: 'unknown setting' });
  }
  const config = deepFreeze(out) as unknown as LabConfig;
  issues.push(...crossChecks(config));
  return { config, issues };
}

/** Like resolveConfig, but throws one error listing every issue. */
export function resolveConfigOrThrow(input: LabConfigInput = {}): LabConfig {
  const { config, issues } = resolveConfig(input);
  if (issues.length) throw new ConfigError(issues);
  return config;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(readonly issues: ConfigIssue[]) {
    super(`Invalid lab config: ${issues.map(formatIssue).join('; ')}`);
  }
}

export function formatIssue(i: ConfigIssue): string {
  return `${i.key} = "${i.raw}": ${i.reason}`;
}

function crossChecks(c: LabConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const div = 2 ** c.model.blocks;
  if (c.crop.some((d) => d % div !== 0)) {
    issues.push({ key: 'crop', raw: c.crop.join(','), reason: `each size must be divisible by 2^model.blocks = ${div}` });
  }
  return issues;
}

function leafKeys(input: unknown, prefix = ''): string[] {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return prefix ? [prefix] : [];
  const out: string[] = [];
  for (const [k, v] of Object.entries(input)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (FIELD_BY_KEY.has(key)) out.push(key);
    else if (typeof v === 'object' && v !== null && !Array.isArray(v)) out.push(...leafKeys(v, key));
    else out.push(key);
  }
  return out;
}

function deepFreeze<T>(o: T): T {
  if (typeof o === 'object' && o !== null) {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

/** A fresh random seed in the valid range (not 0: tfjs treats seed 0 as unseeded). */
export function randomSeed(): number {
  const a = new Uint32Array(1);
  crypto.getRandomValues(a);
  return (a[0] % SEED_MAX) + 1;
}

/** A model small enough to train in minutes without a GPU (software WebGPU, CPU): the
 *  page's "Quick config" and the benchmarks' small case. */
export const QUICK_INPUT: LabConfigInput = {
  crop: [16, 24, 24],
  model: { blocks: 2, width: 4 },
  train: { epochs: 4, batchSize: 16 },
};

/** The config with one field changed, validated. */
export function withField(cfg: LabConfig, key: string, value: unknown): LabConfig {
  const input = JSON.parse(JSON.stringify(cfg)) as LabConfigInput;
  setPath(input, key, value);
  return resolveConfigOrThrow(input);
}

/** Flat key → text form, for the MLflow params and summaries. */
export function flattenConfig(cfg: LabConfig): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of FIELDS) out[f.key] = formatFieldValue(getField(cfg, f.key) as FieldValue);
  return out;
}
