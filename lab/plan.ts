/**
 * The lab's address plan: an emulated Kubernetes cluster made of network namespaces on one
 * machine. Pure: no I/O. Every address is inside 198.18.0.0/15 (RFC 2544's benchmarking range),
 * so the lab can never collide with, or send traffic to, a real network.
 *
 *   root netns: bridge nmbr0 198.18.0.1/24 (the aggregator listens here)
 *   node i:     netns nm-node<i>, eth0 198.18.0.(10+i)/24 on the bridge (the "host network")
 *   pod on i:   netns nm-pod<i>, eth0 198.19.i.2/24, gateway 198.19.i.1 (nm-p<i> in nm-node<i>)
 *   service i:  ClusterIP 198.18.200.(10+i), DNATed to 198.19.i.2 in every node netns
 */

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

/** Names of the namespaces and links the lab owns: what `labDown` removes without knowing N. */
export const LAB_NETNS_PATTERN = /^nm-(node|pod|probe)/;
export const LAB_LINK_PATTERN = /^(nm-|nmbr0$)/;

/**
 * The plan for `nodeCount` nodes. Throws a RangeError (listing every problem) unless
 * 1 <= nodeCount <= 50 and the ports are distinct integers in 1..65535.
 */
export function planLab(nodeCount: number, servicePorts: readonly number[] = DEFAULT_SERVICE_PORTS): LabPlan {
  const problems: string[] = [];
  if (!Number.isInteger(nodeCount) || nodeCount < 1 || nodeCount > MAX_LAB_NODES) {
    problems.push(`node count must be an integer from 1 to ${MAX_LAB_NODES}, got ${nodeCount}`);
  }
  if (servicePorts.length === 0) problems.push('at least one service port is needed');
  for (const p of servicePorts) {
    if (!Number.isInteger(p) || p < 1 || p > 65535) problems.push(`service port must be an integer from 1 to 65535, got ${p}`);
  }
  if (new Set(servicePorts).size !== servicePorts.length) problems.push(`service ports must be distinct, got ${servicePorts.join(',')}`);
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
