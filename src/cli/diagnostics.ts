/**
 * The one format of what the CLI says on stderr about a failure: `luna-lab: <what>` — one
 * line per error, each printed once; warnings and notes as `luna-lab: warning: <what>` and
 * `luna-lab: note: <what>`. The error's class name and its stack are for debugging: the stack
 * follows the line only with LUNA_DEBUG set. Usage errors exit 2, other failures 1.
 */
import { UsageError } from './args.ts';

/** The CLI's two output streams (main.ts's `Io`, restated here so this module imports no command). */
interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
}

export const PREFIX = 'luna-lab: ';

export const errorLine = (text: string): string => `${PREFIX}${text}`;
export const warningLine = (text: string): string => `${PREFIX}warning: ${text}`;
export const noteLine = (text: string): string => `${PREFIX}note: ${text}`;

/** What to print for an error that ends a command: its line, and under LUNA_DEBUG its stack. */
export function describeError(e: unknown, debug = !!process.env.LUNA_DEBUG): string {
  const err = e instanceof Error ? e : new Error(String(e));
  const line = errorLine(err.message.split('\n')[0] || err.name);
  if (!debug) return line;
  const rest = err.message.includes('\n') ? `\n${err.message.slice(err.message.indexOf('\n') + 1)}` : '';
  return `${line}${rest}\n${err.stack ?? ''}`.trimEnd();
}

/** The lines of an error that ends a command: one per problem of a UsageError, else describeError's. */
export function describeErrors(e: unknown, debug = !!process.env.LUNA_DEBUG): string[] {
  if (e instanceof UsageError && e.problems.length > 1 && !debug) return e.problems.map(errorLine);
  return [describeError(e, debug)];
}

export function exitCodeOf(e: unknown): 1 | 2 {
  return e instanceof UsageError ? 2 : 1;
}

/**
 * `io` with every diagnostic line (one starting with `luna-lab: `) printed at most once: a
 * .mhd and its .raw fail with one message, and it is one error, not two.
 */
export function onceIo(io: Io): Io {
  const said = new Set<string>();
  return {
    out: io.out,
    err: (s) => {
      if (s.startsWith(PREFIX)) {
        if (said.has(s)) return;
        said.add(s);
      }
      io.err(s);
    },
  };
}
