import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { freePort } from './free-port.ts';
import { CPU_FLAGS, GPU_FLAGS, deviceFlags, profilePort } from './headless-session.ts';

describe('deviceFlags', () => {
  it('gpu and auto get WebGPU through Vulkan (ANGLE), past the blocklist', () => {
    for (const device of ['gpu', 'auto'] as const) {
      const flags = deviceFlags(device);
      expect(flags).toEqual(
        expect.arrayContaining([
          '--enable-unsafe-webgpu',
          '--enable-features=Vulkan',
          '--use-angle=vulkan',
          '--ignore-gpu-blocklist',
        ]),
      );
      expect(flags.some((f) => f.includes('swiftshader'))).toBe(false);
      expect(flags).toContain('--no-sandbox');
    }
  });

  it('cpu gets SwiftShader and none of the Vulkan flags', () => {
    const flags = deviceFlags('cpu');
    expect(flags).toEqual(
      expect.arrayContaining(['--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader', '--no-sandbox']),
    );
    expect(flags.some((f) => /vulkan/i.test(f))).toBe(false);
  });

  it('returns a fresh array each time (the constants are not mutated)', () => {
    const gpu = [...GPU_FLAGS];
    const cpu = [...CPU_FLAGS];
    deviceFlags('gpu').push('--x');
    deviceFlags('cpu').push('--y');
    expect(GPU_FLAGS).toEqual(gpu);
    expect(CPU_FLAGS).toEqual(cpu);
  });
});

describe('profilePort', () => {
  let dir: string;
  const servers: Server[] = [];
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'luna-profile-'));
  });
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => new Promise((ok) => s.close(ok))));
    await rm(dir, { recursive: true, force: true });
  });

  it('picks a port once, keeps it in the profile folder, and returns it again', async () => {
    const profile = join(dir, 'profile'); // created on the way
    const port = await profilePort(profile);
    expect(Number.isInteger(port) && port > 0 && port < 65536).toBe(true);
    expect((await readFile(join(profile, 'luna-lab-port'), 'utf8')).trim()).toBe(String(port));
    expect(await profilePort(profile)).toBe(port);
    expect(await profilePort(profile)).toBe(port);
  });

  it('uses a port already written in the profile', async () => {
    const port = await freePort();
    await writeFile(join(dir, 'luna-lab-port'), `${port}\n`);
    expect(await profilePort(dir)).toBe(port);
  });

  it('picks a new port when the file holds no valid port', async () => {
    for (const text of ['', 'abc', '0', '70000', '12.5']) {
      await writeFile(join(dir, 'luna-lab-port'), text);
      const port = await profilePort(dir);
      expect(port).toBeGreaterThan(0);
      expect((await readFile(join(dir, 'luna-lab-port'), 'utf8')).trim()).toBe(String(port));
    }
  });

  it('refuses a kept port that a listening server holds, naming the profile, the port file and the holder', async () => {
    const port = await profilePort(dir);
    const srv = createServer();
    servers.push(srv);
    await new Promise<void>((ok, fail) => {
      srv.once('error', fail);
      srv.listen(port, '127.0.0.1', ok);
    });
    await expect(profilePort(dir)).rejects.toThrow(`port ${port} of the browser profile ${dir} is busy`);
    await expect(profilePort(dir)).rejects.toThrow(join(dir, 'luna-lab-port'));
    // It names who holds the port, and never advises giving the cache up (deleting the file).
    const message = await profilePort(dir).catch((e: Error) => e.message);
    expect(message).toContain(`PID ${process.pid} (`);
    expect(message).not.toMatch(/delete/i);
    // The file is left as it was: the cache's origin must not change behind the user's back.
    expect((await readFile(join(dir, 'luna-lab-port'), 'utf8')).trim()).toBe(String(port));
  });
});
