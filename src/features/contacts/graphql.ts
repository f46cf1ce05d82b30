import { builder } from '../../graphql/builder.js';
import { authOf } from '../../graphql/auth.js';
import { eventOrEnd, EventRef, eventResource, filterArgs, resourceEvents } from '../events/graphql.js';
import { unselectedColumns } from '../../graphql/columns.js';
import { fullName } from './resource.js';
import { CONTACT_COLUMNS } from './sql.js';

/** What a page of contacts may leave out of its rows. */
const unselectedInPage = unselectedColumns('Contact', ['edges', 'node'], CONTACT_COLUMNS);

export const ContactObject = builder.prismaObject('Contact', {
  fields: (t) => ({
    id: t.exposeID('id'),
    email: t.exposeString('email', { nullable: true }),
    fullName: t.string({ nullable: true, select: { firstName: true, lastName: true }, resolve: (c) => fullName(c) }),
    firstName: t.exposeString('firstName', { nullable: true }),
    lastName: t.exposeString('lastName', { nullable: true }),
    phone: t.exposeString('phone', { nullable: true }),
    company: t.exposeString('company', { nullable: true }),
    streetAddress: t.exposeString('streetAddress', { nullable: true }),
    city: t.exposeString('city', { nullable: true }),
    state: t.exposeString('state', { nullable: true }),
    postalCode: t.exposeString('postalCode', { nullable: true }),
    country: t.exposeString('country', { nullable: true }),
    tag: t.exposeString('tag', { nullable: true }),
    preferredLanguage: t.exposeString('preferredLanguage', { nullable: true }),
    formality: t.exposeString('formality', { nullable: true }),
    preferredTone: t.exposeString('preferredTone', { nullable: true }),
    salutation: t.exposeString('salutation', { nullable: true }),
    addressingNotes: t.exposeString('addressingNotes', { nullable: true }),
    note: t.exposeString('note', { nullable: true }),
    customData: t.expose('customData', { type: 'JSONObject', nullable: true }),
    externalId: t.exposeString('externalId', {
      nullable: true,
      description: 'The id in your own system; unique per tenant.',
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

// biome-ignore lint/suspicious/noExplicitAny: shared by two input types, whose builder types differ
const contactInputFields = (t: PothosSchemaTypes.InputFieldBuilder<any, 'InputObject'>) => ({
  email: t.string(),
  firstName: t.string(),
  lastName: t.string(),
  phone: t.string(),
  company: t.string(),
  streetAddress: t.string(),
  city: t.string(),
  state: t.string(),
  postalCode: t.string(),
  country: t.string(),
  tag: t.string(),
  preferredLanguage: t.string(),
  formality: t.string(),
  preferredTone: t.string(),
  salutation: t.string(),
  addressingNotes: t.string(),
  note: t.string(),
  customData: t.field({ type: 'JSONObject' }),
  externalId: t.string(),
});

// Field rules (lengths, email format, language tags) live in the domain; these types only shape input.
const CreateContactInput = builder.inputType('CreateContactInput', { fields: contactInputFields });
const UpdateContactInput = builder.inputType('UpdateContactInput', {
  description: 'Omitted fields are left unchanged; null clears a field.',
  fields: contactInputFields,
});

const DeleteContactPayload = builder.objectRef<{ deletedContactId: string }>('DeleteContactPayload').implement({
  fields: (t) => ({ deletedContactId: t.exposeID('deletedContactId') }),
});

builder.queryFields((t) => ({
  contact: t.prismaField({
    type: 'Contact',
    args: { id: t.arg.id({ required: true }) },
    resolve: (query, _root, args, ctx) => ctx.services.contacts.get(authOf(ctx), args.id, query),
  }),
  contacts: t.prismaConnection({
    type: 'Contact',
    cursor: 'id',
    description: 'Contacts of the tenant, oldest first. Needs the communication feature.',
    resolve: (query, _root, _args, ctx, info) => {
      // Without a node selected Pothos selects the cursor column only, and omit cannot join a select.
      const omit = 'select' in query ? undefined : unselectedInPage(info);
      // A first page of columns only (no relation to include) is one statement on the driver.
      if (omit && !query.include && !query.cursor && query.take > 0) {
        const columns = CONTACT_COLUMNS.filter((column) => !omit[column]);
        return ctx.services.contacts.firstPage(authOf(ctx), columns, query.take);
      }
      return ctx.services.contacts.findMany(authOf(ctx), { ...query, omit, orderBy: { id: 'asc' } });
    },
  }),
}));

builder.mutationFields((t) => ({
  createContact: t.prismaField({
    type: 'Contact',
    args: { input: t.arg({ type: CreateContactInput, required: true }) },
    resolve: (_query, _root, args, ctx) => ctx.services.contacts.create(authOf(ctx), args.input),
  }),
  updateContact: t.prismaField({
    type: 'Contact',
    args: { id: t.arg.id({ required: true }), input: t.arg({ type: UpdateContactInput, required: true }) },
    resolve: (_query, _root, args, ctx) => ctx.services.contacts.update(authOf(ctx), args.id, args.input),
  }),
  deleteContact: t.field({
    type: DeleteContactPayload,
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, args, ctx) => {
      const contact = await ctx.services.contacts.delete(authOf(ctx), args.id);
      return { deletedContactId: contact.id };
    },
  }),
}));

eventResource('contact', ContactObject);

builder.subscriptionField('contactChanged', (t) =>
  t.field({
    type: EventRef,
    description:
      'Contact events (communication.contact.*), of one contact when `id` is given, that match `filters`/`anyOf` (e.g. tag is vip). Needs the communication feature.',
    args: { id: t.arg.id(), after: t.arg.id(), ...filterArgs },
    subscribe: (_root, args, ctx) =>
      resourceEvents(ctx, 'communication.contact.*', args, (auth, id) =>
        ctx.services.contacts.get(auth, id, { select: { id: true } }),
      ),
    resolve: eventOrEnd,
  }),
);
