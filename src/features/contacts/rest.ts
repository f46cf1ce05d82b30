import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { requireFeature } from '../../auth/context.js';
import { CONTACTS_FEATURE, ContactInput, ContactSearchInput, CreateContactInput } from './service.js';
import { ContactResource, contactResource } from './resource.js';
import { ImportContactsInput } from './import.js';
import type { Services } from '../../services.js';
import { accepted } from '../jobs/rest.js';
import { JobReceipt } from '../jobs/resource.js';
import { operation, Page } from '../../http/openapi.js';
import { page, pageArgs, PageQuery } from '../../http/pagination.js';

const ContactParams = z.object({ contactId: z.string().describe('contact_ followed by a ULID') });
const tags = ['contacts'];

/** The contact as contactResource builds it. */
export const Contact = ContactResource.meta({ id: 'Contact' });

const IDENTIFYING = ['email', 'firstName', 'lastName', 'company', 'phone'];
const NEW_CONTACT_EXAMPLE = {
  firstName: 'Jane',
  lastName: 'Doe',
  email: 'jane@acme.com',
  phone: '+1-555-1234',
  company: 'Acme Inc',
  streetAddress: '123 Commerce Blvd, Suite 200',
  city: 'Portland',
  state: 'OR',
  postalCode: '97201',
  country: 'US',
  tag: 'lead',
  preferredLanguage: 'en-US',
  formality: 'informal',
  preferredTone: 'friendly',
  salutation: 'Hi',
  addressingNotes: 'Prefers first name',
  note: 'Met at trade show',
};
/** The document says what the refinement enforces: one identifying field that is not blank. */
const NewContact = CreateContactInput.meta({
  anyOf: IDENTIFYING.map((field) => ({
    required: [field],
    properties: { [field]: { type: 'string', pattern: '\\S' } },
  })),
  // Moved onto the media type by @fastify/swagger (zod drops `examples` from input schemas that transform).
  'x-examples': { nilo: { summary: "The Nilo headless API's example", value: NEW_CONTACT_EXAMPLE } },
});

export const contactRoutes =
  (services: Services): FastifyPluginAsyncZod =>
  async (app) => {
    // The gate answers before the body is even read (onRequest, after auth): a disabled feature is 403 whatever was sent.
    app.addHook('onRequest', async (request) => requireFeature(request.auth!, CONTACTS_FEATURE));

    app.post(
      '/contacts/contacts',
      {
        schema: {
          ...operation({
            operationId: 'createContact',
            summary: 'Create a contact',
            tags,
            ok: { 201: Contact },
            errors: [403, 409],
            sideEffects: true,
            body: true,
          }),
          body: NewContact,
        },
      },
      async (request, reply) => {
        const contact = contactResource(await services.contacts.create(request.auth!, request.body));
        return reply.code(201).header('location', `/api/v1/contacts/contacts/${contact.contactId}`).send(contact);
      },
    );

    app.get(
      '/contacts/contacts',
      {
        schema: {
          ...operation({
            operationId: 'listContacts',
            summary: 'List contacts, oldest first',
            tags,
            ok: { 200: Page(Contact) },
            errors: [403],
          }),
          querystring: PageQuery,
        },
      },
      async (request) => {
        const rows = await services.contacts.findMany(request.auth!, pageArgs(request.query));
        return page(rows, request.query, (c) => c.id, contactResource);
      },
    );

    app.post(
      '/contacts/contacts/import',
      {
        // Up to 100,000 contacts in one body.
        bodyLimit: 64 * 1024 * 1024,
        schema: {
          ...operation({
            operationId: 'importContacts',
            summary: 'Upsert many contacts as a job (202): by externalId, then email',
            tags,
            ok: { 202: JobReceipt },
            errors: [403],
            sideEffects: true,
            body: true,
          }),
          body: ImportContactsInput,
        },
      },
      async (request, reply) => accepted(reply, await services.contactImport.start(request.auth!, request.body)),
    );

    // A read: no Idempotency-Key needed (the hook only acts when the header is sent).
    app.post(
      '/contacts/contacts/search',
      {
        schema: {
          ...operation({
            operationId: 'searchContacts',
            summary: 'Filter and sort contacts',
            tags,
            ok: { 200: Page(Contact) },
            errors: [403],
            body: true,
          }),
          body: ContactSearchInput,
        },
      },
      async (request) => services.contacts.search(request.auth!, request.body),
    );

    app.get(
      '/contacts/contacts/:contactId',
      {
        schema: {
          ...operation({
            operationId: 'getContact',
            summary: 'Get a contact',
            tags,
            ok: { 200: Contact },
            errors: [403, 404],
          }),
          params: ContactParams,
        },
      },
      async (request) => contactResource(await services.contacts.get(request.auth!, request.params.contactId)),
    );

    app.patch(
      '/contacts/contacts/:contactId',
      {
        schema: {
          ...operation({
            operationId: 'updateContact',
            summary: 'Change the fields sent; null clears one',
            tags,
            ok: { 200: Contact },
            errors: [403, 404, 409],
            sideEffects: true,
            body: true,
          }),
          params: ContactParams,
          body: ContactInput,
        },
      },
      async (request) =>
        contactResource(await services.contacts.update(request.auth!, request.params.contactId, request.body)),
    );

    app.delete(
      '/contacts/contacts/:contactId',
      {
        schema: {
          ...operation({
            operationId: 'deleteContact',
            summary: 'Delete a contact',
            tags,
            ok: { 204: null },
            errors: [403, 404],
            sideEffects: true,
          }),
          params: ContactParams,
        },
      },
      async (request, reply) => {
        await services.contacts.delete(request.auth!, request.params.contactId);
        return reply.code(204).send();
      },
    );
  };
