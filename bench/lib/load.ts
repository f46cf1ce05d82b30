import autocannon from 'autocannon';
import type { HttpLoad, Load, Measurement } from './types.js';

/** `requests`: an HTTP load stops after that many answers instead of after `seconds` (warm-up). */
export type LoadOptions = { seconds: number; connections: number; warmup: boolean; requests?: number };

export function measure(baseUrl: string, load: Load, options: LoadOptions): Promise<Measurement> {
  return load.kind === 'custom' ? load.run(options) : measureHttp(baseUrl, load, options);
}

const MAX_SAMPLES = 3;

/** Runs autocannon (in this process; the servers are children) and keeps the figures we report. */
export async function measureHttp(baseUrl: string, load: HttpLoad, options: LoadOptions): Promise<Measurement> {
  const failureSamples: string[] = [];
  const sample = (text: string) => {
    if (failureSamples.length < MAX_SAMPLES) failureSamples.push(text.slice(0, 500));
  };

  const request: autocannon.Request = {
    method: load.method,
    path: load.path,
    headers: load.headers,
    body: load.body,
    onResponse: (status, body) => {
      if (status < 200 || status > 299) sample(`HTTP ${status}: ${body}`);
    },
  };
  const vary = load.vary;
  if (vary) {
    request.setupRequest = (req) => {
      const varied = vary({
        path: req.path ?? load.path,
        headers: { ...(req.headers as Record<string, string>) },
        body: req.body?.toString(),
      });
      return { ...req, ...varied, headers: { ...(req.headers as Record<string, string>), ...varied.headers } };
    };
  }
  const verifyBody = load.verifyBody;

  const result = await autocannon({
    url: baseUrl,
    connections: options.connections,
    ...(options.requests ? { amount: options.requests } : { duration: options.seconds }),
    // A server that stalls must show up as errors, not hang the run.
    timeout: 30,
    requests: [request],
    ...(verifyBody
      ? {
          verifyBody: (body: unknown) => {
            const ok = verifyBody(String(body));
            if (!ok) sample(`unexpected body: ${String(body)}`);
            return ok;
          },
        }
      : {}),
  });

  const statusCodes: Record<string, number> = {};
  for (const [code, stats] of Object.entries(result.statusCodeStats ?? {})) statusCodes[code] = stats.count ?? 0;
  const ok = result['2xx'];
  const durationSeconds = result.duration;
  return {
    throughput: durationSeconds > 0 ? ok / durationSeconds : 0,
    p50: result.latency.p50,
    p90: result.latency.p90,
    p99: result.latency.p99,
    mean: result.latency.mean,
    ok,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    mismatches: result.mismatches,
    statusCodes,
    durationSeconds,
    failureSamples,
  };
}

/** Anything but clean 2xx answers makes a measurement worthless. */
export function failuresOf(m: Measurement): string | null {
  const parts = [
    m.ok === 0 && 'no successful response at all',
    m.non2xx && `${m.non2xx} non-2xx`,
    m.errors && `${m.errors} errors`,
    m.timeouts && `${m.timeouts} timeouts`,
    m.mismatches && `${m.mismatches} unexpected bodies`,
  ].filter(Boolean);
  return parts.length ? parts.join(', ') : null;
}
