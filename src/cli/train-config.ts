/**
 * The run config of `luna-lab train` / `sweep`: a lab URL or a config file (the same JSON the
 * page writes as config.json), then single-field flags on top. Everything is validated by
 * the config schema; a bad flag names the flag and the field. Pure: the caller reads files.
 */
import {
  FIELD_BY_KEY,
  formatIssue,
  parseFieldText,
  resolveConfig,
  setPath,
  type FieldKey,
  type LabConfig,
  type LabConfigInput,
} from '../config/lab-config.ts';
import { decodeLabUrl } from '../config/lab-url.ts';
import { DataError } from '../data/errors.ts';
import { CONFIG_FLAGS, UsageError, UsageProblems } from './args.ts';

/** CLI flag → config field, for the fields whose row in the config table names a flag. */
export const FIELD_FLAGS: Readonly<Record<string, FieldKey>> = Object.fromEntries(
  CONFIG_FLAGS.map((c) => [c.flag, c.key]),
);

export interface ConfigSources {
  /** A lab URL (or its hash). */
  url?: string;
  /** The text of a config file (JSON) and its name, for messages. */
  configFile?: { name: string; text: string };
  /** Flag name → raw text, for the flags of FIELD_FLAGS. */
  flags?: Record<string, string | undefined>;
  /** `--set key=value` items, in order. */
  sets?: readonly string[];
  /** Told each note of an older lab URL: a setting it leaves out whose default has changed since
   *  (the run gets the URL's meaning; the note says what differs from today's default). */
  onNote?: (note: string) => void;
}

/**
 * The base config from a URL or a file, then overrides; throws UsageError naming every flag that
 * is wrong (all of them at once), or DataError for a config file that is not a lab config.
 */
export function resolveTrainConfig(src: ConfigSources): LabConfig {
  if (src.url !== undefined && src.configFile) throw new UsageError('Give --url or --config, not both');
  const where = src.url !== undefined ? '--url' : src.configFile ? `--config ${src.configFile.name}` : 'flags';
  let input: LabConfigInput = {};
  if (src.url !== undefined) {
    const { config, issues, notes } = decodeLabUrl(src.url);
    if (issues.length) throw new UsageError(`--url: ${issues.map(formatIssue).join('; ')}`);
    for (const n of notes) src.onNote?.(n);
    input = JSON.parse(JSON.stringify(config)) as LabConfigInput;
  } else if (src.configFile) {
    try {
      const parsed: unknown = JSON.parse(src.configFile.text);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
        throw new Error('expected a JSON object');
      input = parsed as LabConfigInput;
    } catch (e) {
      throw new DataError(`--config ${src.configFile.name}: not a lab config (${(e as Error).message})`, {
        file: src.configFile.name,
      });
    }
  }
  applyOverrides(input, src, where);
  const { config, issues } = resolveConfig(input);
  if (issues.length) {
    const what = `${where}: ${issues.map(formatIssue).join('; ')}`;
    // What a config file holds is input (exit 1); what flags and a --url say is usage (exit 2).
    throw src.configFile ? new DataError(what, { file: src.configFile.name }) : new UsageError(what);
  }
  return config;
}

/**
 * The field flags and --set items of `src` set into `input`, each parsed by its field; throws one
 * UsageError naming every bad one.
 */
function applyOverrides(input: LabConfigInput, src: ConfigSources, where: string): void {
  const overrides: { origin: string; key: string; text: string }[] = [];
  for (const [flag, key] of Object.entries(FIELD_FLAGS)) {
    const text = src.flags?.[flag];
    if (text !== undefined) overrides.push({ origin: `--${flag}`, key, text });
  }
  const problems = new UsageProblems();
  for (const item of src.sets ?? []) {
    const eq = item.indexOf('=');
    if (eq <= 0) problems.add(`--set "${item}": expected KEY=VALUE, for example --set optimizer.momentum=0.9`);
    else
      overrides.push({ origin: `--set ${item.slice(0, eq)}`, key: item.slice(0, eq).trim(), text: item.slice(eq + 1) });
  }
  for (const o of overrides) {
    const field = FIELD_BY_KEY.get(o.key);
    if (!field) {
      problems.add(`${o.origin}: unknown setting "${o.key}"`);
      continue;
    }
    const r = parseFieldText(field, o.text);
    if ('reason' in r) {
      problems.add(`${o.origin} "${o.text}": ${o.key} ${r.reason}`);
      continue;
    }
    try {
      setPath(input, o.key, r.value);
    } catch {
      // A config file with e.g. "model": 3 has no object to set model.blocks in (a TypeError otherwise).
      problems.add(`${o.origin}: cannot set ${o.key}: ${where} has a value that is not an object on its path`);
    }
  }
  problems.done();
}

/** Every bad field flag and --set item, checked on their own (a UsageError naming each; nothing read). */
export function checkFieldFlags(flags: Record<string, string | undefined>, sets: readonly string[]): void {
  applyOverrides({}, { flags, sets }, 'flags');
}

/** A config with one field set from its text form (sweeps), validated. */
export function withFieldText(config: LabConfig, key: string, text: string): LabConfig {
  return resolveTrainConfig({ configFile: { name: 'sweep', text: JSON.stringify(config) }, sets: [`${key}=${text}`] });
}
