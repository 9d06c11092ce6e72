/**
 * The vxlan pod network: an overlay built the way flannel's vxlan backend builds it: one VXLAN
 * device per node on the node's eth0, no learning, and for every other node a static neighbour
 * (its overlay IP -> its device MAC), a static forwarding entry (its device MAC -> its node IP,
 * the outer destination) and a route for its pod /24 via its overlay IP. No multicast group is
 * used, so nothing leaves 198.18.0.0/15. The lines are pure, tested apart from `up`.
 */
import { join } from 'node:path';
import { LAB_PREFIX_LENGTH, podCidr, type LabNode, type LabPlan } from '../addresses.js';
import { runScript } from '../batch.js';
import { INSIDE_LAB_NAMESPACES } from '../profile-part.js';
import type { PodNetwork } from './pod-network.js';

/** The overlay device in each node namespace. */
export const VXLAN_DEVICE = 'nm-vxlan';
/** The overlay's VXLAN network identifier and UDP port (IANA's, as flannel and Calico use). */
export const VXLAN_VNI = 42;
export const VXLAN_PORT = 4789;
/** The MTU of pods on the overlay: 1500 less VXLAN's 50 bytes (outer IPv4, UDP, VXLAN, inner Ethernet). */
export const VXLAN_POD_MTU = 1450;

/** Node `node`'s address on the overlay: 198.18.1.(10+index)/24. */
export function overlayIp(node: LabNode): string {
  return `198.18.1.${10 + node.index}`;
}

/** Node `node`'s VXLAN device MAC: fixed and locally administered, so peers can be static. */
export function overlayMac(node: LabNode): string {
  return `02:6e:6d:00:00:${node.index.toString(16).padStart(2, '0')}`;
}

/** `ip -batch` lines for node `node`: its VXLAN device, and a neighbour and a route per other node. */
export function overlayLines(plan: LabPlan, node: LabNode): string[] {
  const dev = VXLAN_DEVICE;
  return [
    `link add ${dev} type vxlan id ${VXLAN_VNI} dstport ${VXLAN_PORT} local ${node.hostIp} dev eth0 nolearning`,
    `link set ${dev} address ${overlayMac(node)} addrgenmode none`,
    `addr add ${overlayIp(node)}/${LAB_PREFIX_LENGTH} dev ${dev}`,
    `link set ${dev} up`,
    ...plan.nodes
      .filter((o) => o !== node)
      .flatMap((o) => [
        `neigh add ${overlayIp(o)} lladdr ${overlayMac(o)} dev ${dev} nud permanent`,
        `route add ${podCidr(o)} via ${overlayIp(o)} dev ${dev}`,
      ]),
  ];
}

/** `bridge -batch` lines for node `node`'s VXLAN forwarding table: where to send the frames for each other node's device MAC. */
export function overlayFdbLines(plan: LabPlan, node: LabNode): string[] {
  return plan.nodes.filter((o) => o !== node).map((o) => `fdb add ${overlayMac(o)} dev ${VXLAN_DEVICE} dst ${o.hostIp} self permanent`);
}

export const vxlan: PodNetwork = {
  name: 'vxlan',
  description: "a VXLAN overlay between the nodes (flannel's vxlan backend), pods at MTU 1450",
  noun: 'the vxlan pod network',
  tools: [{ bin: 'bridge', versionFlag: '-V', install: 'iproute2' }],
  probes: (netns) => [
    {
      needs: 'VXLAN in the kernel (the vxlan module)',
      argv: ['ip', '-n', netns, 'link', 'add', 'nm-probevx', 'type', 'vxlan', 'id', String(VXLAN_VNI), 'dstport', String(VXLAN_PORT)],
    },
  ],
  // Less than the node link's, so pods never send what cannot be encapsulated.
  podMtu: VXLAN_POD_MTU,
  nodeLines: overlayLines,
  async up(plan, node, dir) {
    const fdb = overlayFdbLines(plan, node);
    // A one-node lab has no peers to forward to.
    if (fdb.length > 0) await runScript(['bridge', '-n', node.netns, '-batch', join(dir, `${node.netns}.fdb`)], fdb.join('\n') + '\n');
  },
  ...INSIDE_LAB_NAMESPACES,
  evidence: { device: VXLAN_DEVICE, source: `VXLAN device byte counters (${VXLAN_DEVICE}, encapsulated pod traffic)` },
};
