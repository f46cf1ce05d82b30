import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { useGateway } from './support/gateway.js';
import { liveStreams, liveSubscriptions } from './support/subscriptions.js';
import { waitUntil } from './support/wait.js';

// The README's examples run as written against a real gateway, in the README's order: its curl
// commands with BASE and KEY set (ids the README elides as contact_…, inv_…, job_… are the ones
// the earlier commands answered), each answer compared with the "# …" lines under it; the SSE
// curl and the graphql-ws snippet (as a file run by this Node) receive an event.

const ROOT = path.resolve(import.meta.dirname, '..');
const README = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const gateway = useGateway();
const env: Record<string, string> = {};
const children = new Set<ChildProcess>();
afterAll(() => children.forEach((child) => child.kill()));

beforeAll(async () => {
  // The README's walk-through shows the first start's demo application.
  const { tenantId } = await gateway.app.services.admin.createTenant({
    name: 'Demo',
    features: ['accounting', 'communication'],
  });
  const { apiKey } = await gateway.app.services.admin.createApplication({ tenantId, name: 'Demo app' });
  Object.assign(env, { ...process.env, BASE: gateway.url, KEY: apiKey });
});

/** The text of the README's `## heading` section. */
function section(heading: string): string {
  const start = README.indexOf(`\n## ${heading}\n`);
  expect(start, heading).toBeGreaterThan(-1);
  const end = README.indexOf('\n## ', start + 1);
  return README.slice(start, end === -1 ? undefined : end);
}

function codeBlocks(text: string, language: string): string[] {
  return [...text.matchAll(new RegExp(`\`\`\`${language}\\n([\\s\\S]*?)\`\`\``, 'g'))].map((match) => match[1]!);
}

type Example = { command: string; expected: string | null };

/** The curl commands of a block (continued lines and multi-line quotes joined) with the comment lines under each. */
function curlExamples(block: string): Example[] {
  const examples: Example[] = [];
  const lines = block.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i]!.startsWith('curl ')) continue;
    let command = lines[i]!;
    while ((command.endsWith('\\') || (command.match(/'/g)?.length ?? 0) % 2 === 1) && i + 1 < lines.length)
      command += `\n${lines[++i]}`;
    const comments: string[] = [];
    while (lines[i + 1]?.startsWith('#')) comments.push(lines[++i]!.replace(/^#\s?/, ''));
    examples.push({ command, expected: comments.length ? comments.join('\n') : null });
  }
  return examples;
}

const ELIDED_ARRAY = '\u0000any array';

/**
 * What a "# …" line promises: an optional status, then JSON where "…" stands for anything: inside
 * a string any text, as a member or element any others, as a whole array any array. Prose after
 * three spaces is the README's remark.
 */
function parseExpectation(text: string): { status: number | null; body: unknown } {
  const [, status, rest] = /^(?:(\d{3}) )?([\s\S]*)$/.exec(text.trim())!;
  const json = rest!
    .split(/ {3,}/)[0]!
    .replace(/\[…\]/g, JSON.stringify(ELIDED_ARRAY))
    .replace(/,\s*…(?=\s*[}\]])/g, '')
    .replace(/…\s*,/g, '');
  return { status: status ? Number(status) : null, body: JSON.parse(json) };
}

function expectMatch(actual: unknown, expected: unknown, at = 'body'): void {
  if (expected === ELIDED_ARRAY) return void expect(Array.isArray(actual), at).toBe(true);
  if (typeof expected === 'string' && expected.includes('…')) {
    const pattern = new RegExp(
      '^' +
        expected
          .split('…')
          .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
          .join('.*') +
        '$',
      's',
    );
    return void expect(actual, at).toMatch(pattern);
  }
  if (Array.isArray(expected)) {
    expect(actual, at).toHaveLength(expected.length);
    for (const [index, item] of expected.entries()) expectMatch((actual as unknown[])[index], item, `${at}[${index}]`);
    return;
  }
  if (expected && typeof expected === 'object') {
    expect(actual, at).toBeTypeOf('object');
    for (const [key, value] of Object.entries(expected))
      expectMatch((actual as Record<string, unknown>)[key], value, `${at}.${key}`);
    return;
  }
  expect(actual, at).toEqual(expected);
}

const ids: Record<string, string> = {};

/** Runs one README curl command with bash, the elided ids filled in; answers its status and body. */
async function run(command: string) {
  const filled = command.replace(/\b(contact|inv|job)_…/g, (elided, prefix: string) => ids[prefix] ?? elided);
  const { stdout } = await promisify(execFile)(
    'bash',
    ['-c', filled.replace(/^curl /, `curl -sS -w '\\n%{http_code}' `)],
    { env },
  );
  const status = Number(stdout.slice(stdout.lastIndexOf('\n') + 1));
  const text = stdout.slice(0, stdout.lastIndexOf('\n'));
  const body = text ? JSON.parse(text) : undefined;
  for (const [prefix, key] of [
    ['contact', 'contactId'],
    ['inv', 'invoiceId'],
    ['job', 'jobId'],
  ] as const) {
    if (typeof body?.[key] === 'string') ids[prefix] = body[key];
  }
  return { status, body, text };
}

async function runExamples(examples: Example[]) {
  expect(examples.length).toBeGreaterThan(0);
  for (const { command, expected } of examples) {
    const promise = expected && parseExpectation(expected);
    // A job is followed until it shows what the README promises.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const answer = await run(command);
      const label = `${command}\n→ ${answer.status} ${answer.text}`;
      try {
        if (promise) {
          if (promise.status) expect(answer.status, label).toBe(promise.status);
          else expect(answer.status, label).toBeLessThan(300);
          expectMatch(answer.body, promise.body);
        } else {
          expect(answer.status, label).toBeLessThan(300);
          if (command.includes('/graphql')) expect(answer.body.errors, label).toBeUndefined();
        }
        break;
      } catch (error) {
        if (!command.includes('/jobs/') || Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }
}

test('the REST walk-through', async () => {
  await runExamples(curlExamples(codeBlocks(section('REST walk-through'), 'sh').join('\n')));
});

test('the GraphQL walk-through', async () => {
  await runExamples(curlExamples(codeBlocks(section('GraphQL walk-through'), 'sh').join('\n')));
});

test('the contacts import, after the walk-throughs', async () => {
  await runExamples(curlExamples(codeBlocks(section('Jobs'), 'sh')[0]!));
});

test('the MCP session of "For agents"', async () => {
  await runExamples(curlExamples(codeBlocks(section('For agents'), 'sh').join('\n')));
});

/** Starts a README example as a process and collects its output. */
function start(command: string, args: string[], childEnv = env) {
  const child = spawn(command, args, { env: childEnv, cwd: ROOT });
  children.add(child);
  let output = '';
  let stdout = '';
  child.stdout.on('data', (chunk) => {
    output += chunk;
    stdout += chunk;
  });
  child.stderr.on('data', (chunk) => (output += chunk));
  return {
    output: () => output,
    /** Without stderr, whose lines (curl's progress meter, ended by \r only) may land inside stdout's. */
    stdout: () => stdout,
    async waitFor(text: string) {
      const deadline = Date.now() + 15_000;
      while (!output.includes(text) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(output).toContain(text);
    },
    stop: () => child.kill(),
  };
}

const writeWithKey = (path: string, body: unknown) =>
  fetch(gateway.url + path, {
    method: 'POST',
    headers: { authorization: `Bearer ${env.KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  }).then(async (res) => {
    expect(res.status).toBe(201);
    return res.json();
  });

test('the SSE example with curl receives an event', async () => {
  const [example] = curlExamples(codeBlocks(section('Live events'), 'sh')[0]!);
  const before = await liveStreams(gateway.url);
  const curl = start('bash', ['-c', example!.command]);
  await waitUntil('the SSE stream is live', async () => (await liveStreams(gateway.url)) > before, 15_000);
  const contact = await writeWithKey('/api/v1/contacts/contacts', { email: 'sse-readme@example.com' });
  await curl.waitFor(contact.contactId);
  curl.stop();
  const [eventLine, dataLine] = example!.expected!.split('\n');
  const lines = curl.stdout().split('\n');
  expect(lines).toContain(eventLine);
  const data = lines.find((line) => line.startsWith('data: ') && line.includes(contact.contactId))!;
  const promised = parseExpectation(dataLine!.slice('data: '.length)).body as {
    data: { events: { tenantSequence: number } };
  };
  // The README shows a fresh tenant's first event; this tenant has had others.
  promised.data.events.tenantSequence = JSON.parse(data.slice(6)).data.events.tenantSequence;
  expectMatch(JSON.parse(data.slice('data: '.length)), promised);
});

test('the graphql-ws snippet runs on this Node, receives an event and resumes after one', async () => {
  const [snippet] = codeBlocks(section('Live events'), 'js');
  expect(snippet).toContain("'ws://localhost:4000/graphql'");
  const file = path.join(ROOT, `.readme-snippet-${process.pid}.mjs`);
  writeFileSync(file, snippet!.replace('ws://localhost:4000', gateway.url.replace(/^http/, 'ws')));
  try {
    const before = await liveSubscriptions(gateway.url);
    const live = start(process.execPath, [file]);
    await waitUntil('the subscription is live', async () => (await liveSubscriptions(gateway.url)) > before, 15_000);
    const invoice = await writeWithKey('/api/v1/invoices', {
      customer: 'Snippet',
      issuedDate: '2026-05-30',
      paymentTermsDays: 30,
      items: [{ description: 'x', quantity: 1, price: 5, taxRate: 0 }],
    });
    await live.waitFor("type: 'accounting.invoice.created'");
    expect(live.output()).toContain(invoice.invoiceNumber);
    live.stop();

    // AFTER resumes: the events after it arrive from the log.
    const events = await fetch(`${gateway.url}/api/v1/events?types=accounting.*&limit=500`, {
      headers: { authorization: `Bearer ${env.KEY}` },
    }).then((res) => res.json());
    const [first, ...later] = events.items as { id: string }[];
    expect(later.length).toBeGreaterThan(0);
    const resumed = start(process.execPath, [file], { ...env, AFTER: first!.id });
    for (const event of later) await resumed.waitFor(event.id);
    expect(resumed.output()).not.toContain(first!.id);
    resumed.stop();
  } finally {
    rmSync(file, { force: true });
  }
});
