/**
 * The lab config as a URL: `<origin>/#v=1&model.blocks=2&crop=16,24,24`. Canonical — fields
 * in schema order, defaults omitted, enums by name — so one config has one URL. Decoding is
 * strict: an unknown version or key, a repeated key or a bad value comes back as an issue
 * naming it; nothing is defaulted silently and nothing from the URL is ever executed.
 */
import {
  FIELDS,
  FIELD_BY_KEY,
  formatFieldValue,
  getField,
  parseFieldText,
  resolveConfig,
  setPath,
  type ConfigIssue,
  type FieldValue,
  type LabConfig,
} from './lab-config.ts';

export const URL_VERSION = 1;

function same(a: FieldValue, b: FieldValue): boolean {
  return formatFieldValue(a) === formatFieldValue(b);
}

/** The hash part (without '#') for a config. */
export function encodeLabHash(config: LabConfig): string {
  const parts = [`v=${URL_VERSION}`];
  for (const f of FIELDS) {
    const v = getField(config, f.key) as FieldValue;
    if (!same(v, f.spec.default as FieldValue)) parts.push(`${f.key}=${encodeURIComponent(formatFieldValue(v))}`);
  }
  return parts.join('&');
}

export function encodeLabUrl(config: LabConfig, base: string): string {
  return `${base.replace(/#.*$/, '')}#${encodeLabHash(config)}`;
}

/** Decode a lab URL or its hash; `issues` empty means `config` is exactly what the URL says. */
export function decodeLabUrl(urlOrHash: string): { config: LabConfig; issues: ConfigIssue[] } {
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
  if (version === null) issues.unshift({ key: 'v', raw: '', reason: `missing: a lab URL starts with v=${URL_VERSION}` });
  else if (version !== String(URL_VERSION)) {
    issues.unshift({ key: 'v', raw: version, reason: `unknown version (this lab reads v=${URL_VERSION}; the link may come from a newer lab)` });
  }
  const resolved = resolveConfig(input);
  return { config: resolved.config, issues: [...issues, ...resolved.issues] };
}

function safeDecode(s: string): string | null {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return null;
  }
}
