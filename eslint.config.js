// The import boundaries of STYLE.md, as lint rules: the picture in DESIGN.md stays true because the build fails
// when a layer reaches past its neighbour.
import tseslint from 'typescript-eslint';

const layer = (files, patterns, message) => ({
  files,
  rules: {
    'no-restricted-imports': ['error', { patterns: [{ group: patterns, message }] }],
  },
});

export default [
  { ignores: ['dist/**', 'node_modules/**', '.kumo/**'] },
  {
    files: ['**/*.ts'],
    languageOptions: { parser: tseslint.parser, parserOptions: { ecmaVersion: 2022, sourceType: 'module' } },
    plugins: { '@typescript-eslint': tseslint.plugin },
    rules: {
      'no-debugger': 'error',
      'no-var': 'error',
      'prefer-const': 'error',
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  layer(
    ['src/core/**/*.ts'],
    ['**/api/**', '**/store/**', '**/drivers/**', '**/scheduler/**', '**/controller/**', '**/agent/**', '**/server/**', '**/cli/**', 'node:http', 'node:https', 'fastify', 'pg', 'typebox'],
    'the domain core knows nothing of HTTP, SQL, drivers or the processes around it',
  ),
  layer(
    ['src/api/**/*.ts'],
    ['**/store/**', '**/drivers/**', '**/controller/**', '**/scheduler/**', '**/agent/**', '**/server/**', 'pg'],
    'a dialect only translates: it calls core services, never the store, a driver or the controller',
  ),
  layer(['src/api/native/**/*.ts'], ['**/api/openstack/**', '**/api/strettch/**', '**/api/instances/**'], 'a dialect never imports another dialect'),
  layer(
    ['src/drivers/**/*.ts'],
    ['**/core/**', '**/store/**', '**/api/**', '**/controller/**', '**/scheduler/**', '**/agent/**', '**/server/**'],
    'a driver executes on one host: it never sees tenants, the store or the API',
  ),
  layer(['src/store/**/*.ts'], ['**/api/**', '**/drivers/**', '**/controller/**', '**/agent/**', 'fastify'], 'the store persists the core; it serves no HTTP and drives nothing'),
  layer(['src/scheduler/**/*.ts'], ['**/api/**', '**/store/**', '**/drivers/**', '**/controller/**', 'pg'], 'the scheduler only ranks hosts it is given'),
  layer(['src/controller/**/*.ts'], ['**/api/**', '**/store/**', 'pg', 'fastify'], 'the controller talks to the store through core ports and to hosts through agents'),
  layer(['src/agent/**/*.ts'], ['**/api/**', '**/store/**', '**/controller/**', 'pg', 'fastify'], 'an agent runs a driver and reports; it never decides'),
];
