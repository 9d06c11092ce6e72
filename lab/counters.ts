/**
 * The running lab's evidence counters, read through its profile's plug-ins (the profile from
 * LAB_STATE_FILE): the Service proxy's translations per node namespace and summed over the lab,
 * with a count of the DNAT rules in the node namespaces (none with ebpf, whose translation
 * happens at connect() and leaves no rule to count); and the bytes on the device the pod network
 * carries pod traffic between nodes on.
 */
import { exec, execChecked } from '../sys/exec.js';
import type { LabProfile } from '../shared/lab-profile.js';
import { netnsExec } from './addresses.js';
import { LAB_COMMAND_TIMEOUT_MS as TIMEOUT_MS } from './batch.js';
import { DEFAULT_LAB_PROFILE } from './plan.js';
import { podNetworkOf } from './pod-networks/index.js';
import { serviceProxyOf, type ServiceCounter, type ServiceTranslations } from './service-proxies/index.js';
import { readLabState } from './state.js';

export type { ServiceCounter, ServiceTranslations } from './service-proxies/index.js';

export interface ServiceProxyEvidence {
  proxy: LabProfile['serviceProxy'];
  /** Where the figures come from, for a person reading a test failure or a report. */
  source: string;
  services: ServiceTranslations[];
  /** Sum of `translations` over every Service port. */
  total: number;
  /** DNAT rules in the node namespaces' nf_tables rulesets (iptables-nft's included). */
  dnatRules: number;
}

/** Rules in `nft -j list ruleset` output that DNAT: a native dnat expression or iptables-nft's xt DNAT. */
export function countDnatRules(rulesetJson: string): number {
  const doc = JSON.parse(rulesetJson) as { nftables?: Array<{ rule?: { expr?: Array<Record<string, unknown>> } }> };
  return (doc.nftables ?? []).filter((i) =>
    (i.rule?.expr ?? []).some(
      (e) => 'dnat' in e || (typeof e.xt === 'object' && e.xt !== null && (e.xt as { name?: unknown }).name === 'DNAT'),
    ),
  ).length;
}

/**
 * DNAT rules in namespace `netns`: from the whole nf_tables ruleset (nftables proxy and
 * iptables-nft alike), or from `iptables-save` on a host without nft (iptables-legacy). Counted
 * the same way whatever the proxy, so a proxy that claims no rules is checked, not trusted.
 */
async function dnatRulesIn(netns: string): Promise<number> {
  const nft = await exec(netnsExec(netns, ['nft', '-j', 'list', 'ruleset']), { timeoutMs: TIMEOUT_MS }).catch(() => undefined);
  if (nft?.exitCode === 0) return countDnatRules(nft.stdout);
  const saved = await execChecked(netnsExec(netns, ['iptables-save', '-t', 'nat']), { timeoutMs: TIMEOUT_MS });
  return saved.split('\n').filter((l) => /^-A .* -j DNAT\b/.test(l)).length;
}

/**
 * Packet and byte counts of the Service translation rules in node namespace `netns`, read by the
 * proxy recorded in LAB_STATE_FILE (the default proxy without one). The nat hooks see only the
 * first packet of each connection, so `packets` counts connections (UDP: flows). A proxy with no
 * per-namespace state (ebpf) gives [] (its counters are global, see labServiceProxyEvidence).
 */
export async function serviceCounters(netns: string): Promise<ServiceCounter[]> {
  const proxy = (await readLabState())?.profile.serviceProxy ?? DEFAULT_LAB_PROFILE.serviceProxy;
  return serviceProxyOf(proxy).nodeCounters(netns);
}

async function nodeNamespaces(): Promise<string[]> {
  const out = await execChecked(['ip', 'netns', 'list'], { timeoutMs: TIMEOUT_MS });
  return out
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => /^nm-node\d+$/.test(n))
    .sort();
}

async function requireLabState() {
  const state = await readLabState();
  if (!state) throw new Error('no lab is up (no lab state file)');
  return state;
}

/**
 * Evidence of the running lab's Service proxy (from LAB_STATE_FILE): per Service port, what it
 * translated, summed over the node namespaces (iptables, nftables) or read from the eBPF counter
 * map (ebpf), and the number of DNAT rules in the node namespaces.
 */
export async function labServiceProxyEvidence(): Promise<ServiceProxyEvidence> {
  const state = await requireLabState();
  const nodeNetns = await nodeNamespaces();
  let dnatRules = 0;
  for (const ns of nodeNetns) dnatRules += await dnatRulesIn(ns);
  const proxy = serviceProxyOf(state.profile.serviceProxy);
  const { source, services } = await proxy.evidence(nodeNetns);
  return { proxy: proxy.name, source, services, total: services.reduce((t, s) => t + s.translations, 0), dnatRules };
}

/** Bytes on the pod network's device in each node namespace. */
export interface PodNetworkEvidence {
  podNetwork: LabProfile['podNetwork'];
  /** Where the figures come from. */
  source: string;
  devices: Array<{ netns: string; device: string; txBytes: number; rxBytes: number }>;
}

/**
 * Evidence of the running lab's pod network (from LAB_STATE_FILE): the byte counters of the
 * device that carries pod traffic between nodes (node eth0 when routed, nm-vxlan on the overlay),
 * in each node namespace. Pod traffic between two nodes grows the sender's tx and the receiver's
 * rx by at least what the pods carried.
 */
export async function labPodNetworkEvidence(): Promise<PodNetworkEvidence> {
  const state = await requireLabState();
  const podNetwork = podNetworkOf(state.profile.podNetwork);
  const { device, source } = podNetwork.evidence;
  const devices: PodNetworkEvidence['devices'] = [];
  for (const netns of await nodeNamespaces()) {
    const out = await execChecked(['ip', '-n', netns, '-j', '-s', 'link', 'show', 'dev', device], { timeoutMs: TIMEOUT_MS });
    const [link] = JSON.parse(out) as Array<{ stats64?: { tx?: { bytes?: number }; rx?: { bytes?: number } } }>;
    const [txBytes, rxBytes] = [link?.stats64?.tx?.bytes, link?.stats64?.rx?.bytes];
    if (txBytes === undefined || rxBytes === undefined) throw new Error(`no byte counters for ${device} in ${netns}: ${out.trim()}`);
    devices.push({ netns, device, txBytes, rxBytes });
  }
  return { podNetwork: podNetwork.name, source, devices };
}
