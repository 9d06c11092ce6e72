/**
 * Samples the byte counters of one interface from /proc/net/dev, asynchronously. In a
 * host-network agent that is the node's NIC: its traffic just before a test tells the
 * scheduler whether the node is busy with real work. (In a pod, /proc/net/dev is the pod's own
 * network namespace, which carries nothing but netmatrix, so pod agents sample nothing.)
 */
import { readFile } from 'node:fs/promises';
import { netDevInterfaces, nicRate, parseNetDev, type NicReport, type NicSnapshot } from '../shared/nic.js';
import { SnapshotHistory } from './snapshot-history.js';

const readNetDev = () => readFile('/proc/net/dev', 'utf8');

export interface NicSamplerOptions {
  /** The interface to measure. */
  iface: string;
  read?: () => Promise<string>;
  now?: () => number;
  /** Interval between background samples, ms. */
  intervalMs?: number;
}

/** A test window being sampled; `stop()` closes it and returns the report. */
export interface NicWindowHandle {
  stop(): Promise<NicReport>;
}

export class NicSampler {
  readonly iface: string;
  private readonly read: () => Promise<string>;
  private readonly now: () => number;
  private readonly history: SnapshotHistory<NicSnapshot>;

  constructor(o: NicSamplerOptions) {
    this.iface = o.iface;
    this.read = o.read ?? readNetDev;
    this.now = o.now ?? Date.now;
    this.history = new SnapshotHistory(() => this.snapshot(), o.intervalMs ?? 1000);
  }

  async snapshot(): Promise<NicSnapshot> {
    return parseNetDev(await this.read(), this.iface, this.now());
  }

  start(): void {
    this.history.start();
  }

  stopBackground(): void {
    this.history.stop();
  }

  /** Start a test window now: the idle rate comes from the background history, the test rate from now to `stop()`. */
  async begin(): Promise<NicWindowHandle> {
    const first = await this.snapshot();
    const base = this.history.baselineFor(first);
    return {
      stop: async () => {
        const last = await this.snapshot();
        this.history.testEnded(last.atMs);
        return { interface: this.iface, idle: base ? nicRate(base, first) : null, test: nicRate(first, last) };
      },
    };
  }
}

/**
 * The interface an agent samples: the one configured (NETMATRIX_NIC; `none` for none), else in a
 * host-network agent the default route's. Throws when the configured one does not exist, rather
 * than report nothing for the node's whole life.
 */
export async function nicToSample(
  o: { configured: string | undefined; mode: 'pod' | 'host'; defaultNic: string },
  read: () => Promise<string> = readNetDev,
): Promise<string | undefined> {
  if (o.configured === 'none') return undefined;
  if (o.configured === undefined && o.mode === 'pod') return undefined;
  const names = netDevInterfaces(await read());
  if (o.configured !== undefined) {
    if (!names.includes(o.configured)) throw new Error(`NETMATRIX_NIC: no interface ${o.configured} here (there are: ${names.join(', ')})`);
    return o.configured;
  }
  return names.includes(o.defaultNic) ? o.defaultNic : undefined;
}
