/**
 * The agent's NIC sampler on a counter the test drives and a virtual clock: the idle window
 * comes from the background history and never reaches back into the agent's previous test;
 * and which interface an agent samples at all.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { NicSampler, nicToSample } from '../../agent/nic-sampler.js';

const HEADER =
  'Inter-|   Receive                                                |  Transmit\n' +
  ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n';

/** /proc/net/dev with lo and eth0, eth0's counters from `c`. */
function netDev(c: { rx: number; tx: number }): string {
  return `${HEADER}    lo: 10 1 0 0 0 0 0 0 10 1 0 0 0 0 0 0\n  eth0: ${c.rx} 9 0 0 0 0 0 0 ${c.tx} 9 0 0 0 0 0 0\n`;
}

describe('NicSampler', () => {
  beforeEach(() => void vi.useFakeTimers({ now: 0 }));
  afterEach(() => void vi.useRealTimers());

  /** eth0 moving `rx` and `tx` bytes per second of virtual time. */
  function node(rate: { rx: number; tx: number }) {
    const c = { rx: 0, tx: 0, at: 0 };
    const read = () => {
      const dt = (Date.now() - c.at) / 1000;
      c.rx += rate.rx * dt;
      c.tx += rate.tx * dt;
      c.at = Date.now();
      return Promise.resolve(netDev(c));
    };
    return { rate, sampler: new NicSampler({ iface: 'eth0', read, now: () => Date.now(), intervalMs: 1000 }) };
  }

  it("reports the node's traffic over the idle window just before the test and over the test", async () => {
    const { rate, sampler } = node({ rx: 125_000_000, tx: 12_500_000 }); // 1 Gbit/s in, 100 Mbit/s out
    sampler.start();
    await vi.advanceTimersByTimeAsync(2500);
    const w = await sampler.begin();
    rate.rx = 250_000_000;
    await vi.advanceTimersByTimeAsync(4000);
    const r = await w.stop();
    sampler.stopBackground();
    expect(r.interface).toBe('eth0');
    expect(r.idle).toEqual({ startMs: 2000, endMs: 2500, rxBitsPerSecond: 1e9, txBitsPerSecond: 1e8 });
    expect(r.test).toEqual({ startMs: 2500, endMs: 6500, rxBitsPerSecond: 2e9, txBitsPerSecond: 1e8 });
  });

  it("has no idle window that would reach back into the agent's previous test, until a background sample follows it", async () => {
    const { sampler } = node({ rx: 1000, tx: 1000 });
    sampler.start();
    await vi.advanceTimersByTimeAsync(1500);
    const first = await sampler.begin();
    await vi.advanceTimersByTimeAsync(3200); // the test ends at 4700, after the sample at 4000
    await first.stop();
    await vi.advanceTimersByTimeAsync(200); // 4900: the sample at 4000 was taken during the test
    expect((await (await sampler.begin()).stop()).idle).toBeNull(); // and this one ends at 4900
    await vi.advanceTimersByTimeAsync(300); // 5200: the sample at 5000 is too young
    expect((await (await sampler.begin()).stop()).idle).toBeNull();
    await vi.advanceTimersByTimeAsync(1300); // 6500: the sample at 6000 is old enough and after 5200
    const fourth = await (await sampler.begin()).stop();
    sampler.stopBackground();
    expect(fourth.idle).toEqual({ startMs: 6000, endMs: 6500, rxBitsPerSecond: 8000, txBitsPerSecond: 8000 });
  });
});

describe('nicToSample', () => {
  const read = () => Promise.resolve(netDev({ rx: 0, tx: 0 }));

  it("samples a host-network agent's default-route interface, and nothing in a pod unless told", async () => {
    expect(await nicToSample({ configured: undefined, mode: 'host', defaultNic: 'eth0' }, read)).toBe('eth0');
    expect(await nicToSample({ configured: undefined, mode: 'pod', defaultNic: 'eth0' }, read)).toBeUndefined();
    expect(await nicToSample({ configured: 'eth0', mode: 'pod', defaultNic: 'eth0' }, read)).toBe('eth0');
  });

  it('samples nothing when told none, or when the default interface is unknown', async () => {
    expect(await nicToSample({ configured: 'none', mode: 'host', defaultNic: 'eth0' }, read)).toBeUndefined();
    expect(await nicToSample({ configured: undefined, mode: 'host', defaultNic: 'unknown' }, read)).toBeUndefined();
  });

  it('refuses a configured interface the node does not have, naming the ones it has', async () => {
    await expect(nicToSample({ configured: 'bond0', mode: 'host', defaultNic: 'eth0' }, read)).rejects.toThrow(
      'NETMATRIX_NIC: no interface bond0 here (there are: lo, eth0)',
    );
  });
});
