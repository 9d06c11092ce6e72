/**
 * The lab's addresses and names: an emulated Kubernetes cluster made of network namespaces on one
 * machine. Pure: no I/O, and a leaf (it imports nothing of the lab), so the profile plug-ins and
 * the planner can both build on it. Every address is inside 198.18.0.0/15 (RFC 2544's
 * benchmarking range), so the lab can never collide with, or send traffic to, a real network.
 *
 *   root netns: bridge nmbr0 198.18.0.1/24 (the aggregator listens here)
 *   node i:     netns nm-node<i>, eth0 198.18.0.(10+i)/24 on the bridge (the "host network")
 *   pod on i:   netns nm-pod<i>, eth0 198.19.i.2/24, gateway 198.19.i.1 (nm-p<i> in nm-node<i>)
 *   service i:  ClusterIP 198.18.200.(10+i), translated to 198.19.i.2 by the profile's proxy
 *
 * A pod network plug-in may add addresses of its own inside the range (vxlan: 198.18.1.(10+i)).
 */
import type { LabProfile } from '../shared/lab-profile.js';

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
   * The cgroup v2 folder whose processes get the Service translation (the lab's agents must run
   * in it); null unless the Service proxy works per cgroup (ebpf).
   */
  cgroup: string | null;
}

/** Most nodes a lab may have: node IPs are 198.18.0.11..60 and pod /24s 198.19.1..50. */
export const MAX_LAB_NODES = 50;
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
/** The MTU of a veth created without one (the kernel's ETH_DATA_LEN): the pods' unless the pod network sets one. */
export const VETH_DEFAULT_MTU = 1500;
/** Where cgroup2 is mounted on hybrid-hierarchy hosts such as this one. */
export const DEFAULT_CGROUP_ROOT = '/sys/fs/cgroup/unified';

/** Names of the namespaces and links the lab owns: what `labDown` removes without knowing N. */
export const LAB_NETNS_PATTERN = /^nm-(node|pod|probe)/;
export const LAB_LINK_PATTERN = /^(nm-|nmbr0$)/;

/** Node `index` (1-based) with its names and addresses. */
export function labNode(index: number): LabNode {
  return Object.freeze({
    index,
    name: `node${index}`,
    netns: `nm-node${index}`,
    hostIp: `198.18.0.${10 + index}`,
    podNetns: `nm-pod${index}`,
    podIp: `198.19.${index}.2`,
    podGateway: `198.19.${index}.1`,
    serviceIp: `198.18.200.${10 + index}`,
  });
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
