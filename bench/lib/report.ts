import type { Measurement, Scenario, Target } from './types.js';

export type ScenarioResult = {
  id: string;
  title: string;
  target: Target;
  gateway: Measurement;
  baseline: Measurement;
  /** throughput targets: gateway ÷ baseline throughput; p99 targets: gateway ÷ baseline p99; limits: the largest figure ÷ its limit */
  ratio: number;
  meetsTarget: boolean;
};

export function scenarioResult(scenario: Scenario<any>, gateway: Measurement, baseline: Measurement): ScenarioResult {
  const { target } = scenario;
  const result = { id: scenario.id, title: scenario.title, target, gateway, baseline };
  if (target.kind === 'throughput') {
    const ratio = baseline.throughput > 0 ? gateway.throughput / baseline.throughput : 0;
    return { ...result, ratio, meetsTarget: ratio >= target.minRatio };
  }
  if (target.kind === 'limits') {
    const ratio = Math.max(
      ...Object.entries(target.max).map(([name, limit]) => (gateway.figures?.[name] ?? Infinity) / limit),
    );
    return { ...result, ratio, meetsTarget: ratio <= 1 };
  }
  const ratio = baseline.p99 > 0 ? gateway.p99 / baseline.p99 : Infinity;
  return { ...result, ratio, meetsTarget: ratio <= target.maxRatio && gateway.p99 <= target.maxMs };
}

export function formatTarget(target: Target): string {
  if (target.kind === 'limits')
    return Object.entries(target.max)
      .map(([name, limit]) => `${name} <=${limit}`)
      .join(', ');
  return target.kind === 'throughput'
    ? `>=${target.minRatio.toFixed(2)}x`
    : `<=${target.maxRatio.toFixed(2)}x, <=${target.maxMs} ms`;
}

/**
 * The comparison tables, gateway beside its baseline, one row per scenario: one table for the
 * throughput scenarios (HTTP load), one for the p99 scenarios (fan-out latency).
 */
export function formatTable(results: ScenarioResult[]): string {
  const byThroughput = results.filter((r) => r.target.kind === 'throughput');
  const byP99 = results.filter((r) => r.target.kind === 'p99');
  const tables = [];
  if (byThroughput.length) {
    tables.push(
      table(
        [
          'scenario',
          'gateway req/s',
          'p50 ms',
          'p99 ms',
          'baseline req/s',
          'p50 ms',
          'p99 ms',
          'ratio',
          'target',
          'status',
          'non-2xx/err gw|base',
          'app cpu ms/req gw|base',
          'pg cpu ms/req gw|base',
        ],
        byThroughput.map((r) => [
          r.id,
          r.gateway.throughput.toFixed(0),
          ms(r.gateway.p50),
          ms(r.gateway.p99),
          r.baseline.throughput.toFixed(0),
          ms(r.baseline.p50),
          ms(r.baseline.p99),
          ...comparison(r),
          `${bad(r.gateway)}|${bad(r.baseline)}`,
          `${cpu(r.gateway.serverCpuMsPerRequest)}|${cpu(r.baseline.serverCpuMsPerRequest)}`,
          `${cpu(r.gateway.postgresCpuMsPerRequest)}|${cpu(r.baseline.postgresCpuMsPerRequest)}`,
        ]),
      ),
    );
  }
  if (byP99.length) {
    tables.push(
      table(
        [
          'scenario',
          'gateway p50 ms',
          'p99 ms',
          'baseline p50 ms',
          'p99 ms',
          'p99 ratio',
          'target',
          'status',
          'failed/err gw|base',
          'KiB/subscriber gw|base',
          'app cpu ms/event gw|base',
          'pg cpu ms/event gw|base',
        ],
        byP99.map((r) => [
          r.id,
          ms(r.gateway.p50),
          ms(r.gateway.p99),
          ms(r.baseline.p50),
          ms(r.baseline.p99),
          ...comparison(r),
          `${undelivered(r.gateway)}|${undelivered(r.baseline)}`,
          `${kib(r.gateway.rssPerSubscriberKib)}|${kib(r.baseline.rssPerSubscriberKib)}`,
          `${cpu(r.gateway.serverCpuMsPerRequest)}|${cpu(r.baseline.serverCpuMsPerRequest)}`,
          `${cpu(r.gateway.postgresCpuMsPerRequest)}|${cpu(r.baseline.postgresCpuMsPerRequest)}`,
        ]),
      ),
    );
  }
  const byLimits = results.filter((r) => r.target.kind === 'limits');
  if (byLimits.length) {
    tables.push(
      table(
        ['scenario', 'figure', 'gateway', 'baseline', 'limit', 'status'],
        byLimits.flatMap((r) =>
          Object.entries((r.target as Extract<Target, { kind: 'limits' }>).max).map(([name, limit]) => {
            const value = r.gateway.figures?.[name];
            return [
              r.id,
              name,
              figure(value),
              figure(r.baseline.figures?.[name]),
              String(limit),
              value !== undefined && value <= limit ? 'ok' : 'ABOVE LIMIT',
            ];
          }),
        ),
      ),
    );
  }
  const notes = results.flatMap((r) =>
    (['gateway', 'baseline'] as const).flatMap((side) => {
      const busy = r[side].backgroundCpuBusy;
      const noisy =
        busy != null && busy >= 0.25
          ? [`note: ${r.id} ${side} ran while other work kept the machine ${(busy * 100).toFixed(0)}% busy`]
          : [];
      return [...(r[side].notes ?? []).map((note) => `note: ${r.id} ${side}: ${note}`), ...noisy];
    }),
  );
  return [tables.join('\n\n'), ...notes].join('\n');
}

/** ratio, target, status */
function comparison(r: ScenarioResult): string[] {
  return [`${r.ratio.toFixed(2)}x`, formatTarget(r.target), r.meetsTarget ? 'ok' : 'BELOW TARGET'];
}

/** Left-aligns the scenario and status columns, right-aligns the figures. */
function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const left = new Set([0, header.indexOf('status')]);
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (left.has(i) ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function ms(value: number): string {
  return value < 10 ? value.toFixed(1) : value.toFixed(0);
}

function figure(value: number | undefined): string {
  return value === undefined ? '-' : value.toFixed(0);
}

function cpu(value: number | null | undefined): string {
  return value == null ? '?' : value.toFixed(2);
}

function kib(value: number | null | undefined): string {
  return value == null ? '?' : value.toFixed(1);
}

function bad(m: Measurement): string {
  return `${m.non2xx + m.mismatches}/${m.errors}`;
}

/** Fan-out: failed mutations and events that did not reach every subscriber / subscriber errors. */
function undelivered(m: Measurement): string {
  return `${m.non2xx + m.timeouts}/${m.errors}`;
}
