import { defineScenario } from '../lib/types.js';
import { fanOutLoad } from './subscriptions-fanout.js';

/** Distinct filters among the subscribers (subscriber i holds filter i modulo this). */
const FILTERS = Math.max(1, Number(process.env.BENCH_DISTINCT_FILTERS ?? 100));

const FILTERED = `subscription($filters: [EventFilterInput!]) {
  events(types: ["communication.contact.created"], filters: $filters) { id type tenantSequence resourceId }
}`;

/**
 * subscriptions.fanout with content filters: the same 1,000 graphql-ws subscribers, holding 100
 * distinct filters that all match the created contact (firstName is any of "Ada" and a name of
 * their own), against the same gateway (a fresh process) with the unfiltered subscription. What
 * filters cost on the way out: each distinct filter is one stream, judged once per event, and one
 * execution of the subscription.
 */
export const filtersFanout = defineScenario({
  id: 'filters.fanout',
  title: `graphql-ws fan-out to 1,000 subscribers holding ${FILTERS} distinct filters, against none`,
  target: { kind: 'p99', maxRatio: 1.5, maxMs: 150 },
  redis: true,

  async setup(ctx) {
    return { tenant: await ctx.createTenant('Bench filtered fan-out', ['communication']) };
  },

  // The baseline is the gateway itself, its subscribers without a filter: subscriptions.fanout's gateway side.
  baseline: { script: 'src/main.ts' },

  load: (ctx, { tenant }) =>
    fanOutLoad(ctx, tenant, {
      graphqlWs: true,
      subscription:
        ctx.side === 'gateway'
          ? {
              query: FILTERED,
              variables: Array.from({ length: FILTERS }, (_, i) => ({
                filters: [{ field: 'firstName', operator: 'is_any_of', value: ['Ada', `name-${i}`] }],
              })),
            }
          : undefined,
    }),
});
