/**
 * The aggregator's Kubernetes integration in one object: node topology, pod-to-service targets
 * and dataplane detection over one client, with their status. Absent (null) when Kubernetes is
 * off; every part degrades on its own when the API is unreachable or forbidden.
 */
import type { Logger } from 'pino';
import type { Dataplane } from '../../shared/environment.js';
import type { Topology } from '../../shared/result.js';
import { connectKube, type KubeSettings } from './client.js';
import { DATAPLANE_SOURCES, interpretDataplane, readDataplaneObjects } from './dataplane.js';
import { ServiceDirectory, type AgentDirectory } from './services.js';
import { KubeStatus } from './status.js';

export type { KubeStatus };
import { NodeTopologyWatch } from './topology.js';

export interface KubeIntegrationSettings extends KubeSettings {
  instance: string;
  staleServiceGraceSeconds: number;
  kubernetesResyncSeconds: number;
}

export interface KubeIntegration {
  status: KubeStatus;
  /** ClusterIP in front of the node's pod agent, when ready. */
  serviceAddress(node: string): string | undefined;
  topology(node: string): Topology | null;
  dataplane(): Promise<Dataplane>;
  start(): void;
  stop(): Promise<void>;
}

export function createKubeIntegration(
  s: KubeIntegrationSettings,
  env: Record<string, string | undefined>,
  agents: AgentDirectory,
  log: Logger,
): KubeIntegration | null {
  const client = connectKube(s, env);
  if (!client) return null;
  const status = new KubeStatus(client.source);
  const nodes = new NodeTopologyWatch(client, status, log.child({ component: 'kube-nodes' }));
  const services = new ServiceDirectory({
    client,
    agents,
    status,
    log: log.child({ component: 'kube-services' }),
    instance: s.instance,
    staleGraceMs: s.staleServiceGraceSeconds * 1000,
    resyncMs: s.kubernetesResyncSeconds * 1000,
  });
  log.info({ source: client.source, namespace: client.namespace, instance: s.instance }, 'using the Kubernetes API');
  return {
    status,
    serviceAddress: (node) => services.address(node),
    topology: (node) => nodes.get(node),
    async dataplane() {
      // Each read fails on its own and says why in `source`; the component is down only when none could be read.
      const objects = await readDataplaneObjects(client);
      if (objects.problems.length === DATAPLANE_SOURCES) status.set('dataplane', 'unavailable', objects.problems.join('; '));
      else status.set('dataplane', 'ok');
      return interpretDataplane(objects);
    },
    start() {
      nodes.start();
      services.start();
    },
    async stop() {
      await Promise.all([nodes.stop(), services.stop()]);
    },
  };
}
