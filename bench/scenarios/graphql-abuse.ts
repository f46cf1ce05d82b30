import { customMeasurement, percentiles } from '../lib/custom-load.js';
import { monotonicMs } from '../lib/fanout.js';
import { inParallel, requestJson } from '../lib/http.js';
import { memoryAfterGc } from '../lib/inspector.js';
import { processRssBytes } from '../lib/machine.js';
import { defineScenario } from '../lib/types.js';

/** Contacts (so events) in the tenant's log: an executed bomb would have rows to return. */
const SEED = 200;
/** How often the server's RSS is read while the abuse runs, for its peak. */
const RSS_SAMPLE_MS = 100;
/** How often /health is asked while the abuse runs. */
const HEALTH_PROBE_MS = 100;
/** Alias bombs sent one at a time after the flood, timed alone: the refusal time without queueing. */
const TIMED_BOMBS = 200;

/** The alias bomb: 1,000 aliases of events(first: 100), about 60 kB. */
const ALIAS_BOMB = `{ ${Array.from({ length: 1000 }, (_, i) => `a${i}: events(first: 100) { edges { node { id type snapshot data { __typename } } } }`).join(' ')} }`;

/** Abusive operations and the refusal each must get (extensions.code of the first error). */
const ABUSE = [
  { name: 'alias bomb', query: ALIAS_BOMB, code: 'invalid_request' },
  {
    name: 'unbounded page',
    query: '{ events(first: 1000000000) { edges { node { id snapshot } } } }',
    code: 'invalid_request',
  },
  {
    name: 'nested pages',
    query:
      '{ webhookEndpoints(first: 500) { edges { node { deliveries(first: 500) { edges { node { id attempts { responseBody } } } } } } } }',
    code: 'query_too_costly',
  },
  {
    name: 'deep',
    query: `{ __type(name: "Query") { fields { type { ${'ofType { '.repeat(12)}name${' }'.repeat(12)} } } } }`,
    code: 'invalid_request',
  },
] as const;

/**
 * Abusive GraphQL, refused. First a flood: the alias bomb and its kin sent back to back on
 * the harness's connections for the measured seconds (req/s are refusals per second); the notes
 * give the server's RSS growth over it (after a full GC, before and after), its peak RSS, and
 * /health's latency meanwhile. Then TIMED_BOMBS alias bombs one at a time: p50/p99 are their
 * refusal times, without the flood's queueing. The baseline is a bare server that reads and parses
 * the same bodies and answers 400 at once: what refusing costs at the least.
 */
export const graphqlAbuse = defineScenario({
  id: 'graphql.abuse',
  title: 'abusive GraphQL (alias bomb, unbounded page, nested pages, depth) refused',
  target: { kind: 'p99', maxRatio: 10, maxMs: 50 },

  async setup(ctx) {
    return { tenant: await ctx.createTenant('Bench abuse', ['communication']), seeded: false };
  },

  baseline: {
    method: 'POST',
    async handle() {
      return { status: 400, body: { errors: [{ message: 'refused', extensions: { code: 'invalid_request' } }] } };
    },
  },

  async load(ctx, state) {
    const headers = { authorization: `Bearer ${state.tenant.apiKey}` };
    const path = ctx.side === 'gateway' ? '/graphql' : '/graphql.abuse';
    if (ctx.side === 'gateway' && !state.seeded) {
      await inParallel(SEED, 8, async (i) => {
        const res = await requestJson(ctx.baseUrl, 'POST', '/api/v1/contacts/contacts', {
          headers,
          body: { email: `abuse-${ctx.runId}-${i}@bench.example` },
        });
        if (res.status !== 201) throw new Error(`seeding contact ${i} failed: HTTP ${res.status} ${res.text}`);
      });
      state.seeded = true;
    }

    /** Sends every kind of abuse in turn on `connections` connections for `seconds`, then times alias bombs alone. */
    async function abuse(seconds: number, connections: number) {
      let refused = 0;
      const healthLatencies: number[] = [];
      const errors: string[] = [];
      const rssBefore = await memoryAfterGc(ctx.pid);
      let rssPeak = processRssBytes(ctx.pid) ?? 0;
      const started = monotonicMs();
      const deadline = started + seconds * 1000;
      const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, processRssBytes(ctx.pid) ?? 0)), RSS_SAMPLE_MS);
      const health = (async () => {
        while (monotonicMs() < deadline) {
          const at = monotonicMs();
          const res = await requestJson(ctx.baseUrl, 'GET', '/health');
          if (res.status === 200) healthLatencies.push(monotonicMs() - at);
          await new Promise((resolve) => setTimeout(resolve, HEALTH_PROBE_MS));
        }
      })();
      let sent = 0;
      await Promise.all(
        Array.from({ length: connections }, async () => {
          while (monotonicMs() < deadline) {
            const kind = ABUSE[sent++ % ABUSE.length]!;
            const res = await requestJson(ctx.baseUrl, 'POST', path, { headers, body: { query: kind.query } });
            const code = res.body?.errors?.[0]?.extensions?.code;
            const expected = ctx.side === 'gateway' ? kind.code : 'invalid_request';
            if (code !== expected || res.body?.data) {
              if (errors.length < 3) errors.push(`${kind.name}: HTTP ${res.status} ${res.text.slice(0, 300)}`);
              else errors.push(kind.name);
              continue;
            }
            refused++;
          }
        }),
      );
      clearInterval(sampler);
      await health;
      const durationSeconds = (monotonicMs() - started) / 1000;
      const rssAfter = await memoryAfterGc(ctx.pid);
      const bombLatencies: number[] = [];
      for (let i = 0; i < TIMED_BOMBS; i++) {
        const at = monotonicMs();
        const res = await requestJson(ctx.baseUrl, 'POST', path, { headers, body: { query: ALIAS_BOMB } });
        if (res.body?.errors?.[0]?.extensions?.code === 'invalid_request') bombLatencies.push(monotonicMs() - at);
        else errors.push(`timed alias bomb: HTTP ${res.status} ${res.text.slice(0, 300)}`);
      }
      const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
      const healthP = percentiles(healthLatencies);
      const notes = [
        `flood: ${refused} refusals in ${durationSeconds.toFixed(1)} s on ${connections} connections`,
        rssBefore && rssAfter
          ? `RSS after GC ${mib(rssBefore.rssBytes)} → ${mib(rssAfter.rssBytes)} over the flood (growth ${mib(rssAfter.rssBytes - rssBefore.rssBytes)}), peak ${mib(rssPeak)}`
          : `peak RSS ${mib(rssPeak)} over the flood (no GC readings: the inspector did not answer)`,
        `/health during the flood: p50 ${healthP.p50.toFixed(1)} ms, p99 ${healthP.p99.toFixed(1)} ms`,
      ];
      return customMeasurement({ ok: refused, durationSeconds, latenciesMs: bombLatencies, errors, notes });
    }

    return { kind: 'custom', run: ({ seconds, connections }) => abuse(seconds, connections) };
  },
});
