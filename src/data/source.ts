/**
 * A file to load, wherever it lives: a browser `File` (drop, picker, fetched URL) or a path
 * on disk (the CLI). Loaders only see this interface, so the browser and Node share them.
 */

export interface SourceFile {
  /** Path relative to what the user dropped, '/'-separated (e.g. "subset0/1.2.3.mhd"). */
  readonly path: string;
  readonly size: number;
  /** ms since the epoch, when known; part of the re-drop fingerprint. */
  readonly lastModified?: number;
  bytes(): Promise<Uint8Array>;
  /** The first `n` bytes (fewer if the file is shorter). */
  head(n: number): Promise<Uint8Array>;
  /** Up to `length` bytes from `offset`: random access, for reading a zip's directory and
   *  members without holding the archive (absent where the source cannot seek). */
  read?(offset: number, length: number): Promise<Uint8Array>;
}

/** Wrap a browser File (or Blob with a name). */
export function sourceFromFile(file: Blob & { name: string; lastModified?: number }, path?: string): SourceFile {
  return {
    path: path ?? file.name,
    size: file.size,
    lastModified: file.lastModified,
    bytes: async () => new Uint8Array(await file.arrayBuffer()),
    head: async (n) => new Uint8Array(await file.slice(0, n).arrayBuffer()),
    read: async (o, n) => new Uint8Array(await file.slice(o, o + n).arrayBuffer()),
  };
}

/** Wrap bytes already in memory (synthetic data, tests). */
export function sourceFromBytes(path: string, data: Uint8Array, lastModified = 0): SourceFile {
  return {
    path,
    size: data.byteLength,
    lastModified,
    bytes: async () => data,
    head: async (n) => data.subarray(0, n),
    read: async (o, n) => data.subarray(o, o + n),
  };
}

/** A stable identity for "the same file dropped again". */
export function fingerprint(f: SourceFile): string {
  return `${f.path}|${f.size}|${f.lastModified ?? 0}`;
}
