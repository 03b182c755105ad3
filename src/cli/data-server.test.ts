import { request } from 'node:http';
import { mkdir, mkdtemp, realpath, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listFiles, parseRange, resolveInside, serveData, type DataServer } from './data-server.ts';
import { refusal } from './local-origin.ts';

const ORIGIN = 'http://127.0.0.1:4321';
const MTIME_S = 1_700_000_000.25;

let base: string;
let root: string;

/** base/secret (outside), base/root/{a.mhd, a.raw, empty.raw, .hidden, sub/b.txt, links…}. */
beforeAll(async () => {
  base = await realpath(await mkdtemp(join(tmpdir(), 'luna-data-server-')));
  root = join(base, 'root');
  await mkdir(join(root, 'sub', 'deeper'), { recursive: true });
  await mkdir(join(root, '.git'));
  await writeFile(join(base, 'secret'), 'TOP SECRET');
  await mkdir(join(base, 'outside-dir'));
  await writeFile(join(base, 'outside-dir', 'x.raw'), 'outside');
  await writeFile(join(root, 'a.mhd'), 'ObjectType = Image\n');
  await writeFile(join(root, 'a.raw'), '0123456789');
  await writeFile(join(root, 'empty.raw'), '');
  await writeFile(join(root, '.hidden'), 'dot file');
  await writeFile(join(root, '.git', 'config'), 'dot folder');
  await writeFile(join(root, 'sub', 'b.txt'), 'bee');
  await writeFile(join(root, 'sub', 'deeper', 'c.txt'), 'sea!');
  await writeFile(join(root, 'name with space.txt'), 'spaced');
  await utimes(join(root, 'a.raw'), MTIME_S, MTIME_S);
  // Inside the root: followed.
  await symlink(join(root, 'sub', 'b.txt'), join(root, 'link-in.txt'));
  // Outside the root: neither listed nor served.
  await symlink(join(base, 'secret'), join(root, 'link-out'));
  await symlink(join(base, 'outside-dir'), join(root, 'link-out-dir'));
  await symlink('../secret', join(root, 'sub', 'relative-out'));
  // Loops: a folder that contains itself, and two links that point at each other.
  await symlink(root, join(root, 'sub', 'loop-to-root'));
  await symlink(join(root, 'sub'), join(root, 'sub', 'deeper', 'loop-to-sub'));
  await symlink(join(root, 'ping'), join(root, 'pong'));
  await symlink(join(root, 'pong'), join(root, 'ping'));
  // Dangling.
  await symlink(join(root, 'nowhere'), join(root, 'dangling'));
});

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

describe('listFiles', () => {
  it('lists every regular file, sorted, "/"-separated, with sizes and mtimes; dot files, loops and escapes left out', async () => {
    const files = await listFiles(root);
    expect(files.map((f) => f.path)).toEqual([
      'a.mhd',
      'a.raw',
      'empty.raw',
      'link-in.txt',
      'name with space.txt',
      'sub/b.txt',
      'sub/deeper/c.txt',
    ]);
    const raw = files.find((f) => f.path === 'a.raw')!;
    expect(raw.size).toBe(10);
    expect(raw.lastModified).toBe(Math.floor(MTIME_S * 1000));
    expect(files.find((f) => f.path === 'empty.raw')!.size).toBe(0);
    expect(files.find((f) => f.path === 'link-in.txt')!.size).toBe(3);
    expect(files.find((f) => f.path === 'sub/deeper/c.txt')!.size).toBe(4);
    for (const f of files) expect(Number.isInteger(f.lastModified)).toBe(true);
  });

  it('takes a root given as a relative path or with a trailing slash', async () => {
    const expected = (await listFiles(root)).map((f) => f.path);
    expect((await listFiles(root + '/')).map((f) => f.path)).toEqual(expected);
    const cwd = process.cwd();
    try {
      process.chdir(base);
      expect((await listFiles('root')).map((f) => f.path)).toEqual(expected);
    } finally {
      process.chdir(cwd);
    }
  });

  it('refuses a root that is a file or missing', async () => {
    await expect(listFiles(join(root, 'a.raw'))).rejects.toThrow(/is not a folder/);
    await expect(listFiles(join(base, 'missing'))).rejects.toThrow();
  });

  it('serves a .zip given as the root alone, under its own name (its members are read by range)', async () => {
    const zip = join(base, 'subset0.zip');
    await writeFile(zip, 'PK not really');
    expect((await listFiles(zip)).map((f) => [f.path, f.size])).toEqual([['subset0.zip', 13]]);
    expect(await resolveInside(zip, 'subset0.zip')).toBe(zip);
    expect(await resolveInside(zip, 'secret')).toBeNull();
    expect(await resolveInside(zip, '..%2Fsecret')).toBeNull();
  });

  it('a root that is itself a symlink is followed', async () => {
    const alias = join(base, 'alias');
    await symlink(root, alias);
    expect((await listFiles(alias)).map((f) => f.path)).toContain('sub/b.txt');
    expect(await resolveInside(alias, 'sub/b.txt')).toBe(join(root, 'sub', 'b.txt'));
  });
});

describe('resolveInside', () => {
  it('resolves plain relative paths (percent-encoded too) to the real file', async () => {
    expect(await resolveInside(root, 'a.raw')).toBe(join(root, 'a.raw'));
    expect(await resolveInside(root, 'sub/deeper/c.txt')).toBe(join(root, 'sub', 'deeper', 'c.txt'));
    expect(await resolveInside(root, 'name%20with%20space.txt')).toBe(join(root, 'name with space.txt'));
    expect(await resolveInside(root, 'link-in.txt')).toBe(join(root, 'sub', 'b.txt'));
    // Through a loop link: still a file inside the root.
    expect(await resolveInside(root, 'sub/loop-to-root/a.raw')).toBe(join(root, 'a.raw'));
  });

  it.each([
    ['../secret'],
    ['%2e%2e/secret'],
    ['%2E%2E%2Fsecret'],
    ['sub/../../secret'],
    ['a/..%2F..%2Fsecret'],
    ['./a.raw'],
    ['sub//b.txt'],
    ['/etc/passwd'],
    ['%2Fetc%2Fpasswd'],
    [''],
    ['a.raw%00'],
    ['a.raw\0'],
    ['sub\\b.txt'],
    ['sub%5Cb.txt'],
    ['..%5Csecret'],
    ['%E0%A4%A'], // malformed percent-encoding
    ['link-out'],
    ['link-out-dir/x.raw'],
    ['sub/relative-out'],
    ['ping'],
    ['dangling'],
    ['sub'], // a folder, not a file
    ['missing.raw'],
    ['.hidden'], // not listed, so not served
    ['.git/config'],
    ['%2Ehidden'],
  ])('refuses %j', async (p) => {
    expect(await resolveInside(root, p)).toBeNull();
  });
});

describe('parseRange', () => {
  it('reads the three forms of a single range, clamped to the size', () => {
    expect(parseRange(undefined, 10)).toBeNull();
    expect(parseRange('', 10)).toBeNull();
    expect(parseRange('bytes=0-3', 10)).toEqual([0, 3]);
    expect(parseRange('bytes=4-', 10)).toEqual([4, 9]);
    expect(parseRange('bytes=-3', 10)).toEqual([7, 9]);
    expect(parseRange('bytes=-30', 10)).toEqual([0, 9]);
    expect(parseRange('bytes=2-1000', 10)).toEqual([2, 9]);
    expect(parseRange(' bytes=9-9 ', 10)).toEqual([9, 9]);
  });

  it('calls unsatisfiable or malformed ranges invalid', () => {
    expect(parseRange('bytes=10-', 10)).toBe('invalid');
    expect(parseRange('bytes=10-20', 10)).toBe('invalid');
    expect(parseRange('bytes=5-3', 10)).toBe('invalid');
    expect(parseRange('bytes=-0', 10)).toBe('invalid');
    expect(parseRange('bytes=-', 10)).toBe('invalid');
    expect(parseRange('bytes=0-1,3-4', 10)).toBe('invalid');
    expect(parseRange('items=0-1', 10)).toBe('invalid');
    expect(parseRange('bytes=a-b', 10)).toBe('invalid');
  });

  it('an empty file reads as empty: any range means the whole (empty) file', () => {
    expect(parseRange('bytes=0-1023', 0)).toBeNull();
    expect(parseRange('bytes=-10', 0)).toBeNull();
    expect(parseRange('bytes=0-', 0)).toBeNull();
  });
});

/** A raw request: fetch would normalise `..` and `%2e%2e` away before sending. */
function rawGet(
  url: string,
  path: string,
  method = 'GET',
): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  const u = new URL(url);
  return new Promise((ok, fail) => {
    const req = request({ host: u.hostname, port: u.port, path, method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => ok({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', fail);
    req.end();
  });
}

/** A GET with headers fetch may not set (Host); an empty host header is left out. */
function requestWith(
  url: string,
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: string }> {
  const u = new URL(url);
  return new Promise((ok, fail) => {
    const req = request({ host: u.hostname, port: u.port, path, method: 'GET', setHost: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => ok({ status: res.statusCode ?? 0, body }));
    });
    for (const [k, v] of Object.entries({ host: `${u.hostname}:${u.port}`, ...headers })) if (v) req.setHeader(k, v);
    req.on('error', fail);
    req.end();
  });
}

describe('serveData', () => {
  let server: DataServer;
  beforeAll(async () => {
    server = await serveData(root, ORIGIN);
  });
  afterAll(async () => {
    await server.close();
  });

  it('listens on 127.0.0.1 and lists the files in /files.json, with the CORS origin given', async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(server.root).toBe(root);
    const res = await fetch(`${server.url}/files.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const listed = (await res.json()) as unknown;
    expect(listed).toEqual(await listFiles(root));
    expect(listed).toEqual(server.files);
    // A query string is ignored.
    expect((await fetch(`${server.url}/files.json?t=1`)).status).toBe(200);
  });

  it('serves a file whole, with its length, and byte ranges with 206 and Content-Range', async () => {
    const whole = await fetch(`${server.url}/files/a.raw`);
    expect(whole.status).toBe(200);
    expect(whole.headers.get('content-length')).toBe('10');
    expect(whole.headers.get('accept-ranges')).toBe('bytes');
    expect(whole.headers.get('content-range')).toBeNull();
    expect(whole.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    // The data goes to IndexedDB: Chromium must keep no HTTP-cache copy of it.
    expect(whole.headers.get('cache-control')).toBe('no-store');
    expect(await whole.text()).toBe('0123456789');

    const part = await fetch(`${server.url}/files/a.raw`, { headers: { Range: 'bytes=2-5' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe('bytes 2-5/10');
    expect(part.headers.get('content-length')).toBe('4');
    expect(part.headers.get('cache-control')).toBe('no-store');
    expect(await part.text()).toBe('2345');

    const suffix = await fetch(`${server.url}/files/a.raw`, { headers: { Range: 'bytes=-3' } });
    expect(suffix.status).toBe(206);
    expect(suffix.headers.get('content-range')).toBe('bytes 7-9/10');
    expect(await suffix.text()).toBe('789');

    // The ingest's header sniff asks for more than the file holds.
    const sniff = await fetch(`${server.url}/files/a.mhd`, { headers: { Range: 'bytes=0-65535' } });
    expect(sniff.status).toBe(206);
    expect(sniff.headers.get('content-range')).toBe('bytes 0-18/19');
    expect(await sniff.text()).toBe('ObjectType = Image\n');

    const nested = await fetch(`${server.url}/files/sub/deeper/c.txt`);
    expect(await nested.text()).toBe('sea!');
    const spaced = await fetch(`${server.url}/files/name%20with%20space.txt`);
    expect(await spaced.text()).toBe('spaced');
    const viaLink = await fetch(`${server.url}/files/link-in.txt`);
    expect(await viaLink.text()).toBe('bee');
  });

  it('answers an unsatisfiable range with 416 and the size', async () => {
    const res = await fetch(`${server.url}/files/a.raw`, { headers: { Range: 'bytes=10-20' } });
    expect(res.status).toBe(416);
    expect(res.headers.get('content-range')).toBe('bytes */10');
    expect(await res.text()).toBe('');
  });

  it('answers an empty file with 200 and an empty body, with or without a Range', async () => {
    const plain = await fetch(`${server.url}/files/empty.raw`);
    expect(plain.status).toBe(200);
    expect(plain.headers.get('content-length')).toBe('0');
    expect(await plain.text()).toBe('');
    const ranged = await fetch(`${server.url}/files/empty.raw`, { headers: { Range: 'bytes=0-1023' } });
    expect(ranged.status).toBe(200);
    expect(ranged.headers.get('content-length')).toBe('0');
    expect(ranged.headers.get('content-range')).toBeNull();
    expect(await ranged.text()).toBe('');
  });

  it('HEAD gives the headers without a body', async () => {
    const res = await fetch(`${server.url}/files/a.raw`, { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe('10');
    expect(await res.text()).toBe('');
  });

  it.each([
    '/files/../secret',
    '/files/%2e%2e/secret',
    '/files/%2E%2E/secret',
    '/files/a/..%2F..%2Fsecret',
    '/files/..%2Fsecret',
    '/files/sub/%2e%2e/%2e%2e/secret',
    '/files/a.raw%00',
    '/files/%00',
    '/files/..\\secret',
    '/files/..%5Csecret',
    '/files//etc/passwd',
    '/files/%2Fetc%2Fpasswd',
    '/files/link-out',
    '/files/link-out-dir/x.raw',
    '/files/sub/relative-out',
    '/files/.hidden',
    '/files/.git/config',
    '/files/',
    '/files/sub',
    '/files/missing.raw',
    '/files/%E0%A4%A',
    '/secret',
    '/../secret',
    '/',
    '/files.json/../secret',
  ])('refuses %s with 404 and never sends what is outside', async (path) => {
    const res = await rawGet(server.url, path);
    expect(res.status).toBe(404);
    expect(res.body).not.toContain('SECRET');
    expect(res.body).not.toContain('outside');
    expect(res.headers['access-control-allow-origin']).toBe(ORIGIN);
  });

  it('refuses other methods with 405 and says which are allowed', async () => {
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const res = await fetch(`${server.url}/files/a.raw`, { method, body: method === 'DELETE' ? undefined : 'x' });
      expect(res.status).toBe(405);
      expect(res.headers.get('allow')).toBe('GET, HEAD');
    }
  });

  it('answers a CORS preflight with 204 allowing GET/HEAD and the Range header, for exactly the origin given', async () => {
    const res = await fetch(`${server.url}/files/a.raw`, {
      method: 'OPTIONS',
      headers: { Origin: ORIGIN, 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'range' },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    expect(res.headers.get('access-control-allow-methods')).toBe('GET, HEAD');
    expect(res.headers.get('access-control-allow-headers')?.toLowerCase()).toBe('range');
    expect(res.headers.get('vary')).toBe('origin');
  });

  it("refuses another origin's preflight with 403, naming the origin", async () => {
    const res = await fetch(`${server.url}/files/a.raw`, {
      method: 'OPTIONS',
      headers: {
        Origin: 'http://evil.example',
        'Access-Control-Request-Method': 'GET',
        'Access-Control-Request-Headers': 'range',
      },
    });
    expect(res.status).toBe(403);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    expect(await res.text()).toContain('Origin "http://evil.example" may not read from this server');
  });

  it('serves only requests addressed to itself: another Host (DNS rebinding) or Origin gets 403 saying why', async () => {
    const port = new URL(server.url).port;
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST:${port}`]) {
      const ok = await requestWith(server.url, '/files/a.raw', { host });
      expect(ok.status, host).toBe(200);
      expect(ok.body).toBe('0123456789');
    }
    for (const host of [
      'evil.example',
      `evil.example:${port}`,
      '127.0.0.1',
      `127.0.0.1:${Number(port) + 1}`,
      `127.0.0.1.evil.example:${port}`,
    ]) {
      const bad = await requestWith(server.url, '/files.json', { host });
      expect(bad.status, host).toBe(403);
      expect(bad.body).toContain(`Host "${host}" is not this server (127.0.0.1:${port} or localhost:${port})`);
      expect(bad.body).not.toContain('a.raw'); // nothing of the listing leaks
    }
    // Node itself answers an HTTP/1.1 request without Host with 400; refusal() covers HTTP/1.0.
    expect((await requestWith(server.url, '/files.json', { host: '' })).status).toBe(400);
    expect(refusal({}, Number(port), [ORIGIN])).toContain('no Host header');
    for (const origin of ['http://evil.example', 'null', `http://127.0.0.1:${port}`]) {
      const bad = await requestWith(server.url, '/files/a.raw', { origin });
      expect(bad.status, origin).toBe(403);
      expect(bad.body).toContain(`Origin "${origin}" may not read from this server (allowed: ${ORIGIN})`);
    }
    expect((await requestWith(server.url, '/files/a.raw', { origin: ORIGIN })).status).toBe(200);
  });

  it('keeps serving after a request it refused, and close() stops it', async () => {
    const other = await serveData(root, 'http://localhost:9');
    const res = await fetch(`${other.url}/files/a.raw`);
    expect(res.headers.get('access-control-allow-origin')).toBe('http://localhost:9');
    expect(await res.text()).toBe('0123456789');
    await other.close();
    await expect(fetch(`${other.url}/files.json`)).rejects.toThrow();
  });
});
