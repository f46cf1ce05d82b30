import { randomUUID } from 'node:crypto';
import { defineScenario } from '../lib/types.js';
import { contactFixture, ensureBaselineContacts, type ContactFixture } from './contacts-fixtures.js';

const BASELINE_TENANT = 'ten_bench_create';
/**
 * Diagnostic: BENCH_CREATE_TENANTS=N spreads the gateway's creates over N tenants (round robin).
 * Every write bumps its tenant's event counter row, so one tenant serializes its writes; compare
 * N=1 (the target figure) with N=8 to see how much that row lock costs.
 */
const TENANTS = Math.max(1, Number(process.env.BENCH_CREATE_TENANTS ?? 1));

/** REST create with a fresh Idempotency-Key and email per request (auth + idempotency + transaction). */
export const restContactsCreate = defineScenario({
  id: 'rest.contacts.create',
  title: 'REST POST /api/v1/contacts/contacts',
  target: { kind: 'throughput', minRatio: 0.5 },

  async setup(ctx) {
    await ensureBaselineContacts(ctx.sql, ctx.baselineSchema);
    const tenants = [];
    for (let i = 0; i < TENANTS; i++) tenants.push(await ctx.createTenant(`Bench create ${i + 1}`, ['communication']));
    return { tenants };
  },

  baseline: {
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

  async load(ctx, { tenants }) {
    let n = 0;
    return {
      kind: 'http',
      method: 'POST',
      path: ctx.side === 'gateway' ? '/api/v1/contacts/contacts' : '/rest.contacts.create',
      // The baseline gets the same headers; it just ignores them.
      headers: { 'content-type': 'application/json', authorization: `Bearer ${tenants[0]!.apiKey}` },
      vary: () => {
        const label = `${ctx.runId}-${ctx.side}-${++n}`;
        const authorization = `Bearer ${tenants[n % tenants.length]!.apiKey}`;
        return { headers: { authorization, 'idempotency-key': label }, body: JSON.stringify(contactFixture(label)) };
      },
    };
  },
});
