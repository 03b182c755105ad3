/**
 * The lab config: one table (`FIELDS`) that every run is described by. It feeds the config's
 * type, the defaults, validation, the page's form (each row names its group), the CLI flags
 * (each row may name its flag), the MLflow params and the lab URL. A run is a resolved
 * `LabConfig`: complete, validated, frozen; nothing downstream re-applies defaults.
 *
 * Keys are dotted paths into the nested config ("model.blocks"). Enums are stored by name.
 * Validation never falls back silently: each bad value comes back as `{ key, raw, reason }`.
 */

export type FieldSpec =
  | { kind: 'int'; min: number; max: number; default: number }
  | { kind: 'float'; min: number; max: number; default: number; exclusiveMin?: boolean }
  | { kind: 'bool'; default: boolean }
  | { kind: 'enum'; choices: readonly string[]; default: string }
  | { kind: 'int3'; min: number; max: number; default: readonly [number, number, number] }
  /** `choices`, when given, types the items (and the pattern must accept exactly them). */
  | { kind: 'list'; pattern: RegExp; default: readonly string[]; expected?: string; choices?: readonly string[] }
  | { kind: 'text'; pattern: RegExp; default: string; expected: string };

/** Where a setting sits in the page's form (src/ui/config-form.ts), by legend. */
export type FieldGroup =
  'Data' | 'Model' | 'Optimizer' | 'Schedule' | 'Sampling' | 'Augmentation' | 'Training' | 'Device' | 'Tracking';

/** A CLI flag of `luna-lab train` / `sweep` that sets this one field (any field also takes `--set key=value`). */
export interface FieldFlag {
  /** The flag without its dashes, e.g. "batch-size". */
  name: string;
  /** Help text after the flag, with an example value where one helps. */
  help: string;
}

interface FieldRow {
  key: string;
  spec: FieldSpec;
  help: string;
  group: FieldGroup;
  flag?: FieldFlag;
}

const SEED_MAX = 2 ** 31 - 1;

/**
 * The table. Order is display order (panel, CLI help, MLflow params). Declared `as const` so
 * that the config's type is read off it (`LabConfig` below): a new row is a new setting in the
 * type, the defaults, validation, the URL, the CLI, the params and the form. Changing a
 * `default` also needs a new lab URL version (src/config/url-versions.ts; a test says so).
 */
const TABLE = [
  {
    key: 'data.subsets',
    spec: { kind: 'list', pattern: /^[\w.-]{1,64}$/, default: [] },
    help: 'subsets to train on, e.g. "subset0,subset1" (empty: all cached)',
    group: 'Data',
    flag: { name: 'subsets', help: 'override data.subsets, for example "subset0,subset1"' },
  },
  {
    key: 'data.candidates',
    spec: { kind: 'enum', choices: ['candidates', 'candidates_V2'], default: 'candidates' },
    help: 'candidate table',
    group: 'Data',
  },
  {
    // Set by the lab in a run's URL (src/store/data-selection.ts) so that opening it can tell missing or different data.
    key: 'data.digest',
    spec: { kind: 'list', pattern: /^[\w.-]{1,64}:\d{1,7}:[0-9a-f]{8}$/, default: [] },
    help: 'the data a shared run used, per subset "name:series:digest" (set by the lab; empty: whatever is cached)',
    group: 'Data',
  },
  // [index, row, col]; each must be divisible by 2^model.blocks (checked in crossChecks).
  {
    key: 'crop',
    spec: { kind: 'int3', min: 2, max: 256, default: [32, 48, 48] },
    help: 'crop size index,row,col in voxels, e.g. "32,48,48" (the book\'s)',
    group: 'Data',
    flag: { name: 'crop', help: 'override crop, for example "32,48,48"' },
  },
  {
    key: 'model.blocks',
    spec: { kind: 'int', min: 1, max: 4, default: 4 },
    help: 'LunaBlocks (conv, conv, max-pool)',
    group: 'Model',
    flag: { name: 'blocks', help: 'override model.blocks' },
  },
  {
    key: 'model.width',
    spec: { kind: 'int', min: 1, max: 64, default: 8 },
    help: 'channels of the first block (doubled per block)',
    group: 'Model',
    flag: { name: 'width', help: 'override model.width' },
  },
  {
    key: 'model.blockNorm',
    spec: { kind: 'bool', default: false },
    help: 'BatchNorm3d after each conv (the seed variant)',
    group: 'Model',
  },
  {
    key: 'model.dropout',
    spec: { kind: 'enum', choices: ['none', 'dropout', 'dropout3d'], default: 'none' },
    help: 'dropout after each block (the seed: dropout3d)',
    group: 'Model',
  },
  {
    key: 'model.dropoutRate',
    spec: { kind: 'float', min: 0, max: 0.95, default: 0.2 },
    help: 'dropout probability (the seed: 0.2)',
    group: 'Model',
  },
  // Fine-tuning (the book's --finetune / --finetune-depth): start from another run's weights.
  {
    key: 'finetune.from',
    spec: {
      kind: 'text',
      pattern: /^[^\s"'<>`]{0,500}$/,
      default: '',
      expected:
        'a run id of this lab, a `luna-lab train --out` folder, runs:/<mlflow-run-id>/model or models:/<name>/<version>, or empty',
    },
    help: "start from this model's weights: a run id, a run folder, runs:/<id>/model or models:/<name>/<version> (empty: fresh weights)",
    group: 'Model',
    flag: {
      name: 'from',
      help: 'fine-tune from a model: a run folder written by --out, a run id, "runs:/<id>/model" or "models:/<name>/<version>"',
    },
  },
  {
    key: 'finetune.depth',
    spec: { kind: 'int', min: 0, max: 6, default: 1 },
    help: 'with finetune.from: the last N parameterised parts (head, blocks, input BatchNorm) train, the rest stay frozen; the head is new (1: the head only); 0 continues every weight',
    group: 'Model',
    flag: {
      name: 'finetune-depth',
      help: 'override finetune.depth: 1 trains a new head only, N the head and the last N-1 blocks, 0 continues all weights',
    },
  },
  {
    key: 'optimizer.name',
    spec: { kind: 'enum', choices: ['sgd', 'adamw'], default: 'sgd' },
    help: 'SGD with momentum (book) or AdamW (seed)',
    group: 'Optimizer',
    flag: { name: 'optimizer', help: 'override optimizer.name (sgd | adamw)' },
  },
  {
    key: 'optimizer.lr',
    spec: { kind: 'float', min: 0, max: 10, default: 0.001, exclusiveMin: true },
    help: 'learning rate (book 0.001 with SGD; seed 1e-3 with AdamW)',
    group: 'Optimizer',
    flag: { name: 'lr', help: 'override optimizer.lr' },
  },
  {
    key: 'optimizer.momentum',
    spec: { kind: 'float', min: 0, max: 0.9999, default: 0.99 },
    help: 'SGD momentum (book 0.99)',
    group: 'Optimizer',
  },
  {
    key: 'optimizer.weightDecay',
    spec: { kind: 'float', min: 0, max: 1, default: 0 },
    help: 'weight decay (AdamW: decoupled; SGD: L2); the seed uses 1e-4 with AdamW',
    group: 'Optimizer',
    flag: { name: 'weight-decay', help: 'override optimizer.weightDecay' },
  },
  {
    key: 'optimizer.beta1',
    spec: { kind: 'float', min: 0, max: 0.9999, default: 0.9 },
    help: 'AdamW beta1',
    group: 'Optimizer',
  },
  {
    key: 'optimizer.beta2',
    spec: { kind: 'float', min: 0, max: 0.99999, default: 0.999 },
    help: 'AdamW beta2',
    group: 'Optimizer',
  },
  {
    key: 'scheduler.name',
    spec: { kind: 'enum', choices: ['none', 'step'], default: 'none' },
    help: 'learning-rate schedule (the seed: StepLR)',
    group: 'Schedule',
  },
  {
    key: 'scheduler.stepSize',
    spec: { kind: 'int', min: 1, max: 10000, default: 5 },
    help: 'StepLR: epochs between decays',
    group: 'Schedule',
  },
  {
    key: 'scheduler.gamma',
    spec: { kind: 'float', min: 0, max: 1, default: 0.1, exclusiveMin: true },
    help: 'StepLR: decay factor (the seed: 0.1)',
    group: 'Schedule',
  },
  {
    key: 'sampling.validation',
    spec: { kind: 'enum', choices: ['candidate', 'series'], default: 'candidate' },
    help: 'validation split: every Nth candidate or every Nth series',
    group: 'Sampling',
  },
  {
    key: 'sampling.valStride',
    spec: { kind: 'int', min: 2, max: 1000, default: 10 },
    help: 'N of "every Nth" for validation',
    group: 'Sampling',
  },
  // The book's ratio_int.
  {
    key: 'sampling.ratio',
    spec: { kind: 'int', min: 0, max: 1000, default: 1 },
    help: 'negatives per positive in training (0: unbalanced)',
    group: 'Sampling',
  },
  {
    key: 'sampling.epochSamples',
    spec: { kind: 'int', min: 0, max: 10_000_000, default: 0 },
    help: 'training samples per epoch (0: one per training candidate)',
    group: 'Sampling',
  },
  // The seed's --training-length: a class-stratified subset before the split (src/data/stratified-subset.ts).
  {
    key: 'sampling.trainingLength',
    spec: { kind: 'int', min: 0, max: 10_000_000, default: 0 },
    help: 'candidates to use, a seeded class-stratified subset with at least two of each class (0: all)',
    group: 'Sampling',
    flag: { name: 'training-length', help: 'override sampling.trainingLength, for example 2000 (0: all candidates)' },
  },
  // The seed's train_luna_malignant_classification (the book's p2ch14): src/data/malignancy.ts.
  {
    key: 'task',
    spec: { kind: 'enum', choices: ['nodule', 'malignancy'], default: 'nodule' },
    help: 'what to classify: nodule vs not (candidates.csv), or malignant vs benign and not-nodule (annotations_with_malignancy.csv)',
    group: 'Data',
    flag: { name: 'task', help: 'override task (nodule | malignancy)' },
  },
  // The seed's three-way balancing (malignant : benign : not-nodule).
  {
    key: 'sampling.malignancyRatio',
    spec: { kind: 'int3', min: 0, max: 1000, default: [1, 5, 10] },
    help: 'malignancy task: malignant, benign and not-nodule samples per cycle of a training epoch, e.g. "1,5,10"',
    group: 'Sampling',
  },
  {
    key: 'augment.flip',
    spec: { kind: 'bool', default: true },
    help: 'random flips on each axis',
    group: 'Augmentation',
  },
  {
    key: 'augment.offset',
    spec: { kind: 'float', min: 0, max: 1, default: 0.1 },
    help: 'random shift, fraction of the crop (0: off)',
    group: 'Augmentation',
  },
  {
    key: 'augment.scale',
    spec: { kind: 'float', min: 0, max: 0.9, default: 0.2 },
    help: 'random scale ±fraction (0: off)',
    group: 'Augmentation',
  },
  {
    key: 'augment.rotate',
    spec: { kind: 'bool', default: true },
    help: 'random rotation in the axial (x/y) plane',
    group: 'Augmentation',
  },
  {
    key: 'augment.noise',
    spec: { kind: 'float', min: 0, max: 1000, default: 25 },
    help: 'Gaussian noise, HU standard deviation (0: off)',
    group: 'Augmentation',
  },
  {
    key: 'augment.device',
    spec: { kind: 'enum', choices: ['cpu', 'gpu'], default: 'cpu' },
    help: 'where crops are augmented: cpu (data workers) or gpu (a WebGPU kernel inside the training step; same transforms, a counter-based noise stream)',
    group: 'Augmentation',
  },
  {
    key: 'train.epochs',
    spec: { kind: 'int', min: 1, max: 100_000, default: 10 },
    help: 'passes over the training samples',
    group: 'Training',
    flag: { name: 'epochs', help: 'override train.epochs' },
  },
  {
    key: 'train.batchSize',
    spec: { kind: 'int', min: 1, max: 4096, default: 32 },
    help: 'samples per step (book 32, seed 64)',
    group: 'Training',
    flag: { name: 'batch-size', help: 'override train.batchSize' },
  },
  // The book's validation_cadence.
  {
    key: 'train.validationCadence',
    spec: { kind: 'int', min: 1, max: 100_000, default: 5 },
    help: 'validate at epoch 1, every Nth epoch and the last',
    group: 'Training',
  },
  {
    key: 'train.seed',
    spec: { kind: 'int', min: 1, max: SEED_MAX, default: 1 },
    help: 'seed of every random stream (1..2^31-1)',
    group: 'Training',
    flag: { name: 'seed', help: 'override train.seed' },
  },
  {
    key: 'backend',
    spec: { kind: 'enum', choices: ['webgpu', 'webgl', 'cpu'], default: 'webgpu' },
    help: 'preferred tfjs backend (falls back to webgl, then cpu)',
    group: 'Device',
    flag: { name: 'backend', help: 'override backend (webgpu | webgl | cpu)' },
  },
  {
    key: 'kernels',
    spec: { kind: 'enum', choices: ['lab', 'stock'], default: 'lab' },
    help: "WebGPU conv3d/pooling kernels: the lab's fast ones or tfjs's stock ones",
    group: 'Device',
    flag: { name: 'kernels', help: "override kernels: lab (the lab's WebGPU conv3d kernels) | stock (tfjs's)" },
  },
  {
    key: 'gpuFeatures',
    spec: {
      kind: 'list',
      pattern: /^(shader-f16|subgroups)$/,
      choices: ['shader-f16', 'subgroups'],
      default: [],
      expected: 'shader-f16 or subgroups',
    },
    help: 'optional WebGPU features for the lab kernels where the adapter offers them, e.g. "subgroups" or "shader-f16,subgroups" (empty: none)',
    group: 'Device',
    flag: {
      name: 'gpu-features',
      help: 'override gpuFeatures: optional WebGPU features for the lab kernels, for example "subgroups" or "shader-f16,subgroups"',
    },
  },
  {
    key: 'tracking.server',
    spec: {
      kind: 'text',
      pattern: /^(https?:\/\/[^\s"'<>`]{1,500})?$/,
      default: '',
      expected: 'an http(s) URL such as http://127.0.0.1:5000, or empty',
    },
    help: 'MLflow tracking server (empty: runs stay in this browser)',
    group: 'Tracking',
    // The one flag not spelt after its field: `--mlflow` reads as "the MLflow server".
    flag: { name: 'mlflow', help: 'MLflow tracking server, for example "http://127.0.0.1:5000"' },
  },
  {
    key: 'tracking.experiment',
    spec: {
      kind: 'text',
      pattern: /^[\w .\-/]{1,100}$/,
      default: 'luna-lab',
      expected: 'a name of letters, digits, spaces, . _ - /',
    },
    help: 'MLflow experiment name',
    group: 'Tracking',
    flag: { name: 'experiment', help: 'override tracking.experiment' },
  },
  {
    key: 'tracking.register',
    spec: {
      kind: 'text',
      pattern: /^([\w.-]{1,100})?$/,
      default: '',
      expected: 'a model name of letters, digits, . _ -, or empty',
    },
    help: "MLflow Model Registry name the finished run's model is registered under (empty: not registered)",
    group: 'Tracking',
    flag: { name: 'register', help: "register the finished run's model in MLflow's Model Registry under this name" },
  },
] as const satisfies readonly FieldRow[];

// ---------------------------------------------------------------------------------------------
// The config's types, read off the table.
// ---------------------------------------------------------------------------------------------

type Row = (typeof TABLE)[number];
/** A setting's dotted key, e.g. "model.blocks". */
export type FieldKey = Row['key'];

type SpecValue<S> = S extends { kind: 'int' | 'float' }
  ? number
  : S extends { kind: 'bool' }
    ? boolean
    : S extends { kind: 'enum'; choices: readonly (infer C)[] }
      ? C
      : S extends { kind: 'int3' }
        ? readonly [number, number, number]
        : S extends { kind: 'list'; choices: readonly (infer C)[] }
          ? readonly C[]
          : S extends { kind: 'list' }
            ? readonly string[]
            : string;

/** The value type of one setting, e.g. `ValueOf<'backend'>` is 'webgpu' | 'webgl' | 'cpu'. */
export type ValueOf<K extends FieldKey> = SpecValue<Extract<Row, { key: K }>['spec']>;

type Head<K extends string> = K extends `${infer H}.${string}` ? H : K;
type Tail<K extends string, H extends string> = K extends `${H}.${infer T}` ? T : never;

/** Nest dotted keys: a key without a dot is a leaf; "a.b" puts b under a. */
type Nested<K extends string, P extends string> = {
  readonly [H in Head<K>]: H extends K ? ValueOf<`${P}${H}` & FieldKey> : Nested<Tail<K, H>, `${P}${H}.`>;
};

/** A resolved run config: complete, validated, frozen; its shape is FIELDS' keys. */
export type LabConfig = Nested<FieldKey, ''>;

type NestedInput<K extends string> = { [H in Head<K>]?: H extends K ? unknown : NestedInput<Tail<K, H>> } & {
  [other: string]: unknown;
};

/** Any partial nesting of the config, e.g. from JSON, a URL or CLI flags: the keys of FIELDS
 *  at their levels, values unchecked (resolveConfig checks them), unknown keys allowed (and
 *  reported by resolveConfig). */
export type LabConfigInput = NestedInput<FieldKey>;

/** One setting flat: dotted key → value, e.g. a URL version's defaults (src/config/url-versions.ts). */
export type FlatLabConfig = { readonly [K in FieldKey]: ValueOf<K> };

export type BackendName = ValueOf<'backend'>;
/** WebGPU kernels for 3-D conv / pooling: the lab's tiled ones, or tfjs's stock ones. */
export type KernelsName = ValueOf<'kernels'>;
/** Optional WebGPU device features the lab's kernels can use when the adapter offers them. */
export type GpuFeatureName = ValueOf<'gpuFeatures'>[number];
export type OptimizerName = ValueOf<'optimizer.name'>;
export type SchedulerName = ValueOf<'scheduler.name'>;
export type DropoutKind = ValueOf<'model.dropout'>;
export type ValidationSplit = ValueOf<'sampling.validation'>;
export type CandidateTable = ValueOf<'data.candidates'>;
/** What a run classifies: nodules among candidates, or malignant nodules (the book's p2ch14). */
export type TaskName = ValueOf<'task'>;

/** One row of the table, as code that walks every row sees it. */
export interface Field extends FieldRow {
  key: FieldKey;
}

export const FIELDS: readonly Field[] = TABLE;

/** Rows by key; looked up by any string (a URL's, a flag's), hence `string`. */
export const FIELD_BY_KEY: ReadonlyMap<string, Field> = new Map(FIELDS.map((f) => [f.key, f]));

export type FieldValue = number | boolean | string | readonly string[] | readonly [number, number, number];

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
        return {
          reason: `out of range (${s.kind === 'float' && s.exclusiveMin ? `> ${s.min}` : `≥ ${s.min}`} and ≤ ${s.max})`,
        };
      }
      return { value };
    }
    case 'bool':
      return typeof value === 'boolean' ? { value } : { reason: 'expected true or false' };
    case 'enum':
      return typeof value === 'string' && s.choices.includes(value)
        ? { value }
        : { reason: `expected one of ${s.choices.join(', ')}` };
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
      if (!Array.isArray(value) || !value.every((v) => typeof v === 'string'))
        return { reason: 'expected a list of names' };
      const bad = value.find((v) => !s.pattern.test(v));
      if (bad !== undefined)
        return {
          reason: s.expected
            ? `"${bad}" is not one of: ${s.expected}`
            : `"${bad}" is not a valid name (letters, digits, . _ -)`,
        };
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
      if (parts.length !== 3 || parts.some((p) => !/^\d+$/.test(p.trim())))
        return { reason: 'expected three integers, e.g. 32,48,48' };
      return checkValue(
        field,
        parts.map((p) => Number(p)),
      );
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

/**
 * The one place the nested config is put together from per-key values, and so the one cast
 * between the table and the `LabConfig` type: `LabConfig` is built from FIELDS' keys (Nested
 * above) and every key gets a value here, so the object has the type's shape by construction.
 * The values are the caller's to check (defaults, or values that passed checkValue).
 */
function buildConfig(valueOf: (f: Field) => FieldValue): LabConfig {
  const out: Record<string, unknown> = {};
  for (const f of FIELDS) setPath(out, f.key, valueOf(f));
  return deepFreeze(out) as unknown as LabConfig;
}

/** One setting of a config, typed by its key. */
export function fieldValue<K extends FieldKey>(cfg: LabConfig, key: K): ValueOf<K> {
  // The counterpart of buildConfig's cast: the path exists with this key's type by construction.
  return getField(cfg, key) as ValueOf<K>;
}

export function defaultConfig(): LabConfig {
  return buildConfig((f) => f.spec.default);
}

/**
 * Resolve a partial input into a complete config. Unknown keys and bad values are issues,
 * never silently dropped or defaulted; the config returned is only meaningful when
 * `issues` is empty.
 */
export function resolveConfig(input: LabConfigInput = {}): { config: LabConfig; issues: ConfigIssue[] } {
  const issues: ConfigIssue[] = [];
  const config = buildConfig((f) => {
    const raw = getField(input, f.key);
    if (raw === undefined) return f.spec.default;
    const r = checkValue(f, raw);
    if ('value' in r) return r.value;
    issues.push({ key: f.key, raw: show(raw), reason: r.reason });
    return f.spec.default;
  });
  for (const key of leafKeys(input)) {
    if (!FIELD_BY_KEY.has(key)) issues.push({ key, raw: show(getField(input, key)), reason: 'unknown setting' });
  }
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
  // The parts are the input BatchNorm, the blocks and the head (src/train/finetune.ts).
  if (c.finetune.from && c.finetune.depth > c.model.blocks + 2) {
    issues.push({
      key: 'finetune.depth',
      raw: String(c.finetune.depth),
      reason: `the model has ${c.model.blocks + 2} parameterised parts (input BatchNorm, ${c.model.blocks} blocks, head)`,
    });
  }
  const div = 2 ** c.model.blocks;
  if (c.crop.some((d) => d % div !== 0)) {
    issues.push({
      key: 'crop',
      raw: c.crop.join(','),
      reason: `each size must be divisible by 2^model.blocks = ${div}`,
    });
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

export function deepFreeze<T>(o: T): T {
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
  for (const f of FIELDS) out[f.key] = formatFieldValue(fieldValue(cfg, f.key));
  return out;
}
