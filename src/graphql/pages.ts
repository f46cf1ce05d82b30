import { InvalidRequestError } from '../core/errors.js';
import type { IdPrefix } from '../core/ids.js';
import { keysetAfter, keysetSlice, pageSize } from '../core/paging.js';

/** Forward paging by id: the cursor is the last id seen, an id of the connection's own kind. */
export function forwardPage(
  args: { first?: number | null; after?: string | null; last?: number | null; before?: string | null },
  prefix: IdPrefix,
) {
  if (args.last != null || args.before != null)
    throw new InvalidRequestError('This connection pages forwards only: use first and after.');
  return { limit: pageSize(args.first, 'first'), afterId: keysetAfter(args.after, prefix) };
}

export function connectionOf<T extends { id: string }>(rows: T[], limit: number) {
  const { items: nodes, more } = keysetSlice(rows, limit);
  return {
    edges: nodes.map((node) => ({ cursor: node.id, node })),
    pageInfo: {
      hasNextPage: more,
      hasPreviousPage: false,
      startCursor: nodes[0]?.id ?? null,
      endCursor: nodes.at(-1)?.id ?? null,
    },
  };
}
