/**
 * The lab plan: `planLab` validates a node count, Service ports and a dataplane profile
 * (shared/lab-profile.ts) and lays out the lab's namespaces and addresses (addresses.ts). Pure:
 * no I/O. The profile says how pod /24s reach each other (a pod network plug-in, pod-networks/),
 * how Services are translated (a Service proxy plug-in, service-proxies/) and an optional tc rate
 * cap on each node's link (shaping.ts); a plug-in adds its part of the plan (ebpf: the cgroup
 * folder of the lab's agents).
 */
import { LabProfileSchema, type LabProfile } from '../shared/lab-profile.js';
import { DEFAULT_CGROUP_ROOT, LAB_BRIDGE, MAX_LAB_NODES, labNode, type LabNode, type LabPlan } from './addresses.js';
import { serviceProxyOf } from './service-proxies/index.js';

export * from './addresses.js';
export type { LabProfile } from '../shared/lab-profile.js';

/** What `planLab` takes besides the node count; every field has a default. */
export interface LabPlanOptions {
  /** Ports each Service forwards; default [5201]. */
  servicePorts?: readonly number[];
  /** The dataplane; missing fields take LabProfileSchema's defaults (direct, iptables, no cap). */
  profile?: Partial<LabProfile>;
  /** Where cgroup2 is mounted, for a Service proxy that works per cgroup (ebpf); default /sys/fs/cgroup/unified. */
  cgroupRoot?: string;
}

/** The port the Services forward unless told otherwise: iperf3's default. */
export const DEFAULT_SERVICE_PORTS: readonly number[] = [5201];

/** The default profile: routed pod /24s, iptables DNAT, no rate cap (the lab before profiles). */
export const DEFAULT_LAB_PROFILE: LabProfile = Object.freeze(LabProfileSchema.parse({}));

/**
 * The plan for `nodeCount` nodes. `options` is a LabPlanOptions or, as before profiles, the
 * service port list. Throws a RangeError (listing every problem) unless 1 <= nodeCount <= 50,
 * the ports are distinct integers in 1..65535 and the profile is valid.
 */
export function planLab(nodeCount: number, options: LabPlanOptions | readonly number[] = {}): LabPlan {
  const o: LabPlanOptions = isPortList(options) ? { servicePorts: options } : options;
  const servicePorts = o.servicePorts ?? DEFAULT_SERVICE_PORTS;
  const problems: string[] = [];
  if (!Number.isInteger(nodeCount) || nodeCount < 1 || nodeCount > MAX_LAB_NODES) {
    problems.push(`node count must be an integer from 1 to ${MAX_LAB_NODES}, got ${nodeCount}`);
  }
  if (servicePorts.length === 0) problems.push('at least one service port is needed');
  for (const p of servicePorts) {
    if (!Number.isInteger(p) || p < 1 || p > 65535) problems.push(`service port must be an integer from 1 to 65535, got ${p}`);
  }
  if (new Set(servicePorts).size !== servicePorts.length) problems.push(`service ports must be distinct, got ${servicePorts.join(',')}`);
  const profile = LabProfileSchema.safeParse(o.profile ?? {});
  if (!profile.success) {
    for (const issue of profile.error.issues) problems.push(`profile ${issue.path.join('.') || 'object'}: ${issue.message}`);
  }
  const cgroupRoot = o.cgroupRoot ?? DEFAULT_CGROUP_ROOT;
  if (!cgroupRoot.startsWith('/')) problems.push(`cgroup root must be an absolute path, got "${cgroupRoot}"`);
  if (problems.length > 0 || !profile.success) throw new RangeError(`invalid lab plan: ${problems.join('; ')}`);

  const nodes: LabNode[] = [];
  for (let i = 1; i <= nodeCount; i++) nodes.push(labNode(i));
  return Object.freeze({
    nodes: Object.freeze(nodes) as LabNode[],
    bridge: LAB_BRIDGE,
    aggregatorIp: '198.18.0.1',
    servicePorts: Object.freeze([...servicePorts]) as number[],
    profile: Object.freeze(profile.data),
    cgroup: serviceProxyOf(profile.data.serviceProxy).cgroup(cgroupRoot),
  });
}

function isPortList(options: LabPlanOptions | readonly number[]): options is readonly number[] {
  return Array.isArray(options);
}
