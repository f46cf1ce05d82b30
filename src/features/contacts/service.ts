import { z } from 'zod';
import { Prisma, type Contact, type PrismaClient } from '../../generated/prisma/client.js';
import { requireFeature, type AuthContext } from '../../auth/context.js';
import { ConflictError, NotFoundError, ValidationError } from '../../core/errors.js';
import { batchWithEvents, recordEvent, writeWithEvents } from '../events/service.js';
import type { Query } from '../../db/database.js';
import { groupCommitByKey } from '../../core/passes.js';
import { newId } from '../../core/ids.js';
import { ownedOrNotFound, type OwnedResource } from '../../core/owned.js';
import { isRecordNotFound, isUniqueViolation, uniqueViolationFields } from '../../db/prisma-errors.js';
import { searchArgs, searchBodySchema, searchPage, type SearchField } from '../../core/search.js';
import { JsonObject, optionalText, parseInput } from '../../core/validation.js';
import { contactResource } from './resource.js';
import { CONTACT_COLUMNS, CONTACT_TIMESTAMPS, firstContacts, insertContacts } from './sql.js';

// contacts/graphql.ts reads these two here.

const contactFields = {
  email: z
    .string()
    .trim()
    .max(254)
    .pipe(z.email({ message: 'must be a valid email address' }))
    .meta({ format: 'email' })
    .nullable()
    .optional(),
  firstName: optionalText(200),
  lastName: optionalText(200),
  phone: optionalText(50),
  company: optionalText(200),
  streetAddress: optionalText(500),
  city: optionalText(200),
  state: optionalText(200),
  postalCode: optionalText(50),
  country: optionalText(100),
  tag: optionalText(100),
  preferredLanguage: z
    .string()
    .trim()
    .regex(/^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$/, 'must be a language tag such as en-US or es-419')
    .max(35)
    .transform((tag) => tag.toLowerCase())
    .nullable()
    .optional(),
  formality: optionalText(100),
  preferredTone: optionalText(100),
  salutation: optionalText(100),
  addressingNotes: optionalText(2000),
  note: optionalText(10_000),
  customData: JsonObject.nullable().optional(),
  externalId: optionalText(200),
};

export const CONTACTS_FEATURE = 'communication';

export const ContactInput = z.strictObject(contactFields);
export type ContactInput = z.input<typeof ContactInput>;

/** A contact must stay identifiable: created with, and never patched down to, none of these. */
const IDENTIFYING_FIELDS = ['email', 'firstName', 'lastName', 'company', 'phone'] as const;
const NOT_IDENTIFIABLE = `at least one of ${IDENTIFYING_FIELDS.join(', ')} is required`;
const identifiable = (c: Partial<Record<(typeof IDENTIFYING_FIELDS)[number], string | null>>) =>
  IDENTIFYING_FIELDS.some((field) => Boolean(c[field]));

export const CreateContactInput = ContactInput.refine(identifiable, { message: NOT_IDENTIFIABLE });

/** The text fields search filters and sorts by: each the nullable column of its name, as the resource answers it. */
const SEARCHABLE_TEXT = [
  'email',
  'firstName',
  'lastName',
  'company',
  'city',
  'state',
  'country',
  'tag',
  'preferredLanguage',
] as const satisfies readonly (keyof Contact)[];

/** The fields POST /contacts/contacts/search filters and sorts by (REST names → columns). */
export const CONTACT_SEARCH_FIELDS: Record<string, SearchField> = {
  ...Object.fromEntries(SEARCHABLE_TEXT.map((column) => [column, { column, kind: 'text', nullable: true }])),
  createdAt: { column: 'createdAt', kind: 'datetime' },
  updatedAt: { column: 'updatedAt', kind: 'datetime' },
};

export const ContactSearchInput = searchBodySchema(CONTACT_SEARCH_FIELDS);

type FindManyArgs = Omit<Prisma.ContactFindManyArgs, 'where'> & { where?: Prisma.ContactWhereInput };

const CONTACT: OwnedResource = { name: 'Contact', prefix: 'contact' };

type PendingCreate = { contact: Contact; correlationId: string };

/** `query` runs the batched creates on the driver: Prisma would re-serialize their JSON parameters. */
export function contactService(prisma: PrismaClient, query: Query) {
  /**
   * Creates of one tenant that arrive while its previous batch is being written go into the next
   * batch: one statement (and one lock of the tenant's counter row, one commit) for many. A row
   * whose email or externalId is taken is skipped there and answers null; the others answer the
   * row as built, which is the row as stored (newContact).
   */
  const creates = groupCommitByKey<PendingCreate, Contact | null>(async (tenantId, batch) => {
    const events = batch.map(({ contact, correlationId }) => ({
      writer: { correlationId },
      event: changeEvent('communication.contact.created', contact),
    }));
    const contacts = batch.map((pending) => pending.contact);
    const written = await query<Pick<Contact, 'id'>>(
      batchWithEvents(tenantId, insertContacts(contacts, { skipTaken: true }), events),
    );
    const ids = new Set(written.map((row) => row.id));
    return contacts.map((contact) => (ids.has(contact.id) ? contact : null));
  });

  const findOwned = (db: Prisma.TransactionClient, auth: AuthContext, id: string): Promise<Contact> =>
    ownedOrNotFound(CONTACT, auth, id, (where) => db.contact.findFirst({ where }));

  return {
    get<A extends Omit<Prisma.ContactFindFirstArgs, 'where'>>(auth: AuthContext, id: string, args?: A) {
      requireFeature(auth, CONTACTS_FEATURE);
      return ownedOrNotFound(CONTACT, auth, id, (where) => prisma.contact.findFirst({ ...args, where }));
    },

    /** Tenant-scoped list; callers pass paging (and Pothos's selection) as Prisma arguments. */
    findMany(auth: AuthContext, args: FindManyArgs = {}) {
      requireFeature(auth, CONTACTS_FEATURE);
      return prisma.contact.findMany({ ...args, where: { ...args.where, tenantId: auth.tenantId } });
    },

    /**
     * The first `take` contacts of the tenant by id with only `columns` (the others are absent),
     * read on the driver in one statement: for GraphQL's pages of columns, whose rows Prisma's
     * findMany mapped value by value (bench/README.md, graphql.contacts.list).
     */
    async firstPage(auth: AuthContext, columns: readonly string[], take: number): Promise<Contact[]> {
      requireFeature(auth, CONTACTS_FEATURE);
      const page = await query<Record<string, unknown>>(firstContacts(auth.tenantId, columns, take));
      const timestamps = CONTACT_TIMESTAMPS.filter((column) => columns.includes(column));
      for (const row of page) for (const column of timestamps) row[column] = new Date(row[column] as string);
      return page as Contact[];
    },

    /** POST /contacts/contacts/search: filters, sort and an opaque cursor; `{ items, nextCursor, count }`. */
    async search(auth: AuthContext, input: unknown) {
      requireFeature(auth, CONTACTS_FEATURE);
      const body = parseInput(ContactSearchInput, input);
      const args = searchArgs('contact', CONTACT_SEARCH_FIELDS, body);
      const rows = await this.findMany(auth, {
        ...args,
        where: args.where as Prisma.ContactWhereInput,
        orderBy: args.orderBy as Prisma.ContactOrderByWithRelationInput[],
      });
      return searchPage('contact', body, rows, contactResource);
    },

    async create(auth: AuthContext, input: unknown): Promise<Contact> {
      requireFeature(auth, CONTACTS_FEATURE);
      const contact = newContact(auth.tenantId, parseInput(CreateContactInput, input), new Date());
      // One statement with the other creates of the moment, no transaction: the event's data is the row as it will be stored.
      const created = await creates.add(auth.tenantId, { contact, correlationId: auth.correlationId });
      if (created) return created;
      // Skipped: alone, the insert fails on the field that is taken (or succeeds, if it was
      // another row of the same batch that took it and has since gone).
      const event = changeEvent('communication.contact.created', contact);
      await writeWithEvents(prisma, auth, insertContacts([contact]), [event]).catch(rethrowDuplicate);
      return contact;
    },

    async update(auth: AuthContext, id: string, input: unknown): Promise<Contact> {
      requireFeature(auth, CONTACTS_FEATURE);
      const data = parseInput(ContactInput, input);
      const write = async (tx: Prisma.TransactionClient) => {
        const existing = await findOwned(tx, auth, id);
        if (!identifiable({ ...existing, ...data }))
          throw new ValidationError([{ path: '', message: NOT_IDENTIFIABLE }]);
        const contact = await tx.contact.update({ where: { id }, data: toColumns(data) }).catch(goneAsNotFound(id));
        await recordEvent(tx, auth, changeEvent('communication.contact.updated', contact));
        return contact;
      };
      return prisma.$transaction(write).catch(rethrowDuplicate);
    },

    async delete(auth: AuthContext, id: string): Promise<Contact> {
      requireFeature(auth, CONTACTS_FEATURE);
      return prisma.$transaction(async (tx) => {
        await findOwned(tx, auth, id);
        // The deleted row as it was at deletion, not as findOwned saw it before a concurrent update.
        const contact = await tx.contact.delete({ where: { id } }).catch(goneAsNotFound(id));
        await recordEvent(tx, auth, changeEvent('communication.contact.deleted', contact));
        return contact;
      });
    },
  };
}

/** Which unique field a write collided on, as the 409 the client gets. */
export function duplicateContact(error: unknown): ConflictError {
  if (uniqueViolationFields(error).some((field) => field.includes('externalId'))) {
    return new ConflictError('external_id_taken', 'Another contact of this tenant already has this externalId.', [
      { path: 'externalId', message: 'is already used by another contact' },
    ]);
  }
  return new ConflictError('email_taken', 'Another contact of this tenant already has this email address.', [
    { path: 'email', message: 'is already used by another contact' },
  ]);
}

function rethrowDuplicate(error: unknown): never {
  throw isUniqueViolation(error) ? duplicateContact(error) : error;
}

/** A concurrent delete removed the row between findOwned and the write: the same 404 as before it. */
function goneAsNotFound(id: string) {
  return (error: unknown): never => {
    if (isRecordNotFound(error)) throw new NotFoundError(CONTACT.name, id);
    throw error;
  };
}

export type ParsedContact = z.output<typeof ContactInput>;

/** The columns parsed input sets: absent fields are left out, null clears. */
export function contactColumns(data: ParsedContact): Partial<Contact> {
  const columns: Partial<Contact> = Object.fromEntries(Object.entries(data).filter(([, value]) => value !== undefined));
  if (data.email !== undefined) columns.emailNormalized = data.email?.toLowerCase() ?? null;
  return columns;
}

/** The same columns as Prisma update input (a JSON column is cleared with DbNull, not null). */
export function toColumns(
  data: ParsedContact,
): Prisma.ContactUncheckedUpdateInput & Prisma.ContactUncheckedCreateInput {
  const { customData, ...columns } = contactColumns(data);
  return {
    ...columns,
    ...(customData !== undefined && {
      customData: customData === null ? Prisma.DbNull : (customData as Prisma.InputJsonObject),
    }),
  } as Prisma.ContactUncheckedUpdateInput & Prisma.ContactUncheckedCreateInput;
}

const EMPTY_CONTACT = Object.fromEntries(CONTACT_COLUMNS.map((column) => [column, null])) as unknown as Contact;

/** A new contact's whole row, as it will read back once inserted (insertContacts). */
export function newContact(tenantId: string, data: ParsedContact, now: Date): Contact {
  return { ...EMPTY_CONTACT, ...contactColumns(data), id: newId('contact'), tenantId, createdAt: now, updatedAt: now };
}

export function changeEvent(
  type: 'communication.contact.created' | 'communication.contact.updated' | 'communication.contact.deleted',
  contact: Contact,
) {
  return { type, resourceType: 'contact' as const, resourceId: contact.id, data: contactResource(contact) };
}
