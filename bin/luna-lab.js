#!/usr/bin/env node
// The `luna-lab` command. It runs the TypeScript sources directly (through tsx), so the CLI
// uses the very modules the page uses and needs no build step after `npm ci`.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
