import { peersOf, tableKindOf, targetOf } from './peers.js';
import type { Measurement, Scenario, Side, Target } from './types.js';

/** The gateway against one peer. */
export type PeerResult = {
  name: string;
  measurement: Measurement;
  /** Without one the peer is there for reference. */
  target?: Target;
  /**
   * throughput tables: gateway ÷ peer throughput; p99 tables: gateway ÷ peer p99; limits: the
   * gateway's largest figure ÷ its limit (the same for every peer). Null: nothing to compare.
   */
  ratio: number | null;
  /** Null without a target. */
  meetsTarget: boolean | null;
};

export type ScenarioResult = {
  id: string;
  title: string;
  /** Which table the scenario is in. */
  kind: Target['kind'];
  gateway: Measurement;
  peers: PeerResult[];
  /** Every peer's target met. */
  meetsTarget: boolean;
};

export function scenarioResult(scenario: Scenario<any>, measured: Record<Side, Measurement>): ScenarioResult {
  const kind = tableKindOf(scenario);
  const gateway = measured.gateway!;
  const peers = peersOf(scenario)
    .filter(([name]) => measured[name])
    .map(([name, definition]): PeerResult => {
      const measurement = measured[name]!;
      const target = targetOf(scenario, name, definition);
      const ratio = ratioOf(target ?? kindOnly(kind), gateway, measurement);
      return { name, measurement, target, ratio, meetsTarget: target ? meets(target, ratio, gateway) : null };
    });
  return {
    id: scenario.id,
    title: scenario.title,
    kind,
    gateway,
    peers,
    meetsTarget: peers.every((p) => p.meetsTarget !== false),
  };
}

/** A peer without a target is compared the way its table compares. */
function kindOnly(kind: Target['kind']): Target | undefined {
  if (kind === 'throughput') return { kind, minRatio: 0 };
  if (kind === 'p99') return { kind, maxRatio: Infinity, maxMs: Infinity };
  return undefined;
}

function ratioOf(target: Target | undefined, gateway: Measurement, peer: Measurement): number | null {
  if (!target) return null;
  if (target.kind === 'throughput') return peer.throughput > 0 ? gateway.throughput / peer.throughput : 0;
  if (target.kind === 'p99') return peer.p99 > 0 ? gateway.p99 / peer.p99 : Infinity;
  return Math.max(...Object.entries(target.max).map(([name, limit]) => (gateway.figures?.[name] ?? Infinity) / limit));
}

function meets(target: Target, ratio: number | null, gateway: Measurement): boolean {
  if (ratio === null) return false;
  if (target.kind === 'throughput') return ratio >= target.minRatio;
  if (target.kind === 'limits') return ratio <= 1;
  return ratio <= target.maxRatio && gateway.p99 <= target.maxMs;
}

export function formatTarget(target: Target | undefined): string {
  if (!target) return '-';
  if (target.kind === 'limits')
    return Object.entries(target.max)
      .map(([name, limit]) => `${name} <=${limit}`)
      .join(', ');
  return target.kind === 'throughput'
    ? `>=${target.minRatio.toFixed(2)}x`
    : `<=${target.maxRatio.toFixed(2)}x, <=${target.maxMs} ms`;
}

/**
 * The comparison tables, one row per side (the gateway, then each peer with the gateway's ratio to
 * it): one table for the throughput scenarios (HTTP load, jobs, deliveries), one for the p99
 * scenarios (fan-out latency), one for the limits (footprint). CPU per request is per process
 * kind: the side's server processes, the load generator, the bench database's PostgreSQL backends.
 */
export function formatTable(results: ScenarioResult[]): string {
  const tables = [];
  const byThroughput = results.filter((r) => r.kind === 'throughput');
  if (byThroughput.length) {
    tables.push(
      table(
        [
          'scenario',
          'side',
          'req/s',
          'p50 ms',
          'p99 ms',
          'gw ratio',
          'target',
          'status',
          'non-2xx/err',
          'cpu ms/req server',
          'load',
          'pg',
        ],
        byThroughput.flatMap((r) =>
          rows(
            r,
            (m) => [m.throughput.toFixed(0), ms(m.p50), ms(m.p99)],
            bad,
            (m) => [cpu(m.serverCpuMsPerRequest), cpu(m.loadCpuMsPerRequest), cpu(m.postgresCpuMsPerRequest)],
          ),
        ),
      ),
    );
  }
  const byP99 = results.filter((r) => r.kind === 'p99');
  if (byP99.length) {
    tables.push(
      table(
        [
          'scenario',
          'side',
          'p50 ms',
          'p99 ms',
          'gw p99 ratio',
          'target',
          'status',
          'failed/err',
          'KiB/subscriber',
          'cpu ms/event server',
          'load',
          'pg',
        ],
        byP99.flatMap((r) =>
          rows(
            r,
            (m) => [ms(m.p50), ms(m.p99)],
            undelivered,
            (m) => [
              kib(m.rssPerSubscriberKib),
              cpu(m.serverCpuMsPerRequest),
              cpu(m.loadCpuMsPerRequest),
              cpu(m.postgresCpuMsPerRequest),
            ],
          ),
        ),
      ),
    );
  }
  const byLimits = results.filter((r) => r.kind === 'limits');
  if (byLimits.length) {
    tables.push(
      table(
        ['scenario', 'figure', 'gateway', 'peers', 'limit', 'status'],
        byLimits.flatMap((r) => {
          const limits = r.peers.find((p) => p.target?.kind === 'limits')?.target as
            | Extract<Target, { kind: 'limits' }>
            | undefined;
          return Object.entries(limits?.max ?? {}).map(([name, limit]) => {
            const value = r.gateway.figures?.[name];
            return [
              r.id,
              name,
              figure(value),
              r.peers.map((p) => `${p.name} ${figure(p.measurement.figures?.[name])}`).join(', '),
              String(limit),
              value !== undefined && value <= limit ? 'ok' : 'ABOVE LIMIT',
            ];
          });
        }),
      ),
    );
  }
  const notes = results.flatMap((r) =>
    [['gateway', r.gateway] as const, ...r.peers.map((p) => [p.name, p.measurement] as const)].flatMap(([side, m]) => {
      const busy = m.backgroundCpuBusy;
      const noisy =
        busy != null && busy >= 0.25
          ? [`note: ${r.id} ${side} ran while other work kept the machine ${(busy * 100).toFixed(0)}% busy`]
          : [];
      return [...(m.notes ?? []).map((note) => `note: ${r.id} ${side}: ${note}`), ...noisy];
    }),
  );
  return [tables.join('\n\n'), ...notes].join('\n');
}

/** The gateway's row, then one per peer with the gateway's ratio to it, its target and status. */
function rows(
  r: ScenarioResult,
  figures: (m: Measurement) => string[],
  failed: (m: Measurement) => string,
  costs: (m: Measurement) => string[],
): string[][] {
  return [
    [r.id, 'gateway', ...figures(r.gateway), '', '', '', failed(r.gateway), ...costs(r.gateway)],
    ...r.peers.map((p) => [
      '',
      p.name,
      ...figures(p.measurement),
      p.ratio === null ? '-' : `${p.ratio.toFixed(2)}x`,
      formatTarget(p.target),
      p.meetsTarget === null ? '' : p.meetsTarget ? 'ok' : 'BELOW TARGET',
      failed(p.measurement),
      ...costs(p.measurement),
    ]),
  ];
}

/** Left-aligns the scenario and status columns, right-aligns the figures. */
function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const left = new Set([0, 1, header.indexOf('status')]);
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
