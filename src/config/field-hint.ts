/**
 * The form's line under each setting: the table's help, then the range a value must lie in and
 * the lab's default, all read off the row, so the page never states a limit the parser does not.
 */
import { formatFieldValue, type Field } from './lab-config.ts';

export function fieldRange(f: Field): string {
  const s = f.spec;
  switch (s.kind) {
    case 'int':
      return `${s.min}–${s.max}`;
    case 'float':
      return s.exclusiveMin ? `> ${s.min}, ≤ ${s.max}` : `${s.min}–${s.max}`;
    case 'int3':
      return `3 integers, ${s.min}–${s.max}`;
    case 'enum':
      return s.choices.join(' | ');
    case 'list':
      return s.choices ? `any of ${s.choices.join(', ')}` : 'comma-separated list';
    case 'bool':
      return 'on | off';
    case 'text':
      return s.expected;
  }
}

export function fieldHint(f: Field): string {
  const d = f.spec.default;
  const shown = typeof d === 'boolean' ? (d ? 'on' : 'off') : formatFieldValue(d) || 'empty';
  return `${f.help} · ${fieldRange(f)} · default ${shown}`;
}
