import type { Measurement, Scenario } from './types.js';

export type ScenarioResult = {
  id: string;
  title: string;
  minRatio: number;
  gateway: Measurement;
  baseline: Measurement;
  /** gateway throughput / baseline throughput */
  ratio: number;
  meetsTarget: boolean;
};

export function scenarioResult(scenario: Scenario<any>, gateway: Measurement, baseline: Measurement): ScenarioResult {
  const ratio = baseline.throughput > 0 ? gateway.throughput / baseline.throughput : 0;
  return { id: scenario.id, title: scenario.title, minRatio: scenario.minRatio, gateway, baseline, ratio, meetsTarget: ratio >= scenario.minRatio };
}

/** The comparison table: gateway beside its baseline, one row per scenario. */
export function formatTable(results: ScenarioResult[]): string {
  const header = ['scenario', 'gateway req/s', 'p50 ms', 'p99 ms', 'baseline req/s', 'p50 ms', 'p99 ms', 'ratio', 'target', 'status', 'non-2xx/err gw|base', 'app cpu ms/req gw|base', 'pg cpu ms/req gw|base'];
  const rows = results.map((r) => [
    r.id,
    r.gateway.throughput.toFixed(0),
    ms(r.gateway.p50),
    ms(r.gateway.p99),
    r.baseline.throughput.toFixed(0),
    ms(r.baseline.p50),
    ms(r.baseline.p99),
    `${r.ratio.toFixed(2)}x`,
    `>=${r.minRatio.toFixed(2)}x`,
    r.meetsTarget ? 'ok' : 'BELOW TARGET',
    `${bad(r.gateway)}|${bad(r.baseline)}`,
    `${cpu(r.gateway.serverCpuMsPerRequest)}|${cpu(r.baseline.serverCpuMsPerRequest)}`,
    `${cpu(r.gateway.postgresCpuMsPerRequest)}|${cpu(r.baseline.postgresCpuMsPerRequest)}`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 || i === 9 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  const notes = results.flatMap((r) =>
    (['gateway', 'baseline'] as const).flatMap((side) => {
      const busy = r[side].backgroundCpuBusy;
      return busy != null && busy >= 0.25 ? [`note: ${r.id} ${side} ran while other work kept the machine ${(busy * 100).toFixed(0)}% busy`] : [];
    }),
  );
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line), ...notes].join('\n');
}

function ms(value: number): string {
  return value < 10 ? value.toFixed(1) : value.toFixed(0);
}

function cpu(value: number | null | undefined): string {
  return value == null ? '?' : value.toFixed(2);
}

function bad(m: Measurement): string {
  return `${m.non2xx + m.mismatches}/${m.errors}`;
}
