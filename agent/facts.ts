/**
 * The node's static fingerprint, read once at start with systeminformation and /proc: the facts
 * a reader of a result needs to compare runs (CPU, kernel, NIC and MTU of the default route, TCP
 * congestion control). The interface, its MTU and the congestion control are those of the
 * agent's own network namespace: the node's for a host agent, the pod's for a pod agent.
 */
import { readFile } from 'node:fs/promises';
import si from 'systeminformation';
import type { NodeFacts } from '../shared/protocol.js';

export interface FactsAndAddress {
  facts: NodeFacts;
  /** IPv4 of the default interface, when it has one. */
  address: string | undefined;
}

/**
 * The TCP congestion control algorithm of this network namespace. The sysctl is per network
 * namespace since Linux 4.15: a new namespace (a pod's) starts with the root namespace's choice,
 * but a pod may set its own, and TCP in the pod uses the pod's.
 */
export const CONGESTION_CONTROL_FILE = '/proc/sys/net/ipv4/tcp_congestion_control';

/** The algorithm's name from the sysctl file's text ("cubic\n"), or undefined for anything else. */
export function parseCongestionControl(text: string): string | undefined {
  const name = text.trim();
  return /^[\w.-]{1,64}$/.test(name) ? name : undefined;
}

/** The congestion control named in `file`, or undefined when it cannot be read (no /proc, another OS). */
export async function readCongestionControl(file = CONGESTION_CONTROL_FILE): Promise<string | undefined> {
  try {
    return parseCongestionControl(await readFile(file, 'utf8'));
  } catch {
    return undefined;
  }
}

export async function readNodeFacts(): Promise<FactsAndAddress> {
  const [cpu, os, ifaces, defaultName, congestionControl] = await Promise.all([
    si.cpu(),
    si.osInfo(),
    si.networkInterfaces(),
    si.networkInterfaceDefault().catch(() => ''),
    readCongestionControl(),
  ]);
  const list = Array.isArray(ifaces) ? ifaces : [ifaces];
  // Network namespaces of the lab have no default route: then the first non-loopback interface.
  const nic = list.find((i) => i.iface === defaultName) ?? list.find((i) => !i.internal && i.ip4);
  const model = [cpu.manufacturer, cpu.brand].filter(Boolean).join(' ').trim();
  return {
    facts: {
      cpuModel: (model || 'unknown').slice(0, 256),
      cpuCores: Math.max(1, cpu.cores || 1),
      kernel: (os.kernel || 'unknown').slice(0, 256),
      nic: (nic?.iface ?? 'unknown').slice(0, 64),
      mtu: Math.max(0, Math.min(65536, Number(nic?.mtu) || 0)),
      ...(congestionControl ? { congestionControl } : {}),
    },
    address: nic?.ip4 || undefined,
  };
}
