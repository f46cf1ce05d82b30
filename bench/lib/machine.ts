import { readdirSync, readFileSync } from 'node:fs';

/** Share of all CPUs busy over `ms` (Linux /proc/stat), or null where that is not available. */
export async function machineCpuBusy(ms: number): Promise<number | null> {
  const first = cpuTimes();
  if (!first) return null;
  await new Promise((r) => setTimeout(r, ms));
  const second = cpuTimes()!;
  const total = second.total - first.total;
  return total > 0 ? (second.busy - first.busy) / total : null;
}

function cpuTimes(): { busy: number; total: number } | null {
  let text: string;
  try {
    text = readFileSync('/proc/stat', 'utf8');
  } catch {
    return null;
  }
  const fields = text.split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal …
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

const TICK_MS = 10; // USER_HZ is 100 on Linux

/** CPU time (user + system, ms) of one process, or null where /proc is not available. */
export function processCpuMs(pid: number): number | null {
  const stat = readStat(pid);
  return stat ? stat.cpuMs : null;
}

/** Resident set size of one process in bytes, or null where /proc is not available. */
export function processRssBytes(pid: number): number | null {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/**
 * CPU time (ms) of every process whose name is `postgres` (the server and its backends), keyed by
 * pid so that a backend that exits between two snapshots does not count as negative.
 */
export function postgresCpuSnapshot(): Map<number, number> | null {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return null;
  }
  const snapshot = new Map<number, number>();
  for (const p of pids) {
    const stat = readStat(Number(p));
    if (stat?.comm === 'postgres') snapshot.set(Number(p), stat.cpuMs);
  }
  return snapshot;
}

/** CPU ms used between two snapshots by the processes of the second. */
export function cpuBetween(before: Map<number, number> | null, after: Map<number, number> | null): number | null {
  if (!before || !after) return null;
  let total = 0;
  for (const [pid, ms] of after) total += ms - (before.get(pid) ?? 0);
  return total;
}

function readStat(pid: number): { comm: string; cpuMs: number } | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  const close = text.lastIndexOf(')');
  const comm = text.slice(text.indexOf('(') + 1, close);
  const fields = text.slice(close + 2).split(' ');
  // after "(comm) ": state is field 3, so utime (14) and stime (15) are at 11 and 12 here
  return { comm, cpuMs: (Number(fields[11]) + Number(fields[12])) * TICK_MS };
}
