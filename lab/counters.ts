/**
 * The Service proxy's counters: per node namespace (the DNAT rules of iptables and nftables), and
 * as evidence that Service traffic went through the lab profile's proxy: its translations summed
 * over the lab, with a count of the DNAT rules in the node namespaces (none with ebpf, whose
 * translation happens at connect() and leaves no rule to count).
 */
import { exec, execChecked } from '../sys/exec.js';
import type { LabProfile } from '../shared/lab-profile.js';
import { readServiceHits } from './ebpf.js';
import { parseServiceCounters, type ServiceCounter } from './iptables.js';
import { NFT_TABLE, parseNftServiceCounters } from './nftables.js';
import { SERVICES_CHAIN, netnsExec } from './plan.js';
import { readLabState } from './state.js';

const TIMEOUT_MS = 30_000;

/** Translations of one Service port, summed over the lab. */
export interface ServiceTranslations {
  serviceIp: string;
  protocol: 'tcp' | 'udp';
  port: number;
  /**
   * iptables and nftables: connections (UDP: flows), as the nat hooks see only their first
   * packet. ebpf: connect() calls rewritten plus datagrams of unconnected UDP sockets rewritten.
   */
  translations: number;
}

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
 * iptables-nft alike), or from `iptables-save` on a host without nft (iptables-legacy).
 */
async function dnatRulesIn(netns: string): Promise<number> {
  const nft = await exec(netnsExec(netns, ['nft', '-j', 'list', 'ruleset']), { timeoutMs: TIMEOUT_MS }).catch(() => undefined);
  if (nft?.exitCode === 0) return countDnatRules(nft.stdout);
  const saved = await execChecked(netnsExec(netns, ['iptables-save', '-t', 'nat']), { timeoutMs: TIMEOUT_MS });
  return saved.split('\n').filter((l) => /^-A .* -j DNAT\b/.test(l)).length;
}

function sum(counters: Array<{ serviceIp: string; protocol: 'tcp' | 'udp'; port: number; translations: number }>): ServiceTranslations[] {
  const by = new Map<string, ServiceTranslations>();
  for (const c of counters) {
    const key = `${c.serviceIp}/${c.protocol}/${c.port}`;
    const seen = by.get(key);
    if (seen) seen.translations += c.translations;
    else by.set(key, { ...c });
  }
  return [...by.values()];
}

/**
 * Packet and byte counts of the Service DNAT rules in node namespace `netns`: the iptables rules
 * or the nftables Service chains, by the proxy recorded in LAB_STATE_FILE (iptables without
 * one). The nat hooks see only the first packet of each connection, so `packets` counts
 * connections (UDP: flows). The ebpf proxy has no DNAT rule and no per-namespace state: [] (its
 * counters are global, see labServiceProxyEvidence).
 */
export async function serviceCounters(netns: string): Promise<ServiceCounter[]> {
  const proxy = (await readLabState())?.profile.serviceProxy ?? 'iptables';
  if (proxy === 'ebpf') return [];
  if (proxy === 'nftables') {
    return parseNftServiceCounters(
      await execChecked(netnsExec(netns, ['nft', '-j', 'list', 'table', 'ip', NFT_TABLE]), { timeoutMs: TIMEOUT_MS }),
    );
  }
  const out = await execChecked(netnsExec(netns, ['iptables', '-t', 'nat', '-S', SERVICES_CHAIN, '-v']), { timeoutMs: TIMEOUT_MS });
  return parseServiceCounters(out);
}

async function nodeNamespaces(): Promise<string[]> {
  const out = await execChecked(['ip', 'netns', 'list'], { timeoutMs: TIMEOUT_MS });
  return out
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => /^nm-node\d+$/.test(n))
    .sort();
}

/**
 * Evidence of the running lab's Service proxy (from LAB_STATE_FILE): per Service port, what it
 * translated, summed over the node namespaces (iptables, nftables) or read from the eBPF counter
 * map (ebpf), and the number of DNAT rules in the node namespaces.
 */
export async function labServiceProxyEvidence(): Promise<ServiceProxyEvidence> {
  const state = await readLabState();
  if (!state) throw new Error('no lab is up (no lab state file)');
  const nodeNetns = await nodeNamespaces();
  const proxy = state.profile.serviceProxy;
  let dnatRules = 0;
  for (const ns of nodeNetns) dnatRules += await dnatRulesIn(ns);
  let services: ServiceTranslations[];
  let source: string;
  if (proxy === 'ebpf') {
    const hits = await readServiceHits();
    if (!hits) throw new Error('the ebpf service proxy is not loaded (no pinned nm_svc_hits map)');
    services = sum(hits.map((h) => ({ serviceIp: h.serviceIp, protocol: h.protocol, port: h.port, translations: h.connect + h.sendmsg })));
    source = 'eBPF counter map nm_svc_hits (connect4 + sendmsg4 rewrites)';
  } else {
    const counters: ServiceCounter[] = [];
    for (const ns of nodeNetns) counters.push(...(await serviceCounters(ns)));
    services = sum(counters.map((c) => ({ serviceIp: c.serviceIp, protocol: c.protocol, port: c.port, translations: c.packets })));
    source =
      proxy === 'nftables' ? 'nftables Service chain counters (table ip netmatrix)' : 'iptables DNAT rule counters (NETMATRIX-SERVICES)';
  }
  return { proxy, source, services, total: services.reduce((t, s) => t + s.translations, 0), dnatRules };
}
