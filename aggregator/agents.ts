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

export class AgentRegistry {
  private readonly sessions = new Map<string, AgentSession>();
  private readonly listeners = new Set<(e: RegistryEvent) => void>();

  /** Add a session; returns the session it replaced, if any (the caller closes it). */
  add(session: AgentSession): AgentSession | undefined {
    const old = this.find(session.identity.nodeName, session.identity.mode);
    if (old) this.remove(old.id);
    this.sessions.set(session.id, session);
    this.emit({ kind: 'joined', session });
    return old;
  }

  remove(id: string): void {
    const s = this.sessions.get(id);
    if (!s) return;
    this.sessions.delete(id);
    this.emit({ kind: 'left', session: s });
  }

  get(id: string): AgentSession | undefined {
    return this.sessions.get(id);
  }

  find(nodeName: string, mode: NetworkMode): AgentSession | undefined {
    for (const s of this.sessions.values()) {
      if (s.identity.nodeName === nodeName && s.identity.mode === mode) return s;
    }
    return undefined;
  }

  all(): AgentSession[] {
    return [...this.sessions.values()];
  }

  /** Node names with an agent of `mode`, sorted (stable order makes schedules reproducible). */
  nodesWith(mode: NetworkMode): string[] {
    return [
      ...new Set(
        this.all()
          .filter((s) => s.identity.mode === mode)
          .map((s) => s.identity.nodeName),
      ),
    ].sort();
  }

  /** Node names with any agent. */
  nodes(): string[] {
    return [...new Set(this.all().map((s) => s.identity.nodeName))].sort();
  }

  count(mode: NetworkMode): number {
    return this.all().filter((s) => s.identity.mode === mode).length;
  }

  on(listener: (e: RegistryEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(e: RegistryEvent): void {
    for (const l of this.listeners) l(e);
  }
}
