// Lint: type-aware typescript-eslint rules everywhere, plus the architecture's import rules.
// The core (src/core) is pure: no node:* module, no clock, timer, randomness or `process`;
// it imports nothing outside src/core. Adapters never import the composition root or the CLI.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const impureGlobals = ['process', 'setTimeout', 'setInterval', 'setImmediate', 'clearTimeout',
  'clearInterval', 'clearImmediate', 'queueMicrotask', 'performance', 'crypto', 'fetch', 'Buffer']
  .map((name) => ({ name, message: 'The core is pure: time, timers and I/O arrive as inputs and leave as effects.' }));

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'web/dist/**', '.tandem-lab/**'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      globals: globals.node,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      'eqeqeq': 'error',
    },
  },
  {
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['node:*', 'fs', 'os', 'net', 'dgram', 'crypto', 'child_process', 'timers', 'process'],
            message: 'The core imports no Node.js module: put I/O behind an adapter.' },
          { group: ['**/adapters/**', '**/sim/**', '**/cli/**', '**/app/**', '**/bench/**'],
            message: 'The core depends on nothing outside src/core.' },
        ],
      }],
      'no-restricted-globals': ['error', ...impureGlobals],
      'no-restricted-properties': ['error',
        { object: 'Date', property: 'now', message: 'Time is passed in (input.now).' },
        { object: 'Math', property: 'random', message: 'Randomness comes from the shell (e.g. boot ids in inputs).' },
      ],
      'no-restricted-syntax': ['error',
        { selector: "NewExpression[callee.name='Date'][arguments.length=0]", message: 'Time is passed in (input.now).' },
      ],
    },
  },
  {
    files: ['src/core/**/*.test.ts'],
    rules: { 'no-restricted-imports': 'off' },
  },
  {
    files: ['src/adapters/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        { group: ['**/cli/**', '**/app/**', '**/sim/**', '**/bench/**'], message: 'Adapters know only the core and Node.js.' },
      ] }],
    },
  },
  {
    files: ['**/*.test.ts'],
    rules: {
      // node:test's describe/it return promises that the runner awaits itself.
      '@typescript-eslint/no-floating-promises': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    // The web console (web/src, its own tsconfig): a browser program.
    files: ['web/src/**/*.ts', 'web/src/**/*.tsx'],
    languageOptions: { globals: globals.browser },
  },
  { files: ['**/*.js', '**/*.mjs'], ...tseslint.configs.disableTypeChecked },
);
