import { randomUUID } from 'node:crypto';
import { defineScenario, type BenchTenant, type Load, type Peer } from '../lib/types.js';
import { contactFixture, ensureBaselineContacts, type ContactFixture } from './contacts-fixtures.js';

const BASELINE_TENANT = 'ten_bench_create';
/**
 * Diagnostic: BENCH_CREATE_TENANTS=N spreads the gateway's creates over N tenants (round robin).
 * Every write bumps its tenant's event counter row, so one tenant serializes its commits; compare
 * N=1 (the target figure) with N=8 to see how much that row lock costs.
 */
const TENANTS = Math.max(1, Number(process.env.BENCH_CREATE_TENANTS ?? 1));

/** The same-semantics limit (bench/create-limit-server.ts): what the gateway's create must do, done directly. */
export const CREATE_LIMIT_PEER: Peer = {
  title:
    "bench/create-limit-server.ts: node:http + pg doing the same work on the gateway's tables (API key, Idempotency-Key record with the answer, contact, tenant counter, event), one statement per batch of concurrent requests",
  script: 'bench/create-limit-server.ts',
  target: { kind: 'throughput', minRatio: 0.8 },
};

/** PostGraphile 5's plain createContact on the gateway's "Contact" table: no key, no idempotency, no event. */
export const POSTGRAPHILE_CREATE_PEER: Peer = {
  title:
    'PostGraphile 5 (Amber preset) on the gateway\'s "Contact" table: createContact(input: {contact: {…}}), one INSERT; no API key, no Idempotency-Key, no event',
  script: 'bench/postgraphile-server.ts',
  target: { kind: 'throughput', minRatio: 0.7 },
};

/** PostGraphile's createContact of one fixture for a tenant (it needs the id and updatedAt Prisma sets). */
export function postgraphileCreate(tenantId: string, contact: ContactFixture): string {
  const now = new Date().toISOString();
  return JSON.stringify({
    query:
      'mutation ($contact: ContactInput!) { createContact(input: { contact: $contact }) { contact { rowId email firstName lastName customData createdAt } } }',
    variables: {
      contact: {
        rowId: `contact_${randomUUID()}`,
        tenantId,
        email: contact.email,
        emailNormalized: contact.email.toLowerCase(),
        firstName: contact.firstName,
        lastName: contact.lastName,
        customData: contact.customData,
        updatedAt: now,
      },
    },
  });
}

/** Tenants for one side: the gateway's (BENCH_CREATE_TENANTS of them) and one per peer that authenticates. */
export async function createTenants(
  createTenant: (name: string, features: string[]) => Promise<BenchTenant>,
  label: string,
): Promise<Record<'gateway' | 'limit' | 'postgraphile', BenchTenant[]>> {
  const gateway: BenchTenant[] = [];
  for (let i = 0; i < TENANTS; i++) gateway.push(await createTenant(`${label} ${i + 1}`, ['communication']));
  return {
    gateway,
    limit: [await createTenant(`${label} limit`, ['communication'])],
    postgraphile: [await createTenant(`${label} postgraphile`, ['communication'])],
  };
}

/**
 * REST create with a fresh Idempotency-Key and email per request (auth + idempotency + contact +
 * event), against the same work done directly (the limit), PostGraphile's plain create, and one
 * bare INSERT (reference).
 */
export const restContactsCreate = defineScenario({
  id: 'rest.contacts.create',
  title: 'REST POST /api/v1/contacts/contacts',
  peers: {
    limit: CREATE_LIMIT_PEER,
    postgraphile: POSTGRAPHILE_CREATE_PEER,
    baseline: {
      title: 'node:http + pg: one INSERT … RETURNING into a table of its own (no key, no idempotency, no event)',
      method: 'POST',
      async handle({ pool, schema, body }) {
        const c = body as ContactFixture;
        const { rows } = await pool.query(
          `INSERT INTO "${schema}".contacts (id, tenant_id, email, email_normalized, first_name, last_name, custom_data)
           VALUES ($1, $2, $3, lower($3), $4, $5, $6)
           RETURNING id, email, first_name AS "firstName", last_name AS "lastName", custom_data AS "customData",
                     created_at AS "createdAt", updated_at AS "updatedAt"`,
          [`contact_${randomUUID()}`, BASELINE_TENANT, c.email, c.firstName, c.lastName, JSON.stringify(c.customData)],
        );
        return { status: 201, body: rows[0] };
      },
    },
  },

  async setup(ctx) {
    await ensureBaselineContacts(ctx.sql, ctx.baselineSchema);
    return createTenants(ctx.createTenant, 'Bench REST create');
  },

  async load(ctx, tenants): Promise<Load> {
    let n = 0;
    const next = () => {
      const label = `${ctx.runId}-${ctx.side}-${++n}`;
      return { label, contact: contactFixture(label) };
    };
    if (ctx.side === 'postgraphile') {
      const { tenantId } = tenants.postgraphile[0]!;
      return {
        kind: 'http',
        method: 'POST',
        path: '/graphql',
        headers: { 'content-type': 'application/json' },
        vary: () => ({ body: postgraphileCreate(tenantId, next().contact) }),
        verifyBody: (text) => !text.includes('"errors"') && text.includes('"rowId"'),
      };
    }
    const own = ctx.side === 'limit' ? tenants.limit : tenants.gateway;
    return {
      kind: 'http',
      method: 'POST',
      path: { gateway: '/api/v1/contacts/contacts', limit: '/contacts' }[ctx.side] ?? '/rest.contacts.create',
      // The baseline gets the same headers; it just ignores them.
      headers: { 'content-type': 'application/json', authorization: `Bearer ${own[0]!.apiKey}` },
      vary: () => {
        const { label, contact } = next();
        const authorization = `Bearer ${own[n % own.length]!.apiKey}`;
        return { headers: { authorization, 'idempotency-key': label }, body: JSON.stringify(contact) };
      },
    };
  },
});
