/**
 * An output folder a command makes, and takes back when the command fails before writing
 * anything into it: a failed `train --out runs/x` leaves no empty runs/x behind. Only what this
 * command created goes, and only while it holds no file (a console.log or run.json stays).
 */
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

export interface OutDir {
  /** Remove the folders this call created if no file was written under them. */
  discardIfEmpty(): Promise<void>;
}

export async function makeOutDir(dir: string): Promise<OutDir> {
  // The first folder mkdir made (dir itself or a parent), undefined when dir was already there.
  const created = await mkdir(dir, { recursive: true });
  return {
    discardIfEmpty: async () => {
      if (created && !(await holdsFile(created))) await rm(created, { recursive: true, force: true });
    },
  };
}

async function holdsFile(dir: string): Promise<boolean> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    if (!e.isDirectory() || (await holdsFile(join(dir, e.name)))) return true;
  }
  return false;
}
