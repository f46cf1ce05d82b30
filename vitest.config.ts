import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // One `graphql` instance, as under Node/tsx in production: vite would give src/ graphql's ESM
    // build while Pothos, graphql-yoga and graphql-scalars load its CommonJS build natively, and
    // errors then fail `instanceof GraphQLError` and schemas fail graphql's realm check.
    alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }],
  },
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/support/contract-fetch.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
