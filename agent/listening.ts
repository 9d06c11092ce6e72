/**
 * Is a TCP port listening in this network namespace? Read from /proc/net/tcp{,6}, which show
 * the namespace of the reading process. Connecting to find out would use up the one test a
 * `iperf3 -s -1` server accepts, so we look instead.
 */
import { readFile } from 'node:fs/promises';

/** True when a `st == 0A` (LISTEN) socket on `port` appears in a /proc/net/tcp text. */
export function hasListener(procNetTcp: string, port: number): boolean {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  for (const line of procNetTcp.split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    const local = cols[1];
    if (local?.endsWith(`:${hexPort}`) && cols[3] === '0A') return true;
  }
  return false;
}

export async function isListening(port: number): Promise<boolean> {
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = await readFile(file, 'utf8').catch(() => '');
    if (hasListener(text, port)) return true;
  }
  return false;
}
