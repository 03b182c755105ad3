/**
 * Serves a data folder read-only to the headless page on 127.0.0.1, so the page ingests it
 * through the same ingest worker that handles a drop. `GET /files.json` lists every regular
 * file under the root; `GET /files/<path>` streams one (with single byte ranges, for header
 * sniffing). Nothing outside the root is reachable: `..`, absolute and encoded paths are
 * refused, and symlinks are followed only when their target stays inside the root. Only
 * requests addressed to this server (`Host` 127.0.0.1:port or localhost:port) from the lab's
 * origin (or with no `Origin`) are answered; others get 403 (`local-origin.ts`).
 * Every answer says `Cache-Control: no-store`: the data lands in IndexedDB, and without it
 * Chromium kept a second copy of every file in the profile's HTTP cache (`Default/Cache`).
 */
import { createReadStream } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, join, relative, resolve, sep } from 'node:path';
import { refusal, refuse } from './local-origin.ts';

export interface ListedFile {
  /** '/'-separated, relative to the root. */
  path: string;
  size: number;
  /** ms since the epoch: part of the cache's re-ingest fingerprint. */
  lastModified: number;
}

export interface DataServer {
  url: string;
  root: string;
  files: ListedFile[];
  close(): Promise<void>;
}

/** Every regular file under `root` (symlinks inside it followed), sorted; dot files skipped. */
export async function listFiles(root: string): Promise<ListedFile[]> {
  const realRoot = await realpath(root);
  const out: ListedFile[] = [];
  const seen = new Set<string>();
  async function walk(dir: string): Promise<void> {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue;
      const abs = join(dir, entry.name);
      const real = await realpath(abs).catch(() => null);
      if (!real || !inside(realRoot, real)) continue;
      const st = await stat(real);
      if (st.isDirectory()) {
        if (seen.has(real)) continue; // a symlink loop
        seen.add(real);
        await walk(abs);
      } else if (st.isFile()) {
        out.push({
          path: relative(root, abs).split(sep).join('/'),
          size: st.size,
          lastModified: Math.floor(st.mtimeMs),
        });
      }
    }
  }
  const st = await stat(realRoot);
  // A zip given as --data is served alone; the page reads its members by range.
  if (st.isFile() && /\.zip$/i.test(root)) {
    return [{ path: basename(root), size: st.size, lastModified: Math.floor(st.mtimeMs) }];
  }
  if (!st.isDirectory()) throw new Error(`${root} is not a folder (nor a .zip)`);
  seen.add(realRoot);
  await walk(resolve(root));
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

function inside(root: string, p: string): boolean {
  return p === root || p.startsWith(root.endsWith(sep) ? root : root + sep);
}

/**
 * The file a request path names, or null when it is not a plain relative path to a file
 * inside the root. Pure apart from the filesystem checks.
 */
export async function resolveInside(root: string, requestPath: string): Promise<string | null> {
  let rel: string;
  try {
    rel = decodeURIComponent(requestPath);
  } catch {
    return null;
  }
  const parts = rel.split('/');
  // '.' and '..' are escapes; other dot names are files listFiles does not list, so not served either.
  if (rel.includes('\0') || rel.includes('\\') || parts.some((p) => p === '' || p.startsWith('.'))) return null;
  const realRoot = await realpath(root);
  const rootStat = await stat(realRoot).catch(() => null);
  if (rootStat?.isFile()) return rel === basename(root) ? realRoot : null;
  const real = await realpath(join(realRoot, ...parts)).catch(() => null);
  if (!real || !inside(realRoot, real)) return null;
  const st = await stat(real).catch(() => null);
  return st?.isFile() ? real : null;
}

/** Start serving `root`; `origin` is the page's origin, the only one allowed to read. */
export async function serveData(root: string, origin: string): Promise<DataServer> {
  const files = await listFiles(root);
  let port = 0;
  const server = createServer((req, res) => {
    void handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(e instanceof Error ? e.message : String(e));
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const why = refusal(req.headers, port, [origin.toLowerCase()]);
    if (why) return refuse(res, why);
    res.setHeader('access-control-allow-origin', origin);
    res.setHeader('vary', 'origin');
    res.setHeader('cache-control', 'no-store');
    if (req.method === 'OPTIONS') {
      res.writeHead(204, { 'access-control-allow-methods': 'GET, HEAD', 'access-control-allow-headers': 'range' });
      return void res.end();
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' });
      return void res.end();
    }
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/files.json') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end(req.method === 'HEAD' ? undefined : JSON.stringify(files));
    }
    const file = path.startsWith('/files/') ? await resolveInside(root, path.slice('/files/'.length)) : null;
    if (!file) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      return void res.end('not found');
    }
    const size = (await stat(file)).size;
    const range = parseRange(req.headers.range, size);
    if (range === 'invalid') {
      res.writeHead(416, { 'content-range': `bytes */${size}` });
      return void res.end();
    }
    const [start, end] = range ?? [0, size - 1];
    res.writeHead(range ? 206 : 200, {
      'content-type': 'application/octet-stream',
      'content-length': String(Math.max(0, end - start + 1)),
      'accept-ranges': 'bytes',
      ...(range ? { 'content-range': `bytes ${start}-${end}/${size}` } : {}),
    });
    if (req.method === 'HEAD' || size === 0) return void res.end();
    // Without a listener a read error (the file removed since the stat) would crash the CLI.
    createReadStream(file, { start, end })
      .on('error', () => res.destroy())
      .pipe(res);
  }

  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', ok);
  });
  port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    root,
    files,
    close: () => new Promise((ok) => server.close(() => ok())),
  };
}

/**
 * A single `bytes=a-b` / `bytes=a-` / `bytes=-n` range; null when absent, or when the file is
 * empty (the ingest sniffs headers with `bytes=0-N`: an empty file reads as empty, 200).
 */
export function parseRange(header: string | undefined, size: number): [number, number] | null | 'invalid' {
  if (!header || size === 0) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return 'invalid';
  let start: number;
  let end: number;
  if (m[1] === '') {
    start = Math.max(0, size - Number(m[2]));
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start > end || start >= size) return 'invalid';
  return [start, end];
}
