/**
 * Writes the synthetic LUNA16-format folders the e2e tests drop, with the project's own
 * CLI (`luna-lab synth`), and a copy with one deliberately broken scan.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, truncateSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { E2E_DATA, SYNTH_GOOD, SYNTH_BROKEN, SYNTH_TRAIN } from './paths.ts';

export default function globalSetup(): void {
  rmSync(E2E_DATA, { recursive: true, force: true });
  mkdirSync(E2E_DATA, { recursive: true });
  const cli = join(process.cwd(), 'bin', 'luna-lab.js');
  execFileSync(process.execPath, [cli, 'synth', '--out', SYNTH_GOOD, '--scans', '3', '--size', 'tiny', '--seed', '11'], { stdio: 'inherit' });
  execFileSync(process.execPath, [cli, 'synth', '--out', SYNTH_BROKEN, '--scans', '3', '--size', 'tiny', '--seed', '12'], { stdio: 'inherit' });
  execFileSync(process.execPath, [cli, 'synth', '--out', SYNTH_TRAIN, '--scans', '8', '--size', 'small', '--seed', '16'], { stdio: 'inherit' });
  // Break one scan of the second set: cut its .raw in half.
  const subset = join(SYNTH_BROKEN, 'subset0');
  const raw = readdirSync(subset).filter((f) => f.endsWith('.raw')).sort()[0];
  truncateSync(join(subset, raw), Math.floor(statSync(join(subset, raw)).size / 2));
  if (!existsSync(SYNTH_GOOD)) throw new Error('synthetic data was not written');
}
