import { describe, expect, test } from 'vitest';
import { contactResource } from '../../src/features/contacts/resource.js';
import { newCaller, useServices } from '../support/domain.js';
import { eventsOf } from '../support/gateway.js';

// Contacts through the contact service: each write leaves exactly one event in the tenant's
// gapless sequence, carrying the resource as REST answers it; rules hold without HTTP.

const ctx = useServices();

describe('contact service', () => {
  test('create, update and delete each record one event with the resource', async () => {
    const { contacts } = ctx.services;
    const auth = await newCaller(ctx.services);

    const created = await contacts.create(auth, { firstName: 'Ada', lastName: 'Lovelace', email: 'Ada@Example.com' });
    expect(created).toMatchObject({
      tenantId: auth.tenantId,
      email: 'Ada@Example.com',
      emailNormalized: 'ada@example.com',
    });
    const updated = await contacts.update(auth, created.id, { city: 'London', lastName: null });
    expect(updated).toMatchObject({ city: 'London', lastName: null, firstName: 'Ada' });
    const deleted = await contacts.delete(auth, created.id);

    const events = await eventsOf(ctx, auth.tenantId);
    expect(events.map((e) => [e.tenantSequence, e.type, e.resourceId])).toEqual([
      [1, 'communication.contact.created', created.id],
      [2, 'communication.contact.updated', created.id],
      [3, 'communication.contact.deleted', created.id],
    ]);
    expect(events.map((e) => e.data)).toEqual(
      [created, updated, deleted].map((c) => JSON.parse(JSON.stringify(contactResource(c)))),
    );
    expect(events.every((e) => e.correlationId === auth.correlationId && e.resourceType === 'contact')).toBe(true);
    await expect(contacts.get(auth, created.id)).rejects.toMatchObject({ code: 'not_found' });
  });

  test('another tenant neither sees nor changes the contact, and records nothing', async () => {
    const { contacts } = ctx.services;
    const [owner, other] = await Promise.all([newCaller(ctx.services), newCaller(ctx.services)]);
    const contact = await contacts.create(owner, { email: 'owned@example.com' });

    await expect(contacts.get(other, contact.id)).rejects.toMatchObject({ code: 'not_found' });
    await expect(contacts.update(other, contact.id, { city: 'Elsewhere' })).rejects.toMatchObject({
      code: 'not_found',
    });
    await expect(contacts.delete(other, contact.id)).rejects.toMatchObject({ code: 'not_found' });
    expect(await eventsOf(ctx, other.tenantId)).toEqual([]);
    expect(await contacts.get(owner, contact.id)).toMatchObject({ city: null });
  });

  test('a duplicate email is a conflict and records no event', async () => {
    const { contacts } = ctx.services;
    const auth = await newCaller(ctx.services);
    await contacts.create(auth, { email: 'twice@example.com' });
    await expect(contacts.create(auth, { email: 'TWICE@example.com' })).rejects.toMatchObject({ code: 'email_taken' });
    expect(await eventsOf(ctx, auth.tenantId)).toHaveLength(1);
  });

  test('a tenant without the communication feature is refused', async () => {
    const auth = await newCaller(ctx.services, ['accounting']);
    await expect(ctx.services.contacts.create(auth, { email: 'x@example.com' })).rejects.toMatchObject({
      code: 'feature_not_enabled',
    });
  });

  test('creates at the same moment share statements: each answers for itself, events stay gapless per tenant', async () => {
    const { contacts } = ctx.services;
    const [a, b] = await Promise.all([newCaller(ctx.services), newCaller(ctx.services)]);
    const a2 = { ...a, correlationId: `${a.correlationId}-second` };
    await contacts.create(a, { email: 'taken@example.com', externalId: 'ext-taken' });
    // Added in one tick: the first of each tenant is written alone, the rest batch behind it.
    const inputs = [
      ...Array.from({ length: 10 }, (_, i) => [i % 2 ? a2 : a, { email: `a${i}@example.com` }] as const),
      [a, { email: 'TAKEN@example.com' }] as const, // taken before
      [a2, { firstName: 'Ext', externalId: 'ext-taken' }] as const, // taken before
      [a, { email: 'same@example.com', firstName: 'First' }] as const, // same batch: the first wins
      [a2, { email: 'Same@example.com', firstName: 'Second' }] as const,
      ...Array.from({ length: 5 }, (_, i) => [b, { email: `b${i}@example.com` }] as const),
    ];
    const results = await Promise.allSettled(inputs.map(([auth, input]) => contacts.create(auth, input)));

    const codes = results.map((r) => (r.status === 'fulfilled' ? 'created' : (r.reason as { code: string }).code));
    expect(codes).toEqual([
      ...Array(10).fill('created'),
      'email_taken',
      'external_id_taken',
      'created',
      'email_taken',
      ...Array(5).fill('created'),
    ]);
    for (const [tenant, count] of [
      [a, 12],
      [b, 5],
    ] as const) {
      const events = await eventsOf(ctx, tenant.tenantId);
      expect(events.map((e) => e.tenantSequence)).toEqual(Array.from({ length: count }, (_, i) => i + 1));
      const created = results.flatMap((r, i) =>
        r.status === 'fulfilled' && r.value.tenantId === tenant.tenantId ? [[r.value, inputs[i]![0]] as const] : [],
      );
      // One event per created contact, carrying its row and its caller's correlation id.
      const byResource = new Map(events.map((e) => [e.resourceId, e]));
      for (const [contact, caller] of created) {
        expect(byResource.get(contact.id)).toMatchObject({
          type: 'communication.contact.created',
          correlationId: caller.correlationId,
          data: JSON.parse(JSON.stringify(contactResource(contact))),
        });
      }
      expect(byResource.size).toBe(tenant === a ? created.length + 1 : created.length);
    }
  });
});
