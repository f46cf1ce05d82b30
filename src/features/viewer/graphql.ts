import { builder } from '../../graphql/builder.js';
import { authOf } from '../../graphql/auth.js';
import type { AuthContext } from '../../auth/context.js';

builder.prismaObject('Application', {
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

builder.prismaObject('Tenant', {
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    features: t.exposeStringList('features', {
      description: 'Enabled features: accounting (invoices), communication (contacts).',
    }),
  }),
});

const Viewer = builder.objectRef<AuthContext>('Viewer').implement({
  description: 'Who is calling: the application the API key belongs to, and its tenant.',
  fields: (t) => ({
    application: t.prismaField({
      type: 'Application',
      resolve: (query, auth, _args, ctx) => ctx.services.viewer.application(auth, query),
    }),
    tenant: t.prismaField({
      type: 'Tenant',
      resolve: (query, auth, _args, ctx) => ctx.services.viewer.tenant(auth, query),
    }),
  }),
});

builder.queryField('viewer', (t) => t.field({ type: Viewer, resolve: (_root, _args, ctx) => authOf(ctx) }));
