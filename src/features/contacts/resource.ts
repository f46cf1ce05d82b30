import { z } from 'zod';
import type { Contact, Prisma } from '../../generated/prisma/client.js';

// The contact as REST answers it, webhooks carry it and events store it in `data`: the schema (the
// event-type catalog's JSON Schema, REST's `Contact` component) and the mapping from the row. Strict:
// a field the mapping adds and the schema does not list fails the tests.

const text = z.string().nullable();

export const ContactResource = z.strictObject({
  contactId: z.string().describe('contact_ followed by a ULID'),
  email: text,
  fullName: text.describe('firstName and lastName joined'),
  firstName: text,
  lastName: text,
  phone: text,
  company: text,
  streetAddress: text,
  city: text,
  state: text,
  postalCode: text,
  country: text,
  tag: text,
  preferredLanguage: text.describe('Lower-case language tag, e.g. en-us'),
  formality: text,
  preferredTone: text,
  salutation: text,
  addressingNotes: text,
  note: text,
  customData: z
    .record(z.string(), z.unknown())
    .nullable()
    .describe("The application's own JSON object, returned unchanged"),
  externalId: text.describe("The contact's id in the application's own system, unique per tenant"),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
});
/** What contactResource returns: the schema's type, customData being the JSON object stored. */
export type ContactResource = Omit<z.output<typeof ContactResource>, 'customData'> & {
  customData: Prisma.JsonObject | null;
};

export function fullName(c: Pick<Contact, 'firstName' | 'lastName'>): string | null {
  return [c.firstName, c.lastName].filter(Boolean).join(' ') || null;
}

/** The fields that are not the column of the same name as stored. */
const DERIVED: Partial<Record<keyof ContactResource, (c: Contact) => unknown>> = {
  contactId: (c) => c.id,
  fullName,
  customData: (c) => (c.customData ?? null) as Prisma.JsonObject | null,
  createdAt: (c) => c.createdAt.toISOString(),
  updatedAt: (c) => c.updatedAt.toISOString(),
};

/**
 * Each field's reader, in the schema's order (the order of the answer's keys): every field not
 * derived is the column of its name, so a column the schema lists needs no line of its own here.
 */
const READERS = Object.keys(ContactResource.shape).map(
  (field) => [field, DERIVED[field as keyof ContactResource] ?? ((c: Contact) => c[field as keyof Contact])] as const,
);

/** The contact as REST returns it, webhooks carry it and events store it. */
export function contactResource(c: Contact): ContactResource {
  const resource: Record<string, unknown> = {};
  for (const [field, read] of READERS) resource[field] = read(c);
  return resource as ContactResource;
}
