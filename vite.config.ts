import { execSync } from 'node:child_process';
import { defineConfig } from 'vite';

function commit(): string {
  try {
    return execSync('git rev-parse --short HEAD', { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  } catch {
    return 'unknown';
  }
}

// Workers are ES modules (comlink APIs); daikon is CommonJS and is pre-bundled by Vite.
export default defineConfig({
  root: '.',
  // Runs and MLflow tags record which build of the lab made them.
  define: { __LAB_COMMIT__: JSON.stringify(commit()) },
  publicDir: 'public',
  worker: { format: 'es' },
  build: {
    target: 'es2022',
    outDir: 'dist',
    sourcemap: true,
    chunkSizeWarningLimit: 4096,
    rollupOptions: {
      // The lab, and the benchmark page that `npm run bench` drives.
      input: { main: 'index.html', bench: 'src/bench/bench.html', kernels: 'src/kernels/kernel-test.html' },
      // daikon bundles an Emscripten JPEG-LS decoder with a direct eval and Node fallbacks;
      // both are dead code in the browser. Keep other warnings.
      onwarn(warning, warn) {
        if (warning.id?.includes('node_modules/daikon/') || warning.message.includes('daikon')) return;
        warn(warning);
      },
    },
  },
  // zstd-wasm finds its .wasm beside itself (new URL(…, import.meta.url)): pre-bundling would move it away.
  optimizeDeps: { include: ['daikon', 'papaparse'], exclude: ['@bokuweb/zstd-wasm'] },
  server: { host: '127.0.0.1', port: 5173 },
  preview: { host: '127.0.0.1', port: 4173 },
});
