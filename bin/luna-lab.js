#!/usr/bin/env node
// The `luna-lab` command. It runs the CLI that `npm run build` (or `npm start`) compiles into
// dist/cli/ — started in well under a second, where transpiling the sources at each start took
// seconds. LUNA_CLI_DEV=1 runs the TypeScript sources through tsx instead (no build needed,
// edits seen at once).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const built = new URL('../dist/cli/main.js', import.meta.url);
// `luna-lab … | head` closes the pipe early: that is the reader's choice, not an error.
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});
let main;
if (process.env.LUNA_CLI_DEV) {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../src/cli/main.ts'));
} else if (existsSync(built)) {
  ({ main } = await import(built.href));
} else {
  process.stderr.write(
    `luna-lab: the CLI is not built (${fileURLToPath(built)} is missing): run "npm run build" in ${fileURLToPath(new URL('..', import.meta.url))}, or set LUNA_CLI_DEV=1 to run the sources through tsx\n`,
  );
  process.exit(1);
}
process.exitCode = await main(process.argv.slice(2));
