/**
 * The agent's CPU sampler on a /proc/stat the test drives and a virtual clock: a test window
 * trimmed to the interval the tool measured, with the idle baseline and the history guard as
 * they were for the whole run.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CpuSampler } from '../../agent/cpu-sampler.js';

describe('CpuSampler', () => {
  beforeEach(() => void vi.useFakeTimers({ now: 0 }));
  afterEach(() => void vi.useRealTimers());

  /** One core, busy `share.busy` (0..1) of each second of virtual time; ticks are USER_HZ = 100 per second. */
  function node(share: { busy: number }) {
    const c = { busy: 0, idle: 0, at: 0 };
    const read = () => {
      const ticks = (Date.now() - c.at) / 10;
      c.busy += Math.round(ticks * share.busy);
      c.idle += Math.round(ticks * (1 - share.busy));
      c.at = Date.now();
      const line = (name: string) => `${name} ${c.busy} 0 0 ${c.idle} 0 0 0 0 0 0`;
      return Promise.resolve(`${line('cpu ')}\n${line('cpu0')}\nbtime 1795559740\n`);
    };
    return new CpuSampler({ read, now: () => Date.now(), intervalMs: 1000 });
  }

  it('trims the test window to the snapshots inside the measured interval, and keeps the idle window before the run', async () => {
    const share = { busy: 0.1 };
    const sampler = node(share);
    sampler.start();
    await vi.advanceTimersByTimeAsync(2500);
    const w = await sampler.begin(); // the process starts at 2500
    share.busy = 0; // connection setup
    await vi.advanceTimersByTimeAsync(1000);
    share.busy = 0.5; // measured from 3520 ...
    await vi.advanceTimersByTimeAsync(3000);
    share.busy = 0; // ... to 6520, then the results exchange and exit
    await vi.advanceTimersByTimeAsync(500);
    const r = await w.stop({ startMs: 3520, endMs: 6520 });
    sampler.stopBackground();
    expect(r.idle).toMatchObject({ startMs: 2000, endMs: 2500, busyPercent: 10 });
    expect(r.test).toMatchObject({ startMs: 3500, endMs: 6500, busyPercent: 50, busyCpuSeconds: 1.5 });
    expect(r.intervals.map((i) => i.startMs)).toEqual([3500, 4500, 5500]);
    expect(r.measured).toEqual({ startMs: 3520, endMs: 6520 });
  });

  it('offers its newest background snapshot, for the hello', async () => {
    const sampler = node({ busy: 0.5 });
    expect(sampler.latest()).toBeUndefined();
    sampler.start();
    await vi.advanceTimersByTimeAsync(2500);
    expect(sampler.latest()?.atMs).toBe(2000);
    expect(sampler.latest()?.btime).toBe(1795559740);
    sampler.stopBackground();
  });

  it('spans the whole run without a measured interval, as before', async () => {
    const sampler = node({ busy: 0.25 });
    const w = await sampler.begin();
    await vi.advanceTimersByTimeAsync(2000);
    const r = await w.stop();
    expect(r.test).toMatchObject({ startMs: 0, endMs: 2000, busyPercent: 25 });
    expect(r.measured).toBeNull();
  });

  it("takes no baseline from the trimmed run's tail: the whole run counts as the agent's own test", async () => {
    const sampler = node({ busy: 0.1 });
    sampler.start();
    await vi.advanceTimersByTimeAsync(1500);
    const w = await sampler.begin();
    await vi.advanceTimersByTimeAsync(3200); // the run ends at 4700, the measured interval at 3600
    await w.stop({ startMs: 1600, endMs: 3600 });
    await vi.advanceTimersByTimeAsync(300); // 5000: the background sample at 4000 is after the interval but in the run
    expect((await (await sampler.begin()).stop()).idle).toBeNull();
    sampler.stopBackground();
  });
});
