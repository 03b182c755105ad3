/**
 * `SourceFile`s backed by the local disk, for the CLI: a file, or every file under a folder
 * (paths relative to the folder's parent, so "subset0/x.mhd" keeps its subset). A `.zip` is a
 * file like any other here; `loadFiles` reads its members by random access.
 */
import { open, readFile, readdir, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, sep } from 'node:path';
import type { SourceFile } from '../data/source.ts';
import { metaDataFileName, parseMetaHeader } from '../data/metaimage.ts';

export function sourceFromPath(abs: string, rel: string, size: number, mtimeMs: number): SourceFile {
  return {
    path: rel.split(sep).join('/'),
    size,
    lastModified: Math.round(mtimeMs),
    bytes: async () => {
      const buf = await readFile(abs);
      return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    },
    head: (n) => readAt(abs, 0, n),
    read: (offset, length) => readAt(abs, offset, length),
  };
}

/** Up to `length` bytes at `offset` (a zip's directory and members are read this way). */
async function readAt(abs: string, offset: number, length: number): Promise<Uint8Array> {
  const fh = await open(abs, 'r');
  try {
    const out = new Uint8Array(length);
    let got = 0;
    while (got < length) {
      const { bytesRead } = await fh.read(out, got, length - got, offset + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return out.subarray(0, got);
  } finally {
    await fh.close();
  }
}

/** A file, or all files below a folder (hidden entries skipped), as sources. */
export async function sourcesAt(path: string): Promise<SourceFile[]> {
  const st = await stat(path);
  if (st.isFile()) {
    // A lone .mhd needs its detached data file: the one its header names, beside it.
    const out: SourceFile[] = [sourceFromPath(path, basename(path), st.size, st.mtimeMs)];
    if (/\.mhd$/i.test(path)) {
      const name = metaDataFileName(parseMetaHeader(new Uint8Array(await readFile(path)), basename(path)));
      const abs = name === null ? null : join(dirname(path), name);
      const s = abs ? await stat(abs).catch(() => null) : null;
      if (abs && name && s?.isFile()) out.push(sourceFromPath(abs, name, s.size, s.mtimeMs));
    }
    return out;
  }
  const base = dirname(path.replace(/[\\/]+$/, ''));
  const out: SourceFile[] = [];
  const walk = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true });
    entries.sort((a, b) => a.name.localeCompare(b.name));
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const abs = join(dir, e.name);
      if (e.isDirectory()) await walk(abs);
      else if (e.isFile()) {
        const s = await stat(abs);
        out.push(sourceFromPath(abs, relative(base, abs), s.size, s.mtimeMs));
      }
    }
  };
  await walk(path);
  return out;
}
