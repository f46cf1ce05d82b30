import type { AuthContext } from '../auth/context.js';
import { UnauthorizedError } from '../core/errors.js';
import type { GraphQLContext } from './builder.js';

/**
 * The caller's identity; every field that reads or writes tenant data goes through this, so it is
 * also where a query past its time limit stops reaching the database.
 */
export function authOf(ctx: GraphQLContext): AuthContext {
  ctx.signal?.throwIfAborted();
  if (!ctx.auth) throw ctx.authError ?? new UnauthorizedError();
  return ctx.auth;
}
