/**
 * The `ip -batch` scripts that make the lab's namespaces, kept pure: the root namespace (bridge,
 * node uplinks, routes to the pod /24s, the blackhole), each node namespace (its "host network",
 * the gateway of its pod, routes to the other pods: the pod network plug-in's lines) and each pod
 * namespace; and the root FORWARD rule that lets lab traffic across the bridge.
 */
import {
  LAB_BRIDGE,
  LAB_PREFIX_LENGTH,
  LAB_RANGE,
  SERVICE_CIDR,
  podCidr,
  podLinkName,
  uplinkName,
  type LabNode,
  type LabPlan,
} from './addresses.js';
import { podNetworkOf } from './pod-networks/index.js';

/**
 * The root FORWARD rule (after `iptables -I FORWARD 1`, `-C FORWARD` or `-D FORWARD`) that lets
 * lab traffic across the bridge. With br_netfilter loaded, bridged frames traverse the root
 * namespace's FORWARD chain, so a host whose policy is DROP (Docker sets that) would otherwise
 * cut the nodes off from each other.
 */
export const ROOT_FORWARD_RULE: readonly string[] = [
  '-i',
  LAB_BRIDGE,
  '-o',
  LAB_BRIDGE,
  '-m',
  'comment',
  '--comment',
  'netmatrix lab bridge',
  '-j',
  'ACCEPT',
];

export function rootScript(plan: LabPlan): string {
  const br = plan.bridge;
  const lines = [
    `link add ${br} type bridge stp_state 0 forward_delay 0`,
    // No IPv6 link-local addresses: the lab is IPv4 only, and this keeps DAD and router
    // solicitations off the bridge.
    `link set ${br} addrgenmode none`,
    `addr add ${plan.aggregatorIp}/${LAB_PREFIX_LENGTH} dev ${br}`,
    `link set ${br} up`,
    // Safety net: any lab destination without a more specific route is dropped here rather than
    // following the default route out of the machine.
    `route add blackhole ${LAB_RANGE}`,
  ];
  for (const n of plan.nodes) {
    lines.push(
      `netns add ${n.netns}`,
      `netns add ${n.podNetns}`,
      `link add ${uplinkName(n)} type veth peer name eth0 netns ${n.netns}`,
      `link set ${uplinkName(n)} master ${br} addrgenmode none up`,
      `link add ${podLinkName(n)} netns ${n.netns} type veth peer name eth0 netns ${n.podNetns}`,
      // The aggregator reaches pods through their node, whatever the pod network between nodes.
      `route add ${podCidr(n)} via ${n.hostIp} dev ${br}`,
    );
  }
  return lines.join('\n') + '\n';
}

export function nodeScript(plan: LabPlan, n: LabNode): string {
  const podNetwork = podNetworkOf(plan.profile.podNetwork);
  const mtu = podNetwork.podMtu;
  const lines = [
    'link set lo up',
    'link set eth0 addrgenmode none',
    `addr add ${n.hostIp}/${LAB_PREFIX_LENGTH} dev eth0`,
    'link set eth0 up',
    `link set ${podLinkName(n)} addrgenmode none${mtu ? ` mtu ${mtu}` : ''}`,
    `addr add ${n.podGateway}/${LAB_PREFIX_LENGTH} dev ${podLinkName(n)}`,
    `link set ${podLinkName(n)} up`,
    // Host-network clients of a ClusterIP need some route for the first lookup, before OUTPUT
    // DNAT rewrites the destination. Toward the root namespace, which drops what was not DNATed.
    `route add ${SERVICE_CIDR} via ${plan.aggregatorIp} dev eth0`,
    ...podNetwork.nodeLines(plan, n),
  ];
  return lines.join('\n') + '\n';
}

export function podScript(plan: LabPlan, n: LabNode): string {
  const mtu = podNetworkOf(plan.profile.podNetwork).podMtu;
  return [
    'link set lo up',
    `link set eth0 addrgenmode none${mtu ? ` mtu ${mtu}` : ''}`,
    `addr add ${n.podIp}/${LAB_PREFIX_LENGTH} dev eth0`,
    'link set eth0 up',
    `route add default via ${n.podGateway} dev eth0`,
    '',
  ].join('\n');
}
