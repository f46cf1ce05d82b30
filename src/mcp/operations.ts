import { z } from 'zod';
import type { AuthContext, Feature } from '../auth/context.js';
import { decodeKeysetCursor } from '../core/paging.js';
import { Page } from '../http/openapi.js';
import { page, PageQuery } from '../http/pagination.js';
import type { Services } from '../services.js';
import { ImportContactsInput } from '../features/contacts/import.js';
import { ContactResource, contactResource } from '../features/contacts/resource.js';
import {
  CONTACTS_FEATURE,
  ContactInput,
  ContactSearchInput,
  CreateContactInput,
} from '../features/contacts/service.js';
import { EventEnvelope } from '../features/events/envelope.js';
import { EventsQuery } from '../features/events/rest.js';
import { eventEnvelope } from '../features/events/service.js';
import { InvoiceResource, invoiceResource } from '../features/invoices/resource.js';
import {
  CreateInvoiceInput,
  INVOICES_FEATURE,
  InvoiceSearchInput,
  type InvoiceAction,
} from '../features/invoices/service.js';
import { jobReceipt, jobResource, jobWithHint } from '../features/jobs/job.js';
import { JobReceipt, JobResource } from '../features/jobs/resource.js';
import { JobWithHint } from '../features/jobs/rest.js';
import { JobFilter } from '../features/jobs/service.js';
import { Delivery, Endpoint, EndpointWithSecret } from '../features/webhooks/rest.js';
import { CreateEndpointInput, deliveryResource, endpointResource } from '../features/webhooks/service.js';

// The domain operations an agent reaches through /mcp, one row each: the arguments are the zod
// schemas REST validates the same request with (its path, query or body schema), the answer is
// the resource schema REST documents, and the call is the service call REST's handler makes. The
// MCP tools (server.ts) are derived from this table; the rules stay in the services.

/** What a call does: reads, changes (takes an idempotencyKey), or destroys or ends something. */
export type Effect = 'read' | 'write' | 'destroy';

export type Operation<I extends z.ZodType = z.ZodType> = {
  /** The tool's name: <resource>_<action>. */
  name: string;
  title: string;
  /** What it does and when to use it, for an agent choosing a tool. */
  description: string;
  /** The tenant feature REST gates the same route with; checked before the arguments, as REST does before the body. */
  feature?: Feature;
  /** The arguments: REST's schema of the same request (path parameters and body as one object). */
  input: I;
  /** The answer: the resource schema REST documents for it. */
  output: z.ZodType;
  effect: Effect;
  run(services: Services, auth: AuthContext, input: z.output<I>): Promise<unknown>;
};

/** A row of the table, typed by its own input schema. */
const operation = <I extends z.ZodType>(spec: Operation<I>) => spec as unknown as Operation;

/** The arguments of a tool that takes one id, as REST's path parameter (the id's format is the service's check). */
const idOf = <N extends string>(name: N, prefix: string) =>
  z.strictObject({ [name]: z.string().describe(`${prefix}_ followed by a ULID`) } as Record<N, z.ZodString>);
const ContactId = idOf('contactId', 'contact');
const InvoiceId = idOf('invoiceId', 'inv');
const JobId = idOf('jobId', 'job');
const EndpointId = idOf('endpointId', 'whep');

const PAGING = 'Pages hold up to `limit` items (1–500, default 50); pass `nextCursor` back as `cursor` for the next.';
const SEARCH =
  'Filters are ANDed: [{ field, operator, value }] with operators is, is_not, contains (text), is_any_of, is_before, is_after; `sort` is [{ field, direction }]; `pageSize` 1–500 (default 50); pass `nextCursor` back as `cursor` for the next page. No filters lists everything, oldest first.';

const contacts: Operation[] = [
  operation({
    name: 'contacts_search',
    title: 'Search contacts',
    description: `Find the tenant's contacts by their fields (email, names, company, city, tag, dates…). ${SEARCH}`,
    feature: CONTACTS_FEATURE,
    input: ContactSearchInput,
    output: Page(ContactResource),
    effect: 'read',
    run: (services, auth, input) => services.contacts.search(auth, input),
  }),
  operation({
    name: 'contacts_get',
    title: 'Get a contact',
    description: 'One contact by its id (contact_…).',
    feature: CONTACTS_FEATURE,
    input: ContactId,
    output: ContactResource,
    effect: 'read',
    run: async (services, auth, { contactId }) => contactResource(await services.contacts.get(auth, contactId)),
  }),
  operation({
    name: 'contacts_create',
    title: 'Create a contact',
    description:
      'Create a contact. At least one of email, firstName, lastName, company or phone is required; email and externalId are unique per tenant (409 email_taken, external_id_taken).',
    feature: CONTACTS_FEATURE,
    input: CreateContactInput,
    output: ContactResource,
    effect: 'write',
    run: async (services, auth, input) => contactResource(await services.contacts.create(auth, input)),
  }),
  operation({
    name: 'contacts_update',
    title: 'Update a contact',
    description:
      'Change the fields given of one contact; null clears a field, absent fields stay. The contact must keep one of email, firstName, lastName, company or phone.',
    feature: CONTACTS_FEATURE,
    input: ContactInput.extend(ContactId.shape),
    output: ContactResource,
    effect: 'write',
    run: async (services, auth, { contactId, ...changes }) =>
      contactResource(await services.contacts.update(auth, contactId, changes)),
  }),
  operation({
    name: 'contacts_delete',
    title: 'Delete a contact',
    description: 'Delete one contact for good.',
    feature: CONTACTS_FEATURE,
    input: ContactId,
    output: z.strictObject({ contactId: z.string(), deleted: z.literal(true) }),
    effect: 'destroy',
    run: async (services, auth, { contactId }) => {
      await services.contacts.delete(auth, contactId);
      return { contactId, deleted: true };
    },
  }),
  operation({
    name: 'contacts_import',
    title: 'Import contacts',
    description:
      'Upsert up to 100,000 contacts (each as contacts_create takes it) in a contacts.import job: matched by externalId, then email. Answers the queued job; follow it with jobs_get until it succeeded, its result counts created, updated, unchanged and failed rows.',
    feature: CONTACTS_FEATURE,
    input: ImportContactsInput,
    output: JobReceipt,
    effect: 'write',
    run: async (services, auth, input) => jobReceipt(await services.contactImport.start(auth, input)),
  }),
];

const transition = (action: InvoiceAction, title: string, description: string, effect: Effect) =>
  operation({
    name: `invoices_${action}`,
    title,
    description: `${description} A status that does not allow it answers 422 invalid_transition.`,
    feature: INVOICES_FEATURE,
    input: InvoiceId,
    output: InvoiceResource,
    effect,
    run: async (services, auth, { invoiceId }) =>
      invoiceResource(await services.invoices.transition(auth, invoiceId, action)),
  });

const invoices: Operation[] = [
  operation({
    name: 'invoices_search',
    title: 'Search invoices',
    description: `Find the tenant's invoices by number, status, customer, dates or total. ${SEARCH}`,
    feature: INVOICES_FEATURE,
    input: InvoiceSearchInput,
    output: Page(InvoiceResource),
    effect: 'read',
    run: (services, auth, input) => services.invoices.search(auth, input),
  }),
  operation({
    name: 'invoices_get',
    title: 'Get an invoice',
    description: 'One invoice by its id (inv_…), with its lines and totals.',
    feature: INVOICES_FEATURE,
    input: InvoiceId,
    output: InvoiceResource,
    effect: 'read',
    run: async (services, auth, { invoiceId }) => invoiceResource(await services.invoices.getDetailed(auth, invoiceId)),
  }),
  operation({
    name: 'invoices_create',
    title: 'Create a draft invoice',
    description:
      'Create a draft invoice with its lines; the gateway numbers it (INV-<year>-<5 digits>, gapless) and computes line amounts and totals. Issue it with invoices_issue.',
    feature: INVOICES_FEATURE,
    input: CreateInvoiceInput,
    output: InvoiceResource,
    effect: 'write',
    run: async (services, auth, input) => invoiceResource(await services.invoices.create(auth, input)),
  }),
  transition('issue', 'Issue an invoice', 'Issue a draft invoice (draft → issued).', 'write'),
  transition('pay', 'Mark an invoice paid', 'Record the payment of an issued invoice (issued → paid).', 'write'),
  transition('void', 'Void an invoice', 'Void a draft or issued invoice (→ void, for good).', 'destroy'),
  operation({
    name: 'invoices_render_pdf',
    title: 'Render an invoice as PDF',
    description:
      'Render the invoice as a PDF in an invoices.pdf job; answers the queued job. Once jobs_get says succeeded, GET /api/v1/invoices/{invoiceId}/pdf with the same key serves the file.',
    feature: INVOICES_FEATURE,
    input: InvoiceId,
    output: JobReceipt,
    effect: 'write',
    run: async (services, auth, { invoiceId }) => jobReceipt(await services.invoicePdf.start(auth, invoiceId)),
  }),
];

const jobs: Operation[] = [
  operation({
    name: 'jobs_get',
    title: 'Get a job',
    description:
      "One job (job_…): status (queued, running, succeeded, failed, canceled), progress, and its result or error. waitingFor 'no_runner' means nothing runs its type yet.",
    input: JobId,
    output: JobWithHint,
    effect: 'read',
    run: async (services, auth, { jobId }) => {
      const [job, handled] = await Promise.all([
        services.jobs.get(auth, jobId),
        services.jobs.handledTypes(auth.tenantId),
      ]);
      return jobWithHint(job, handled);
    },
  }),
  operation({
    name: 'jobs_list',
    title: 'List jobs',
    description: `The tenant's jobs, oldest first, optionally by status and type (resourceType). ${PAGING}`,
    input: PageQuery.extend(JobFilter.shape),
    output: Page(JobWithHint),
    effect: 'read',
    run: async (services, auth, query) => {
      const rows = await services.jobs.list(auth, {
        limit: query.limit + 1,
        afterId: query.cursor && decodeKeysetCursor(query.cursor),
        status: query.status,
        resourceType: query.resourceType,
      });
      const handled = await services.jobs.handledTypes(auth.tenantId);
      return page(
        rows,
        query,
        (job) => job.id,
        (job) => jobWithHint(job, handled),
      );
    },
  }),
  operation({
    name: 'jobs_cancel',
    title: 'Cancel a job',
    description: 'Cancel a queued or running job; a finished one answers 409 job_finished.',
    input: JobId,
    output: JobResource,
    effect: 'destroy',
    run: async (services, auth, { jobId }) => jobResource(await services.jobs.cancel(auth, jobId)),
  }),
];

const events: Operation[] = [
  operation({
    name: 'events_list',
    title: 'List events',
    description: `The tenant's event log in tenantSequence order (gapless): every change as { id, type, tenantSequence, occurredAt, correlationId, data }. Pass the last event id seen as \`after\` to catch up from there; \`types\` is a comma-separated list of types or wildcards such as accounting.*. ${PAGING}`,
    input: EventsQuery,
    output: Page(EventEnvelope),
    effect: 'read',
    run: async (services, auth, query) => {
      const rows = await services.events.list(auth, {
        after: query.after ?? (query.cursor && decodeKeysetCursor(query.cursor)),
        types: query.types?.split(',').map((type) => type.trim()),
        limit: query.limit + 1,
      });
      return page(rows, query, (event) => event.id, eventEnvelope);
    },
  }),
];

const webhooks: Operation[] = [
  operation({
    name: 'webhook_endpoints_list',
    title: 'List webhook endpoints',
    description: `The tenant's webhook endpoints, oldest first. ${PAGING}`,
    input: PageQuery,
    output: Page(Endpoint),
    effect: 'read',
    run: async (services, auth, query) => {
      const rows = await services.webhooks.list(auth, {
        limit: query.limit + 1,
        afterId: query.cursor && decodeKeysetCursor(query.cursor),
      });
      return page(rows, query, (endpoint) => endpoint.id, endpointResource);
    },
  }),
  operation({
    name: 'webhook_endpoints_create',
    title: 'Create a webhook endpoint',
    description:
      'Register a public http(s) URL to receive the events whose types match eventTypes (default ["*"]), signed per Standard Webhooks. The answer holds the signing secret (whsec_…), shown only this once.',
    input: CreateEndpointInput,
    output: EndpointWithSecret,
    effect: 'write',
    run: async (services, auth, input) => {
      const { endpoint, secret } = await services.webhooks.create(auth, input);
      return { ...endpointResource(endpoint), secret };
    },
  }),
  operation({
    name: 'webhook_endpoints_test',
    title: 'Send a test webhook',
    description:
      'Send a webhooks.endpoint.test event to one endpoint (whep_…) now; answers the delivery, whose attempts show what the endpoint answered.',
    input: EndpointId,
    output: Delivery,
    effect: 'write',
    run: async (services, auth, { endpointId }) => deliveryResource(await services.webhooks.sendTest(auth, endpointId)),
  }),
];

/** Every operation /mcp offers, in the order tools/list answers them. */
export const OPERATIONS: readonly Operation[] = [...contacts, ...invoices, ...jobs, ...events, ...webhooks];
