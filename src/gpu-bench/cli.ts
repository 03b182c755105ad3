/**
 * `npm run bench:gpu`: the GPU bench from the repository (main.ts), with `--pack FILE` (pack.ts)
 * available; the device bundle's entry is bundle-entry.ts, which has no packer (and no vite).
 */
import { runAsProcess } from './main.ts';
import { pack } from './pack.ts';

runAsProcess(pack);
