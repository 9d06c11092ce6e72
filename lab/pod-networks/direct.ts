/**
 * The direct pod network: each node routes the other nodes' pod /24s straight over the bridge to
 * their node IPs, as a routed CNI (Calico without encapsulation, kube-router) does on one L2
 * segment. No device, no encapsulation; the pods keep a veth's default MTU.
 */
import { podCidr, type LabNode, type LabPlan } from '../addresses.js';
import { INSIDE_LAB_NAMESPACES } from '../profile-part.js';
import type { PodNetwork } from './pod-network.js';

export const direct: PodNetwork = {
  name: 'direct',
  description: 'routed pod /24s: each node routes the others over the node network, no encapsulation',
  noun: 'the direct pod network',
  tools: [],
  probes: () => [],
  podMtu: undefined,
  nodeLines(plan: LabPlan, node: LabNode): string[] {
    return plan.nodes.filter((o) => o !== node).map((o) => `route add ${podCidr(o)} via ${o.hostIp} dev eth0`);
  },
  up: async () => undefined,
  ...INSIDE_LAB_NAMESPACES,
  evidence: { device: 'eth0', source: 'node eth0 byte counters (pod traffic routed over the node network)' },
};
