/**
 * What a lab Service proxy is: how a ClusterIP becomes the pod behind it. One file per proxy in
 * this folder implements it, and index.ts registers it under its name in LabProfileSchema's
 * `serviceProxy` enum; lab up and down, the profile check, the counters and the CLI's help read
 * that registry, never the name. Also the counter shapes every proxy reports in.
 */
import type { LabProfile } from '../../shared/lab-profile.js';
import type { LabNode, LabPlan } from '../addresses.js';
import type { ProfileNeeds } from '../profile-part.js';

/** Packets and bytes that went through one Service translation rule in one node namespace. */
export interface ServiceCounter {
  serviceIp: string;
  protocol: 'tcp' | 'udp';
  port: number;
  /** Counted by a nat hook, so only the first packet of each connection (conntrack NEW). */
  packets: number;
  bytes: number;
}

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

export interface ServiceProxy extends ProfileNeeds {
  name: LabProfile['serviceProxy'];
  /** One line for the CLI's help. */
  description: string;
  /**
   * Its part of the plan: the cgroup v2 folder, under the cgroup2 mount `cgroupRoot`, whose
   * processes it translates for (the lab's agents are started in it); null for a proxy that
   * translates for the whole namespace.
   */
  cgroup(cgroupRoot: string): string | null;
  /** Node `node`'s part, after its addresses and routes; `dir` is a temp folder for batch files. */
  nodeUp(plan: LabPlan, node: LabNode, dir: string): Promise<void>;
  /** The lab-wide part, after every node; `dir` is the folder `check` was given. */
  up(plan: LabPlan, dir: string): Promise<void>;
  /**
   * Remove what it made outside the lab's namespaces, whatever lab is there (labDown calls every
   * proxy's, before the namespaces go). Nothing for a proxy whose rules live in the node namespaces.
   */
  down(): Promise<void>;
  /** What `down` should have removed and is still there (labDown fails naming it). */
  leftovers(): Promise<string[]>;
  /** Its translation counters in node namespace `netns`; [] for a proxy with no per-namespace state. */
  nodeCounters(netns: string): Promise<ServiceCounter[]>;
  /**
   * Evidence that Service traffic went through it: per Service port, what it translated over the
   * node namespaces `nodeNetns`, and where the figures come from (for a person reading a failure).
   */
  evidence(nodeNetns: readonly string[]): Promise<{ source: string; services: ServiceTranslations[] }>;
}

/** Sum translations per Service port (ClusterIP, protocol, port), in first-seen order. */
export function sumTranslations(counters: readonly ServiceTranslations[]): ServiceTranslations[] {
  const by = new Map<string, ServiceTranslations>();
  for (const c of counters) {
    const key = `${c.serviceIp}/${c.protocol}/${c.port}`;
    const seen = by.get(key);
    if (seen) seen.translations += c.translations;
    else by.set(key, { serviceIp: c.serviceIp, protocol: c.protocol, port: c.port, translations: c.translations });
  }
  return [...by.values()];
}

/** The evidence of a proxy with nat-hook counters in each node namespace: their packets (connections), summed. */
export async function nodeCounterEvidence(
  proxy: Pick<ServiceProxy, 'nodeCounters'>,
  nodeNetns: readonly string[],
): Promise<ServiceTranslations[]> {
  const counters: ServiceCounter[] = [];
  for (const ns of nodeNetns) counters.push(...(await proxy.nodeCounters(ns)));
  return sumTranslations(counters.map((c) => ({ serviceIp: c.serviceIp, protocol: c.protocol, port: c.port, translations: c.packets })));
}
