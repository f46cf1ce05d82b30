import { defineConfig } from 'vitest/config';
import ProcessSuitesFirst from './test/support/sequencer.js';

// Three tiers, all run by `vitest run` (npm test):
//   unit      test/unit/      pure functions: no database, network or child process (npm run test:unit)
//   service   test/service/   the domain services on an embedded or PostgreSQL database, without HTTP
//   contract  test/*.test.ts  the gateway end to end: HTTP, GraphQL, processes, the documentation
// The last two share test/support/global-setup.ts: one build and one migrated database per run.
const GLOBAL_SETUP = ['test/support/global-setup.ts'];
/** Every /api/v1 answer a test receives is checked against /openapi.json (test/support/contract-fetch.ts). */
const CHECKS = ['test/support/contract-fetch.ts'];

export default defineConfig({
  resolve: {
    // One `graphql` instance, as under Node/tsx in production: vite would give src/ graphql's ESM
    // build while Pothos, graphql-yoga and graphql-scalars load its CommonJS build natively, and
    // errors then fail `instanceof GraphQLError` and schemas fail graphql's realm check.
    alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }],
  },
  test: {
    pool: 'forks',
    // Vitest's default is one worker per core but one: a single worker on CI's two cores, idle
    // while its gateways, child processes and webhook receivers wait. Eight contract files took
    // 107 s with 1 worker, 78 s with 2, 80 s with 3, 70 s with 4 (on a busy machine); 3 leaves room
    // for the timing-sensitive tests.
    maxWorkers: 3,
    sequence: { sequencer: ProcessSuitesFirst },
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: [
      // Pure modules: one process may run every file (no module state to reset), in half the time.
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'], isolate: false } },
      {
        extends: true,
        test: {
          name: 'service',
          include: ['test/service/**/*.test.ts'],
          globalSetup: GLOBAL_SETUP,
          setupFiles: CHECKS,
        },
      },
      {
        extends: true,
        test: {
          name: 'contract',
          include: ['test/*.test.ts'],
          globalSetup: GLOBAL_SETUP,
          setupFiles: CHECKS,
          // Each file starts its own gateways and tenants; sharing a worker's module graph saves every
          // file the ~3 s of loading the gateway again (the embedded pass measured 186 s against 253 s).
          isolate: false,
        },
      },
    ],
  },
});
