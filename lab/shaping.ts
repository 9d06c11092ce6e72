/**
 * The lab's link rate cap (profile linkRate), kept pure: a tc token bucket (tbf) on the egress
 * of each node's eth0, so everything a node sends (node, pod, Service and overlay traffic) shares
 * the one capped link, like a NIC of that speed. Not a plug-in family (there is one way to cap a
 * link), but its needs are declared like a plug-in's, for the profile check.
 */
import type { ProfileNeeds } from './profile-part.js';

const UNITS: Record<string, number> = { bit: 1, kbit: 1e3, mbit: 1e6, gbit: 1e9 };

/** Bits per second of a tc rate such as "200mbit" (tc's units are decimal: 1kbit = 1000 bit/s). */
export function rateBitsPerSecond(rate: string): number {
  const m = /^(\d+(?:\.\d+)?)(bit|kbit|mbit|gbit)$/.exec(rate);
  const unit = m ? UNITS[m[2] ?? ''] : undefined;
  if (!m || unit === undefined) throw new RangeError(`not a tc rate: "${rate}" (e.g. 500mbit, 1gbit)`);
  const bps = Number(m[1]) * unit;
  if (!(bps > 0)) throw new RangeError(`a link rate must be above zero, got "${rate}"`);
  return bps;
}

/**
 * Bucket size in bytes for `rate`: 5 ms of traffic, at least 16 KiB. Large enough for the timer
 * to keep the rate at multi-gigabit speeds, small enough that a 1 s test overshoots by under 1%.
 */
export function tbfBurstBytes(rate: string): number {
  return Math.max(16 * 1024, Math.ceil(rateBitsPerSecond(rate) / 8 / 200));
}

/** argv that caps the egress of eth0 in namespace `netns` at `rate` (replacing any root qdisc). */
export function tbfArgv(netns: string, rate: string): string[] {
  // 50 ms of queue: enough for TCP to fill the link, short enough not to bloat RTTs much.
  return [
    'tc',
    '-n',
    netns,
    'qdisc',
    'replace',
    'dev',
    'eth0',
    'root',
    'tbf',
    'rate',
    rate,
    'burst',
    String(tbfBurstBytes(rate)),
    'latency',
    '50ms',
  ];
}

/** What a link rate of `rate` needs from the machine: tc, and the tbf qdisc in the kernel. */
export function linkRateNeeds(rate: string): ProfileNeeds {
  return {
    noun: 'the link rate',
    tools: [{ bin: 'tc', versionFlag: '-V', install: 'iproute2' }],
    probes: (netns) => [
      {
        needs: 'the tbf qdisc in the kernel (sch_tbf)',
        argv: ['tc', '-n', netns, 'qdisc', 'add', 'dev', 'lo', 'root', 'tbf', 'rate', rate, 'burst', '16384', 'latency', '50ms'],
      },
    ],
  };
}
