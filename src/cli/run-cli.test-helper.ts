/** The CLI in-process for tests: `main(argv)` with stdout and stderr captured, as text and as
 *  the calls made (`errCalls`: each `io.err` call, for tests that count printed lines). */
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
