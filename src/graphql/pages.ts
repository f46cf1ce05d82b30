import { InvalidRequestError } from '../core/errors.js';
import { parseId, type IdPrefix } from '../core/ids.js';
import { pageSize } from '../core/paging.js';

/** Forward paging by id: the cursor is the last id seen, an id of the connection's own kind. */
export function forwardPage(
  args: { first?: number | null; after?: string | null; last?: number | null; before?: string | null },
  prefix: IdPrefix,
) {
  if (args.last != null || args.before != null)
    throw new InvalidRequestError('This connection pages forwards only: use first and after.');
  const limit = pageSize(args.first, 'first');
  return { limit, afterId: args.after == null ? undefined : parseId(prefix, args.after, 'after') };
}

export function connectionOf<T extends { id: string }>(rows: T[], limit: number) {
  const nodes = rows.slice(0, limit);
  return {
    edges: nodes.map((node) => ({ cursor: node.id, node })),
    pageInfo: {
      hasNextPage: rows.length > limit,
      hasPreviousPage: false,
      startCursor: nodes[0]?.id ?? null,
      endCursor: nodes.at(-1)?.id ?? null,
    },
  };
}
