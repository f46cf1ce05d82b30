import type pg from 'pg';
import { readFileSync } from 'node:fs';

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
 * CPU time (ms) of a changing set of processes over a window, from /proc/<pid>/stat readings:
 * `see` reads a process (its first reading is the start, or 0 for a process that started inside
 * the window) and the last reading is the end, so a process that exits keeps what it used up to
 * the last reading. Call `see` often (every poll) for processes that may exit.
 */
export class CpuWindow {
  private readonly first = new Map<number, number>();
  private readonly last = new Map<number, number>();

  see(pid: number, startedInside = false): void {
    const ms = processCpuMs(pid);
    if (ms === null) return;
    if (!this.first.has(pid)) this.first.set(pid, startedInside ? 0 : ms);
    this.last.set(pid, ms);
  }

  /** Null for a process never read (no /proc here, or gone before its first reading). */
  used(pid: number): number | null {
    const first = this.first.get(pid);
    return first === undefined ? null : this.last.get(pid)! - first;
  }

  total(): number {
    let sum = 0;
    for (const [pid, ms] of this.last) sum += ms - this.first.get(pid)!;
    return sum;
  }

  get size(): number {
    return this.first.size;
  }
}

/**
 * CPU time (ms) of the PostgreSQL backends connected to the bench database over a window, other
 * databases' backends and the server's own processes (checkpointer, WAL writer) left out: polls
 * pg_stat_activity every `intervalMs` for the backends' pids (not the harness's own sessions) and
 * reads each one's CPU. A backend that connects during the window counts from its start; one that
 * disconnects, up to the last poll that saw it. Null when PostgreSQL's processes are not readable
 * here (another machine or container).
 */
export async function startDatabaseCpuCounter(
  sql: pg.Pool,
  excludeApplication: string,
  intervalMs = 250,
): Promise<{ stop(): Promise<number | null> }> {
  const window = new CpuWindow();
  const poll = async (initial: boolean) => {
    const { rows } = await sql.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name <> $1`,
      [excludeApplication],
    );
    for (const { pid } of rows) window.see(pid, !initial);
    return rows.length;
  };
  const backends = await poll(true);
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      await new Promise((r) => setTimeout(r, intervalMs));
      if (!stopped) await poll(false);
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      await poll(false);
      return backends > 0 && window.size === 0 ? null : window.total();
    },
  };
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
