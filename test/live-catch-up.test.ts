import { afterAll, expect, test } from 'vitest';
import { createTenant, http, useGateway } from './support/gateway.js';
import { connectWs, eventsIn, subscribeLive, type WsConnection } from './support/subscriptions.js';

// A gateway whose relay never publishes: every pub/sub message is "lost". Subscribers must still
// get every event, in order, from the log through the safety-net poll.
// Its own database: another file's relay would publish this tenant's events too.
const gateway = useGateway({ EVENT_RELAY: 'off', EVENT_POLL_MS: '100' }, { ownDatabase: true });
let ws: WsConnection | undefined;
afterAll(async () => ws?.dispose());

test('subscribers catch up from the log when pub/sub delivers nothing', async () => {
  const tenant = await createTenant(gateway.app);
  ws = connectWs(gateway.url, { authorization: `Bearer ${tenant.apiKey}` });
  const sub = await subscribeLive(ws, gateway.url, 'subscription { events { tenantSequence resourceId } }');
  const created = [];
  for (let i = 0; i < 5; i++) {
    const res = await http(gateway.url, 'POST', '/api/v1/contacts/contacts', {
      key: tenant.apiKey,
      body: { email: `poll${i}@example.com` },
    });
    created.push(res.body.contactId);
  }
  const events = eventsIn(await sub.waitFor(5, 5000));
  expect(events).toEqual(created.map((resourceId, i) => ({ tenantSequence: i + 1, resourceId })));
  const cursor = await gateway.app.services.prisma.relayCursor.findUniqueOrThrow({
    where: { tenantId: tenant.tenantId },
  });
  expect(cursor.publishedSequence).toBe(0);
});
