import js from '@eslint/js';
import svelte from 'eslint-plugin-svelte';
import globals from 'globals';
import ts from 'typescript-eslint';

export default ts.config(
  { ignores: ['out/', 'dist/', 'node_modules/', 'resources/', 'test/fixtures/'] },
  js.configs.recommended,
  ...ts.configs.recommended,
  ...svelte.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node, ...globals.browser } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': ['error', { allow: ['warn', 'error'] }],
    },
  },
  {
    files: ['**/*.svelte', '**/*.svelte.ts'],
    languageOptions: { parserOptions: { parser: ts.parser, extraFileExtensions: ['.svelte'] } },
  },
  {
    // Scripts and tests talk to a terminal.
    files: ['bench/**', 'scripts/**', 'test/**', 'bin/**', '.ci/**', 'src/main/pretrain/pretrain.ts'],
    rules: { 'no-console': 'off' },
  },
  {
    // Training, evaluation, the host and the commands talk to the Policy interface: only models/
    // (and the tiny-vlm base's own pretraining) knows a concrete model.
    files: ['src/main/train/**', 'src/main/host/**', 'src/main/eval/**', 'src/main/store/**'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/models/tiny-vlm/*', '**/models/qwen2-vl/*'],
              message: 'import the model-agnostic API (models/index, models/policy) instead',
            },
          ],
        },
      ],
    },
  },
);
