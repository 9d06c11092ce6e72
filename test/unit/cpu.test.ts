/**
 * Node CPU arithmetic from /proc/stat: on two real snapshots captured ~1 s apart on this
 * machine while `yes` kept a core busy (test/fixtures/proc-stat/capture.sh), and on
 * hand-built text whose exact figures are known.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  cpuInterval,
  cpuReport,
  CpuReportSchema,
  cpuSecondsPerGigabyte,
  cpuWindow,
  CpuWindowSchema,
  marginalCpu,
  measuredBusyCpuSeconds,
  measuredSeconds,
  parseProcStat,
  procStatIdentity,
  sameProcStat,
  USER_HZ,
  type CpuTimes,
  type CpuWindow,
  type ProcStatSnapshot,
} from '../../shared/cpu.js';
import type { IperfResult } from '../../shared/iperf3-result.js';
import { sideCost } from '../../shared/result.js';
import { parseResultsFile } from '../../shared/results-file.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/proc-stat/${name}`, import.meta.url), 'utf8');

const ORDER = ['user', 'nice', 'system', 'idle', 'iowait', 'irq', 'softirq', 'steal'] as const;
const ZERO: CpuTimes = { user: 0, nice: 0, system: 0, idle: 0, iowait: 0, irq: 0, softirq: 0, steal: 0 };

/** One /proc/stat cpu line, with the guest and guest_nice columns the kernel also prints. */
function line(name: string, t: CpuTimes, guest = 0, guestNice = 0): string {
  return `${name} ${ORDER.map((m) => t[m]).join(' ')} ${guest} ${guestNice}`;
}

function add(a: CpuTimes, b: Partial<CpuTimes>): CpuTimes {
  const out = { ...a };
  for (const m of ORDER) out[m] += b[m] ?? 0;
  return out;
}

/** /proc/stat text for an aggregate line that is the sum of `cores`, plus the other lines the kernel prints. */
function procStat(cores: CpuTimes[], guest = 0): string {
  const total = cores.reduce((s, c) => add(s, c), ZERO);
  return [
    line('cpu ', total, guest),
    ...cores.map((c, i) => line(`cpu${i}`, c, guest)),
    'intr 3203488 0 0 0 0',
    'ctxt 4016951',
    'btime 1795559740',
    'processes 12438',
    'procs_running 5',
    'procs_blocked 0',
    'softirq 6311378 0 59620 805 4736627 34477 0 3712 127422 1233563 115152',
    '',
  ].join('\n');
}

// Two cores at some arbitrary earlier counts, then exactly known deltas over one second:
//   core 0: fully busy    user 60 system 20 irq 5 softirq 15          -> busy 100 of 100
//   core 1: mostly idle   user 10 nice 5 system 5 steal 5 idle 65 iowait 10 -> busy 25 of 100
const before0: CpuTimes = { user: 1000, nice: 10, system: 500, idle: 9000, iowait: 50, irq: 7, softirq: 40, steal: 3 };
const before1: CpuTimes = { user: 1200, nice: 20, system: 450, idle: 8800, iowait: 70, irq: 9, softirq: 30, steal: 1 };
const after0 = add(before0, { user: 60, system: 20, irq: 5, softirq: 15 });
const after1 = add(before1, { user: 10, nice: 5, system: 5, steal: 5, idle: 65, iowait: 10 });
const a = parseProcStat(procStat([before0, before1]), 10_000);
const b = parseProcStat(procStat([after0, after1], 777), 11_000);

describe('parseProcStat', () => {
  it('reads the aggregate and per-core lines of a real /proc/stat and ignores the other lines', () => {
    const text = fixture('busy-1.txt');
    const s = parseProcStat(text, 5);
    const cpuLines = text.split('\n').filter((l) => /^cpu\d+ /.test(l));
    expect(cpuLines.length).toBeGreaterThan(0);
    expect(s.cores).toHaveLength(cpuLines.length);
    expect(s.atMs).toBe(5);
    const aggregate = (text.split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
    expect(ORDER.map((m) => s.total[m])).toEqual(aggregate.slice(0, 8));
    const core0 = (cpuLines[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
    expect(ORDER.map((m) => s.cores[0]?.[m])).toEqual(core0.slice(0, 8));
  });

  it('reads hand-built text exactly, leaving guest time out (the kernel already counts it in user)', () => {
    expect(b.total).toEqual(add(after0, after1));
    expect(b.cores).toEqual([after0, after1]);
  });

  it('fills offline cores with zeros so indices stay core numbers', () => {
    const s = parseProcStat([line('cpu ', before0), line('cpu0', before0), line('cpu2', before1)].join('\n'), 0);
    expect(s.cores).toEqual([before0, ZERO, before1]);
  });

  it('throws without an aggregate cpu line', () => {
    expect(() => parseProcStat(line('cpu0', before0), 0)).toThrow(/no aggregate cpu line/);
    expect(() => parseProcStat('', 0)).toThrow(/no aggregate cpu line/);
  });

  it('throws on a cpu line with too few or non-numeric fields', () => {
    expect(() => parseProcStat('cpu  1 2 3 4 5 6 7', 0)).toThrow(/unexpected \/proc\/stat line/);
    expect(() => parseProcStat('cpu  1 2 3 4 five 6 7 8', 0)).toThrow(/unexpected \/proc\/stat line/);
  });
});

describe('cpuWindow on hand-built snapshots', () => {
  const w = cpuWindow(a, b);

  it('counts busy as user+nice+system+irq+softirq+steal over busy+idle+iowait', () => {
    // busy 100 + 25 = 125 ticks of 200.
    expect(w.busyPercent).toBe(62.5);
    expect(w.cores).toBe(2);
    expect(w.startMs).toBe(10_000);
    expect(w.endMs).toBe(11_000);
  });

  it('keeps softirq apart and gives each mode its share of all CPU time', () => {
    expect(w.softirqPercent).toBe(7.5);
    expect(w.modes).toEqual({ user: 35, nice: 2.5, system: 12.5, iowait: 5, irq: 2.5, softirq: 7.5, steal: 2.5 });
  });

  it('reports the busiest single core, which an average of 62.5% hides', () => {
    expect(w.maxCorePercent).toBe(100);
  });

  it('gives the busy % of each core, index = core number', () => {
    expect(w.coreBusyPercent).toEqual([100, 25]);
    expect(cpuWindow(a, a).coreBusyPercent).toEqual([0, 0]);
  });

  it('turns busy ticks into CPU-seconds with USER_HZ = 100', () => {
    expect(USER_HZ).toBe(100);
    expect(w.busyCpuSeconds).toBe(1.25);
  });

  it('clamps counters that step backwards to zero instead of going negative', () => {
    // iowait of core 1 and of the aggregate step back by 30 ticks (seen on real kernels).
    const back1 = add(after1, { iowait: -30 });
    const c = parseProcStat(procStat([after0, back1]), 11_000);
    const clamped = cpuWindow(a, c);
    // iowait contributes 0 (not -20): 125 busy of 190 ticks.
    expect(clamped.modes.iowait).toBe(0);
    expect(clamped.busyPercent).toBe(Math.round((100 * 125 * 100) / 190) / 100);
    const everyNumber = [
      clamped.busyPercent,
      clamped.softirqPercent,
      clamped.maxCorePercent,
      clamped.busyCpuSeconds,
      ...Object.values(clamped.modes),
    ];
    expect(everyNumber.every((n) => n >= 0 && n <= 100)).toBe(true);
    expect(cpuWindow(b, a).busyPercent).toBe(0);
  });

  it('reports 0%, not NaN, for a window with no ticks', () => {
    const same = cpuWindow(a, a);
    expect(same.busyPercent).toBe(0);
    expect(same.maxCorePercent).toBe(0);
    expect(same.busyCpuSeconds).toBe(0);
  });
});

describe('cpuInterval', () => {
  it('gives busy and softirq per core', () => {
    const i = cpuInterval(a, b);
    expect(i.busyPercent).toBe(62.5);
    expect(i.softirqPercent).toBe(7.5);
    expect(i.coreBusyPercent).toEqual([100, 25]);
    expect(i.coreSoftirqPercent).toEqual([15, 0]);
    expect(i.modes.softirq).toBe(7.5);
    expect(i.modes).toEqual(cpuWindow(a, b).modes);
  });
});

describe('cpuReport', () => {
  it('needs at least two snapshots', () => {
    expect(() => cpuReport([])).toThrow(/at least two snapshots/);
    expect(() => cpuReport([a])).toThrow(/at least two snapshots/);
  });

  it('has one interval per consecutive pair, the whole window as test, and idle from the baseline', () => {
    const mid = parseProcStat(procStat([add(before0, { user: 30, system: 10, irq: 2, softirq: 8 }), add(before1, { idle: 50 })]), 10_500);
    const r = cpuReport([a, mid, b], [a, a]);
    expect(r.intervals).toHaveLength(2);
    expect(r.intervals[0]?.endMs).toBe(10_500);
    expect(r.test).toEqual(cpuWindow(a, b));
    expect(r.idle).toEqual(cpuWindow(a, a));
    expect(cpuReport([a, b]).idle).toBeNull();
    expect(CpuReportSchema.parse(r)).toEqual(r);
  });

  it('shows the busy core on the real snapshots captured while `yes` ran', () => {
    const t1 = fixture('busy-1.txt');
    const t2 = fixture('busy-2.txt');
    const r = cpuReport([parseProcStat(t1, 1_000), parseProcStat(t2, 2_000)]);
    expect(CpuReportSchema.parse(r)).toEqual(r);
    const agg = (t: string) => (t.split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
    const d = agg(t2).map((v, i) => v - (agg(t1)[i] ?? 0));
    // user nice system idle iowait irq softirq steal
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = d;
    const busy = user + nice + system + irq + softirq + steal;
    expect(busy).toBeGreaterThan(0);
    expect(r.test.busyCpuSeconds).toBe(Math.round(busy) / USER_HZ);
    expect(r.test.busyPercent).toBe(Math.round((10_000 * busy) / (busy + idle + iowait)) / 100);
    expect(r.test.busyPercent).toBeGreaterThan(0);
    // One core ran `yes` flat out for the whole second.
    expect(r.test.maxCorePercent).toBeGreaterThan(50);
    expect(r.test.maxCorePercent).toBeGreaterThanOrEqual(r.test.busyPercent - 1);
    expect(r.intervals).toHaveLength(1);
    expect(r.intervals[0]?.coreBusyPercent).toHaveLength(r.test.cores);
    expect(r.test.coreBusyPercent).toEqual(r.intervals[0]?.coreBusyPercent);
  });
});

describe('CpuWindowSchema', () => {
  it('reads a window written before coreBusyPercent existed as null, and keeps one that has it', () => {
    const { coreBusyPercent, ...old } = cpuWindow(a, b);
    expect(coreBusyPercent).toEqual([100, 25]);
    expect(CpuWindowSchema.parse(old).coreBusyPercent).toBeNull();
    expect(CpuWindowSchema.parse(cpuWindow(a, b))).toEqual(cpuWindow(a, b));
    expect(CpuWindowSchema.safeParse({ ...old, coreBusyPercent: [101] }).success).toBe(false);
  });

  it('still loads a real results file written before it, with null per-core figures', () => {
    const text = readFileSync(new URL('../fixtures/results/captured/loopback-v1.json', import.meta.url), 'utf8');
    // (its ~1 s intervals have always had per-core figures; its windows had none)
    const raw = JSON.parse(text) as { results: { source: { cpu: { test: object } | null } }[] };
    expect(raw.results.some((r) => r.source.cpu && !('coreBusyPercent' in r.source.cpu.test))).toBe(true);
    const cpus = parseResultsFile('loopback-v1.json', text).results.flatMap((r) => [r.source.cpu, r.target.cpu]);
    expect(cpus.length).toBeGreaterThan(0);
    for (const cpu of cpus) expect(cpu?.test.coreBusyPercent).toBeNull();
  });
});

describe('cpuSecondsPerGigabyte', () => {
  it('divides busy CPU-seconds by 10^9 bytes moved', () => {
    expect(cpuSecondsPerGigabyte(1.5, 3e9)).toBe(0.5);
    expect(cpuSecondsPerGigabyte(2, 1e9)).toBe(2);
    expect(cpuSecondsPerGigabyte(0, 5e9)).toBe(0);
  });

  it('is null when nothing was moved', () => {
    expect(cpuSecondsPerGigabyte(1.5, 0)).toBeNull();
    expect(cpuSecondsPerGigabyte(1.5, -1)).toBeNull();
    expect(cpuSecondsPerGigabyte(1.5, Number.NaN)).toBeNull();
  });
});

describe('marginalCpu', () => {
  const idle: CpuWindow = {
    startMs: 9_000,
    endMs: 10_000,
    cores: 4,
    busyPercent: 3.5,
    softirqPercent: 0.4,
    maxCorePercent: 5,
    coreBusyPercent: [5, 3, 2, 4],
    modes: { user: 2, nice: 0, system: 1, iowait: 0.5, irq: 0.1, softirq: 0.4, steal: 0 },
    busyCpuSeconds: 0.14,
  };
  const test: CpuWindow = {
    startMs: 20_000,
    endMs: 30_000,
    cores: 4,
    busyPercent: 38.3,
    softirqPercent: 15.5,
    maxCorePercent: 80,
    coreBusyPercent: [80, 10, 50.5, 12],
    modes: { user: 10, nice: 0, system: 12.25, iowait: 0.25, irq: 0.5, softirq: 15.5, steal: 0.05 },
    busyCpuSeconds: 15.32,
  };

  it('subtracts the idle window per mode, sums the busy modes and turns the rise into CPU-seconds of the test window', () => {
    expect(marginalCpu({ idle, test, intervals: [], measured: null })).toEqual({
      // 8 + 0 + 11.25 + 0.4 + 15.1 + 0.05; iowait is not busy
      busyPercent: 34.8,
      softirqPercent: 15.1,
      modes: { user: 8, nice: 0, system: 11.25, iowait: -0.25, irq: 0.4, softirq: 15.1, steal: 0.05 },
      // core 0: 80 - 5
      maxCorePercent: 75,
      // 34.8% of 4 cores for 10 s
      busyCpuSeconds: 13.92,
    });
  });

  it('is null without an idle window', () => {
    expect(marginalCpu({ idle: null, test, intervals: [], measured: null })).toBeNull();
  });

  it('has no per-core rise when the windows count different cores, or one was written without per-core figures', () => {
    const fewer = { ...idle, cores: 3, coreBusyPercent: [5, 3, 2] };
    expect(marginalCpu({ idle: fewer, test, intervals: [], measured: null })?.maxCorePercent).toBeNull();
    expect(marginalCpu({ idle: { ...idle, coreBusyPercent: null }, test, intervals: [], measured: null })?.maxCorePercent).toBeNull();
    expect(marginalCpu({ idle, test: { ...test, coreBusyPercent: null }, intervals: [], measured: null })?.maxCorePercent).toBeNull();
    // The other figures do not need the cores.
    expect(marginalCpu({ idle: fewer, test, intervals: [], measured: null })?.busyPercent).toBe(34.8);
  });

  it('keeps a test below its idle baseline negative instead of clamping it to zero', () => {
    const busyIdle: CpuWindow = {
      ...idle,
      cores: 2,
      coreBusyPercent: [10, 8],
      modes: { user: 5, nice: 0, system: 3, iowait: 0, irq: 0, softirq: 1, steal: 0 },
    };
    const quietTest: CpuWindow = {
      ...test,
      endMs: test.startMs + 4_000,
      cores: 2,
      coreBusyPercent: [9, 7],
      modes: { user: 4.5, nice: 0, system: 3, iowait: 0, irq: 0, softirq: 0.75, steal: 0 },
    };
    const m = marginalCpu({ idle: busyIdle, test: quietTest, intervals: [], measured: null });
    expect(m).toEqual({
      busyPercent: -0.75,
      softirqPercent: -0.25,
      modes: { user: -0.5, nice: 0, system: 0, iowait: 0, irq: 0, softirq: -0.25, steal: 0 },
      // both cores fell: the smaller fall is still the largest rise
      maxCorePercent: -1,
      // -0.75% of 2 cores for 4 s
      busyCpuSeconds: -0.06,
    });
  });

  it('is zero when the test window is the idle window, on real snapshots', () => {
    const w = cpuWindow(parseProcStat(fixture('busy-1.txt'), 1_000), parseProcStat(fixture('busy-2.txt'), 2_000));
    expect(marginalCpu({ idle: w, test: w, intervals: [], measured: null })).toEqual({
      busyPercent: 0,
      softirqPercent: 0,
      modes: { user: 0, nice: 0, system: 0, iowait: 0, irq: 0, softirq: 0, steal: 0 },
      maxCorePercent: 0,
      busyCpuSeconds: 0,
    });
  });
});

/** One-core snapshots `stepMs` apart from `startMs`, the core busy `busy[i]` ticks of 100 in interval i. */
function series(busy: number[], startMs = 0, stepMs = 1000): ReturnType<typeof parseProcStat>[] {
  let t: CpuTimes = { ...before0 };
  const out = [parseProcStat(procStat([t]), startMs)];
  busy.forEach((b, i) => {
    t = add(t, { user: b, idle: 100 - b });
    out.push(parseProcStat(procStat([t]), startMs + (i + 1) * stepMs));
  });
  return out;
}

describe('cpuReport aligned to the interval the tool measured', () => {
  // 0-1 s connection setup (idle), 1-2 s an --omit second, 2-5 s measured at 80%, 5-6 s teardown.
  const run = series([0, 40, 80, 80, 80, 5]);

  it('takes the test window from the snapshots inside the measured interval and records both', () => {
    const r = cpuReport(run, undefined, { startMs: 2_004, endMs: 4_996 });
    expect(r.test).toMatchObject({ startMs: 2_000, endMs: 5_000, busyPercent: 80, busyCpuSeconds: 2.4 });
    expect(r.intervals.map((i) => [i.startMs, i.endMs])).toEqual([
      [2_000, 3_000],
      [3_000, 4_000],
      [4_000, 5_000],
    ]);
    expect(r.measured).toEqual({ startMs: 2_004, endMs: 4_996 });
    // The whole run, as before: setup, omit and teardown dilute the figure.
    expect(cpuReport(run).test.busyPercent).toBe(47.5);
    expect(cpuReport(run).measured).toBeNull();
    expect(CpuReportSchema.parse(r)).toEqual(r);
  });

  it('counts a snapshot up to 50 ms outside an edge as inside, and not one further out', () => {
    expect(cpuReport(run, undefined, { startMs: 2_050, endMs: 4_950 }).test).toMatchObject({ startMs: 2_000, endMs: 5_000 });
    expect(cpuReport(run, undefined, { startMs: 2_051, endMs: 4_949 }).test).toMatchObject({ startMs: 3_000, endMs: 4_000 });
  });

  it('bounds an interval shorter than the sampling by the snapshots nearest its edges', () => {
    const r = cpuReport(run, undefined, { startMs: 2_300, endMs: 2_900 });
    expect(r.test).toMatchObject({ startMs: 2_000, endMs: 3_000, busyPercent: 80 });
    expect(r.intervals).toHaveLength(1);
    expect(r.measured).toEqual({ startMs: 2_300, endMs: 2_900 });
  });

  it('never takes a window of a few ms between a periodic snapshot and the stop snapshot just after it', () => {
    // 1 s steps, then the sampler's stop snapshot 5 ms after the last periodic one (no tick between).
    const s = series([80, 80, 80]);
    const stopped = [...s, { ...(s[3] as ProcStatSnapshot), atMs: 3_005 }];
    const r = cpuReport(stopped, undefined, { startMs: 2_100, endMs: 3_004 });
    expect(r.test).toMatchObject({ startMs: 2_000, endMs: 3_005, busyPercent: 80 });
    expect(r.measured).toEqual({ startMs: 2_100, endMs: 3_004 });
  });

  it('keeps the whole run, with no measured interval, when the interval is not within the snapshots or is empty', () => {
    for (const m of [
      { startMs: -900, endMs: 3_000 },
      { startMs: 2_000, endMs: 6_100 },
      { startMs: 3_000, endMs: 3_000 },
      { startMs: 2_400, endMs: 2_450 },
    ]) {
      const r = cpuReport(run, undefined, m);
      expect(r.test).toEqual(cpuWindow(run[0] as ProcStatSnapshot, run[run.length - 1] as ProcStatSnapshot));
      expect(r.intervals).toHaveLength(6);
      expect(r.measured).toBeNull();
    }
  });

  it('reads a report written before alignment as not aligned', () => {
    const { measured: _none, ...old } = cpuReport(run);
    expect(CpuReportSchema.parse(old).measured).toBeNull();
  });
});

describe('busy CPU-seconds over the measured interval', () => {
  const run = series([0, 80, 80, 80, 0]);

  it('scales the window to the measured length, so CPU and bytes cover the same time', () => {
    // The snapshots inside are 1-3 s: 1.6 busy CPU-seconds in 2 s; the measured interval is 2.9 s long.
    const r = cpuReport(run, undefined, { startMs: 1_020, endMs: 3_920 });
    expect(r.test).toMatchObject({ startMs: 1_000, endMs: 3_000, busyCpuSeconds: 1.6 });
    expect(measuredSeconds(r)).toBe(2.9);
    expect(measuredBusyCpuSeconds(r)).toBe(2.32);
    // iperf3 counted 2.32 GB over the measured 2.9 s: one CPU-second per GB.
    expect(sideCost(r, { receivedBytes: 2.32e9, sentBytes: 2.32e9 } as IperfResult)).toBe(1);
  });

  it('is the test window itself without a measured interval', () => {
    const r = cpuReport(run);
    expect(measuredSeconds(r)).toBe(5);
    expect(measuredBusyCpuSeconds(r)).toBe(r.test.busyCpuSeconds);
    expect(sideCost(r, { receivedBytes: 4.8e9, sentBytes: 0 } as IperfResult)).toBe(0.5);
  });

  it('gives marginalCpu the measured seconds too', () => {
    const idleFirst = parseProcStat(procStat([before0]), -1_000);
    const r = cpuReport(run, [idleFirst, run[0] as ProcStatSnapshot], { startMs: 1_020, endMs: 3_920 });
    // 80% of one core over an idle 0% for the measured 2.9 s.
    expect(marginalCpu(r)).toMatchObject({ busyPercent: 80, maxCorePercent: 80, busyCpuSeconds: 2.32 });
  });
});

describe('procStatIdentity', () => {
  it('reads btime, cores and the aggregate ticks of a real /proc/stat', () => {
    const s = parseProcStat(fixture('busy-1.txt'), 1_000.4);
    expect(s.btime).toBe(1795559740);
    // cpu  43863 0 23960 136318 294 0 5556 0
    expect(procStatIdentity(s)).toEqual({
      btime: 1795559740,
      cores: 2,
      totalTicks: 43863 + 23960 + 136318 + 294 + 5556,
      busyTicks: 43863 + 23960 + 5556,
      atMs: 1_000,
    });
  });

  it('has a null btime for a file without one', () => {
    const s = parseProcStat([line('cpu ', before0), line('cpu0', before0)].join('\n'), 0);
    expect(s.btime).toBeUndefined();
    expect(procStatIdentity(s).btime).toBeNull();
  });
});

describe('sameProcStat', () => {
  // Two real readings of this machine's /proc/stat, ~1 s apart (205 ticks of 2 cores passed).
  const T = 1_795_600_000_000;
  const host = procStatIdentity(parseProcStat(fixture('busy-1.txt'), T));
  const node = procStatIdentity(parseProcStat(fixture('busy-2.txt'), T + 1_000));

  /** What LXCFS shows a container: its cgroup's user and system, idle made up to the node's total, zeros after. */
  function lxcfsView(text: string, share: number): string {
    return text
      .split('\n')
      .map((l) => {
        const m = /^(cpu\d*)\s+(.*)$/.exec(l);
        if (!m) return l;
        const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = (m[2] ?? '')
          .split(/\s+/)
          .map(Number);
        const total = user + nice + system + idle + iowait + irq + softirq + steal;
        const [u, s] = [Math.round(user * share), Math.round(system * share)];
        return `${m[1]} ${u} 0 ${s} ${total - u - s} 0 0 0 0 0 0`;
      })
      .join('\n');
  }

  it("is true for two real readings of one node's counters, in either order", () => {
    expect(sameProcStat(host, node)).toBe(true);
    expect(sameProcStat(node, host)).toBe(true);
    // btime comes from the wall clock and may move by a second.
    expect(sameProcStat(host, { ...node, btime: (node.btime ?? 0) + 1 })).toBe(true);
  });

  it('is false when the ticks do not fit the time between the readings', () => {
    // 205 ticks of 2 cores: ~1 s, not 3 s, and not 0 s.
    expect(sameProcStat(host, { ...node, atMs: T + 3_000 })).toBe(false);
    expect(sameProcStat(host, { ...node, atMs: T })).toBe(false);
  });

  it("is false for another kernel's boot (a Kata VM, a gVisor sandbox) or a cpuset's cores", () => {
    expect(sameProcStat(host, { ...node, btime: (node.btime ?? 0) + 3600 })).toBe(false);
    expect(sameProcStat(host, { ...node, btime: null })).toBe(false);
    expect(sameProcStat(host, { ...node, cores: 1 })).toBe(false);
  });

  it("is false for LXCFS's view, whose total ticks are the node's but whose busy ticks are the container's", () => {
    const later = procStatIdentity(parseProcStat(lxcfsView(fixture('busy-2.txt'), 0.1), T + 1_000));
    expect(later.totalTicks).toBe(node.totalTicks);
    expect(sameProcStat(host, later)).toBe(false);
    const earlier = procStatIdentity(parseProcStat(lxcfsView(fixture('busy-1.txt'), 0.1), T));
    expect(sameProcStat(node, earlier)).toBe(false);
  });

  it("cannot tell when the node's whole busy time fits in the time between the readings, or a reading is missing", () => {
    // A quiet node: 10 busy s of 2 cores since boot; the host read an hour after the pod.
    const quiet = { btime: 1_795_000_000, cores: 2, totalTicks: 2_000_000, busyTicks: 1_000, atMs: T };
    const hostLater = { ...quiet, totalTicks: quiet.totalTicks + 720_000, busyTicks: 1_200, atMs: T + 3_600_000 };
    expect(sameProcStat(hostLater, quiet)).toBeNull();
    // The other way round the pod's busy ticks would have to have grown from the node's: decided.
    expect(sameProcStat(quiet, hostLater)).toBe(true);
    expect(sameProcStat(null, node)).toBeNull();
    expect(sameProcStat(host, undefined)).toBeNull();
    expect(sameProcStat({ ...host, btime: null }, { ...node, btime: null })).toBeNull();
  });
});
