/** Test helpers of the CLI. The CLI in-process: `main(argv)` with stdout and stderr captured, as text and as
 *  the calls made (`errCalls`: each `io.err` call, for tests that count printed lines). */
import { expect } from 'vitest';
import { UsageError } from './args.ts';
import { main, type Io } from './main.ts';

export async function runCli(
  ...argv: string[]
): Promise<{ code: number; out: string; err: string; errCalls: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (s) => out.push(s), err: (s) => err.push(s) };
  const code = await main(argv, io);
  return { code, out: out.join('\n'), err: err.join('\n'), errCalls: err };
}

/** The UsageError `f` throws (the test fails if it throws nothing or something else). */
export function usageErrorOf(f: () => unknown): UsageError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return e as UsageError;
  }
  throw new Error('expected a UsageError');
}
