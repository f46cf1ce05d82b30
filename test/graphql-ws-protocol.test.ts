import WebSocket from 'ws';
import { describe, expect, test } from 'vitest';
import { createTenant, useGateway } from './support/gateway.js';

// The graphql-transport-ws protocol as src/graphql/websocket.ts serves it: the parts of the
// protocol that subscriptions.test.ts does not go through (it uses graphql-ws's client).

const gateway = useGateway();
const PROTOCOL = 'graphql-transport-ws';
const url = () => `${gateway.url.replace(/^http/, 'ws')}/graphql`;

/** A raw socket: its messages as they come, and its close code. */
function rawSocket(protocols: string[] = [PROTOCOL]) {
  const socket = new WebSocket(url(), protocols);
  const messages: Record<string, unknown>[] = [];
  const waiting: (() => void)[] = [];
  socket.on('message', (data) => {
    messages.push(JSON.parse(String(data)));
    waiting.splice(0).forEach((wake) => wake());
  });
  const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)));
  const opened = new Promise<void>((resolve) => socket.once('open', () => resolve()));
  return {
    socket,
    closed,
    send: async (message: object) => {
      await opened;
      socket.send(JSON.stringify(message));
    },
    /** The next message not yet taken. */
    async next(): Promise<Record<string, unknown>> {
      while (!messages.length) await new Promise<void>((wake) => waiting.push(wake));
      return messages.shift()!;
    },
  };
}

async function acknowledged(apiKey: string) {
  const raw = rawSocket();
  await raw.send({ type: 'connection_init', payload: { apiKey } });
  expect(await raw.next()).toEqual({ type: 'connection_ack' });
  return raw;
}

describe('graphql-transport-ws', () => {
  test('ping is answered with pong, with its payload when it has one', async () => {
    const tenant = await createTenant(gateway.app);
    const raw = await acknowledged(tenant.apiKey);
    await raw.send({ type: 'ping' });
    expect(await raw.next()).toEqual({ type: 'pong' });
    await raw.send({ type: 'ping', payload: { at: 1 } });
    expect(await raw.next()).toEqual({ type: 'pong', payload: { at: 1 } });
    raw.socket.close();
  });

  test('a second connection_init closes with 4429', async () => {
    const tenant = await createTenant(gateway.app);
    const raw = await acknowledged(tenant.apiKey);
    await raw.send({ type: 'connection_init', payload: { apiKey: tenant.apiKey } });
    expect(await raw.closed).toBe(4429);
  });

  test('no connection_init within 3 seconds closes with 4408', async () => {
    const raw = rawSocket();
    expect(await raw.closed).toBe(4408);
  });

  test('a socket without the graphql-transport-ws subprotocol closes with 4406', async () => {
    expect(await rawSocket([]).closed).toBe(4406);
  });

  test('a message the server does not take (next, from the client) closes with 4400', async () => {
    const tenant = await createTenant(gateway.app);
    const raw = await acknowledged(tenant.apiKey);
    await raw.send({ id: '1', type: 'next', payload: { data: {} } });
    expect(await raw.closed).toBe(4400);
  });

  test('a query gets next then complete; a refused operation gets error without complete', async () => {
    const tenant = await createTenant(gateway.app);
    const raw = await acknowledged(tenant.apiKey);
    await raw.send({ id: 'q', type: 'subscribe', payload: { query: '{ viewer { tenant { id } } }' } });
    expect(await raw.next()).toMatchObject({
      id: 'q',
      type: 'next',
      payload: { data: { viewer: { tenant: { id: tenant.tenantId } } } },
    });
    expect(await raw.next()).toEqual({ id: 'q', type: 'complete' });
    await raw.send({ id: 'bad', type: 'subscribe', payload: { query: '{ nope }' } });
    const refused = await raw.next();
    expect(refused).toMatchObject({ id: 'bad', type: 'error', payload: [{ message: expect.any(String) }] });
    // The id is free again: the same id subscribes anew instead of closing with 4409.
    await raw.send({ id: 'bad', type: 'subscribe', payload: { query: '{ viewer { tenant { id } } }' } });
    expect(await raw.next()).toMatchObject({ id: 'bad', type: 'next' });
    expect(await raw.next()).toEqual({ id: 'bad', type: 'complete' });
    raw.socket.close();
  });
});
