/**
 * What the aggregator's Kubernetes integration is doing, per component, for GET /api/status and
 * the netmatrix_kubernetes_up metric: a reader sees at once whether pod-to-service is measured
 * and, if not, why.
 */
export type KubeComponent = 'nodes' | 'services' | 'dataplane';
export type KubeState = 'disabled' | 'starting' | 'ok' | 'unavailable';

export interface ComponentStatus {
  state: KubeState;
  /** Why it is unavailable or disabled; null when ok. */
  reason: string | null;
  /** When the state last changed. */
  since: string;
  /** When the next attempt is due, while unavailable. */
  retryAt: string | null;
}

export class KubeStatus {
  private readonly components = new Map<KubeComponent, ComponentStatus>();

  constructor(
    readonly source: string | null,
    private readonly now: () => Date = () => new Date(),
  ) {}

  set(c: KubeComponent, state: KubeState, reason: string | null = null, retryInMs?: number): void {
    const old = this.components.get(c);
    const t = this.now();
    this.components.set(c, {
      state,
      reason,
      since: old && old.state === state ? old.since : t.toISOString(),
      retryAt: retryInMs === undefined ? null : new Date(t.getTime() + retryInMs).toISOString(),
    });
  }

  get(c: KubeComponent): ComponentStatus | undefined {
    return this.components.get(c);
  }

  view(): { source: string | null; components: Record<string, ComponentStatus> } {
    return { source: this.source, components: Object.fromEntries(this.components) };
  }
}
