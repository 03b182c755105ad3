/**
 * A sweep's search space, read from the grid file: each config key maps to a list of values
 * (a grid axis, expanded as a cartesian product), `{"choice": [values]}` (one value drawn per
 * trial) or `{"random": [low, high]}` (a number drawn uniformly per trial; `"log": true` draws
 * its logarithm uniformly, `"integer": true` rounds it). Values are checked against the config
 * schema here, so a bad entry names the file, key and value before any trial starts. Pure.
 */
import { FIELD_BY_KEY, formatFieldValue, type FieldValue, type LabConfig } from '../config/lab-config.ts';
import { UsageError } from './args.ts';
import { withFieldText } from './train-config.ts';

export type SpaceEntry =
  | { key: string; kind: 'grid' | 'choice'; values: string[] }
  | { key: string; kind: 'random'; low: number; high: number; log: boolean; integer: boolean };

const valueText = (v: unknown): string => (Array.isArray(v) ? v.join(',') : formatFieldValue(v as FieldValue));

export function parseSearchSpace(text: string, name: string): SpaceEntry[] {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`--grid ${name}: not JSON (${(e as Error).message})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new UsageError(`--grid ${name}: expected an object of "key": [values]`);
  const space: SpaceEntry[] = [];
  for (const [key, spec] of Object.entries(raw)) {
    if (!FIELD_BY_KEY.has(key)) throw new UsageError(`--grid ${name}: unknown setting "${key}"`);
    if (Array.isArray(spec)) {
      if (spec.length === 0) throw new UsageError(`--grid ${name}: "${key}" must be a non-empty list of values`);
      space.push({ key, kind: 'grid', values: spec.map(valueText) });
    } else if (typeof spec === 'object' && spec !== null && 'choice' in spec) {
      const values: unknown = (spec as { choice: unknown }).choice;
      if (!Array.isArray(values) || values.length === 0)
        throw new UsageError(`--grid ${name}: "${key}": {"choice": [...]} needs a non-empty list of values`);
      space.push({ key, kind: 'choice', values: values.map(valueText) });
    } else if (typeof spec === 'object' && spec !== null && 'random' in spec) {
      const s = spec as { random: unknown; log?: unknown; integer?: unknown };
      const r = s.random;
      if (
        !Array.isArray(r) ||
        r.length !== 2 ||
        !r.every((x) => typeof x === 'number' && Number.isFinite(x)) ||
        !(r[0] < r[1])
      ) {
        throw new UsageError(
          `--grid ${name}: "${key}": {"random": [low, high]} needs two numbers, low < high (got ${JSON.stringify(r)})`,
        );
      }
      const log = s.log === true;
      if (log && r[0] <= 0) throw new UsageError(`--grid ${name}: "${key}": "log": true needs low > 0 (got ${r[0]})`);
      space.push({ key, kind: 'random', low: r[0], high: r[1], log, integer: s.integer === true });
    } else if (typeof spec === 'object' && spec !== null) {
      throw new UsageError(
        `--grid ${name}: "${key}" must be a non-empty list of values, {"choice": [values]} or {"random": [low, high]}`,
      );
    } else {
      throw new UsageError(`--grid ${name}: "${key}" must be a non-empty list of values`);
    }
  }
  if (!space.length) throw new UsageError(`--grid ${name}: the grid is empty`);
  return space;
}

/** Check every value an entry can give against `base`'s schema (both ends of a random range). */
export function checkSearchSpace(base: LabConfig, space: readonly SpaceEntry[]): void {
  for (const e of space) {
    const texts = e.kind === 'random' ? [e.low, e.high].map((x) => String(e.integer ? Math.round(x) : x)) : e.values;
    for (const v of texts) {
      try {
        withFieldText(base, e.key, v);
      } catch (err) {
        const msg = (err as Error).message;
        const source = [`--set ${e.key} "${v}": `, `--set ${e.key}: `, '--config sweep: '].find((s) =>
          msg.startsWith(s),
        );
        throw new UsageError(`grid value ${e.key} = ${v}: ${source ? msg.slice(source.length) : msg}`);
      }
    }
  }
}

/** The number of grid points (the product of the grid axes; 1 without any). */
export function gridSize(space: readonly SpaceEntry[]): number {
  return space.reduce((n, e) => (e.kind === 'grid' ? n * e.values.length : n), 1);
}
