// The house rules (DESIGN.md "Rules of the house") as lint checks, so a break fails `npm test`:
// - Dexie is imported only in src/store (the store owns the database and its tables);
// - the pure parts (src/data, src/config, src/eval, src/viewer, src/model but its backend
//   module) touch no DOM, browser, storage or network global (values or types) and import
//   nothing from the edges (src/store but its record types, src/ui, workers), so Node runs the
//   very code the browser runs;
// - no import cycles (runtime ones: `import type` is erased, so a type-only cycle is allowed);
// - typescript-eslint's recommended set (`no-explicit-any` included) and its promise checks.
// src/house-rules.test.ts runs these rules on small snippets to show that they bite.
import js from '@eslint/js';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/**
 * The pure parts of the tree (globs relative to the repository root). src/store/records.ts, the
 * record types, is among them: the pure parts import it, so it keeps to their rules.
 */
const PURE_FILES = [
  'src/data/**',
  'src/config/**',
  'src/eval/**',
  'src/viewer/**',
  'src/model/**',
  'src/store/records.ts',
];
/**
 * Pure-part files that do touch the browser: backend.ts probes `navigator.gpu` and the canvas
 * before it asks tfjs for a backend. (gpu-features.ts and kernels/ talk WebGPU only through the
 * adapter, device and tfjs backend they are handed, so they stay under the rule.)
 */
const PURE_EXCEPTIONS = ['src/model/backend.ts'];

// Globals a browser (page or worker) has and Node does not, plus the ones both have that are
// side effects all the same (network, storage, navigator). Plain ES globals and the shared
// Node/browser ones (URL, TextDecoder, performance, crypto, console, timers) stay allowed.
const nodeOrEs = new Set([...Object.keys(globals.node), ...Object.keys(globals.es2025)]);
const sideEffectGlobals = [
  'fetch',
  'navigator',
  'localStorage',
  'sessionStorage',
  'indexedDB',
  'WebSocket',
  'self',
  'window',
  'document',
];
const browserOnlyGlobals = [...new Set([...Object.keys(globals.browser), ...Object.keys(globals.worker)])].filter(
  (g) => !nodeOrEs.has(g),
);
const PURE_BANNED_GLOBALS = [...new Set([...sideEffectGlobals, ...browserOnlyGlobals])].sort();
const pureMessage =
  'is a browser side effect; pure modules (DESIGN.md "Rules of the house") take what they need as a parameter, or the code moves to an edge module';

/**
 * DOM types in a signature (a parameter typed HTMLCanvasElement) tie a module to the browser as
 * much as a value does. Unlike `@typescript-eslint/no-restricted-types` this one looks at scope, so
 * a module's own `type Element = …` (src/data/dicom.test.ts) is not mistaken for the DOM's.
 */
const noBrowserTypes = {
  meta: {
    type: 'problem',
    docs: {
      description:
        'no browser-only type names (DOM, canvas, IndexedDB, workers) that resolve to the global declarations',
    },
    schema: [{ type: 'array', items: { type: 'string' } }],
    messages: { banned: `\`{{name}}\` ${pureMessage}.` },
  },
  create(context) {
    const banned = new Set(context.options[0] ?? []);
    const check = (node, name) => {
      let id = name;
      while (id?.type === 'TSQualifiedName') id = id.left;
      if (id?.type !== 'Identifier' || !banned.has(id.name)) return;
      for (let scope = context.sourceCode.getScope(node); scope && scope.type !== 'global'; scope = scope.upper)
        if (scope.set.has(id.name)) return;
      context.report({ node: id, messageId: 'banned', data: { name: id.name } });
    };
    return {
      TSTypeReference: (node) => check(node, node.typeName),
      TSTypeQuery: (node) => check(node, node.exprName),
      TSInterfaceHeritage: (node) => check(node, node.expression),
      TSClassImplements: (node) => check(node, node.expression),
    };
  },
};

const dexieOnlyInStore = {
  paths: [
    {
      name: 'dexie',
      message: "Dexie is the store's: import it only in src/store (use the store's functions elsewhere).",
    },
  ],
  patterns: [{ group: ['dexie/*'], message: "Dexie is the store's: import it only in src/store." }],
};
const pureImportsNoEdges = {
  paths: dexieOnlyInStore.paths,
  patterns: [
    ...dexieOnlyInStore.patterns,
    {
      // src/store/records.ts, the record shapes, is the one store module they may use (held to their rules below).
      regex: '(^|/)(ui|workers)(/|$)|(^|/)store/(?!records\\.ts$)',
      message:
        'pure modules (DESIGN.md "Rules of the house") import nothing from the edges: src/store (but records.ts), src/ui, workers.',
    },
  ],
};

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      '.venv/**',
      'test-results/**',
      'playwright-report/**',
      '.cache/**',
      'public/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.{ts,js}'],
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: 'module',
      globals: { ...globals.browser, ...globals.worker, ...globals.node },
    },
    plugins: { 'import-x': importX, house: { rules: { 'no-browser-types': noBrowserTypes } } },
    settings: {
      'import-x/extensions': ['.ts', '.js'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      // The sources import each other by their real `.ts` names (allowImportingTsExtensions).
      'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.js', '.json'] })],
    },
    rules: {
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      'no-restricted-imports': ['error', dexieOnlyInStore],
      '@typescript-eslint/no-explicit-any': 'error',
      // `_`-prefixed names are deliberately unused (positional callback arguments, destructured leftovers).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true },
      ],
    },
  },
  {
    // Type-aware checks for the promise bugs an async, worker-heavy lab is prone to. Only these:
    // the rest of recommendedTypeChecked (no-unsafe-* on `JSON.parse` and `new Array(n)`,
    // no-unnecessary-type-assertion, require-await on interface-shaped fakes) is noise here.
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
    },
  },
  {
    files: ['src/store/**'],
    rules: { 'no-restricted-imports': 'off' },
  },
  {
    files: PURE_FILES,
    ignores: PURE_EXCEPTIONS,
    rules: {
      'house/no-browser-types': ['error', PURE_BANNED_GLOBALS],
      'no-restricted-globals': [
        'error',
        ...PURE_BANNED_GLOBALS.map((name) => ({ name, message: `\`${name}\` ${pureMessage}.` })),
      ],
      'no-restricted-syntax': [
        'error',
        {
          // `globalThis.document`, `(globalThis as …).navigator`: the same globals reached round the rule above.
          selector: `MemberExpression:matches([object.name='globalThis'], [object.expression.name='globalThis'])[property.name=/^(${PURE_BANNED_GLOBALS.join('|')})$/]`,
          message: `a browser global through globalThis ${pureMessage}.`,
        },
      ],
    },
  },
  {
    files: PURE_FILES,
    rules: { 'no-restricted-imports': ['error', pureImportsNoEdges] },
  },
  {
    files: ['src/store/records.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          ...pureImportsNoEdges,
          patterns: [
            ...pureImportsNoEdges.patterns,
            { regex: '^\\./', message: 'records.ts is the pure part of the store: it imports no other store module.' },
          ],
        },
      ],
    },
  },
);
