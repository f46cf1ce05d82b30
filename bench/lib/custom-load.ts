import type { Measurement } from './types.js';

const MAX_SAMPLES = 3;

/** p50/p90/p99 (nearest rank) and mean of `values`; 0 for none. */
export function percentiles(values: number[]): Pick<Measurement, 'p50' | 'p90' | 'p99' | 'mean'> {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)] ?? 0;
  return {
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    mean: sorted.reduce((sum, v) => sum + v, 0) / Math.max(1, sorted.length),
  };
}

/**
 * The Measurement of a custom load (webhook delivery, jobs): `ok` operations in `durationSeconds`,
 * latency percentiles over `latenciesMs`; `errors` and `timeouts` (lost, unfinished) are messages,
 * any of which makes the run fail; `notes` are printed under the table.
 */
export function customMeasurement(m: {
  ok: number;
  durationSeconds: number;
  latenciesMs: number[];
  errors?: string[];
  timeouts?: string[];
  notes?: string[];
}): Measurement {
  const errors = m.errors ?? [];
  const timeouts = m.timeouts ?? [];
  return {
    throughput: m.durationSeconds > 0 ? m.ok / m.durationSeconds : 0,
    ...percentiles(m.latenciesMs),
    ok: m.ok,
    non2xx: 0,
    errors: errors.length,
    timeouts: timeouts.length,
    mismatches: 0,
    statusCodes: {},
    durationSeconds: m.durationSeconds,
    failureSamples: [...errors, ...timeouts].slice(0, MAX_SAMPLES),
    notes: m.notes,
  };
}
