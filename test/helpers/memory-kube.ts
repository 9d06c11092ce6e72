/**
 * An in-memory implementation of the Kubernetes reads the dataplane detector makes
 * (DataplaneReader, a slice of aggregator/kube/client.ts's KubeClient), for unit tests of what
 * is read from where. It answers as the API does: null for an object or a kind that does not
 * exist, an error for a refused call. The real client is tested against a real kube-apiserver
 * in test/integration/kube-api.test.ts.
 */
import type { DaemonSetCounts } from '../../aggregator/kube/client.js';
import type { DataplaneReader } from '../../aggregator/kube/dataplane.js';

export class MemoryKube implements DataplaneReader {
  private readonly kinds = new Map<string, Record<string, unknown>[]>();
  private readonly configMaps = new Map<string, Record<string, string>>();
  private readonly daemonSets = new Map<string, DaemonSetCounts>();
  private readonly refusals = new Map<string, string>();
  /** Every call made, as "get configmaps kube-system/kube-proxy" or "list ippools crd.projectcalico.org/v1". */
  readonly calls: string[] = [];

  /** The cluster serves this cluster-scoped kind (its CRD exists), with these objects. */
  serve(group: string, version: string, plural: string, objects: Record<string, unknown>[]): this {
    this.kinds.set(`${plural} ${group}/${version}`, objects);
    return this;
  }

  configMap(namespace: string, name: string, data: Record<string, string>): this {
    this.configMaps.set(`${namespace}/${name}`, data);
    return this;
  }

  daemonSet(namespace: string, name: string, counts: DaemonSetCounts): this {
    this.daemonSets.set(`${namespace}/${name}`, counts);
    return this;
  }

  /** Calls described as in `calls` fail with `message`, as a 403 would. */
  refuse(call: string, message = '403 Forbidden'): this {
    this.refusals.set(call, message);
    return this;
  }

  /** Records the call, and answers `value`, or rejects as a refused call does. */
  private answer<T>(description: string, value: T): Promise<T> {
    this.calls.push(description);
    const refusal = this.refusals.get(description);
    return refusal === undefined ? Promise.resolve(value) : Promise.reject(new Error(refusal));
  }

  getClusterCustomObject(group: string, version: string, plural: string, name: string): Promise<Record<string, unknown> | null> {
    const objects = this.kinds.get(`${plural} ${group}/${version}`) ?? [];
    const found = objects.find((o) => (o.metadata as { name?: string } | undefined)?.name === name) ?? null;
    return this.answer(`get ${plural} ${group}/${version} ${name}`, found);
  }

  listClusterCustomObjects(group: string, version: string, plural: string): Promise<Record<string, unknown>[] | null> {
    return this.answer(`list ${plural} ${group}/${version}`, this.kinds.get(`${plural} ${group}/${version}`) ?? null);
  }

  getConfigMapData(namespace: string, name: string): Promise<Record<string, string> | null> {
    return this.answer(`get configmaps ${namespace}/${name}`, this.configMaps.get(`${namespace}/${name}`) ?? null);
  }

  getDaemonSetCounts(namespace: string, name: string): Promise<DaemonSetCounts | null> {
    return this.answer(`get daemonsets ${namespace}/${name}`, this.daemonSets.get(`${namespace}/${name}`) ?? null);
  }
}
