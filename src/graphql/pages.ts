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

/**
 * A forward-only connection over a list the service pages by id: `fetch` is asked for one row more
 * than the page, which tells whether another page follows.
 */
export async function forwardConnection<T extends { id: string }>(
  args: Parameters<typeof forwardPage>[0],
  prefix: IdPrefix,
  fetch: (page: { limit: number; afterId: string | undefined }) => Promise<T[]>,
) {
  const { limit, afterId } = forwardPage(args, prefix);
  return connectionOf(await fetch({ limit: limit + 1, afterId }), limit);
}

function connectionOf<T extends { id: string }>(rows: T[], limit: number) {
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
