/**
 * Serves the built lab (`dist/`) on 127.0.0.1 from inside the CLI's own process, so it ends
 * when the CLI ends — even on SIGKILL, where a `vite preview` child was orphaned and kept the
 * profile's port. Static files only: GET and HEAD, nothing outside the build folder (the data
 * server's `resolveInside`), and only requests addressed to this server (`local-origin.ts`).
 * A path without a file extension that names no file gets index.html, as `vite preview` does.
 */
import { createReadStream, existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, resolve } from 'node:path';
import { resolveInside } from './data-server.ts';
import { ownOrigins, refusal, refuse } from './local-origin.ts';

export interface LabServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  // ORT compiles its kernels with WebAssembly.instantiateStreaming, which needs this type.
  '.wasm': 'application/wasm',
};

/**
 * Serve `dist` (relative to `root`, or absolute) on 127.0.0.1:`port` (0: any free port).
 * Fails with EADDRINUSE's message when the port is taken.
 */
export async function serveLabFolder(root: string, dist: string, port = 0): Promise<LabServer> {
  const dir = resolve(root, dist);
  if (!existsSync(join(dir, 'index.html'))) throw new Error(`${dist}/index.html is missing: run "npm run build" first`);
  let own: string[] = [];
  let listening = 0;
  const server = createServer((req, res) => {
    void handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(e instanceof Error ? e.message : String(e));
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const why = refusal(req.headers, listening, own);
    if (why) return refuse(res, why);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' });
      return void res.end();
    }
    const path = (req.url ?? '/').split(/[?#]/)[0];
    const rel = path === '/' || path.endsWith('/') ? `${path.slice(1)}index.html` : path.slice(1);
    let file = await resolveInside(dir, rel);
    if (!file && !extname(rel)) file = join(dir, 'index.html');
    if (!file) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      return void res.end('not found');
    }
    const size = (await stat(file)).size;
    res.writeHead(200, {
      'content-type': TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream',
      'content-length': String(size),
      'cache-control': 'no-cache',
    });
    if (req.method === 'HEAD' || size === 0) return void res.end();
    createReadStream(file)
      .on('error', () => res.destroy())
      .pipe(res);
  }

  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', ok);
  });
  listening = (server.address() as AddressInfo).port;
  own = ownOrigins(listening);
  return {
    url: `http://127.0.0.1:${listening}`,
    port: listening,
    close: () =>
      new Promise((ok) => {
        server.close(() => ok());
        // Keep-alive connections of a closed browser would hold close() open.
        server.closeAllConnections();
      }),
  };
}
