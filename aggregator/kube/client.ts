/**
 * The aggregator's one door to the Kubernetes API: @kubernetes/client-node behind the few calls
 * netmatrix makes, so the rest of the aggregator never sees the library's types or errors.
 * In a pod it uses the in-cluster configuration; outside, a kubeconfig file.
 */
import { existsSync, readFileSync } from 'node:fs';
import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  DiscoveryV1Api,
  KubeConfig,
  makeInformer,
  type V1EndpointSlice,
  type V1Node,
  type V1Service,
} from '@kubernetes/client-node';

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export type KubeMode = 'auto' | 'on' | 'off';

export interface KubeSettings {
  kubernetes: KubeMode;
  kubeconfig: string | undefined;
  namespace: string | undefined;
}

/** Why a Kubernetes API call failed, in one line: "403 Forbidden: services is forbidden: ..." or "ECONNREFUSED ...". */
export function describeKubeError(e: unknown): string {
  if (e instanceof ApiException) {
    let detail = '';
    try {
      const body = JSON.parse(String(e.body)) as { reason?: string; message?: string };
      detail = [body.reason, body.message].filter(Boolean).join(': ');
    } catch {
      detail = String(e.body).slice(0, 200);
    }
    return `${e.code}${detail ? ` ${detail}` : ''}`;
  }
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    const cause = (e as { cause?: { code?: unknown; message?: string } }).cause;
    const c = typeof code === 'string' ? code : typeof cause?.code === 'string' ? cause.code : undefined;
    return c && !e.message.includes(c) ? `${c} ${e.message}` : e.message;
  }
  return String(e);
}

/** HTTP status of a failed call, or undefined for a network error. */
export function kubeErrorStatus(e: unknown): number | undefined {
  return e instanceof ApiException ? e.code : undefined;
}

export interface NodeInformer {
  on(event: 'add' | 'update' | 'delete', cb: (n: V1Node) => void): void;
  on(event: 'error', cb: (err: unknown) => void): void;
  list(): V1Node[];
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A DaemonSet's pod counts as its status says: written by the DaemonSet controller, so as fresh
 * as the controller's last pass.
 */
export interface DaemonSetCounts {
  /** status.desiredNumberScheduled: nodes that should run its pod (0 when its nodeSelector matches none). */
  desired: number;
  /** status.numberReady: nodes where its pod runs and is ready. */
  ready: number;
}

/** The calls netmatrix makes. Every method throws on failure; describeKubeError explains it. */
export interface KubeClient {
  /** "in-cluster" or "kubeconfig <path>" (for logs and /api/status). */
  readonly source: string;
  readonly namespace: string;
  listServices(labelSelector: string): Promise<V1Service[]>;
  createService(body: V1Service): Promise<V1Service>;
  deleteService(name: string): Promise<void>;
  listEndpointSlices(labelSelector: string): Promise<V1EndpointSlice[]>;
  createEndpointSlice(body: V1EndpointSlice): Promise<V1EndpointSlice>;
  replaceEndpointSlice(body: V1EndpointSlice): Promise<V1EndpointSlice>;
  deleteEndpointSlice(name: string): Promise<void>;
  nodeInformer(): NodeInformer;
  /** A cluster-scoped custom object, or null when it (or its CRD) does not exist. */
  getClusterCustomObject(group: string, version: string, plural: string, name: string): Promise<Record<string, unknown> | null>;
  /** Every object of a cluster-scoped custom kind, or null when the kind (its CRD or API group) does not exist. */
  listClusterCustomObjects(group: string, version: string, plural: string): Promise<Record<string, unknown>[] | null>;
  /** A ConfigMap's data, or null when it does not exist. */
  getConfigMapData(namespace: string, name: string): Promise<Record<string, string> | null>;
  /** A DaemonSet's pod counts, or null when it does not exist. */
  getDaemonSetCounts(namespace: string, name: string): Promise<DaemonSetCounts | null>;
}

/**
 * The client for these settings, or null when Kubernetes is off (or `auto` finds neither an
 * in-cluster service account nor a kubeconfig). Throws when `on` cannot be satisfied.
 * `fsRoot` prefixes the service account's files (tests).
 */
export function connectKube(s: KubeSettings, env: Record<string, string | undefined>, fsRoot = ''): KubeClient | null {
  if (s.kubernetes === 'off') return null;
  const kc = new KubeConfig();
  let source: string;
  if (s.kubeconfig) {
    kc.loadFromFile(s.kubeconfig);
    source = `kubeconfig ${s.kubeconfig}`;
  } else if (env.KUBERNETES_SERVICE_HOST && existsSync(`${fsRoot}${SA_DIR}/token`)) {
    // client-node reads KUBERNETES_SERVICE_HOST/PORT from process.env and the files under fsRoot.
    kc.loadFromCluster(fsRoot);
    source = 'in-cluster';
  } else if (s.kubernetes === 'on') {
    throw new Error(
      'NETMATRIX_KUBERNETES=on, but there is no in-cluster service account and no NETMATRIX_KUBECONFIG: set one, or use auto/off',
    );
  } else {
    return null;
  }
  const namespace = s.namespace ?? readNamespace(fsRoot) ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
  return new ClientNodeKube(kc, source, namespace);
}

function readNamespace(fsRoot: string): string | undefined {
  try {
    return readFileSync(`${fsRoot}${SA_DIR}/namespace`, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

const isNotFound = (e: unknown) => kubeErrorStatus(e) === 404;

class ClientNodeKube implements KubeClient {
  private readonly core: CoreV1Api;
  private readonly apps: AppsV1Api;
  private readonly discovery: DiscoveryV1Api;
  private readonly custom: CustomObjectsApi;

  constructor(
    private readonly kc: KubeConfig,
    readonly source: string,
    readonly namespace: string,
  ) {
    this.core = kc.makeApiClient(CoreV1Api);
    this.apps = kc.makeApiClient(AppsV1Api);
    this.discovery = kc.makeApiClient(DiscoveryV1Api);
    this.custom = kc.makeApiClient(CustomObjectsApi);
  }

  async listServices(labelSelector: string): Promise<V1Service[]> {
    return (await this.core.listNamespacedService({ namespace: this.namespace, labelSelector })).items;
  }

  createService(body: V1Service): Promise<V1Service> {
    return this.core.createNamespacedService({ namespace: this.namespace, body });
  }

  async deleteService(name: string): Promise<void> {
    await this.core.deleteNamespacedService({ name, namespace: this.namespace }).catch((e: unknown) => {
      if (!isNotFound(e)) throw e;
    });
  }

  async listEndpointSlices(labelSelector: string): Promise<V1EndpointSlice[]> {
    return (await this.discovery.listNamespacedEndpointSlice({ namespace: this.namespace, labelSelector })).items;
  }

  createEndpointSlice(body: V1EndpointSlice): Promise<V1EndpointSlice> {
    return this.discovery.createNamespacedEndpointSlice({ namespace: this.namespace, body });
  }

  replaceEndpointSlice(body: V1EndpointSlice): Promise<V1EndpointSlice> {
    return this.discovery.replaceNamespacedEndpointSlice({ name: body.metadata?.name ?? '', namespace: this.namespace, body });
  }

  async deleteEndpointSlice(name: string): Promise<void> {
    await this.discovery.deleteNamespacedEndpointSlice({ name, namespace: this.namespace }).catch((e: unknown) => {
      if (!isNotFound(e)) throw e;
    });
  }

  nodeInformer(): NodeInformer {
    const inf = makeInformer<V1Node>(this.kc, '/api/v1/nodes', () => this.core.listNode());
    return {
      on: (event: string, cb: (x: never) => void) => inf.on(event as 'add', cb as (n: V1Node) => void),
      list: () => [...inf.list()],
      start: () => inf.start(),
      stop: () => inf.stop(),
    };
  }

  async getClusterCustomObject(group: string, version: string, plural: string, name: string): Promise<Record<string, unknown> | null> {
    try {
      return (await this.custom.getClusterCustomObject({ group, version, plural, name })) as Record<string, unknown>;
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  }

  async listClusterCustomObjects(group: string, version: string, plural: string): Promise<Record<string, unknown>[] | null> {
    try {
      const list = (await this.custom.listClusterCustomObject({ group, version, plural })) as { items?: unknown };
      return Array.isArray(list.items) ? (list.items as Record<string, unknown>[]) : [];
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  }

  async getConfigMapData(namespace: string, name: string): Promise<Record<string, string> | null> {
    try {
      return (await this.core.readNamespacedConfigMap({ namespace, name })).data ?? {};
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  }

  async getDaemonSetCounts(namespace: string, name: string): Promise<DaemonSetCounts | null> {
    try {
      const status = (await this.apps.readNamespacedDaemonSet({ namespace, name })).status;
      return { desired: status?.desiredNumberScheduled ?? 0, ready: status?.numberReady ?? 0 };
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  }
}
