/**
 * Pod-to-service targets on a real cluster. For each pod agent the aggregator keeps a Service
 * without a selector plus an EndpointSlice pointing at that agent's pod IP, so the cluster's own
 * service proxy (kube-proxy, Calico or Cilium) translates the ClusterIP the apiserver allocated:
 * exactly the path an application's traffic takes.
 *
 * Reconciliation: desired (the connected pod agents) against actual (our labelled objects), on
 * every agent join or leave and every `resyncMs`. Objects of an agent that left are deleted at
 * once; objects found at start-up whose agent does not come back within `staleGraceMs` are
 * deleted as stale. Any API failure marks the service path unavailable with the reason and is
 * retried with backoff; node-to-node and pod-to-pod tests do not depend on any of this.
 */
import type { Logger } from 'pino';
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import { backoffDelayMs } from '../../shared/backoff.js';
import type { AgentIdentity, NetworkMode } from '../../shared/protocol.js';
import { describeKubeError, type KubeClient } from './client.js';
import { ANNOTATION_NODE, ENDPOINTSLICE_MANAGED_BY, ownedLabels, ownedSelector, serviceName } from './names.js';
import type { KubeStatus } from './status.js';

/** A connected agent, as much of it as the Services need. */
export interface AgentView {
  readonly identity: Pick<AgentIdentity, 'nodeName' | 'mode' | 'podIp' | 'iperf3Port'>;
}

/**
 * The connected agents as kube/ sees them: the aggregator passes its registry, but kube/
 * depends only on these three calls, not on the aggregator's internals.
 */
export interface AgentDirectory {
  find(node: string, mode: NetworkMode): AgentView | undefined;
  all(): readonly AgentView[];
  /** Calls `listener` when an agent joins or leaves; returns the unsubscribe. */
  on(listener: (e: { kind: 'joined' | 'left'; session: AgentView }) => void): () => void;
}

export interface ServiceDirectoryOptions {
  client: KubeClient;
  agents: AgentDirectory;
  status: KubeStatus;
  log: Logger;
  /** Names and labels the objects (the Helm release's full name). */
  instance: string;
  /** How long objects found at start-up wait for their agent before they are deleted. */
  staleGraceMs: number;
  resyncMs?: number;
  backoff?: { initialMs: number; maxMs: number; random: () => number };
}

interface Target {
  name: string;
  clusterIp: string;
  /** The pod IP and port the EndpointSlice points at, as last written. */
  podIp: string;
  port: number;
}

const PORT_NAMES = { tcp: 'iperf3-tcp', udp: 'iperf3-udp' } as const;

export function serviceBody(instance: string, node: string, port: number): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: serviceName(instance, node), labels: ownedLabels(instance), annotations: { [ANNOTATION_NODE]: node } },
    spec: {
      type: 'ClusterIP',
      ports: [
        { name: PORT_NAMES.tcp, protocol: 'TCP', port, targetPort: port },
        { name: PORT_NAMES.udp, protocol: 'UDP', port, targetPort: port },
      ],
    },
  };
}

export function endpointSliceBody(instance: string, node: string, podIp: string, port: number, resourceVersion?: string): V1EndpointSlice {
  const name = serviceName(instance, node);
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name,
      resourceVersion,
      labels: {
        ...ownedLabels(instance),
        'kubernetes.io/service-name': name,
        'endpointslice.kubernetes.io/managed-by': ENDPOINTSLICE_MANAGED_BY,
      },
      annotations: { [ANNOTATION_NODE]: node },
    },
    addressType: 'IPv4',
    endpoints: [{ addresses: [podIp], conditions: { ready: true, serving: true, terminating: false }, nodeName: node }],
    ports: [
      { name: PORT_NAMES.tcp, protocol: 'TCP', port },
      { name: PORT_NAMES.udp, protocol: 'UDP', port },
    ],
  };
}

function servicePort(s: V1Service): number | undefined {
  return s.spec?.ports?.find((p) => p.name === PORT_NAMES.tcp)?.port;
}

function sliceTarget(s: V1EndpointSlice): { podIp: string | undefined; port: number | undefined } {
  return { podIp: s.endpoints[0]?.addresses[0], port: s.ports?.find((p) => p.name === PORT_NAMES.tcp)?.port ?? undefined };
}

export class ServiceDirectory {
  private readonly targets = new Map<string, Target>();
  /** Nodes whose pod agent left while we watched: their objects go at the next pass, no grace. */
  private readonly left = new Set<string>();
  private readonly startedAt = Date.now();
  private attempt = 0;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly o: ServiceDirectoryOptions) {}

  /** The ClusterIP in front of `node`'s pod agent, once its Service and EndpointSlice are in place. */
  address(node: string): string | undefined {
    const t = this.targets.get(node);
    const agent = this.o.agents.find(node, 'pod');
    // The slice must point at the agent connected now, not one from before a restart.
    return t && agent && agent.identity.podIp === t.podIp && agent.identity.iperf3Port === t.port ? t.clusterIp : undefined;
  }

  start(): void {
    this.o.status.set('services', 'starting');
    this.unsubscribe = this.o.agents.on((e) => {
      if (e.session.identity.mode !== 'pod') return;
      const node = e.session.identity.nodeName;
      if (e.kind === 'left' && !this.o.agents.find(node, 'pod')) {
        this.targets.delete(node);
        this.left.add(node);
      }
      this.kick(0);
    });
    this.kick(0);
    // Objects left from before a restart whose agent never came back go when the grace ends.
    setTimeout(() => this.kick(0), this.o.staleGraceMs + 10).unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    clearTimeout(this.timer);
    await this.running;
  }

  /**
   * Run a pass after `delayMs` (replacing any pass already scheduled). Passes never overlap: one
   * asked for during a pass runs right after it; otherwise the pass itself says when the next is
   * due (the resync period, or the backoff after a failure).
   */
  private kick(delayMs: number): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.running = this.pass().then((nextMs) => {
        this.running = undefined;
        const next = this.again ? 0 : nextMs;
        this.again = false;
        this.kick(next);
      });
    }, delayMs);
    this.timer.unref();
  }

  /** One pass; never rejects. Resolves with the delay before the next one. */
  private async pass(): Promise<number> {
    try {
      await this.reconcile();
      this.attempt = 0;
      this.o.status.set('services', 'ok');
      return this.o.resyncMs ?? 60_000;
    } catch (e) {
      const delay = backoffDelayMs(this.attempt++, this.o.backoff ?? { initialMs: 1000, maxMs: 60_000, random: Math.random });
      const reason = describeKubeError(e);
      this.o.status.set('services', 'unavailable', reason, delay);
      this.o.log.warn({ reason, retryInMs: delay }, 'pod-to-service targets could not be reconciled; retrying');
      return delay;
    }
  }

  private async reconcile(): Promise<void> {
    const { client, instance } = this.o;
    const selector = ownedSelector(instance);
    const [services, slices] = await Promise.all([client.listServices(selector), client.listEndpointSlices(selector)]);
    const svcByName = new Map(services.map((s) => [s.metadata?.name ?? '', s]));
    const sliceByName = new Map(slices.map((s) => [s.metadata?.name ?? '', s]));
    const wanted = new Set<string>();

    const failures: string[] = [];
    for (const agent of this.o.agents.all().filter((a) => a.identity.mode === 'pod')) {
      if (this.stopped) return;
      const { nodeName: node, podIp, iperf3Port: port } = agent.identity;
      const name = serviceName(instance, node);
      wanted.add(name);
      this.left.delete(node);
      // One node's failure (say, an address the API refuses) must not hold up the others.
      try {
        await this.ensure(node, name, podIp, port, svcByName.get(name), sliceByName.get(name));
      } catch (e) {
        this.targets.delete(node);
        failures.push(`${node}: ${describeKubeError(e)}`);
      }
    }

    const graceOver = Date.now() - this.startedAt >= this.o.staleGraceMs;
    for (const [name, svc] of svcByName) {
      if (wanted.has(name)) continue;
      const node = svc.metadata?.annotations?.[ANNOTATION_NODE];
      if (!graceOver && !(node && this.left.has(node))) continue;
      await client.deleteEndpointSlice(name);
      await client.deleteService(name);
      if (node) this.left.delete(node);
      this.o.log.info({ node, service: name }, 'pod-to-service target removed');
    }
    // A slice without its Service (a deletion cut short) goes too.
    for (const name of sliceByName.keys()) if (!svcByName.has(name) && !wanted.has(name)) await client.deleteEndpointSlice(name);
    if (failures.length > 0) throw new Error(failures.join('; '));
  }

  private async ensure(node: string, name: string, podIp: string, port: number, found?: V1Service, slice?: V1EndpointSlice): Promise<void> {
    const { client, instance } = this.o;
    let svc = found;
    if (svc && servicePort(svc) !== port) {
      await client.deleteService(name);
      svc = undefined;
    }
    svc ??= await client.createService(serviceBody(instance, node, port));
    const clusterIp = svc.spec?.clusterIP;
    if (!clusterIp || clusterIp === 'None') throw new Error(`Service ${name} has no ClusterIP`);

    const now = slice ? sliceTarget(slice) : undefined;
    if (!slice) await client.createEndpointSlice(endpointSliceBody(instance, node, podIp, port));
    else if (now?.podIp !== podIp || now.port !== port) {
      await client.replaceEndpointSlice(endpointSliceBody(instance, node, podIp, port, slice.metadata?.resourceVersion));
    }
    const before = this.targets.get(node);
    this.targets.set(node, { name, clusterIp, podIp, port });
    if (before?.clusterIp !== clusterIp || before.podIp !== podIp) {
      this.o.log.info({ node, service: name, clusterIp, podIp }, 'pod-to-service target ready');
    }
  }
}
