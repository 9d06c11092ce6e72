/**
 * Node topology from the Kubernetes API: a watch on Nodes (an informer, restarted with backoff
 * after any error, since client-node's informers stop on errors other than 410 Gone) keeps each
 * node's zone, region and instance type, which results and matrix rows carry so cross-zone pairs
 * can be told from same-zone ones.
 */
import type { Logger } from 'pino';
import type { V1Node } from '@kubernetes/client-node';
import { backoffDelayMs } from '../../shared/backoff.js';
import type { Topology } from '../../shared/result.js';
import { describeKubeError, type KubeClient, type NodeInformer } from './client.js';
import type { KubeStatus } from './status.js';

/** Well-known labels, with the deprecated beta names as a fallback for old clusters. */
export function topologyOf(node: V1Node): Topology {
  const l = node.metadata?.labels ?? {};
  return {
    zone: l['topology.kubernetes.io/zone'] ?? l['failure-domain.beta.kubernetes.io/zone'] ?? null,
    region: l['topology.kubernetes.io/region'] ?? l['failure-domain.beta.kubernetes.io/region'] ?? null,
    instanceType: l['node.kubernetes.io/instance-type'] ?? l['beta.kubernetes.io/instance-type'] ?? null,
  };
}

export class NodeTopologyWatch {
  private readonly nodes = new Map<string, Topology>();
  private informer: NodeInformer | undefined;
  private attempt = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly client: KubeClient,
    private readonly status: KubeStatus,
    private readonly log: Logger,
    private readonly backoff = { initialMs: 1000, maxMs: 60_000, random: Math.random },
  ) {}

  /** The node's topology, or null when the node is unknown to the API (or the watch is down). */
  get(node: string): Topology | null {
    return this.nodes.get(node) ?? null;
  }

  start(): void {
    this.status.set('nodes', 'starting');
    this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.informer?.stop();
  }

  private connect(): void {
    if (this.stopped) return;
    const inf = this.client.nodeInformer();
    this.informer = inf;
    const put = (n: V1Node) => {
      if (n.metadata?.name) this.nodes.set(n.metadata.name, topologyOf(n));
    };
    inf.on('add', put);
    inf.on('update', put);
    inf.on('delete', (n) => {
      if (n.metadata?.name) this.nodes.delete(n.metadata.name);
    });
    inf.on('error', (err) => this.failed(inf, err));
    inf.start().then(
      () => {
        if (this.informer !== inf || this.stopped) return;
        // The list succeeded: the cache holds every node as of now.
        this.nodes.clear();
        for (const n of inf.list()) put(n);
        this.attempt = 0;
        this.status.set('nodes', 'ok');
        this.log.info({ nodes: this.nodes.size }, 'watching nodes');
      },
      (err: unknown) => this.failed(inf, err),
    );
  }

  private failed(inf: NodeInformer, err: unknown): void {
    if (this.informer !== inf || this.stopped) return;
    this.informer = undefined;
    void inf.stop().catch(() => undefined);
    const delay = backoffDelayMs(this.attempt++, this.backoff);
    const reason = describeKubeError(err);
    this.status.set('nodes', 'unavailable', reason, delay);
    this.log.warn({ reason, retryInMs: delay }, 'node watch failed; retrying');
    this.timer = setTimeout(() => this.connect(), delay);
    this.timer.unref();
  }
}
