/**
 * NIC traffic arithmetic from /proc/net/dev: on two real snapshots of a namespace captured
 * around an iperf3 transfer of exactly 10,000,000 bytes (test/fixtures/proc-net-dev/capture.sh),
 * and on hand-built text whose exact figures are known.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { netDevInterfaces, nicRate, NicReportSchema, parseNetDev } from '../../shared/nic.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/proc-net-dev/${name}`, import.meta.url), 'utf8');

const HEADER =
  'Inter-|   Receive                                                |  Transmit\n' +
  ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n';

describe('parseNetDev', () => {
  it('reads the counters of the transfer: the sender transmitted the 10 MB sent plus headers, and received only acks', () => {
    const before = parseNetDev(fixture('before.txt'), 'nmcap0', 0);
    const after = parseNetDev(fixture('after.txt'), 'nmcap0', 1000);
    const sent = after.txBytes - before.txBytes;
    expect(sent).toBeGreaterThanOrEqual(10_000_000);
    expect(sent).toBeLessThan(10_000_000 * 1.05);
    expect(after.rxBytes - before.rxBytes).toBeGreaterThan(0);
    expect(after.rxBytes - before.rxBytes).toBeLessThan(sent / 100);
    expect(nicRate(before, after).txBitsPerSecond).toBe(sent * 8);
  });

  it('lists the interfaces, loopback included', () => {
    expect(netDevInterfaces(fixture('after.txt'))).toEqual(['lo', 'nmcap0']);
  });

  it('takes a name run into its counters (the kernel pads to six characters, large counters close the gap)', () => {
    const text = HEADER + 'enp1s0f0:123456789012 5 0 0 0 0 0 0 987654321098 7 0 0 0 0 0 0\n';
    expect(parseNetDev(text, 'enp1s0f0', 5)).toEqual({ atMs: 5, rxBytes: 123456789012, txBytes: 987654321098 });
  });

  it('does not take an interface for another whose name it begins', () => {
    const text = HEADER + ' eth0: 1 0 0 0 0 0 0 0 2 0 0 0 0 0 0 0\n eth0.100: 30 0 0 0 0 0 0 0 40 0 0 0 0 0 0 0\n';
    expect(parseNetDev(text, 'eth0.100', 0)).toMatchObject({ rxBytes: 30, txBytes: 40 });
    expect(parseNetDev(text, 'eth0', 0)).toMatchObject({ rxBytes: 1, txBytes: 2 });
  });

  it('says which interface is missing, and refuses a truncated or non-numeric line', () => {
    expect(() => parseNetDev(fixture('after.txt'), 'eth9', 0)).toThrow('no interface eth9 in /proc/net/dev');
    expect(() => parseNetDev(HEADER + ' eth0: 1 2 3\n', 'eth0', 0)).toThrow('unexpected /proc/net/dev line: eth0: 1 2 3');
    expect(() => parseNetDev(HEADER + ' eth0: x 0 0 0 0 0 0 0 2 0 0 0 0 0 0 0\n', 'eth0', 0)).toThrow('unexpected');
  });
});

describe('nicRate', () => {
  it('gives bits per second each way over the window', () => {
    const r = nicRate({ atMs: 1000, rxBytes: 0, txBytes: 1000 }, { atMs: 3000, rxBytes: 250_000_000, txBytes: 1000 });
    expect(r).toEqual({ startMs: 1000, endMs: 3000, rxBitsPerSecond: 1e9, txBitsPerSecond: 0 });
    expect(NicReportSchema.parse({ interface: 'eth0', idle: null, test: r }).test).toEqual(r);
  });

  it('counts a counter that went back (the interface was reset) and an empty window as no traffic', () => {
    expect(nicRate({ atMs: 0, rxBytes: 500, txBytes: 500 }, { atMs: 1000, rxBytes: 100, txBytes: 600 })).toMatchObject({
      rxBitsPerSecond: 0,
      txBitsPerSecond: 800,
    });
    expect(nicRate({ atMs: 7, rxBytes: 0, txBytes: 0 }, { atMs: 7, rxBytes: 10, txBytes: 10 })).toMatchObject({
      rxBitsPerSecond: 0,
      txBitsPerSecond: 0,
    });
  });
});
