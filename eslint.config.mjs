import { readFileSync } from 'node:fs';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * Layers point down only (test/architecture-layers.json, also checked with cycles by
 * test/architecture.test.ts): a file of src/ may not import a unit of a higher layer.
 */
const { layers } = JSON.parse(readFileSync(new URL('./test/architecture-layers.json', import.meta.url), 'utf8'));
const layerRules = layers.slice(1).map((layer, index) => {
  const above = layers.slice(0, index + 1).flatMap((l) => l.units);
  return {
    files: layer.units.flatMap((unit) => [`src/${unit}.ts`, `src/${unit}/**/*.ts`]),
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: above.flatMap((unit) => [`**/${unit}`, `**/${unit}/**`]), message: `${layer.name}: import only from the layers below (test/architecture-layers.json).` }] },
      ],
    },
  };
});

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'data/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', require: 'readonly', __dirname: 'readonly', module: 'writable', fetch: 'readonly', URLSearchParams: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-properties': ['error', { object: 'process', property: 'env', message: 'Read configuration in src/config.ts only.' }],
    },
  },
  { files: ['src/config.ts', 'test/**', 'bench/**', 'jest.config.ts'], rules: { 'no-restricted-properties': 'off' } },
  { files: ['**/*.js'], rules: { '@typescript-eslint/no-require-imports': 'off' } },
  ...layerRules,
);
