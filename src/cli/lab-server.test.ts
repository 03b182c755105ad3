import { request } from 'node:http';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from './free-port.ts';
import { serveLabFolder, type LabServer } from './lab-server.ts';

let base: string;
let server: LabServer;

/** base/secret.txt outside; base/dist/{index.html, assets/app.js, ort.wasm, link-out}. */
beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'luna-lab-server-'));
  await mkdir(join(base, 'dist', 'assets'), { recursive: true });
  await writeFile(join(base, 'secret.txt'), 'TOP SECRET');
  await writeFile(join(base, 'dist', 'index.html'), '<!doctype html><title>lab</title>');
  await writeFile(join(base, 'dist', 'assets', 'app.js'), 'export {};');
  await writeFile(join(base, 'dist', 'assets', 'ort.wasm'), new Uint8Array([0, 97, 115, 109]));
  await symlink(join(base, 'secret.txt'), join(base, 'dist', 'link-out.txt'));
  server = await serveLabFolder(base, 'dist');
});
afterAll(async () => {
  await server.close();
  await rm(base, { recursive: true, force: true });
});

function get(
  path: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<{ status: number; body: string; type: string | undefined }> {
  const u = new URL(server.url);
  return new Promise((ok, fail) => {
    const req = request({ host: u.hostname, port: u.port, path, method, setHost: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => ok({ status: res.statusCode ?? 0, body, type: res.headers['content-type'] }));
    });
    for (const [k, v] of Object.entries({ host: u.host, ...headers })) req.setHeader(k, v);
    req.on('error', fail);
    req.end();
  });
}

describe('serveLabFolder', () => {
  it('listens on 127.0.0.1 and serves the build with the types the page needs', async () => {
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
    const index = await get('/?headless=1');
    expect(index).toMatchObject({ status: 200, body: '<!doctype html><title>lab</title>' });
    expect(index.type).toMatch(/^text\/html/);
    expect((await get('/assets/app.js')).type).toMatch(/^text\/javascript/);
    expect((await get('/assets/ort.wasm')).type).toBe('application/wasm');
    // A path that names no file and has no extension is the single-page app's.
    expect((await get('/some/route')).body).toContain('<title>lab</title>');
    expect((await get('/assets/missing.js')).status).toBe(404);
    expect((await get('/assets/app.js', {}, 'HEAD')).body).toBe('');
    expect((await get('/assets/app.js', {}, 'POST')).status).toBe(405);
  });

  it('serves nothing outside the build folder', async () => {
    for (const path of [
      '/../secret.txt',
      '/%2e%2e/secret.txt',
      '/assets/..%2f..%2fsecret.txt',
      '/link-out.txt',
      '/assets%5c..%5c..%5csecret.txt',
    ]) {
      const r = await get(path);
      expect(r.body, path).not.toContain('TOP SECRET');
    }
  });

  it('answers only to its own Host, and only its own Origin: others get 403 saying why', async () => {
    const port = server.port;
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`])
      expect((await get('/', { host })).status, host).toBe(200);
    for (const host of ['evil.example', `evil.example:${port}`, `127.0.0.1:${port + 1}`, 'localhost']) {
      const r = await get('/', { host });
      expect(r.status, host).toBe(403);
      expect(r.body).toContain(`Host "${host}" is not this server (127.0.0.1:${port} or localhost:${port})`);
      expect(r.body).not.toContain('<title>');
    }
    for (const origin of [`http://127.0.0.1:${port}`, `http://localhost:${port}`])
      expect((await get('/assets/app.js', { origin })).status, origin).toBe(200);
    for (const origin of ['http://evil.example', 'null', `http://127.0.0.1:${port + 1}`]) {
      const r = await get('/assets/app.js', { origin });
      expect(r.status, origin).toBe(403);
      expect(r.body).toContain(`Origin "${origin}" may not read from this server`);
    }
  });

  it('takes a fixed port, fails on a busy one, and refuses a folder without a build', async () => {
    const port = await freePort();
    const fixed = await serveLabFolder(base, join(base, 'dist'), port);
    expect(fixed.port).toBe(port);
    await expect(serveLabFolder(base, 'dist', port)).rejects.toThrow(/EADDRINUSE/);
    await fixed.close();
    await expect(fetch(fixed.url)).rejects.toThrow();
    await expect(serveLabFolder(base, 'nowhere')).rejects.toThrow(
      'nowhere/index.html is missing: run "npm run build" first',
    );
  });
});
