import type { AuthContext } from '../auth/context.js';
import type { GraphQLContext } from './builder.js';

/**
 * The caller, whom the root types' `authScopes` (builder.ts) admitted before any resolver below
 * them runs. Every field that reads or writes tenant data goes through this, so it is also where a
 * query past its time limit stops reaching the database.
 */
export function authOf(ctx: GraphQLContext): AuthContext {
  ctx.signal?.throwIfAborted();
  return ctx.auth!;
}
