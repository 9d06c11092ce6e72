/**
 * How a node namespace reaches the other nodes' pod /24s, kept pure: straight over the bridge
 * (podNetwork direct), or through a VXLAN overlay (podNetwork vxlan) built the way flannel's
 * vxlan backend builds it: one VXLAN device per node on the node's eth0, no learning, and for
 * every other node a static neighbour (its overlay IP -> its device MAC), a static forwarding
 * entry (its device MAC -> its node IP, the outer destination) and a route for its pod /24
 * via its overlay IP. No multicast group is used, so nothing leaves 198.18.0.0/15.
 */
import {
  LAB_PREFIX_LENGTH,
  VETH_DEFAULT_MTU,
  VXLAN_DEVICE,
  VXLAN_POD_MTU,
  VXLAN_PORT,
  VXLAN_VNI,
  overlayIp,
  overlayMac,
  podCidr,
  type LabNode,
  type LabPlan,
} from './plan.js';

/** `ip -batch` lines, run in node `node`'s namespace after eth0 is up, that route the other pod /24s. */
export function podRouteLines(plan: LabPlan, node: LabNode): string[] {
  const others = plan.nodes.filter((o) => o !== node);
  if (plan.profile.podNetwork === 'direct') {
    return others.map((o) => `route add ${podCidr(o)} via ${o.hostIp} dev eth0`);
  }
  const dev = VXLAN_DEVICE;
  return [
    `link add ${dev} type vxlan id ${VXLAN_VNI} dstport ${VXLAN_PORT} local ${node.hostIp} dev eth0 nolearning`,
    `link set ${dev} address ${overlayMac(node)} addrgenmode none`,
    `addr add ${overlayIp(node)}/${LAB_PREFIX_LENGTH} dev ${dev}`,
    `link set ${dev} up`,
    ...others.flatMap((o) => [
      `neigh add ${overlayIp(o)} lladdr ${overlayMac(o)} dev ${dev} nud permanent`,
      `route add ${podCidr(o)} via ${overlayIp(o)} dev ${dev}`,
    ]),
  ];
}

/**
 * `bridge -batch` lines for node `node`'s VXLAN forwarding table (podNetwork vxlan): where to
 * send the frames for each other node's device MAC. Empty for podNetwork direct.
 */
export function overlayFdbLines(plan: LabPlan, node: LabNode): string[] {
  if (plan.profile.podNetwork !== 'vxlan') return [];
  return plan.nodes.filter((o) => o !== node).map((o) => `fdb add ${overlayMac(o)} dev ${VXLAN_DEVICE} dst ${o.hostIp} self permanent`);
}

/** The MTU of the pod veth pair: less than the node link's on the overlay, so pods never send what cannot be encapsulated. */
export function podMtu(plan: LabPlan): number | undefined {
  return plan.profile.podNetwork === 'vxlan' ? VXLAN_POD_MTU : undefined;
}

/** The MTU the pods' interfaces have once built: the overlay's, or a veth's default where podMtu sets none. */
export function builtPodMtu(plan: LabPlan): number {
  return podMtu(plan) ?? VETH_DEFAULT_MTU;
}
