/**
 * Traffic through a node's NIC, from the byte counters of /proc/net/dev: how busy the NIC was
 * with real work just before a test (the scheduler rests a busy node from background tests)
 * and what crossed it during the test. Pure functions: the agent's sampler reads the file,
 * this module does the arithmetic.
 */
import { z } from 'zod';

/** One interface's byte counters at one instant. */
export interface NicSnapshot {
  atMs: number;
  rxBytes: number;
  txBytes: number;
}

/**
 * The counters of `iface` in the text of /proc/net/dev (two header lines, then
 * `name: rx_bytes rx_packets … tx_bytes …`, eight receive and eight transmit fields). Throws
 * when the interface is not there or its line is malformed.
 */
export function parseNetDev(text: string, iface: string, atMs: number): NicSnapshot {
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0 || line.slice(0, colon).trim() !== iface) continue;
    const fields = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
      .map(Number);
    const rxBytes = fields[0];
    const txBytes = fields[8];
    if (fields.length < 16 || rxBytes === undefined || txBytes === undefined || !Number.isFinite(rxBytes) || !Number.isFinite(txBytes)) {
      throw new Error(`unexpected /proc/net/dev line: ${line.trim()}`);
    }
    return { atMs, rxBytes, txBytes };
  }
  throw new Error(`no interface ${iface} in /proc/net/dev`);
}

/** Interface names /proc/net/dev lists, loopback included. */
export function netDevInterfaces(text: string): string[] {
  return text
    .split('\n')
    .slice(2)
    .map((line) => line.slice(0, line.indexOf(':')).trim())
    .filter((name) => name.length > 0);
}

/** Average traffic through the NIC between two instants, bits/s each way. */
export const NicRateSchema = z.strictObject({
  startMs: z.number().int().min(0),
  endMs: z.number().int().min(0),
  rxBitsPerSecond: z.number().min(0),
  txBitsPerSecond: z.number().min(0),
});
export type NicRate = z.infer<typeof NicRateSchema>;

/** What an agent reports about its node's NIC for one test (host-network agents only). */
export const NicReportSchema = z.strictObject({
  /** The interface measured: the default route's, unless the agent was told otherwise. */
  interface: z.string().min(1).max(64),
  /** Just before the test, with no netmatrix test on this agent (null when there was no such window). */
  idle: NicRateSchema.nullable(),
  /** Over the test window: the test's own traffic plus anything else the node moved. */
  test: NicRateSchema,
});
export type NicReport = z.infer<typeof NicReportSchema>;

/** Bits per second each way between two snapshots; a counter that went back (interface reset) counts as 0. */
export function nicRate(a: NicSnapshot, b: NicSnapshot): NicRate {
  const seconds = (b.atMs - a.atMs) / 1000;
  const rate = (from: number, to: number) => (seconds > 0 ? Math.round((Math.max(0, to - from) * 8) / seconds) : 0);
  return { startMs: a.atMs, endMs: b.atMs, rxBitsPerSecond: rate(a.rxBytes, b.rxBytes), txBitsPerSecond: rate(a.txBytes, b.txBytes) };
}
