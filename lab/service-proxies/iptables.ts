/**
 * The iptables Service proxy: a NETMATRIX-SERVICES chain of DNAT rules in each node namespace's
 * nat table, the way kube-proxy's iptables mode does Services. The table and the counter parser
 * are pure, tested apart from the commands that load and read them.
 */
import { join } from 'node:path';
import { execChecked } from '../../sys/exec.js';
import { netnsExec, type LabNode, type LabPlan } from '../addresses.js';
import { LAB_COMMAND_TIMEOUT_MS, runScript } from '../batch.js';
import { INSIDE_LAB_NAMESPACES } from '../profile-part.js';
import { nodeCounterEvidence, type ServiceCounter, type ServiceProxy } from './service-proxy.js';

/** The nat chain in each node namespace that holds the Service DNAT rules (like KUBE-SERVICES). */
export const SERVICES_CHAIN = 'NETMATRIX-SERVICES';
const PROTOCOLS = ['tcp', 'udp'] as const;
const HAIRPIN_CHAIN = 'NETMATRIX-POSTROUTING';

/**
 * `iptables-restore` input for node `node`'s nat table: a NETMATRIX-SERVICES chain jumped to from
 * PREROUTING (traffic from the local pod) and OUTPUT (host-network processes), one DNAT rule per
 * Service, protocol and port, and a hairpin MASQUERADE for a pod that reaches its own Service.
 */
export function natTableScript(plan: LabPlan, node: LabNode): string {
  const lines = [
    '*nat',
    ':PREROUTING ACCEPT [0:0]',
    ':INPUT ACCEPT [0:0]',
    ':OUTPUT ACCEPT [0:0]',
    ':POSTROUTING ACCEPT [0:0]',
    `:${SERVICES_CHAIN} - [0:0]`,
    `:${HAIRPIN_CHAIN} - [0:0]`,
    `-A PREROUTING -m comment --comment "netmatrix service portals" -j ${SERVICES_CHAIN}`,
    `-A OUTPUT -m comment --comment "netmatrix service portals" -j ${SERVICES_CHAIN}`,
    `-A POSTROUTING -m comment --comment "netmatrix hairpin" -j ${HAIRPIN_CHAIN}`,
  ];
  for (const target of plan.nodes) {
    for (const port of plan.servicePorts) {
      for (const proto of PROTOCOLS) {
        lines.push(
          `-A ${SERVICES_CHAIN} -d ${target.serviceIp}/32 -p ${proto}` +
            ` -m comment --comment "netmatrix/${target.name}-agent:${port}/${proto}"` +
            ` -m ${proto} --dport ${port} -j DNAT --to-destination ${target.podIp}:${port}`,
        );
      }
    }
  }
  // A pod whose connection is DNATed back to itself would see its own address as the source and
  // drop the reply as martian; kube-proxy masquerades this hairpin case, and so do we.
  lines.push(`-A ${HAIRPIN_CHAIN} -s ${node.podIp}/32 -d ${node.podIp}/32 -j MASQUERADE`, 'COMMIT', '');
  return lines.join('\n');
}

/** Split an iptables rule line into words, honouring the double quotes around comments. */
function words(line: string): string[] {
  return [...line.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? '');
}

const PROTOCOL_NUMBERS: Record<string, 'tcp' | 'udp'> = { tcp: 'tcp', '6': 'tcp', udp: 'udp', '17': 'udp' };

/**
 * Parse `iptables -t nat -S NETMATRIX-SERVICES -v` (rules with `-c PACKETS BYTES`) into one
 * counter per DNAT rule. Lines that are not complete Service rules (chain headers, jumps) are
 * skipped; a Service rule whose counters do not parse is an error, not a zero.
 */
export function parseServiceCounters(text: string): ServiceCounter[] {
  const out: ServiceCounter[] = [];
  for (const line of text.split('\n')) {
    const w = words(line.trim());
    if (w[0] !== '-A' || w[1] !== SERVICES_CHAIN) continue;
    const after = (flag: string, n = 1): string | undefined => {
      const at = w.indexOf(flag);
      return at < 0 ? undefined : w[at + n];
    };
    const dest = after('-d');
    const protocol = PROTOCOL_NUMBERS[after('-p') ?? ''];
    const port = Number(after('--dport'));
    if (dest === undefined || protocol === undefined || !Number.isInteger(port) || !w.includes('DNAT')) continue;
    const packets = Number(after('-c', 1));
    const bytes = Number(after('-c', 2));
    if (!Number.isSafeInteger(packets) || !Number.isSafeInteger(bytes) || packets < 0 || bytes < 0) {
      throw new Error(`no counters in iptables rule (was -v given?): ${line.trim()}`);
    }
    out.push({ serviceIp: dest.replace(/\/32$/, ''), protocol, port, packets, bytes });
  }
  return out;
}

export const iptables: ServiceProxy = {
  name: 'iptables',
  description: "DNAT rules in each node's nat table (kube-proxy's iptables mode)",
  noun: 'the iptables service proxy',
  // iptables and iptables-restore are on every lab's list (checkLabSupport).
  tools: [],
  probes: () => [],
  cgroup: () => null,
  async nodeUp(plan, node, dir) {
    await runScript(netnsExec(node.netns, ['iptables-restore', join(dir, `${node.netns}.nat`)]), natTableScript(plan, node));
  },
  up: async () => undefined,
  ...INSIDE_LAB_NAMESPACES,
  async nodeCounters(netns) {
    const out = await execChecked(netnsExec(netns, ['iptables', '-t', 'nat', '-S', SERVICES_CHAIN, '-v']), {
      timeoutMs: LAB_COMMAND_TIMEOUT_MS,
    });
    return parseServiceCounters(out);
  },
  async evidence(nodeNetns) {
    return { source: `iptables DNAT rule counters (${SERVICES_CHAIN})`, services: await nodeCounterEvidence(iptables, nodeNetns) };
  },
};
