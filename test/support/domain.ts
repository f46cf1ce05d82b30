import { rmSync } from 'node:fs';
import { afterAll, beforeAll } from 'vitest';
import type { AuthContext } from '../../src/auth/context.js';
import { loadConfig } from '../../src/config.js';
import { openDatabase, type Database } from '../../src/db/database.js';
import { createServices, type Services } from '../../src/services.js';
import { createTenant, migratedDataDir } from './gateway.js';

// The service tier (test/service/): the domain services as REST, GraphQL and the CLI call them,
// on a database of their own per test file (a copy of the run's migrated PGlite folder) or on
// DATABASE_URL, without a server, HTTP or workers. Tests isolate by tenant.

/** Opens the file's database before its tests and composes the services on it, as the gateway does. */
export function useServices() {
  const state = {} as { services: Services; database: Database };
  let dataDir: string | undefined;
  beforeAll(async () => {
    dataDir = process.env.DATABASE_URL ? undefined : migratedDataDir();
    const config = loadConfig({ ...process.env, LOG_LEVEL: 'silent', ...(dataDir ? { DATA_DIR: dataDir } : {}) });
    state.database = await openDatabase(config);
    state.services = createServices(state.database.prisma, config, state.database.query);
  });
  afterAll(async () => {
    await state.database?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });
  return state;
}

/** A fresh tenant with one application (createTenant of the contract tier); answers the caller as its key authenticates. */
export async function newCaller(
  services: Services,
  features: string[] = ['accounting', 'communication'],
): Promise<AuthContext> {
  const { tenantId, apiKey } = await createTenant({ services }, features);
  return services.authenticate(apiKey, `corr-${tenantId}`);
}
