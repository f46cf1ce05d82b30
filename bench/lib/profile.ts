import { readFileSync } from 'node:fs';

type ProfileNode = {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
};
type CpuProfile = { nodes: ProfileNode[]; startTime: number; endTime: number; samples: number[]; timeDeltas: number[] };

export type ProfileSummary = {
  sampledMs: number;
  /** Self time by package / source area, in ms and share of sampled time. */
  selfByArea: { area: string; ms: number; share: number }[];
  /** Time with the area anywhere on the stack. */
  inclusiveByArea: { area: string; ms: number; share: number }[];
  selfByFunction: { fn: string; ms: number; share: number }[];
};

/**
 * Summarizes a V8 .cpuprofile (node --cpu-prof), optionally only the samples inside
 * [fromUs, toUs] (the same monotonic clock as process.hrtime, so the harness can pass the
 * measured window and leave out start-up and seeding).
 */
export function summarizeProfile(file: string, window?: { fromUs: number; toUs: number }, top = 15): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const fns = new Map<string, number>();
  let total = 0;
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    const dt = profile.timeDeltas[i + 1] ?? 0;
    if (window && (t < window.fromUs || t > window.toUs)) continue;
    const node = byId.get(profile.samples[i]!)!;
    total += dt;
    const area = areaOf(node);
    add(self, area, dt);
    const f = node.callFrame;
    add(fns, `${f.functionName || '(anonymous)'} ${shortUrl(f.url)}${f.url ? `:${f.lineNumber + 1}` : ''}`, dt);
    const seen = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const a = areaOf(byId.get(id)!);
      if (a !== '(root)' && !seen.has(a)) {
        seen.add(a);
        add(inclusive, a, dt);
      }
    }
  }
  const rank = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, us]) => ({ k, ms: us / 1000, share: total ? us / total : 0 }));
  return {
    sampledMs: total / 1000,
    selfByArea: rank(self).map(({ k, ms, share }) => ({ area: k, ms, share })),
    inclusiveByArea: rank(inclusive).map(({ k, ms, share }) => ({ area: k, ms, share })),
    selfByFunction: rank(fns).map(({ k, ms, share }) => ({ fn: k, ms, share })),
  };
}

function add(map: Map<string, number>, key: string, value: number) {
  map.set(key, (map.get(key) ?? 0) + value);
}

/** A package name, a source area of this project, node internals, or V8's pseudo frames. */
function areaOf(node: ProfileNode): string {
  const { url, functionName } = node.callFrame;
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm !== -1) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`;
  const src = url.indexOf('/src/');
  if (src !== -1) {
    const rel = url.slice(src + 1);
    return rel.startsWith('src/generated/') ? 'src/generated (Prisma client)' : rel.split('/').slice(0, 2).join('/');
  }
  return shortUrl(url);
}

function shortUrl(url: string): string {
  const nm = url.lastIndexOf('node_modules/');
  if (nm !== -1) return url.slice(nm + 'node_modules/'.length);
  const src = url.indexOf('/src/');
  if (src !== -1) return url.slice(src + 1);
  return url.replace(/^file:\/\//, '');
}

export function formatProfileSummary(summary: ProfileSummary): string {
  const pct = (s: number) => `${(s * 100).toFixed(1).padStart(5)}%`;
  const lines = [`  sampled ${summary.sampledMs.toFixed(0)} ms of CPU in the measured window`, '  self time by area:'];
  for (const r of summary.selfByArea) lines.push(`    ${pct(r.share)}  ${r.area}`);
  lines.push('  on the stack (inclusive) by area:');
  for (const r of summary.inclusiveByArea) lines.push(`    ${pct(r.share)}  ${r.area}`);
  lines.push('  self time by function:');
  for (const r of summary.selfByFunction) lines.push(`    ${pct(r.share)}  ${r.fn}`);
  return lines.join('\n');
}
