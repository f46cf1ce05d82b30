import { Agent, fetch as undiciFetch } from 'undici';
import WebSocket from 'ws';
import { afterAll, describe, expect, test } from 'vitest';
import { createTenant, http, useGateway, type HttpResult } from './support/gateway.js';
import { expectGraphQLRequestError, expectProblem } from './support/problem.js';
import { connectWs, type WsConnection } from './support/subscriptions.js';

const gw = useGateway({ RUNNER_RATE_LIMIT_PER_MINUTE: '3', WS_MAX_CONNECTIONS_PER_APP: '2' });
// Failures per address are counted in Redis by every gateway at once, and other suites fail keys
// from 127.0.0.1 on purpose: this gateway's small budget is only ever asked from addresses of its own.
const strict = useGateway({ AUTH_FAILURES_PER_MINUTE: '3' });
const connections: WsConnection[] = [];
const agents: Agent[] = [];
afterAll(async () => {
  await Promise.all(connections.map((c) => c.dispose()));
  await Promise.all(agents.map((a) => a.close()));
});

const BAD_KEY = `nilo_ak_${'x'.repeat(43)}`;

/**
 * A client on a loopback address of its own (127.x.y.z), so its failed authentications count
 * against an address no other suite uses, also in Redis, which every gateway shares.
 */
function clientAddress() {
  const octet = () => 1 + Math.floor(Math.random() * 254);
  const address = `127.${octet()}.${octet()}.${octet()}`;
  const agent = new Agent({ localAddress: address });
  agents.push(agent);
  return {
    address,
    async http(method: string, path: string, options: { key?: string; body?: unknown } = {}): Promise<HttpResult> {
      const headers: Record<string, string> = options.key ? { authorization: `Bearer ${options.key}` } : {};
      if (options.body !== undefined) headers['content-type'] = 'application/json';
      const res = await undiciFetch(strict.url + path, {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        dispatcher: agent,
      });
      const text = await res.text();
      return {
        status: res.status,
        headers: res.headers as unknown as Headers,
        body: text ? JSON.parse(text) : undefined,
        text,
      };
    },
    /** A websocket from this address, as graphql-ws clients open it. */
    WebSocket: class extends WebSocket {
      constructor(url: string | URL | null, protocols?: string | string[]) {
        super(url as string | URL, protocols, { localAddress: address });
      }
    },
  };
}

/** The answer to a websocket handshake: the upgrade, or the HTTP refusal with its body. */
function handshake(client: ReturnType<typeof clientAddress>) {
  return new Promise<
    { upgraded: true } | { upgraded: false; status: number; headers: Record<string, unknown>; body: any }
  >((resolve, reject) => {
    const socket = new client.WebSocket(`${strict.url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
    socket.on('open', () => {
      socket.close();
      resolve({ upgraded: true });
    });
    socket.on('unexpected-response', (_request, response) => {
      let text = '';
      response.on('data', (chunk: Buffer) => (text += chunk));
      response.on('end', () =>
        resolve({ upgraded: false, status: response.statusCode!, headers: response.headers, body: JSON.parse(text) }),
      );
    });
    socket.on('error', reject);
  });
}

function connect(params: Record<string, unknown>, webSocketImpl?: unknown, url = gw.url) {
  const connection = connectWs(url, params, webSocketImpl);
  connections.push(connection);
  return connection;
}

describe('failed authentication is limited per client address', () => {
  test('after AUTH_FAILURES_PER_MINUTE failures an address is refused 429 on REST, /graphql and the websocket handshake; others are not', async () => {
    const tenant = await createTenant(strict.app);
    const client = clientAddress();
    for (let i = 0; i < 3; i++)
      expectProblem(await client.http('GET', '/api/v1/hello', { key: BAD_KEY }), 401, 'unauthorized');

    const refused = await client.http('GET', '/api/v1/hello', { key: BAD_KEY });
    expectProblem(refused, 429, 'rate_limited', {
      detail: expect.stringMatching(/failed authentications from this address/) as unknown as string,
    });
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(refused.headers.get('ratelimit-policy')).toBe('"auth-failures";q=3;w=60');
    // The address is refused before any key is looked up, a good one included.
    expectProblem(await client.http('GET', '/api/v1/hello', { key: tenant.apiKey }), 429, 'rate_limited');
    expectGraphQLRequestError(
      await client.http('POST', '/graphql', { key: tenant.apiKey, body: { query: '{ __typename }' } }),
      429,
      'rate_limited',
    );
    const ws = await handshake(client);
    expect(ws).toMatchObject({
      upgraded: false,
      status: 429,
      headers: { 'retry-after': expect.stringMatching(/^\d+$/) },
      body: { status: 429, code: 'rate_limited' },
    });

    // Another address is not affected.
    expect((await clientAddress().http('GET', '/api/v1/hello', { key: tenant.apiKey })).status).toBe(200);
    expect(await handshake(clientAddress())).toEqual({ upgraded: true });
  });

  test('keys /graphql and the websocket refuse count as failures too', async () => {
    const client = clientAddress();
    const gql = await client.http('POST', '/graphql', {
      key: BAD_KEY,
      body: { query: '{ viewer { application { id } } }' },
    });
    expect(gql.body.errors[0].extensions.code).toBe('unauthorized');
    for (let i = 0; i < 2; i++) {
      const closed = await connect({ authorization: `Bearer ${BAD_KEY}` }, client.WebSocket, strict.url).closed;
      expect(closed.code).toBe(4403);
    }
    expect(await handshake(client)).toMatchObject({ upgraded: false, status: 429 });
  });
});

describe('the runner protocol has a budget per runner', () => {
  test('RateLimit headers count down per runner; past RUNNER_RATE_LIMIT_PER_MINUTE → 429 with Retry-After; another runner is not affected', async () => {
    const tenant = await createTenant(gw.app);
    const runner = await gw.app.services.runners.createRunner(tenant.tenantId, 'Busy runner');
    const other = await gw.app.services.runners.createRunner(tenant.tenantId, 'Quiet runner');
    const call = (key: string) =>
      http(gw.url, 'POST', '/api/v1/runner/register', { key, body: { resourceTypes: ['demo.echo'] } });
    for (let left = 2; left >= 0; left--) {
      const res = await call(runner.runnerKey);
      expect(res.status).toBe(200);
      expect(res.headers.get('ratelimit-policy')).toBe('"runner";q=3;w=60');
      expect(res.headers.get('ratelimit')).toMatch(new RegExp(`^"runner";r=${left};t=\\d+$`));
    }
    const refused = await call(runner.runnerKey);
    expectProblem(refused, 429, 'rate_limited', {
      detail: expect.stringMatching(/runner's rate limit/) as unknown as string,
    });
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(refused.headers.get('ratelimit')).toBe(`"runner";r=0;t=${refused.headers.get('retry-after')}`);
    // Refused before it ran: the other runner registers, the busy one's registration is as it was.
    expect((await call(other.runnerKey)).status).toBe(200);
  });
});

describe('websocket connections per application', () => {
  test('past WS_MAX_CONNECTIONS_PER_APP the next connection closes with 4429; a closed one frees its place', async () => {
    const tenant = await createTenant(gw.app);
    const params = { authorization: `Bearer ${tenant.apiKey}` };
    const viewer = async (connection: WsConnection) => {
      const subscription = connection.subscribe('{ viewer { application { id } } }');
      await subscription.done;
      return subscription.results[0]!.data.viewer.application.id;
    };
    const first = connect(params);
    const second = connect(params);
    expect(await viewer(first)).toBe(tenant.applicationId);
    expect(await viewer(second)).toBe(tenant.applicationId);
    expect(await connect(params).closed).toEqual({ code: 4429, reason: 'Too many connections for this application' });
    // Another application has its own count.
    const other = await createTenant(gw.app);
    expect(await viewer(connect({ authorization: `Bearer ${other.apiKey}` }))).toBe(other.applicationId);

    // The server counts the socket out when it sees it close, a moment after the client does.
    await first.dispose();
    await first.closed;
    const accepted = async () => {
      const connection = connect(params);
      return Promise.race([viewer(connection).catch(() => null), connection.closed.then(() => null)]);
    };
    let applicationId = await accepted();
    for (let tries = 0; applicationId === null && tries < 50; tries++) applicationId = await accepted();
    expect(applicationId).toBe(tenant.applicationId);
  });
});
