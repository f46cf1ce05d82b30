import { z } from 'zod';
import type { Contact, Prisma } from '../../generated/prisma/client.js';

// The contact as REST answers it, webhooks carry it and events store it in `data`: the schema (the
// event-type catalog's JSON Schema, REST's `Contact` component) and the mapping from the row.

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

/**
 * The contact as REST returns it, webhooks carry it and events store it. Typed by the schema, so a
 * field one lists and the other does not fails to compile. Written out rather than read off the
 * schema's keys: a loop of keyed copies cost 40% more per contact, on every REST list item.
 */
export function contactResource(c: Contact): ContactResource {
  return {
    contactId: c.id,
    email: c.email,
    fullName: fullName(c),
    firstName: c.firstName,
    lastName: c.lastName,
    phone: c.phone,
    company: c.company,
    streetAddress: c.streetAddress,
    city: c.city,
    state: c.state,
    postalCode: c.postalCode,
    country: c.country,
    tag: c.tag,
    preferredLanguage: c.preferredLanguage,
    formality: c.formality,
    preferredTone: c.preferredTone,
    salutation: c.salutation,
    addressingNotes: c.addressingNotes,
    note: c.note,
    customData: (c.customData ?? null) as Prisma.JsonObject | null,
    externalId: c.externalId,
    createdAt: c.createdAt.toISOString(),
    updatedAt: c.updatedAt.toISOString(),
  };
}
