/**
 * The nftables Service proxy: the table each node namespace loads (Services the way kube-proxy's
 * nftables mode does them) and the parser of its counters, both pure, and the plug-in that loads
 * and reads them.
 *
 * kube-proxy's nftables mode looks a Service up in one verdict map keyed by
 * `ClusterIP . protocol . port` and jumps to a chain per Service port that DNATs to an endpoint.
 * The lab does the same with one endpoint per Service, and a counter in each Service chain.
 */
import { join } from 'node:path';
import { execChecked } from '../../sys/exec.js';
import { netnsExec, type LabNode, type LabPlan } from '../addresses.js';
import { LAB_COMMAND_TIMEOUT_MS, runScript } from '../batch.js';
import { INSIDE_LAB_NAMESPACES } from '../profile-part.js';
import { nodeCounterEvidence, type ServiceCounter, type ServiceProxy } from './service-proxy.js';

/** The nftables table (family ip) that holds the lab's Services in each node namespace. */
export const NFT_TABLE = 'netmatrix';
/** The verdict map from ClusterIP . protocol . port to the Service's chain (kube-proxy's name). */
export const NFT_SERVICE_MAP = 'service-ips';

const PROTOCOLS = ['tcp', 'udp'] as const;

/** The chain of one Service port, named like kube-proxy's: `service-node2/tcp/p5201`. */
export function nftServiceChain(target: LabNode, protocol: 'tcp' | 'udp', port: number): string {
  return `service-${target.name}/${protocol}/p${port}`;
}

/**
 * `nft -f` input for node `node`: the `ip netmatrix` table with the service-ips verdict map,
 * one counting DNAT chain per Service, protocol and port, the map looked up from prerouting
 * (traffic from the local pod) and output (host-network processes), and a hairpin masquerade
 * for a pod that reaches its own Service.
 */
export function nftServiceScript(plan: LabPlan, node: LabNode): string {
  const elements: string[] = [];
  const chains: string[] = [];
  for (const target of plan.nodes) {
    for (const port of plan.servicePorts) {
      for (const proto of PROTOCOLS) {
        const chain = nftServiceChain(target, proto, port);
        elements.push(`${target.serviceIp} . ${proto} . ${port} : goto ${chain}`);
        chains.push(
          `\tchain ${chain} {`,
          `\t\tmeta l4proto ${proto} counter dnat to ${target.podIp}:${port} comment "netmatrix/${target.name}-agent:${port}/${proto}"`,
          '\t}',
        );
      }
    }
  }
  return [
    `table ip ${NFT_TABLE} {`,
    `\tmap ${NFT_SERVICE_MAP} {`,
    '\t\ttype ipv4_addr . inet_proto . inet_service : verdict',
    `\t\telements = { ${elements.join(',\n\t\t\t')} }`,
    '\t}',
    ...chains,
    '\tchain services {',
    `\t\tip daddr . meta l4proto . th dport vmap @${NFT_SERVICE_MAP}`,
    '\t}',
    '\tchain nat-prerouting {',
    '\t\ttype nat hook prerouting priority dstnat; policy accept;',
    '\t\tjump services',
    '\t}',
    // nft 1.0.6 accepts the name "dstnat" only in prerouting; -100 is the same priority.
    '\tchain nat-output {',
    '\t\ttype nat hook output priority -100; policy accept;',
    '\t\tjump services',
    '\t}',
    // The hairpin case: see natTableScript in iptables.ts.
    '\tchain nat-postrouting {',
    '\t\ttype nat hook postrouting priority srcnat; policy accept;',
    `\t\tip saddr ${node.podIp} ip daddr ${node.podIp} masquerade comment "netmatrix hairpin"`,
    '\t}',
    '}',
    '',
  ].join('\n');
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Parse `nft -j list table ip netmatrix` into one counter per Service port: the service-ips map
 * says which chain serves ClusterIP . protocol . port, that chain's counting dnat rule gives the
 * figures. Like the iptables counters they are nat-hook counts, so `packets` counts connections
 * (UDP: flows). A Service chain without a counter is an error, not a zero.
 */
export function parseNftServiceCounters(text: string): ServiceCounter[] {
  const doc: unknown = JSON.parse(text);
  const items = isObject(doc) && Array.isArray(doc.nftables) ? (doc.nftables as unknown[]).filter(isObject) : undefined;
  if (!items) throw new Error('not nft -j output: no "nftables" array');

  const chainOf = new Map<string, { serviceIp: string; protocol: 'tcp' | 'udp'; port: number }>();
  for (const item of items) {
    const map = item.map;
    if (!isObject(map) || map.name !== NFT_SERVICE_MAP || !Array.isArray(map.elem)) continue;
    for (const elem of map.elem as unknown[]) {
      // [{ concat: ["198.18.200.12", "tcp", 5201] }, { goto: { target: "service-node2/tcp/p5201" } }]
      const [key, verdict] = Array.isArray(elem) ? (elem as unknown[]) : [];
      const concat = isObject(key) && Array.isArray(key.concat) ? (key.concat as unknown[]) : [];
      const target = isObject(verdict) && isObject(verdict.goto) ? verdict.goto.target : undefined;
      const [serviceIp, protocol, port] = concat;
      if (
        typeof serviceIp !== 'string' ||
        (protocol !== 'tcp' && protocol !== 'udp') ||
        typeof port !== 'number' ||
        typeof target !== 'string'
      ) {
        throw new Error(`unexpected ${NFT_SERVICE_MAP} element: ${JSON.stringify(elem)}`);
      }
      chainOf.set(target, { serviceIp, protocol, port });
    }
  }

  const out: ServiceCounter[] = [];
  const counted = new Set<string>();
  for (const item of items) {
    const rule = item.rule;
    if (!isObject(rule) || typeof rule.chain !== 'string' || !Array.isArray(rule.expr)) continue;
    const service = chainOf.get(rule.chain);
    if (!service) continue;
    const exprs = (rule.expr as unknown[]).filter(isObject);
    const counter = exprs.map((e) => e.counter).find(isObject);
    if (!exprs.some((e) => 'dnat' in e)) continue;
    const packets = counter?.packets;
    const bytes = counter?.bytes;
    if (typeof packets !== 'number' || typeof bytes !== 'number') throw new Error(`no counter in nft rule of chain ${rule.chain}`);
    out.push({ ...service, packets, bytes });
    counted.add(rule.chain);
  }
  const uncounted = [...chainOf.keys()].filter((c) => !counted.has(c));
  if (uncounted.length > 0) throw new Error(`no counting dnat rule in nft chain(s) ${uncounted.join(', ')}`);
  return out;
}

export const nftables: ServiceProxy = {
  name: 'nftables',
  description: "an nftables verdict map of ClusterIP . protocol . port in each node (kube-proxy's nftables mode)",
  noun: 'the nftables service proxy',
  tools: [{ bin: 'nft', versionFlag: '--version', install: 'nftables' }],
  probes: (netns) => [
    {
      needs: 'nftables NAT and verdict maps in the kernel (nf_tables, nft_nat)',
      argv: netnsExec(netns, [
        'nft',
        'add table ip nmprobe; add chain ip nmprobe c { type nat hook prerouting priority dstnat; };' +
          ' add map ip nmprobe m { type ipv4_addr . inet_proto . inet_service : verdict; }',
      ]),
    },
  ],
  cgroup: () => null,
  async nodeUp(plan, node, dir) {
    await runScript(netnsExec(node.netns, ['nft', '-f', join(dir, `${node.netns}.nft`)]), nftServiceScript(plan, node));
  },
  up: async () => undefined,
  ...INSIDE_LAB_NAMESPACES,
  async nodeCounters(netns) {
    const out = await execChecked(netnsExec(netns, ['nft', '-j', 'list', 'table', 'ip', NFT_TABLE]), { timeoutMs: LAB_COMMAND_TIMEOUT_MS });
    return parseNftServiceCounters(out);
  },
  async evidence(nodeNetns) {
    return { source: `nftables Service chain counters (table ip ${NFT_TABLE})`, services: await nodeCounterEvidence(nftables, nodeNetns) };
  },
};
