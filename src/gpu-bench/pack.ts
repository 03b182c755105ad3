/**
 * `npm run bench:gpu -- --pack FILE`: the device archive, holding exactly what a GPU machine with
 * Python (and PyTorch) but no Node lacks: this Node binary (`process.execPath`), dawn.node (with the
 * `webgpu` package's loader), the system's Vulkan loader (`libvulkan.so.1`), a libstdc++ for
 * machines whose own is older than dawn.node's (used only there), the bench bundled into one ES
 * module by vite (rolldown), the PyTorch driver and the reference script.
 *
 * Promise: FILE is a Python zip application (`python3 FILE …`, see device_run.py): its __main__
 * stored plainly, the rest in payload.tar.xz (xz via Python's lzma, since the machine may lack xz).
 * It refuses (exit 1, naming the part) when a part is missing or FILE would exceed 64 MiB, the
 * device tool's carry limit.
 */
import { copyFile, mkdir, mkdtemp, realpath, rm, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const MAX_ARCHIVE_BYTES = 64 * 2 ** 20;

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');

/** The system's file for a shared library name (ldconfig's cache, then the usual folders). */
export function findLibrary(name: string): string | null {
  try {
    const line = execFileSync('ldconfig', ['-p'], { encoding: 'utf8' })
      .split('\n')
      .find((l) => l.trim().startsWith(`${name} `) && /x86-64|x86_64/.test(l));
    const p = line?.split('=>')[1]?.trim();
    if (p && existsSync(p)) return p;
  } catch {
    // no ldconfig: look in the folders
  }
  for (const d of ['/usr/lib/x86_64-linux-gnu', '/lib/x86_64-linux-gnu', '/usr/lib64', '/lib64', '/usr/lib'])
    if (existsSync(join(d, name))) return join(d, name);
  return null;
}

async function bundle(outDir: string): Promise<string> {
  const { build } = await import('vite');
  await build({
    configFile: false,
    root,
    publicDir: false,
    logLevel: 'warn',
    // One copy of each tfjs package (their ES modules), so tfjs and tfjs-backend-webgpu share one engine.
    resolve: { conditions: ['node', 'import', 'default'] },
    ssr: { noExternal: true, target: 'node' },
    build: {
      ssr: join(root, 'src', 'gpu-bench', 'bundle-entry.ts'),
      outDir,
      emptyOutDir: false,
      minify: false,
      sourcemap: false,
      rollupOptions: {
        external: ['webgpu', /^node:/],
        output: { format: 'es', entryFileNames: 'gpu-bench.mjs', codeSplitting: false },
      },
    },
  });
  return join(outDir, 'gpu-bench.mjs');
}

export async function pack(file: string, log: (s: string) => void): Promise<number> {
  const t0 = performance.now();
  const stage = await mkdtemp(join(tmpdir(), 'luna-gpu-pack-'));
  try {
    const payload = join(stage, 'payload');
    const webgpu = join(root, 'node_modules', 'webgpu');
    const dawn = join(webgpu, 'dist', `${process.platform}-${process.arch}`, 'dawn.node');
    const vulkan = findLibrary('libvulkan.so.1');
    const stdcxx = findLibrary('libstdc++.so.6');
    const reference = resolve(root, '..', 'shared', 'reference', 'pytorch_luna_bench.py');
    const missing = [
      [dawn, 'dawn.node (npm package webgpu: npm ci)'],
      [vulkan, 'libvulkan.so.1 (apt-get install --no-install-recommends libvulkan1)'],
      [stdcxx, 'libstdc++.so.6'],
      [reference, 'the PyTorch reference (../shared/reference/pytorch_luna_bench.py)'],
    ].filter(([p]) => !p || !existsSync(p));
    if (missing.length) {
      log(`--pack: missing ${missing.map(([p, what]) => `${what}${p ? ` at ${p}` : ''}`).join('; ')}`);
      return 1;
    }
    log('bundling the bench (vite)…');
    await bundle(payload);
    const parts: [string, string][] = [
      [process.execPath, 'bin/node'],
      [dawn, `node_modules/webgpu/dist/${process.platform}-${process.arch}/dawn.node`],
      [join(webgpu, 'index.js'), 'node_modules/webgpu/index.js'],
      [join(webgpu, 'package.json'), 'node_modules/webgpu/package.json'],
      [join(webgpu, 'LICENSE.md'), 'node_modules/webgpu/LICENSE.md'],
      [await realpath(vulkan!), 'lib/libvulkan.so.1'],
      [await realpath(stdcxx!), 'lib/compat/libstdc++.so.6'],
      [join(here, 'pytorch_bench.py'), 'pytorch_bench.py'],
      [reference, 'pytorch_luna_bench.py'],
    ];
    for (const [from, to] of parts) {
      await mkdir(dirname(join(payload, to)), { recursive: true });
      await copyFile(from, join(payload, to));
    }
    log(`compressing (xz via Python's lzma)…`);
    await mkdir(dirname(file), { recursive: true });
    execFileSync('python3', [join(here, 'pack_archive.py'), payload, join(here, 'device_run.py'), file], {
      stdio: 'inherit',
    });
    const size = (await stat(file)).size;
    const mib = (size / 2 ** 20).toFixed(1);
    if (size > MAX_ARCHIVE_BYTES) {
      log(`--pack: ${file} is ${mib} MiB, over the 64 MiB carry limit`);
      return 1;
    }
    log(
      `wrote ${file}: ${mib} MiB in ${((performance.now() - t0) / 1000).toFixed(0)} s. Run it with: python3 ${file} --out DIR`,
    );
    return 0;
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}
