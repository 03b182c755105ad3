/**
 * Files of a headless run's data folder, read from the CLI's data server by HTTP
 * (src/cli/data-server.ts): the ingest worker's `ingestUrls` and the ingest bench read --data so.
 */
import type { SourceFile } from '../data/source.ts';

/** A file the CLI's data server serves (`GET /files/<path>`, single byte ranges). */
export interface RemoteFile {
  path: string;
  url: string;
  size: number;
  lastModified?: number;
}

/** A served file, read by HTTP: whole, its head, or a range (a zip's directory and members). */
export function sourceFromUrl({ path, url, size, lastModified }: RemoteFile): SourceFile {
  const get = async (range?: string) => {
    const res = await fetch(url, range ? { headers: { Range: range } } : {});
    if (!res.ok) throw new Error(`${path}: HTTP ${res.status} fetching ${url}`);
    return { status: res.status, bytes: new Uint8Array(await res.arrayBuffer()) };
  };
  return {
    path,
    size,
    ...(lastModified === undefined ? {} : { lastModified }),
    bytes: async () => (await get()).bytes,
    head: async (n) => (await get(`bytes=0-${n - 1}`)).bytes.subarray(0, n),
    read: async (offset, length) => {
      if (length <= 0 || offset >= size) return new Uint8Array(0);
      const { status, bytes } = await get(`bytes=${offset}-${offset + length - 1}`);
      // A 200 (no range support) carries the whole file: take the part asked for.
      return status === 206 ? bytes : bytes.subarray(offset, offset + length);
    },
  };
}
