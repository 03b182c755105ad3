/**
 * The house rules in eslint.config.js bite: Dexie outside src/store, a browser global or an
 * edge import in a pure module, and an import cycle are reported; the allowed cases are not.
 * Snippets are linted as if they lived at the given path (the cycle case needs real files, so it
 * writes two to a temporary folder). Type information is off here: these rules do not use it.
 * Also: README's Layout names every folder of the tree once.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ESLint, type Linter } from 'eslint';
import { afterAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');
const noTypeInfo: Linter.Config = {
  files: ['**/*.ts'],
  languageOptions: { parserOptions: { projectService: false, project: null } },
  rules: {
    '@typescript-eslint/await-thenable': 'off',
    '@typescript-eslint/no-floating-promises': 'off',
    '@typescript-eslint/no-misused-promises': 'off',
  },
};
const eslint = new ESLint({
  cwd: root,
  overrideConfigFile: join(root, 'eslint.config.js'),
  overrideConfig: noTypeInfo,
});

/** `rule: line` for each problem ESLint reports on `code` placed at `filePath`. */
async function problems(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(root, filePath) });
  return result.messages.map((m) => `${m.ruleId ?? m.message}: ${m.line}`);
}

describe('Dexie only in src/store', () => {
  it.each(['src/ui/x.ts', 'src/train/x.ts', 'src/cli/x.ts', 'workers/x.worker.ts', 'e2e/x.spec.ts', 'src/data/x.ts'])(
    'reports dexie imported in %s',
    async (path) => {
      expect(await problems(path, "import Dexie from 'dexie';\nexport const db = new Dexie('x');\n")).toEqual([
        'no-restricted-imports: 1',
      ]);
      expect(
        await problems(path, "import type { Table } from 'dexie';\nexport type T = Table<number, number>;\n"),
      ).toEqual(['no-restricted-imports: 1']);
    },
  );
  it('allows it in the store', async () => {
    expect(await problems('src/store/x.ts', "import Dexie from 'dexie';\nexport const db = new Dexie('x');\n")).toEqual(
      [],
    );
  });
});

describe('pure modules touch no browser global', () => {
  const pure = [
    'src/data/x.ts',
    'src/config/x.ts',
    'src/eval/x.ts',
    'src/viewer/x.ts',
    'src/model/x.ts',
    'src/model/kernels/x.ts',
    'src/store/records.ts',
  ];
  it.each(pure)('reports document, window, fetch, indexedDB, localStorage, navigator in %s', async (path) => {
    const code = [
      'export const a = document.title;',
      'export const b = window.innerWidth;',
      "export const c = () => fetch('/x');",
      "export const d = () => indexedDB.open('x');",
      "export const e = () => localStorage.getItem('x');",
      'export const f = navigator.hardwareConcurrency;',
      'export const g = (c: HTMLCanvasElement): number => c.width;',
      '',
    ].join('\n');
    expect(await problems(path, code)).toEqual([
      ...[1, 2, 3, 4, 5, 6].map((l) => `no-restricted-globals: ${l}`),
      'house/no-browser-types: 7',
    ]);
  });
  it('reports the same globals reached through globalThis', async () => {
    const code =
      'export const gpu = (globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu;\nexport const doc = globalThis.document;\n';
    expect(await problems('src/data/x.ts', code)).toEqual(['no-restricted-syntax: 1', 'no-restricted-syntax: 2']);
  });
  it('allows what Node and the browser share, and locals that shadow a browser name', async () => {
    const code = [
      'export const t = performance.now();',
      "export const s = new TextDecoder().decode(new Uint8Array(1)) + new URL('http://x/').host;",
      'export const w = (window: number) => window * 2;',
      'export const later = () => setTimeout(() => console.log(structuredClone({ a: 1 })), 1);',
      'type Element = readonly [group: number, value: string];',
      'export const tag = (e: Element): number => e[0];',
      '',
    ].join('\n');
    expect(await problems('src/data/x.ts', code)).toEqual([]);
  });
  it('allows them at the edges and in the backend probe', async () => {
    const code = "export const a = document.title + navigator.userAgent;\nexport const c = () => fetch('/x');\n";
    for (const path of ['src/ui/x.ts', 'src/store/x.ts', 'workers/x.worker.ts', 'src/model/backend.ts'])
      expect(await problems(path, code)).toEqual([]);
  });
});

describe('pure modules import nothing from the edges', () => {
  it.each([
    ['src/data/x.ts', '../store/lab-db.ts'],
    ['src/viewer/x.ts', '../ui/lab-app.ts'],
    ['src/model/kernels/x.ts', '../../store/ingest.ts'],
    ['src/eval/x.ts', '../../workers/train.worker.ts'],
    ['src/store/records.ts', './lab-db.ts'],
  ])('reports %s importing %s', async (path, from) => {
    expect(await problems(path, `import type { X } from '${from}';\nexport type Y = X;\n`)).toEqual([
      'no-restricted-imports: 1',
    ]);
  });
  it('allows the record types and other pure modules', async () => {
    const code =
      "import type { X } from '../store/records.ts';\nimport { hex } from '../data/hex.ts';\nexport const y = (x: X) => hex(x);\n";
    expect(await problems('src/viewer/x.ts', code)).toEqual([]);
  });
});

describe('no import cycles', () => {
  const dir = mkdtempSync(join(tmpdir(), 'house-rules-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  it('reports a runtime cycle between two modules', async () => {
    mkdirSync(join(dir, 'src'));
    writeFileSync(join(dir, 'src/a.ts'), "import { b } from './b.ts';\nexport const a = (): number => b() + 1;\n");
    writeFileSync(join(dir, 'src/b.ts'), "import { a } from './a.ts';\nexport const b = (): number => a() - 1;\n");
    writeFileSync(join(dir, 'src/c.ts'), "import { b } from './b.ts';\nexport const c = (): number => b();\n");
    const linter = new ESLint({
      cwd: dir,
      overrideConfigFile: join(root, 'eslint.config.js'),
      overrideConfig: noTypeInfo,
    });
    const results = await linter.lintFiles(['src/*.ts']);
    const cycles = Object.fromEntries(
      results.map((r) => [r.filePath.slice(dir.length + 1), r.messages.map((m) => m.ruleId)]),
    );
    expect(cycles).toEqual({ 'src/a.ts': ['import-x/no-cycle'], 'src/b.ts': ['import-x/no-cycle'], 'src/c.ts': [] });
  });
});

describe("README's Layout", () => {
  it('names every folder under src, workers, e2e, bin, public, ray and .ci once', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const layout = /## Layout\n\n```\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
    const named = layout
      .split('\n')
      .filter((l) => /^\S/.test(l))
      .map((l) => l.split(/\s/)[0]);
    const folders = (dir: string): string[] => [
      dir,
      ...readdirSync(join(root, dir), { withFileTypes: true })
        .filter((e) => e.isDirectory() && !e.name.startsWith('.') && e.name !== '__pycache__')
        .flatMap((e) => folders(`${dir}/${e.name}`)),
    ];
    const tree = [
      'workers',
      'e2e',
      'bin',
      'public',
      'ray',
      '.ci',
      ...folders('src').filter((d) => d !== 'src'),
    ].flatMap((d) => (d.startsWith('src') ? [d] : folders(d)));
    expect([...named].sort()).toEqual([...new Set(tree)].sort());
  });
});
