/**
 * Is a server's port ready in this network namespace? Read from /proc/net/{tcp,udp}{,6}, which
 * show the namespace of the reading process. Connecting to find out would use up the one test
 * an `iperf3 -s -1` server accepts, so we look instead. The one reader of those files.
 */
import { readFile } from 'node:fs/promises';
import type { Protocol } from '../shared/kinds/common.js';

/**
 * True when a socket on local `port` in state `st` (hex, as the file prints it) appears in a
 * /proc/net/{tcp,udp} text; `unconnected` also requires the remote address to be 0:0.
 */
function hasSocket(procNet: string, port: number, st: string, unconnected: boolean): boolean {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  for (const line of procNet.split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    if (!cols[1]?.endsWith(`:${hexPort}`) || cols[3] !== st) continue;
    if (!unconnected || /^0+:0000$/.test(cols[2] ?? '')) return true;
  }
  return false;
}

/** True when a `st == 0A` (LISTEN) socket on `port` appears in a /proc/net/tcp text. */
export function hasListener(procNetTcp: string, port: number): boolean {
  return hasSocket(procNetTcp, port, '0A', false);
}

/**
 * True when a socket bound to local `port` and connected to no one (st 07) appears in a
 * /proc/net/udp text. UDP has no LISTEN state; a connected client socket (st 01, or a remote
 * address) on that port would not be answering requests.
 */
export function hasUdpListener(procNetUdp: string, port: number): boolean {
  return hasSocket(procNetUdp, port, '07', true);
}

/** Is a server of `transport` ready on `port` in this network namespace? */
export async function isPortReady(port: number, transport: Protocol): Promise<boolean> {
  const found = transport === 'tcp' ? hasListener : hasUdpListener;
  for (const file of [`/proc/net/${transport}`, `/proc/net/${transport}6`]) {
    const text = await readFile(file, 'utf8').catch(() => '');
    if (found(text, port)) return true;
  }
  return false;
}

/** Is a TCP port listening in this network namespace? */
export function isListening(port: number): Promise<boolean> {
  return isPortReady(port, 'tcp');
}

/** Is a UDP socket bound to `port` (and connected to no one) in this network namespace? */
export function isUdpListening(port: number): Promise<boolean> {
  return isPortReady(port, 'udp');
}
