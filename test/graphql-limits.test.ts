import { getIntrospectionQuery } from 'graphql';
import { describe, expect, test } from 'vitest';
import { createTenant, http, useGateway, type Tenant } from './support/gateway.js';
import { graphqlClient, ok, type GqlResult } from './support/graphql.js';
import { sleep } from './support/problem.js';
import { recordSql, tablesRead } from './support/sql.js';

// Default limits (development): suggestions on, introspection on, GRAPHQL_TIMEOUT 10 s.
const gw = useGateway();
// Production defaults plus introspection off and a short timeout; its own database in server mode,
// since the timeout test locks a table.
const strict = useGateway(
  { NODE_ENV: 'production', GRAPHQL_INTROSPECTION: 'off', GRAPHQL_TIMEOUT: '300ms' },
  { ownDatabase: true },
);
const gql = graphqlClient(() => gw.url);
const strictGql = graphqlClient(() => strict.url);

/**
 * A request refused before execution: one error with this code, the HTTP status, no data. Refusals
 * in parsing and validation (GraphQL Armor's limits) answer 200 like every invalid document;
 * page sizes and cost, checked before execution, 400.
 */
function refused(result: GqlResult, status: number, code: string) {
  expect(
    { status: result.status, codes: result.errors?.map((e) => e.extensions.code) },
    JSON.stringify(result.errors),
  ).toEqual({ status, codes: [code] });
  expect(result.data ?? null).toBeNull();
  expect(result.errors![0]!.extensions.correlationId).toBe(result.correlationId);
  return result.errors![0]!;
}

const aliasBomb = (count: number, pageSize = 100) =>
  `{ ${Array.from({ length: count }, (_, i) => `a${i}: events(first: ${pageSize}) { edges { node { id type snapshot } } }`).join(' ')} }`;

const rss = () => process.memoryUsage().rss;

describe('abusive documents are refused before anything runs', () => {
  test('the alias bomb (1,000 aliases of events(first: 100)) is refused at parse time; memory stays put over repeats', async () => {
    const tenant = await createTenant(gw.app);
    const bomb = aliasBomb(1000);
    // A syntax error: refused while parsing, before validation, cost or any resolver.
    const error = refused(await gql(tenant.apiKey, bomb), 200, 'invalid_request');
    expect(error.message).toBe('Syntax Error: Token limit of 5000 exceeded.');

    const before = rss();
    for (let i = 0; i < 20; i++) refused(await gql(tenant.apiKey, bomb), 200, 'invalid_request');
    expect(rss() - before).toBeLessThan(64 * 1024 * 1024);
  });

  test('aliases, depth and directives past their limits are refused in validation, naming the limit', async () => {
    const tenant = await createTenant(gw.app);
    const aliases = `{ ${Array.from({ length: 31 }, (_, i) => `v${i}: viewer { application { id } }`).join(' ')} }`;
    expect(refused(await gql(tenant.apiKey, aliases), 200, 'invalid_request').message).toMatch(
      /Aliases limit of 30 exceeded, found 31/,
    );
    const ofTypes = (n: number): string => (n === 0 ? 'name' : `ofType { ${ofTypes(n - 1)} }`);
    const deep = `{ __type(name: "Query") { fields { type { ${ofTypes(10)} } } } }`;
    expect(refused(await gql(tenant.apiKey, deep), 200, 'invalid_request').message).toMatch(
      /Query depth limit of 12 exceeded/,
    );
    const directives = `{ viewer ${'@include(if: true) '.repeat(51)} { application { id } } }`;
    expect(refused(await gql(tenant.apiKey, directives), 200, 'invalid_request').message).toMatch(
      /Directives limit of 50 exceeded/,
    );
    // Within the limits the same shapes run.
    ok(
      await gql(
        tenant.apiKey,
        `{ ${Array.from({ length: 30 }, (_, i) => `v${i}: viewer { application { id } }`).join(' ')} }`,
      ),
    );
  });

  test('a cost over GRAPHQL_MAX_COST is refused naming the cost and the limit; nested connections multiply', async () => {
    const tenant = await createTenant(gw.app);
    const nested =
      '{ webhookEndpoints(first: 100) { edges { node { deliveries(first: 100) { edges { node { id } } } } } } }';
    const error = refused(await gql(tenant.apiKey, nested), 400, 'query_too_costly');
    expect(error.message).toContain('costs 10100');
    expect(error.message).toContain('the limit is 10000');
    const wide = `{ ${Array.from({ length: 21 }, (_, i) => `e${i}: events(first: 500) { edges { cursor } }`).join(' ')} }`;
    expect(refused(await gql(tenant.apiKey, wide), 400, 'query_too_costly').message).toContain('costs 10500');
    // 99 × 100 + 99 = 9999 is within the limit.
    ok(
      await gql(
        tenant.apiKey,
        '{ webhookEndpoints(first: 99) { edges { node { deliveries(first: 100) { edges { node { id } } } } } } }',
      ),
    );
  });
});

describe('one page size rule for every connection', () => {
  const CONNECTIONS = {
    contacts: (size: string) => `{ contacts(${size}) { edges { cursor } } }`,
    invoices: (size: string) => `{ invoices(${size}) { edges { cursor } } }`,
    events: (size: string) => `{ events(${size}) { edges { cursor } } }`,
    jobs: (size: string) => `{ jobs(${size}) { edges { cursor } } }`,
    webhookEndpoints: (size: string) => `{ webhookEndpoints(${size}) { edges { cursor } } }`,
    'webhookEndpoint.deliveries': (size: string) =>
      `{ webhookEndpoint(id: "whep_01JAAAAAAAAAAAAAAAAAAAAAAA") { deliveries(${size}) { edges { cursor } } } }`,
  };

  test.each(Object.entries(CONNECTIONS))(
    '%s: first 0, -1, 501 and 1,000,000,000 are invalid_request, never clamped; 1 and 500 are fine',
    async (name, query) => {
      const tenant = await createTenant(gw.app);
      for (const size of ['first: 0', 'first: -1', 'first: 501', 'first: 1000000000']) {
        const error = refused(await gql(tenant.apiKey, query(size)), 400, 'invalid_request');
        expect(error.message).toContain(`"first" of ${name}`);
        expect(error.message).toContain('from 1 to 500');
      }
      refused(await gql(tenant.apiKey, `query($n: Int) ${query('first: $n')}`, { n: 501 }), 400, 'invalid_request');
      if (name === 'webhookEndpoint.deliveries') return; // no such endpoint: not_found once the size is fine
      for (const size of ['first: 1', 'first: 500', '']) ok(await gql(tenant.apiKey, query(size).replace('()', '')));
    },
  );

  test('last is bounded the same where a connection pages backwards', async () => {
    const tenant = await createTenant(gw.app);
    for (const connection of ['contacts', 'events']) {
      refused(await gql(tenant.apiKey, `{ ${connection}(last: 501) { edges { cursor } } }`), 400, 'invalid_request');
      ok(await gql(tenant.apiKey, `{ ${connection}(last: 500) { edges { cursor } } }`));
    }
  });

  test('events(first: 1000000000) is refused rather than answering the whole log', async () => {
    const tenant = await createTenant(gw.app);
    await http(gw.url, 'POST', '/api/v1/contacts/contacts', { key: tenant.apiKey, body: { email: 'log@example.com' } });
    refused(
      await gql(tenant.apiKey, '{ events(first: 1000000000) { edges { node { id } } } }'),
      400,
      'invalid_request',
    );
  });
});

describe('cost is charged to the rate budget and reported', () => {
  test('extensions.cost says what was asked, charged and left; the RateLimit header drops by the points charged', async () => {
    const tenant = await createTenant(gw.app);
    const remainingAfter = (res: { headers: Headers }) => Number(/r=(\d+)/.exec(res.headers.get('ratelimit')!)![1]);
    const first = await http(gw.url, 'POST', '/graphql', {
      key: tenant.apiKey,
      body: { query: '{ viewer { application { id } } }' },
    });
    expect(first.body.extensions.cost).toEqual({ requested: 1, charged: 1, remaining: remainingAfter(first) });
    const start = remainingAfter(first);

    const big = await http(gw.url, 'POST', '/graphql', {
      key: tenant.apiKey,
      body: { query: '{ contacts(first: 250) { edges { cursor } } events { edges { cursor } } }' },
    });
    expect(big.body.errors).toBeUndefined();
    // 250 + 50 = 300 → 1 + ⌊300 / 100⌋ = 4 points.
    expect(big.body.extensions.cost).toEqual({ requested: 300, charged: 4, remaining: start - 4 });
    expect(remainingAfter(big)).toBe(start - 4);
    expect(big.headers.get('ratelimit-policy')).toBe('"default";q=1000000;w=60');

    // A refused operation takes only its request's point.
    const tooCostly = `{ ${Array.from({ length: 21 }, (_, i) => `e${i}: events(first: 500) { edges { cursor } }`).join(' ')} }`;
    const refusedCost = await http(gw.url, 'POST', '/graphql', { key: tenant.apiKey, body: { query: tooCostly } });
    expect(refusedCost.body.errors[0].extensions.code).toBe('query_too_costly');
    expect(remainingAfter(refusedCost)).toBe(start - 5);
  });

  test('without a key nothing is charged, and the cost is still reported', async () => {
    const res = await http(gw.url, 'POST', '/graphql', { body: { query: '{ __typename }' } });
    expect(res.body).toEqual({
      data: { __typename: 'Query' },
      extensions: { cost: { requested: 1, charged: 0, remaining: null } },
    });
    expect(res.headers.get('ratelimit')).toBeNull();
  });
});

describe('introspection and suggestions', () => {
  test("GraphiQL's introspection query runs within the default limits, and field suggestions help in development", async () => {
    const schema = ok(
      await gql(
        undefined,
        getIntrospectionQuery({
          descriptions: true,
          specifiedByUrl: true,
          directiveIsRepeatable: true,
          inputValueDeprecation: true,
        }),
      ),
    );
    expect(schema.__schema.queryType.name).toBe('Query');
    const typo = await gql(undefined, '{ contatcs { edges { cursor } } }');
    expect(typo.errors![0]!.message).toMatch(/Did you mean "contacts"/);
  });

  test('production hides suggestions; GRAPHQL_INTROSPECTION=off refuses introspection but not __typename', async () => {
    const typo = await strictGql(undefined, '{ contatcs { edges { cursor } } }');
    expect(typo.errors![0]!.message).not.toContain('Did you mean');
    expect(typo.errors![0]!.message).toContain('Cannot query field "contatcs"');
    const introspection = refused(await strictGql(undefined, '{ __schema { __typename } }'), 200, 'invalid_request');
    expect(introspection.message).toMatch(/introspection has been disabled/);
    refused(await strictGql(undefined, '{ __type(name: "Query") { name } }'), 200, 'invalid_request');
    expect(ok(await strictGql(undefined, '{ __typename }'))).toEqual({ __typename: 'Query' });
  });
});

describe('GRAPHQL_TIMEOUT', () => {
  test('a query past the time limit answers 504 timeout, and its remaining fields never reach the database', async () => {
    const tenant: Tenant = await createTenant(strict.app);
    await http(strict.url, 'POST', '/api/v1/contacts/contacts', {
      key: tenant.apiKey,
      body: { email: 'slow@example.com' },
    });
    ok(await strictGql(tenant.apiKey, '{ viewer { application { id } } }')); // the key is looked up and cached now
    const QUERY = '{ events(first: 5) { edges { node { id data { __typename ... on Contact { email } } } } } }';

    // A transaction holding the event log locked makes the events read wait.
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => (locked = resolve));
    const holder = strict.app.services.prisma.$transaction(async (tx) => {
      await tx.$executeRawUnsafe('LOCK TABLE "Event" IN ACCESS EXCLUSIVE MODE');
      locked();
      await released;
    });
    await isLocked;
    const recorder = recordSql();
    try {
      const error = refusedTimeout(await strictGql(tenant.apiKey, QUERY));
      expect(error.message).toContain('0.3 s');
      release();
      await holder;
      // The events read that waited completes now; the data fields after it must not run.
      await sleep(300);
      expect(tablesRead(recorder.statements)).toContain('Event');
      expect(tablesRead(recorder.statements)).not.toContain('Contact');
    } finally {
      release();
      recorder.stop();
      await holder.catch(() => {});
    }
    // The next query runs normally.
    expect(ok(await strictGql(tenant.apiKey, QUERY)).events.edges[0].node.data).toEqual({
      __typename: 'Contact',
      email: 'slow@example.com',
    });
  });
});

function refusedTimeout(result: GqlResult) {
  expect(
    { status: result.status, codes: result.errors?.map((e) => e.extensions.code) },
    JSON.stringify(result.errors),
  ).toEqual({ status: 504, codes: ['timeout'] });
  expect(result.data).toBeNull();
  return result.errors![0]!;
}
