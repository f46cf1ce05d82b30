import { defineScenario, type Load } from '../lib/types.js';
import { contactFixture } from './contacts-fixtures.js';
import {
  CREATE_LIMIT_PEER,
  createTenants,
  POSTGRAPHILE_CREATE_PEER,
  postgraphileCreate,
} from './rest-contacts-create.js';

const MUTATION =
  'mutation ($input: CreateContactInput!) { createContact(input: $input) { id email firstName lastName customData createdAt } }';

/**
 * GraphQL createContact with a fresh Idempotency-Key and email per request (auth + idempotency +
 * contact + event), against the same work done directly (the limit's /graphql route, which takes
 * the variables without parsing the document) and PostGraphile's plain createContact.
 */
export const graphqlContactsCreate = defineScenario({
  id: 'graphql.contacts.create',
  title: 'GraphQL createContact',
  peers: { limit: CREATE_LIMIT_PEER, postgraphile: POSTGRAPHILE_CREATE_PEER },

  setup: (ctx) => createTenants(ctx.createTenant, 'Bench GraphQL create'),

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
      path: '/graphql',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${own[0]!.apiKey}` },
      vary: () => {
        const { label, contact } = next();
        const authorization = `Bearer ${own[n % own.length]!.apiKey}`;
        const body = JSON.stringify({ query: MUTATION, variables: { input: contact } });
        return { headers: { authorization, 'idempotency-key': label }, body };
      },
      // GraphQL answers errors with 200: a body with "errors" is a failure.
      verifyBody: (text) => !text.includes('"errors"') && text.includes('"createContact"'),
    };
  },
});
