import type { BaselineServer, Peer, Scenario, Target } from './types.js';

/** The script that serves the peers given as routes (`handle`). */
export const ROUTE_SERVER_SCRIPT = 'bench/baseline-server.ts';

/** A scenario's peers in run order: `baseline` (the shorthand) first, then `peers`. */
export function peersOf(scenario: Scenario<any>): [string, Peer][] {
  const peers: [string, Peer][] = scenario.baseline ? [['baseline', scenario.baseline]] : [];
  for (const [name, peer] of Object.entries(scenario.peers ?? {})) {
    if (name === 'gateway') throw new Error(`${scenario.id}: a peer may not be named "gateway"`);
    if (name === 'baseline' && scenario.baseline)
      throw new Error(`${scenario.id}: "baseline" given both as baseline and in peers`);
    peers.push([name, peer]);
  }
  return peers;
}

/** Where bench/baseline-server.ts serves a route peer. */
export function routePath(scenarioId: string, peer: string): string {
  return peer === 'baseline' ? `/${scenarioId}` : `/${scenarioId}/${peer}`;
}

/** The bar against one peer: its own, else (for `baseline`) the scenario's; none: reference only. */
export function targetOf(scenario: Scenario<any>, peer: string, definition: Peer): Target | undefined {
  return definition.target ?? (peer === 'baseline' ? scenario.target : undefined);
}

/** Which table a scenario's rows go into: the kind of its targets (throughput when it has none). */
export function tableKindOf(scenario: Scenario<any>): Target['kind'] {
  const targets = [scenario.target, ...peersOf(scenario).map(([, p]) => p.target)];
  return targets.find((t) => t !== undefined)?.kind ?? 'throughput';
}

export function isServerPeer(peer: Peer): peer is Peer & BaselineServer {
  return 'script' in peer;
}
