import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { requireFeature } from '../auth/context.js';
import { CONTACTS_FEATURE, ContactInput, ContactSearchInput, CreateContactInput, contactResource } from '../domain/contacts.js';
import { ImportContactsInput } from '../domain/contacts-import.js';
import type { Services } from '../domain/index.js';
import { accepted } from './jobs.js';
import { page, pageArgs, PageQuery } from './pagination.js';

const ContactParams = z.object({ contactId: z.string() });

export const contactRoutes =
  (services: Services): FastifyPluginAsyncZod =>
  async (app) => {
    // The gate answers before the body is even read (onRequest, after auth): a disabled feature is 403 whatever was sent.
    app.addHook('onRequest', async (request) => requireFeature(request.auth!, CONTACTS_FEATURE));

    app.post('/contacts/contacts', { schema: { tags: ['contacts'], body: CreateContactInput } }, async (request, reply) => {
      const contact = await services.contacts.create(request.auth!, request.body);
      return reply.code(201).send(contactResource(contact));
    });

    app.get('/contacts/contacts', { schema: { tags: ['contacts'], querystring: PageQuery } }, async (request) => {
      const rows = await services.contacts.findMany(request.auth!, pageArgs(request.query));
      return page(rows, request.query, (c) => c.id, contactResource);
    });

    app.post(
      '/contacts/contacts/import',
      {
        // Up to 100,000 contacts in one body.
        bodyLimit: 64 * 1024 * 1024,
        schema: { tags: ['contacts'], summary: 'Upsert many contacts as a job (202): by externalId, then email', body: ImportContactsInput },
      },
      async (request, reply) => accepted(reply, await services.contactImport.start(request.auth!, request.body)),
    );

    // A read: no Idempotency-Key needed (the hook only acts when the header is sent).
    app.post('/contacts/contacts/search', { schema: { tags: ['contacts'], body: ContactSearchInput } }, async (request) => {
      return services.contacts.search(request.auth!, request.body);
    });

    app.get('/contacts/contacts/:contactId', { schema: { tags: ['contacts'], params: ContactParams } }, async (request) => {
      return contactResource(await services.contacts.get(request.auth!, request.params.contactId));
    });

    app.patch(
      '/contacts/contacts/:contactId',
      { schema: { tags: ['contacts'], params: ContactParams, body: ContactInput } },
      async (request) => contactResource(await services.contacts.update(request.auth!, request.params.contactId, request.body)),
    );

    app.delete('/contacts/contacts/:contactId', { schema: { tags: ['contacts'], params: ContactParams } }, async (request, reply) => {
      await services.contacts.delete(request.auth!, request.params.contactId);
      return reply.code(204).send();
    });
  };
