/**
 * What the scheduler reads from the agent registry: who can take part in each kind of test on
 * each path (a snapshot as plain data, for the planner), and, for one planned test, its two
 * agents, the address to dial and whether both agents can take its spec (the runner's plan).
 */
import { failure, type Failure } from '../shared/errors.js';
import type { NetworkMode, Path, Protocol, TestKind, ThroughputSpec } from '../shared/protocol.js';
import type { Topology } from '../shared/result.js';
import { checkOmit } from '../shared/limits.js';
import type { AgentRegistry, AgentSession } from './agents.js';
import type { Membership } from './planning/planner.js';
import type { KindAndSpec } from './planning/spec.js';
import type { TestPlan } from './test-runner.js';

const PATHS: readonly Path[] = ['node', 'pod', 'service'];

export const modeOf = (path: Path): NetworkMode => (path === 'node' ? 'host' : 'pod');

/** The registry and the cluster as the scheduler sees them. */
export interface SchedulerWorld {
  agents: AgentRegistry;
  /** The service address in front of a node's pod agent, for the service path. */
  serviceAddress: (node: string) => string | undefined;
  /** A node's place in the cluster; without it every node is a zone of its own. */
  topology?: (node: string) => Topology | null;
}

/** Nodes that can take part in `kind` tests on `path` now (latency needs sockperf on the agent). */
export function membersOf(w: SchedulerWorld, path: Path, kind: TestKind): readonly string[] {
  const mode = modeOf(path);
  let nodes = w.agents.nodesWith(mode);
  if (path === 'service') nodes = nodes.filter((n) => w.serviceAddress(n) !== undefined);
  if (kind === 'latency') nodes = nodes.filter((n) => Boolean(w.agents.find(n, mode)?.identity.sockperfVersion));
  return nodes;
}

/** Every path's members for both kinds, and the zones of the nodes that have one. */
export function membership(w: SchedulerWorld): Membership {
  const throughput: Partial<Record<Path, readonly string[]>> = {};
  const latency: Partial<Record<Path, readonly string[]>> = {};
  for (const path of PATHS) {
    const nodes = membersOf(w, path, 'throughput');
    throughput[path] = nodes;
    latency[path] = nodes.filter((n) => Boolean(w.agents.find(n, modeOf(path))?.identity.sockperfVersion));
  }
  const zones = new Map<string, string>();
  for (const node of w.topology ? w.agents.nodes() : []) {
    const zone = w.topology?.(node)?.zone;
    if (zone !== undefined && zone !== null) zones.set(node, zone);
  }
  return { throughput, latency, zones };
}

/** Where a planned test runs and for whom. */
export interface TestPlace {
  path: Path;
  protocol: Protocol;
  source: string;
  target: string;
  runId: string | null;
  label: string | null;
}

/** One planned test: its plan for the runner, or why it cannot start (an agent gone, no address, a spec it cannot take). */
export function planTest(w: SchedulerWorld, at: TestPlace, planned: KindAndSpec): { plan: TestPlan } | { refused: Failure } {
  const mode = modeOf(at.path);
  const client = w.agents.find(at.source, mode);
  const server = w.agents.find(at.target, mode);
  if (!client || !server) return { refused: failure('agent-lost', `no ${mode} agent on ${client ? at.target : at.source}`) };
  const address = targetAddress(at.path, server, w.serviceAddress);
  if (!address) return { refused: failure('no-target-address', `no service address for ${at.target}`) };
  const refused = planned.spec.kind === 'throughput' ? omitRefused(planned.spec, [client, server]) : undefined;
  if (refused) return { refused };
  // `planned` is spread last: in Node 20 a literal that starts with a spread of these two-shaped
  // objects costs ~10 µs (a quarter of the simulated test), one that ends with it ~0.1.
  const { path, protocol, runId, label } = at;
  return { plan: { path, protocol, client, server, targetAddress: address, runId, label, ...planned } };
}

/**
 * A refusal on behalf of an agent that predates omitSeconds: sent a spec with it, that agent
 * would drop its connection (its TestSpec is strict) instead of refusing the test.
 */
function omitRefused(spec: ThroughputSpec, agents: readonly AgentSession[]): Failure | undefined {
  for (const a of agents) {
    const f = checkOmit(a.identity.limits, spec);
    if (f) return failure(f.code, `${a.identity.mode} agent on ${a.identity.nodeName}: ${f.message}`);
  }
  return undefined;
}

function targetAddress(path: Path, server: AgentSession, service: (node: string) => string | undefined): string | undefined {
  if (path === 'node') return server.identity.hostIp;
  if (path === 'pod') return server.identity.podIp;
  return service(server.identity.nodeName);
}
