import { describe, expect, test } from 'vitest';
import { createTenant, http, useGateway } from './support/gateway.js';

// A query or mutation POSTed as plain JSON runs on Yoga's envelop directly (plainQuery in
// src/graphql/route.ts); the same request with an Origin header goes through Yoga's own request
// pipeline (it adds the CORS headers). Both must answer alike.
const gw = useGateway();

/** The answer with what differs between two requests (correlation ids, the budget left) masked. */
async function answer(key: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await http(gw.url, 'POST', '/graphql', { key, body, headers });
  const correlationId = res.headers.get('x-correlation-id')!;
  return {
    status: res.status,
    contentType: res.headers.get('content-type'),
    rateLimitPolicy: res.headers.get('ratelimit-policy'),
    body: res.text.replaceAll(correlationId, '<correlation id>').replace(/"remaining":\d+/g, '"remaining":-1'),
  };
}

/** The same request without and with an Origin: which path answered shows in Yoga's CORS header. */
async function bothPaths(key: string, body: unknown) {
  const plain = await http(gw.url, 'POST', '/graphql', { key, body });
  const cors = await http(gw.url, 'POST', '/graphql', { key, body, headers: { origin: 'https://app.example' } });
  expect(plain.headers.get('access-control-allow-origin')).toBeNull();
  expect(cors.headers.get('access-control-allow-origin')).toBe('https://app.example');
}

describe('queries POSTed as plain JSON', () => {
  test('answer as Yoga answers them: data, errors in execution, refusals before it, variables and named operations', async () => {
    const tenant = await createTenant(gw.app);
    const created = await http(gw.url, 'POST', '/api/v1/contacts/contacts', {
      key: tenant.apiKey,
      body: { email: 'plain@example.com', firstName: 'Ada', customData: { plan: 'pro' } },
    });
    expect(created.status).toBe(201);
    const cases: { name: string; body: Record<string, unknown>; status: number }[] = [
      {
        name: 'a page of contacts',
        body: { query: '{ contacts(first: 5) { edges { cursor node { id email customData updatedAt } } } }' },
        status: 200,
      },
      {
        name: 'an error in execution',
        body: { query: '{ contact(id: "contact_nope") { id } }' },
        status: 200,
      },
      {
        name: 'a page size refused before execution',
        body: { query: '{ contacts(first: 501) { edges { node { id } } } }' },
        status: 400,
      },
      {
        name: 'variables and a named operation among two',
        body: {
          query:
            'query One($n: Int) { contacts(first: $n) { edges { node { email } } } } query Two { viewer { application { name } } }',
          variables: { n: 1 },
          operationName: 'One',
        },
        status: 200,
      },
    ];
    await bothPaths(tenant.apiKey, cases[0]!.body);
    for (const { name, body, status } of cases) {
      const plain = await answer(tenant.apiKey, body);
      const throughYoga = await answer(tenant.apiKey, body, { origin: 'https://app.example' });
      expect(plain, name).toEqual(throughYoga);
      expect(plain.status, name).toBe(status);
    }
    const page = JSON.parse((await answer(tenant.apiKey, cases[0]!.body)).body);
    expect(page.data.contacts.edges[0].node).toMatchObject({ email: 'plain@example.com', customData: { plan: 'pro' } });
  });

  test('mutations answer as Yoga answers them: a create, a domain error, a refused input', async () => {
    const tenant = await createTenant(gw.app);
    const CREATE = 'mutation ($input: CreateContactInput!) { createContact(input: $input) { firstName customData } }';
    const cases: { name: string; body: Record<string, unknown> }[] = [
      { name: 'a create', body: { query: CREATE, variables: { input: { firstName: 'Mo', customData: { a: 1 } } } } },
      {
        name: 'a taken email',
        body: { query: 'mutation { createContact(input: { email: "plain@example.com" }) { id } }' },
      },
      { name: 'input the domain refuses', body: { query: CREATE, variables: { input: { email: 'not an email' } } } },
    ];
    const taken = await http(gw.url, 'POST', '/api/v1/contacts/contacts', {
      key: tenant.apiKey,
      body: { email: 'plain@example.com' },
    });
    expect(taken.status).toBe(201);
    await bothPaths(tenant.apiKey, cases[0]!.body);
    for (const { name, body } of cases) {
      const plain = await answer(tenant.apiKey, body);
      const throughYoga = await answer(tenant.apiKey, body, { origin: 'https://app.example' });
      expect(plain, name).toEqual(throughYoga);
      expect(plain.status, name).toBe(200);
    }
    const codes = await Promise.all(
      cases.slice(1).map(async ({ body }) => JSON.parse((await answer(tenant.apiKey, body)).body)),
    );
    expect(codes.map((result) => result.errors[0].extensions.code)).toEqual(['email_taken', 'validation_failed']);
  });

  test('requests Yoga must see itself still reach it: an unknown parameter, a bad variables type', async () => {
    const tenant = await createTenant(gw.app);
    const unknown = await answer(tenant.apiKey, { query: '{ __typename }', extra: 1 });
    expect(unknown.status).toBe(400);
    expect(JSON.parse(unknown.body).errors[0]).toMatchObject({
      message: 'Unexpected parameter "extra" in the request body.',
      extensions: { code: 'invalid_request' },
    });

    const badVariables = await answer(tenant.apiKey, { query: '{ __typename }', variables: 'x' });
    expect(badVariables.status).toBe(400);
    expect(JSON.parse(badVariables.body).errors[0].extensions.code).toBe('invalid_request');
  });
});
