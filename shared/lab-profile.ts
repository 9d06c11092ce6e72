/**
 * A lab dataplane profile: how pods reach each other and how Services are translated. The
 * variable a dataplane comparison changes, recorded with every results file.
 */
import { z } from 'zod';

export const LabProfileSchema = z.strictObject({
  /** direct: routed pod CIDRs between nodes; vxlan: an overlay between the nodes. */
  podNetwork: z.enum(['direct', 'vxlan']).default('direct'),
  /**
   * iptables: DNAT rules (kube-proxy's iptables mode); nftables: an nftables map (kube-proxy's
   * nftables mode); ebpf: a cgroup/connect4 program that rewrites the destination at connect()
   * (the connect-time load balancing of Calico's and Cilium's eBPF dataplanes).
   */
  serviceProxy: z.enum(['iptables', 'nftables', 'ebpf']).default('iptables'),
  /** tc tbf rate on each node's link, e.g. "1gbit"; null = no cap. */
  linkRate: z
    .string()
    .regex(/^\d+(\.\d+)?(bit|kbit|mbit|gbit)$/, 'a tc rate such as 500mbit or 1gbit')
    .nullable()
    .default(null),
});
export type LabProfile = z.infer<typeof LabProfileSchema>;

/** Written by `lab up` to LAB_STATE_FILE; read by `lab status` and by the aggregator's dataplane detector. */
export const LabStateSchema = z.strictObject({
  kind: z.literal('netmatrix-lab'),
  nodes: z.number().int().min(1),
  profile: LabProfileSchema,
  /**
   * The MTU `lab up` gave the pods' interfaces (1450 on the VXLAN overlay, a veth's 1500 on the
   * routed lab), recorded so the dataplane detector reads it rather than knowing the lab's
   * constants. Absent in state files written before it.
   */
  podMtu: z.number().int().min(68).max(65535).optional(),
  createdAt: z.iso.datetime(),
});
export type LabState = z.infer<typeof LabStateSchema>;

export const LAB_STATE_FILE = '/run/netmatrix/lab.json';
