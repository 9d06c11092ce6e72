/**
 * The lab's address plan: an emulated Kubernetes cluster made of network namespaces on one
 * machine. Pure: no I/O. Every address is inside 198.18.0.0/15 (RFC 2544's benchmarking range),
 * so the lab can never collide with, or send traffic to, a real network.
 *
 *   root netns: bridge nmbr0 198.18.0.1/24 (the aggregator listens here)
 *   node i:     netns nm-node<i>, eth0 198.18.0.(10+i)/24 on the bridge (the "host network")
 *   pod on i:   netns nm-pod<i>, eth0 198.19.i.2/24, gateway 198.19.i.1 (nm-p<i> in nm-node<i>)
 *   service i:  ClusterIP 198.18.200.(10+i), translated to 198.19.i.2 by the profile's proxy
 *   vxlan:      node i's overlay device nm-vxlan, 198.18.1.(10+i)/24 (podNetwork vxlan only)
 *
 * The plan carries the dataplane profile (shared/lab-profile.ts): how pod /24s reach each other
 * (routed directly over the bridge, or through a VXLAN overlay), how Services are translated
 * (iptables DNAT, an nftables verdict map, or an eBPF connect-time program) and an optional
 * tc rate cap on each node's link.
 */
import { LabProfileSchema, type LabProfile } from '../shared/lab-profile.js';

export type { LabProfile } from '../shared/lab-profile.js';

/** One emulated node with its pod agent's namespace and Service. */
export interface LabNode {
  /** 1-based; the node's addresses are derived from it. */
  index: number;
  /** The Kubernetes node name an agent on this node reports: `node<index>`. */
  name: string;
  /** The node's network namespace (its "host network"): `nm-node<index>`. */
  netns: string;
  /** The node IP, on the root bridge: 198.18.0.(10+index). */
  hostIp: string;
  /** The pod's network namespace: `nm-pod<index>`. */
  podNetns: string;
  /** The pod IP: 198.19.<index>.2. */
  podIp: string;
  /** The pod's default gateway, on the node side of the pod's veth: 198.19.<index>.1. */
  podGateway: string;
  /** The ClusterIP of the Service in front of this node's pod agent: 198.18.200.(10+index). */
  serviceIp: string;
}

/** The whole lab: nodes plus the root-namespace pieces they share. */
export interface LabPlan {
  nodes: LabNode[];
  /** The bridge in the root namespace that plays the node network. */
  bridge: string;
  /** The root namespace's address on the bridge, where the aggregator listens. */
  aggregatorIp: string;
  /** Ports each Service forwards, for both TCP and UDP. */
  servicePorts: number[];
  /** The dataplane: pod network, Service proxy and link rate. */
  profile: LabProfile;
  /**
   * The cgroup v2 folder whose processes get the eBPF Service translation (the lab's agents
   * must run in it); null unless the Service proxy is ebpf.
   */
  cgroup: string | null;
}

/** What `planLab` takes besides the node count; every field has a default. */
export interface LabPlanOptions {
  /** Ports each Service forwards; default [5201]. */
  servicePorts?: readonly number[];
  /** The dataplane; missing fields take LabProfileSchema's defaults (direct, iptables, no cap). */
  profile?: Partial<LabProfile>;
  /** Where cgroup2 is mounted, for the ebpf proxy's folder; default /sys/fs/cgroup/unified. */
  cgroupRoot?: string;
}

/** Most nodes a lab may have: node IPs are 198.18.0.11..60 and pod /24s 198.19.1..50. */
export const MAX_LAB_NODES = 50;
/** The port the Services forward unless told otherwise: iperf3's default. */
export const DEFAULT_SERVICE_PORTS: readonly number[] = [5201];

/** The bridge in the root namespace. */
export const LAB_BRIDGE = 'nmbr0';
/** Every lab address is inside this range; the root namespace blackholes it as a safety net. */
export const LAB_RANGE = '198.18.0.0/15';
/** The node network on the bridge. */
export const NODE_CIDR = '198.18.0.0/24';
/** The ClusterIP range. */
export const SERVICE_CIDR = '198.18.200.0/24';
/** Prefix length of the node network and of each node's pod network. */
export const LAB_PREFIX_LENGTH = 24;
/** The nat chain in each node namespace that holds the Service DNAT rules (like KUBE-SERVICES). */
export const SERVICES_CHAIN = 'NETMATRIX-SERVICES';

/** The default profile: routed pod /24s, iptables DNAT, no rate cap (the lab before profiles). */
export const DEFAULT_LAB_PROFILE: LabProfile = Object.freeze(LabProfileSchema.parse({}));

/** The overlay device in each node namespace (podNetwork vxlan). */
export const VXLAN_DEVICE = 'nm-vxlan';
/** The overlay's VXLAN network identifier and UDP port (IANA's, as flannel and Calico use). */
export const VXLAN_VNI = 42;
export const VXLAN_PORT = 4789;
/** The MTU of pods on the overlay: 1500 less VXLAN's 50 bytes (outer IPv4, UDP, VXLAN, inner Ethernet). */
export const VXLAN_POD_MTU = 1450;
/** The MTU of a veth created without one (the kernel's ETH_DATA_LEN): the pods' on the routed lab. */
export const VETH_DEFAULT_MTU = 1500;
/** Where cgroup2 is mounted on hybrid-hierarchy hosts such as this one. */
export const DEFAULT_CGROUP_ROOT = '/sys/fs/cgroup/unified';
/** The lab's cgroup folder name under the cgroup2 mount (ebpf proxy). */
export const LAB_CGROUP_NAME = 'netmatrix-lab';
/** bpffs folder holding the ebpf proxy's pinned programs and maps. */
export const LAB_BPF_PIN_DIR = '/sys/fs/bpf/netmatrix';

/** Names of the namespaces and links the lab owns: what `labDown` removes without knowing N. */
export const LAB_NETNS_PATTERN = /^nm-(node|pod|probe)/;
export const LAB_LINK_PATTERN = /^(nm-|nmbr0$)/;

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
  if (problems.length > 0) throw new RangeError(`invalid lab plan: ${problems.join('; ')}`);

  const nodes: LabNode[] = [];
  for (let i = 1; i <= nodeCount; i++) {
    nodes.push(
      Object.freeze({
        index: i,
        name: `node${i}`,
        netns: `nm-node${i}`,
        hostIp: `198.18.0.${10 + i}`,
        podNetns: `nm-pod${i}`,
        podIp: `198.19.${i}.2`,
        podGateway: `198.19.${i}.1`,
        serviceIp: `198.18.200.${10 + i}`,
      }),
    );
  }
  return Object.freeze({
    nodes: Object.freeze(nodes) as LabNode[],
    bridge: LAB_BRIDGE,
    aggregatorIp: '198.18.0.1',
    servicePorts: Object.freeze([...servicePorts]) as number[],
    profile: Object.freeze(profile.data ?? DEFAULT_LAB_PROFILE),
    cgroup: profile.data?.serviceProxy === 'ebpf' ? `${cgroupRoot.replace(/\/+$/, '')}/${LAB_CGROUP_NAME}` : null,
  });
}

function isPortList(options: LabPlanOptions | readonly number[]): options is readonly number[] {
  return Array.isArray(options);
}

/** The pod /24 behind node `node` (routed to its node IP by every other node and the root). */
export function podCidr(node: LabNode): string {
  return `198.19.${node.index}.0/${LAB_PREFIX_LENGTH}`;
}

/** The root-side veth of node `node`'s uplink, enslaved to the bridge. */
export function uplinkName(node: LabNode): string {
  return `nm-n${node.index}`;
}

/** The node-side veth of node `node`'s pod, holding the pod gateway address. */
export function podLinkName(node: LabNode): string {
  return `nm-p${node.index}`;
}

/** Node `node`'s address on the VXLAN overlay: 198.18.1.(10+index)/24. */
export function overlayIp(node: LabNode): string {
  return `198.18.1.${10 + node.index}`;
}

/** Node `node`'s VXLAN device MAC: fixed and locally administered, so peers can be static. */
export function overlayMac(node: LabNode): string {
  return `02:6e:6d:00:00:${node.index.toString(16).padStart(2, '0')}`;
}

/** argv that runs `argv` inside network namespace `netns`: `ip netns exec <netns> ...argv`. */
export function netnsExec(netns: string, argv: readonly string[]): string[] {
  return ['ip', 'netns', 'exec', netns, ...argv];
}

/**
 * argv that runs `argv` as a member of cgroup v2 folder `cgroup`: a shell moves itself there,
 * then execs `argv`, so the program's sockets exist only inside the cgroup (no race with a
 * connect() right at start). The shell script is fixed; `cgroup` and `argv` are its arguments.
 */
export function cgroupExec(cgroup: string, argv: readonly string[]): string[] {
  return ['sh', '-c', 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"', 'sh', cgroup, ...argv];
}
