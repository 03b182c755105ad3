/**
 * The lab config as a URL: `<origin>/#v=2&model.blocks=2&crop=16,24,24`. Canonical — fields
 * in schema order, the version's defaults omitted, enums by name — so one config has one URL.
 * A URL means forever what it meant when written: each version's defaults are frozen
 * (src/config/url-versions.ts), links are written in the newest, and an older one decodes to
 * the config it meant then, with a note naming the settings where the lab's defaults now
 * differ. Decoding is strict: an unknown version or key, a repeated key or a bad value comes
 * back as an issue naming it; nothing is defaulted silently and nothing from the URL is ever
 * executed.
 */
import {
  FIELDS,
  FIELD_BY_KEY,
  defaultConfig,
  fieldValue,
  formatFieldValue,
  parseFieldText,
  resolveConfig,
  setPath,
  type ConfigIssue,
  type FieldKey,
  type FieldValue,
  type FlatLabConfig,
  type LabConfig,
} from './lab-config.ts';
import { CURRENT_URL_VERSION, URL_VERSIONS, type UrlVersion } from './url-versions.ts';

/** The version links are written in. */
export const URL_VERSION = CURRENT_URL_VERSION.version;

export interface DecodedLabUrl {
  /** Only meaningful when `issues` is empty: then exactly what the URL says. */
  config: LabConfig;
  issues: ConfigIssue[];
  /** For an older version: each setting the link leaves out whose meaning there differs from
   *  the lab's current default, e.g. `kernels = stock: …`. Empty for a current link. */
  notes: string[];
}

function same(a: FieldValue, b: FieldValue): boolean {
  return formatFieldValue(a) === formatFieldValue(b);
}

/** The hash part (without '#') for a config. */
export function encodeLabHash(config: LabConfig): string {
  const parts = [`v=${CURRENT_URL_VERSION.version}`];
  for (const f of FIELDS) {
    const v = fieldValue(config, f.key);
    if (!same(v, CURRENT_URL_VERSION.defaults[f.key]))
      parts.push(`${f.key}=${encodeURIComponent(formatFieldValue(v))}`);
  }
  return parts.join('&');
}

export function encodeLabUrl(config: LabConfig, base: string): string {
  return `${base.replace(/#.*$/, '')}#${encodeLabHash(config)}`;
}

/** Decode a lab URL or its hash; `issues` empty means `config` is exactly what the URL says. */
export function decodeLabUrl(urlOrHash: string): DecodedLabUrl {
  const hash = urlOrHash.includes('#') ? urlOrHash.slice(urlOrHash.indexOf('#') + 1) : urlOrHash;
  const issues: ConfigIssue[] = [];
  const input: Record<string, unknown> = {};
  const seen = new Set<string>();
  let version: string | null = null;
  for (const part of hash.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const key = safeDecode(eq < 0 ? part : part.slice(0, eq));
    const raw = safeDecode(eq < 0 ? '' : part.slice(eq + 1));
    if (key === null || raw === null) {
      // Name the setting when only its value is malformed, so the issue points at the field.
      issues.push(
        key === null
          ? { key: part.slice(0, 40), raw: part.slice(0, 80), reason: 'not valid URL encoding' }
          : { key, raw: part.slice(eq + 1, eq + 81), reason: 'not valid URL encoding' },
      );
      continue;
    }
    if (seen.has(key)) {
      issues.push({ key, raw, reason: 'given more than once' });
      continue;
    }
    seen.add(key);
    if (key === 'v') {
      version = raw;
      continue;
    }
    const field = FIELD_BY_KEY.get(key);
    if (!field) {
      issues.push({ key, raw, reason: 'unknown setting' });
      continue;
    }
    const r = parseFieldText(field, raw);
    if ('reason' in r) issues.push({ key, raw, reason: r.reason });
    else setPath(input, key, r.value);
  }
  const row = URL_VERSIONS.find((r) => String(r.version) === version);
  if (version === null)
    issues.unshift({ key: 'v', raw: '', reason: `missing: a lab URL starts with v=${URL_VERSION}` });
  else if (!row) {
    issues.unshift({
      key: 'v',
      raw: version,
      reason: `unknown version (this lab reads ${readable()}; the link may come from a newer lab)`,
    });
  }
  // What the link leaves out means its version's defaults (the newest where the version is bad:
  // the config is not to be used then anyway).
  const meant = versionDefaults(row ?? CURRENT_URL_VERSION, seen);
  const notes: string[] = [];
  const current = defaultConfig();
  for (const f of FIELDS) {
    if (seen.has(f.key)) continue;
    setPath(input, f.key, meant[f.key]);
    const now = fieldValue(current, f.key);
    if (row && !same(meant[f.key], now)) notes.push(note(f.key, row, meant[f.key], now));
  }
  const resolved = resolveConfig(input);
  return { config: resolved.config, issues: [...issues, ...resolved.issues], notes };
}

/** A version's defaults for one link: its own, then those of the lab that wrote it. */
function versionDefaults(row: UrlVersion, given: ReadonlySet<string>): FlatLabConfig {
  let d = row.defaults;
  for (const w of row.writtenBy ?? []) if (given.has(w.given)) d = { ...d, ...w.defaults };
  return d;
}

function note(key: FieldKey, row: UrlVersion, meant: FieldValue, now: FieldValue): string {
  const shown = (v: FieldValue) => formatFieldValue(v) || '(none)';
  return `${key} = ${shown(meant)}: what this v=${row.version} link means by leaving ${key} out (the lab's default is now ${shown(now)})`;
}

function readable(): string {
  const vs = URL_VERSIONS.map((r) => r.version);
  return vs.length === 1 ? `v=${vs[0]}` : `v=${vs[0]} to v=${vs[vs.length - 1]}`;
}

function safeDecode(s: string): string | null {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return null;
  }
}
