import { InvalidRequestError } from '../domain/errors.js';

/** Forward paging by id: the cursor is the last id seen. */
export function forwardPage(args: { first?: number | null; after?: string | null; last?: number | null; before?: string | null }) {
  if (args.last != null || args.before != null) throw new InvalidRequestError('This connection pages forwards only: use first and after.');
  const limit = Math.min(Math.max(args.first ?? 50, 1), 500);
  return { limit, afterId: args.after ?? undefined };
}

export function connectionOf<T extends { id: string }>(rows: T[], limit: number) {
  const nodes = rows.slice(0, limit);
  return {
    edges: nodes.map((node) => ({ cursor: node.id, node })),
    pageInfo: { hasNextPage: rows.length > limit, hasPreviousPage: false, startCursor: nodes[0]?.id ?? null, endCursor: nodes.at(-1)?.id ?? null },
  };
}
