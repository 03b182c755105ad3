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

/**
 * The CLI, compiled once (`npm run build`) instead of transpiled by tsx at every start: an ES
 * module bundle of src/cli/main.ts for Node in dist/cli/, run by bin/luna-lab.js. Packages stay
 * external (resolved from node_modules at run time); each command's dynamic import is its own
 * chunk, so `--help` and `url` load neither playwright nor tfjs. Chunks lie flat beside main.js:
 * modules that find the checkout from `import.meta.url` (../../) see the same depth as in src/cli.
 */
export default defineConfig({
  define: { __LAB_COMMIT__: JSON.stringify(commit()) },
  publicDir: false,
  logLevel: 'warn',
  build: {
    ssr: 'src/cli/main.ts',
    target: 'node20',
    outDir: 'dist/cli',
    emptyOutDir: true,
    sourcemap: true,
    minify: false,
    rollupOptions: {
      output: { format: 'es', entryFileNames: '[name].js', chunkFileNames: '[name]-[hash].js' },
    },
  },
  ssr: { target: 'node' },
});
