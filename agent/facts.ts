/**
 * The node's static fingerprint, read once at start with systeminformation: the facts a
 * reader of a result needs to compare runs (CPU, kernel, NIC and MTU of the default route).
 */
import si from 'systeminformation';
import type { NodeFacts } from '../shared/protocol.js';

export interface FactsAndAddress {
  facts: NodeFacts;
  /** IPv4 of the default interface, when it has one. */
  address: string | undefined;
}

export async function readNodeFacts(): Promise<FactsAndAddress> {
  const [cpu, os, ifaces, defaultName] = await Promise.all([
    si.cpu(),
    si.osInfo(),
    si.networkInterfaces(),
    si.networkInterfaceDefault().catch(() => ''),
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
    },
    address: nic?.ip4 || undefined,
  };
}
