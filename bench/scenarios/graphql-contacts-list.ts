import { inParallel, requestJson } from '../lib/http.js';
import { defineScenario } from '../lib/types.js';
import { contactFixture, ensureBaselineContacts } from './contacts-fixtures.js';

const SEED = 1_000;
const PAGE = 50;
const BASELINE_TENANT = 'ten_bench_list';
const QUERY = `{ contacts(first: ${PAGE}) { edges { node { id email firstName lastName customData updatedAt } } } }`;
/** The same page and columns from PostGraphile (its name for the primary key column is rowId). */
const postgraphileQuery = (tenantId: string) =>
  `{ allContacts(first: ${PAGE}, condition: { tenantId: ${JSON.stringify(tenantId)} }, orderBy: PRIMARY_KEY_ASC) { edges { node { rowId email firstName lastName customData updatedAt } } } }`;

/**
 * GraphQL first page of a tenant's 1,000 contacts (auth + rate limit + Yoga/Pothos + one query),
 * against the bare statement and against PostGraphile 5 on the gateway's own table and rows.
 */
export const graphqlContactsList = defineScenario({
  id: 'graphql.contacts.list',
  title: `GraphQL contacts(first: ${PAGE})`,
  target: { kind: 'throughput', minRatio: 0.5 },
  peers: {
    postgraphile: {
      title:
        'PostGraphile 5 (Amber preset, grafserv on node:http) on the gateway\'s "Contact" table: allContacts(first: 50, condition: {tenantId}, orderBy: PRIMARY_KEY_ASC)',
      script: 'bench/postgraphile-server.ts',
      target: { kind: 'throughput', minRatio: 1.2 },
    },
  },

  async setup(ctx) {
    await ensureBaselineContacts(ctx.sql, ctx.baselineSchema);
    const fixture = contactFixture('x');
    await ctx.sql.query(
      `INSERT INTO "${ctx.baselineSchema}".contacts (id, tenant_id, email, email_normalized, first_name, last_name, custom_data)
       SELECT 'contact_' || lpad(i::text, 8, '0'), $1, 'seed-' || i || '@bench.example', 'seed-' || i || '@bench.example', $2, $3, $4::jsonb
       FROM generate_series(1, $5::int) AS i`,
      [BASELINE_TENANT, fixture.firstName, fixture.lastName, JSON.stringify(fixture.customData), SEED],
    );
    return { tenant: await ctx.createTenant('Bench list', ['communication']), seeded: false };
  },

  baseline: {
    method: 'GET',
    async handle({ pool, schema }) {
      const { rows } = await pool.query(
        `SELECT id, email, first_name AS "firstName", last_name AS "lastName", custom_data AS "customData", updated_at AS "updatedAt"
         FROM "${schema}".contacts WHERE tenant_id = $1 ORDER BY id LIMIT ${PAGE}`,
        [BASELINE_TENANT],
      );
      return { status: 200, body: { data: { contacts: { edges: rows.map((node) => ({ node })) } } } };
    },
  },

  async load(ctx, state) {
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${state.tenant.apiKey}` };
    const body = JSON.stringify({ query: QUERY });
    if (ctx.side === 'gateway') {
      if (!state.seeded) {
        await inParallel(SEED, 8, async (i) => {
          const res = await requestJson(ctx.baseUrl, 'POST', '/api/v1/contacts/contacts', {
            headers: { authorization: headers.authorization },
            body: contactFixture(`seed-${i}`),
          });
          if (res.status !== 201) throw new Error(`seeding contact ${i} failed: HTTP ${res.status} ${res.text}`);
        });
        state.seeded = true;
      }
      const probe = await requestJson(ctx.baseUrl, 'POST', '/graphql', { headers, body: { query: QUERY } });
      const edges = probe.body?.data?.contacts?.edges;
      if (probe.status !== 200 || probe.body?.errors || edges?.length !== PAGE) {
        throw new Error(
          `GraphQL probe did not return ${PAGE} contacts: HTTP ${probe.status} ${probe.text.slice(0, 500)}`,
        );
      }
    } else if (ctx.side === 'postgraphile') {
      const probe = await requestJson(ctx.baseUrl, 'POST', '/graphql', {
        body: { query: postgraphileQuery(state.tenant.tenantId) },
      });
      if (probe.status !== 200 || probe.body?.errors || probe.body?.data?.allContacts?.edges?.length !== PAGE) {
        throw new Error(
          `PostGraphile probe did not return ${PAGE} contacts: HTTP ${probe.status} ${probe.text.slice(0, 500)}`,
        );
      }
    } else {
      const probe = await requestJson(ctx.baseUrl, 'GET', '/graphql.contacts.list');
      if (probe.status !== 200 || probe.body?.data?.contacts?.edges?.length !== PAGE) {
        throw new Error(
          `baseline probe did not return ${PAGE} contacts: HTTP ${probe.status} ${probe.text.slice(0, 500)}`,
        );
      }
    }
    if (ctx.side === 'postgraphile')
      return {
        kind: 'http',
        method: 'POST',
        path: '/graphql',
        // The same headers as the gateway's; PostGraphile ignores the API key.
        headers,
        body: JSON.stringify({ query: postgraphileQuery(state.tenant.tenantId) }),
        verifyBody: (text) => !text.includes('"errors"') && text.includes('"edges"'),
      };
    return ctx.side === 'gateway'
      ? {
          kind: 'http',
          method: 'POST',
          path: '/graphql',
          headers,
          body,
          // GraphQL answers errors with 200: a body with "errors" or without edges is a failure.
          verifyBody: (text) => !text.includes('"errors"') && text.includes('"edges"'),
        }
      : {
          kind: 'http',
          method: 'GET',
          path: '/graphql.contacts.list',
          headers,
          verifyBody: (text) => text.includes('"edges"'),
        };
  },
});
