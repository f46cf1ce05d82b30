import type { FastifyReply, FastifyRequest } from 'fastify';

/** Where a newcomer goes from `/`. */
const LINKS = [
  {
    path: '/graphql',
    title: 'GraphiQL',
    about: 'GraphQL in the browser (add the header {"Authorization": "Bearer nilo_ak_…"})',
  },
  { path: '/docs', title: 'REST API docs', about: 'every /api/v1 route, tried from the page' },
  { path: '/openapi.json', title: 'OpenAPI document', about: 'for client generators' },
  {
    path: '/mcp',
    title: 'MCP endpoint',
    about: 'tools for AI agents (Model Context Protocol, Streamable HTTP, the same keys)',
  },
  {
    path: '/llms.txt',
    title: 'llms.txt',
    about: 'the API in brief for language models, with every link an agent needs',
  },
  { path: '/metrics', title: 'Metrics', about: 'Prometheus series: requests, queues, relay lag, live streams' },
  { path: '/ready', title: 'Readiness', about: 'database and Redis checks' },
];

/** `/`: a small page linking the gateway's tools and its first requests; JSON clients get the links as JSON. */
export async function homePage(request: FastifyRequest, reply: FastifyReply) {
  const base = `${request.protocol}://${request.host}`;
  const accept = request.headers.accept ?? '';
  if (accept.includes('json') && !accept.includes('text/html')) {
    return {
      name: 'Nilo gateway',
      links: Object.fromEntries(
        LINKS.map((link) => [link.path.slice(1).replace(/\.(json|txt)$/, ''), `${base}${link.path}`]),
      ),
    };
  }
  const items = LINKS.map(
    (link) => `<li><a href="${link.path}">${link.title}</a>: ${escapeHtml(link.about)}</li>`,
  ).join('\n    ');
  const firstRequests = [
    `curl ${base}/api/v1/hello -H "Authorization: Bearer $KEY"`,
    `curl ${base}/graphql -H "Authorization: Bearer $KEY" -H "Content-Type: application/json" \\\n  -d '{"query":"{ viewer { application { id name } tenant { id features } } }"}'`,
    `curl ${base}/api/v1/events -H "Authorization: Bearer $KEY"`,
  ];
  return reply.type('text/html; charset=utf-8').send(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Nilo gateway</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem}pre{background:#f4f4f4;padding:.75rem;overflow-x:auto}</style></head>
<body>
  <h1>Nilo gateway</h1>
  <p>A business API over REST (<code>/api/v1</code>), GraphQL (<code>/graphql</code>) and MCP (<code>/mcp</code>), with live events and signed webhooks.</p>
  <ul>
    ${items}
  </ul>
  <h2>First requests</h2>
  <p><code>$KEY</code> is an API key: the demo key printed at the first embedded start, or one from <code>npm run admin -- create-app</code>.</p>
  <pre>${firstRequests.map(escapeHtml).join('\n\n')}</pre>
</body>
</html>
`);
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
