import { cpSync, rmSync } from 'node:fs';
import path from 'node:path';
import { runOnServer } from './postgres.js';
import { afterAll, beforeAll, expect, inject } from 'vitest';
import { buildApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { scratchDir } from './scratch.js';

/**
 * One gateway per test file, on a free port: on PostgreSQL when DATABASE_URL is set (CI),
 * otherwise on embedded PGlite in a temporary folder. Tests isolate by tenant, not by database.
 */
export function useGateway(env: Record<string, string> = {}, options: { ownDatabase?: boolean } = {}) {
  const state = {} as { app: App; url: string };
  let dataDir: string | undefined;
  let ownDatabase: Awaited<ReturnType<typeof createDatabase>> | undefined;
  beforeAll(async () => {
    dataDir = process.env.DATABASE_URL ? undefined : migratedDataDir();
    // Delivery and job workers serve every tenant of their database: a file whose gateway has its
    // own webhook or job settings keeps its work away from other files' gateways.
    if (process.env.DATABASE_URL && options.ownDatabase) {
      ownDatabase = await createDatabase(process.env.DATABASE_URL, { migrated: true });
      env = { ...env, DATABASE_URL: ownDatabase.url };
    }
    // Suites drive one application hard, and fail keys on purpose from one address (counted in
    // Redis by every suite at once): only the rate-limit suites set small budgets.
    const defaults = {
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'silent',
      RATE_LIMIT_PER_MINUTE: '1000000',
      AUTH_FAILURES_PER_MINUTE: '1000000',
    };
    const config = loadConfig({ ...process.env, ...defaults, ...(dataDir ? { DATA_DIR: dataDir } : {}), ...env });
    state.app = await buildApp(config);
    state.url = await state.app.start();
  });
  afterAll(async () => {
    await state.app?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    await ownDatabase?.drop();
  });
  return state;
}

/**
 * A new embedded data folder holding a copy of the run's migrated PGlite folder
 * (test/support/global-setup.ts): what a first open would create, without initdb and migrations.
 */
export function migratedDataDir(): string {
  const dataDir = scratchDir('nilo-test-');
  seedDataDir(dataDir);
  return dataDir;
}

/**
 * Copies the run's migrated PGlite folder into `dataDir` (which holds no database yet); with
 * DATABASE_URL there is none, and the folder stays unused.
 */
export function seedDataDir(dataDir: string): void {
  const template = inject('pgliteTemplate');
  if (template) cpSync(template, path.join(dataDir, 'pglite'), { recursive: true });
}

/**
 * A fresh PostgreSQL database on the server of `serverUrl`, for one test file: empty, or with
 * `migrated` a copy of the run's migrated template database (test/support/global-setup.ts).
 */
export async function createDatabase(serverUrl: string, { migrated = false } = {}) {
  const name = `nilo_test_${process.pid}_${Date.now()}_${Math.floor(Math.random() * 1e6)}`;
  const admin = (sql: string) => runOnServer(serverUrl, sql);
  await admin(`CREATE DATABASE "${name}"${migrated ? ` TEMPLATE "${inject('postgresTemplate')}"` : ''}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => admin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`) };
}

export type Tenant = { tenantId: string; applicationId: string; apiKey: string; name?: string };

/** A fresh tenant with one application and key, created through the admin service. */
export async function createTenant(
  app: Pick<App, 'services'>,
  features: string[] = ['accounting', 'communication'],
): Promise<Tenant> {
  const name = `Test ${Date.now()}`;
  const { tenantId } = await app.services.admin.createTenant({ name, features });
  const { applicationId, apiKey } = await app.services.admin.createApplication({ tenantId, name: 'Test app' });
  return { tenantId, name, applicationId, apiKey };
}

export type HttpResult = { status: number; headers: Headers; body: any; text: string };

/**
 * A real HTTP request; the body is sent as JSON unless it is already a string. An answer from a
 * documented /api/v1 operation that does not match the gateway's /openapi.json fails the test
 * (test/support/contract-fetch.ts checks every fetch).
 */
export async function http(
  url: string,
  method: string,
  path: string,
  options: { key?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<HttpResult> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.key) headers.authorization = `Bearer ${options.key}`;
  let body: string | undefined;
  if (options.body !== undefined) {
    body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  const response = await fetch(url + path, { method, headers, body });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: response.status, headers: response.headers, body: parsed, text };
}

/** A GraphQL request over HTTP POST. */
export async function graphql(
  url: string,
  key: string | undefined,
  query: string,
  variables?: Record<string, unknown>,
  headers: Record<string, string> = {},
) {
  const result = await http(url, 'POST', '/graphql', { key, body: { query, variables }, headers });
  return result.body as { data?: any; errors?: { message: string; extensions: Record<string, any> }[] };
}

/** The events a tenant's writes left in the log, in sequence order. */
export function eventsOf(app: Pick<App, 'services'>, tenantId: string) {
  return app.services.prisma.event.findMany({ where: { tenantId }, orderBy: { tenantSequence: 'asc' } });
}

/**
 * Asserts a mutation left exactly one new event: the next in the tenant's gapless sequence,
 * of `type`, about `resourceId`, carrying `data` and the response's correlation id.
 */
export async function expectOneNewEvent(
  app: App,
  tenant: Tenant,
  eventsBefore: number,
  res: HttpResult,
  type: string,
  resourceId: string,
  data: unknown,
) {
  const events = await eventsOf(app, tenant.tenantId);
  expect(events).toHaveLength(eventsBefore + 1);
  expect(events.map((e) => e.tenantSequence)).toEqual(events.map((_, i) => i + 1));
  const event = events.at(-1)!;
  expect(event.type).toBe(type);
  expect(event.tenantSequence).toBe(eventsBefore + 1);
  expect(event.resourceType).toBe(type.split('.')[1]); // communication.contact.created → contact
  expect(event.resourceId).toBe(resourceId);
  expect(event.data).toEqual(data);
  expect(event.correlationId).toBe(res.headers.get('x-correlation-id'));
  expect(event.id).toMatch(/^evt_[0-9A-Z]{26}$/);
  return event;
}
