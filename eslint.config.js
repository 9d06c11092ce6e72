// Type-aware linting: the rules that catch real bugs in async Node code (a floating promise
// is a lost error), not style (Prettier owns formatting).
import tseslint from 'typescript-eslint';
import netmatrix from './eslint-rules/layers.js';

/** Product code: what ships (tests, benchmarks, dashboards and the lab's BPF source are not). */
const PRODUCT = ['shared/**/*.ts', 'sys/**/*.ts', 'agent/**/*.ts', 'aggregator/**/*.ts', 'client/**/*.ts', 'lab/**/*.ts', 'cli/**/*.ts'];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'test-artifacts/**', 'bin/**', 'eslint.config.js', 'eslint-rules/**'] },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
      // fastify handlers are async by convention even when they return a value directly.
      '@typescript-eslint/require-await': 'off',
      // zod and JSON boundaries: values are validated right after, where it matters.
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
    },
  },
  // The layers of ARCHITECTURE.md: shared imports nothing of ours, agent and aggregator never
  // each other, product code never lab or test, aggregator/kube behind its facade.
  { files: ['**/*.ts'], plugins: { netmatrix }, rules: { 'netmatrix/layers': 'error' } },
  // Sizes: a file of one concern and functions that fit on a screen. Comments and blank lines
  // do not count (TSDoc on every export is wanted, not a cost). Tests are exempt: a describe
  // block is one long function by design.
  {
    files: PRODUCT,
    rules: {
      'max-lines': ['error', { max: 300, skipBlankLines: true, skipComments: true }],
      'max-lines-per-function': ['error', { max: 80, skipBlankLines: true, skipComments: true }],
    },
  },
  // Reasoned exceptions, each with a ceiling so it cannot grow unnoticed:
  // - composition roots build the parts and connect them in dependency order; split, the order hides;
  {
    files: ['agent/agent.ts', 'aggregator/app.ts'],
    rules: { 'max-lines-per-function': ['error', { max: 130, skipBlankLines: true, skipComments: true }] },
  },
  // - one agent connection's state machine (hello, heartbeat, frames, close) shares its closure's state;
  // - runTest reads top to bottom as ARCHITECTURE's "One test" sequence;
  // - the metrics constructor is the table of every event metric's definition.
  {
    files: ['aggregator/agent-socket.ts', 'aggregator/test-runner.ts', 'aggregator/metrics.ts'],
    rules: { 'max-lines-per-function': ['error', { max: 140, skipBlankLines: true, skipComments: true }] },
  },
  // - the aggregator's settings table: one row per setting, data rather than logic.
  { files: ['aggregator/config.ts'], rules: { 'max-lines': ['error', { max: 400, skipBlankLines: true, skipComments: true }] } },
  // The live page's browser script: plain JS with vega's UMD globals, outside the TypeScript project.
  {
    files: ['aggregator/page/**/*.js'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: {
      sourceType: 'script',
      globals: {
        window: 'readonly',
        document: 'readonly',
        fetch: 'readonly',
        console: 'readonly',
        setTimeout: 'readonly',
        vega: 'readonly',
        vegaLite: 'readonly',
      },
    },
  },
);
