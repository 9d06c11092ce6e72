/**
 * Connected agents. The registry owns the set of sessions; a node has at most one agent per
 * network mode (a newer hello from the same node and mode replaces the older connection,
 * which is usually a half-dead socket from before a reconnect).
 */
import type { AgentIdentity, AggregatorMessage, NetworkMode } from '../shared/protocol.js';

/** One agent connection, as the rest of the aggregator sees it. */
export interface AgentSession {
  readonly id: string;
  readonly identity: AgentIdentity;
  readonly connectedAt: Date;
  /** Send a command; returns false when the socket is no longer open. */
  send(m: AggregatorMessage): boolean;
  /** Close the connection with a WebSocket close code. */
  close(code: number, reason: string): void;
}

export type RegistryEvent = { kind: 'joined' | 'left'; session: AgentSession };

/**
 * Indexed by node and mode, so a lookup costs the same with 10 agents or 10,000: the scheduler
 * asks for two agents per test and every member list per round, and a leave used to scan and
 * sort every session.
 */
export class AgentRegistry {
  private readonly sessions = new Map<string, AgentSession>();
  private readonly byNode = new Map<string, Partial<Record<NetworkMode, AgentSession>>>();
  private readonly counts: Record<NetworkMode, number> = { pod: 0, host: 0 };
  /** Sorted node lists, rebuilt on the first read after a join or leave. */
  private sorted: Partial<Record<NetworkMode | 'any', string[]>> = {};
  private readonly listeners = new Set<(e: RegistryEvent) => void>();

  /** Add a session; returns the session it replaced, if any (the caller closes it). */
  add(session: AgentSession): AgentSession | undefined {
    const { nodeName, mode } = session.identity;
    const old = this.find(nodeName, mode);
    if (old) this.remove(old.id);
    this.sessions.set(session.id, session);
    const agents = this.byNode.get(nodeName);
    if (agents) agents[mode] = session;
    else this.byNode.set(nodeName, { [mode]: session });
    this.counts[mode]++;
    this.sorted = {};
    this.emit({ kind: 'joined', session });
    return old;
  }

  remove(id: string): void {
    const s = this.sessions.get(id);
    if (!s) return;
    const { nodeName, mode } = s.identity;
    this.sessions.delete(id);
    const agents = this.byNode.get(nodeName);
    if (agents?.[mode] === s) {
      delete agents[mode];
      if (!agents.pod && !agents.host) this.byNode.delete(nodeName);
    }
    this.counts[mode]--;
    this.sorted = {};
    this.emit({ kind: 'left', session: s });
  }

  get(id: string): AgentSession | undefined {
    return this.sessions.get(id);
  }

  find(nodeName: string, mode: NetworkMode): AgentSession | undefined {
    return this.byNode.get(nodeName)?.[mode];
  }

  all(): AgentSession[] {
    return [...this.sessions.values()];
  }

  /** A node's agents (at most one per mode). */
  agentsOf(nodeName: string): AgentSession[] {
    const agents = this.byNode.get(nodeName);
    return agents ? [agents.pod, agents.host].filter((s) => s !== undefined) : [];
  }

  /** Node names with an agent of `mode`, sorted (stable order makes schedules reproducible). A shared copy: do not change it. */
  nodesWith(mode: NetworkMode): readonly string[] {
    return (this.sorted[mode] ??= [...this.byNode]
      .filter(([, a]) => a[mode])
      .map(([node]) => node)
      .sort());
  }

  /** Node names with any agent, sorted. A shared copy: do not change it. */
  nodes(): readonly string[] {
    return (this.sorted.any ??= [...this.byNode.keys()].sort());
  }

  /** Nodes with any agent. */
  nodeCount(): number {
    return this.byNode.size;
  }

  hasNode(nodeName: string): boolean {
    return this.byNode.has(nodeName);
  }

  count(mode: NetworkMode): number {
    return this.counts[mode];
  }

  on(listener: (e: RegistryEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(e: RegistryEvent): void {
    for (const l of this.listeners) l(e);
  }
}
