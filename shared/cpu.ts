/**
 * Node CPU from /proc/stat, as a dataplane comparison needs it: per core and per mode, with
 * softirq (where network receive work lands) kept apart. Pure functions: the agent's sampler
 * reads the file, this module does the arithmetic.
 */
import { z } from 'zod';

/** Kernel ticks per second of /proc/stat (USER_HZ); 100 on every mainstream Linux architecture. */
export const USER_HZ = 100;

/** One `cpu`/`cpuN` line of /proc/stat, in ticks (USER_HZ). guest/guest_nice are already in user/nice. */
export interface CpuTimes {
  user: number;
  nice: number;
  system: number;
  idle: number;
  iowait: number;
  irq: number;
  softirq: number;
  steal: number;
}

/** /proc/stat read at one instant. */
export interface ProcStatSnapshot {
  atMs: number;
  total: CpuTimes;
  cores: CpuTimes[];
  /** The `btime` line: boot time, seconds since the epoch; undefined when the file has none. */
  btime?: number;
}

const MODES = ['user', 'nice', 'system', 'idle', 'iowait', 'irq', 'softirq', 'steal'] as const;

/** Parse the text of /proc/stat. Throws on a file with no aggregate `cpu` line. */
export function parseProcStat(text: string, atMs: number): ProcStatSnapshot {
  let total: CpuTimes | undefined;
  let btime: number | undefined;
  const cores: CpuTimes[] = [];
  for (const line of text.split('\n')) {
    const b = /^btime\s+(\d+)\s*$/.exec(line);
    if (b) btime = Number(b[1]);
    const m = /^cpu(\d*)\s+(.*)$/.exec(line);
    if (!m) continue;
    const fields = (m[2] ?? '').trim().split(/\s+/).map(Number);
    if (fields.length < 8 || fields.slice(0, 8).some((n) => !Number.isFinite(n))) {
      throw new Error(`unexpected /proc/stat line: ${line}`);
    }
    const times = Object.fromEntries(MODES.map((mode, i) => [mode, fields[i] ?? 0])) as unknown as CpuTimes;
    if (m[1] === '') total = times;
    else cores[Number(m[1])] = times;
  }
  if (!total) throw new Error('no aggregate cpu line in /proc/stat');
  // Offline cores leave holes; fill them with zeros so indices stay core numbers.
  for (let i = 0; i < cores.length; i++) cores[i] ??= zeroTimes();
  return btime === undefined ? { atMs, total, cores } : { atMs, total, cores, btime };
}

function zeroTimes(): CpuTimes {
  return { user: 0, nice: 0, system: 0, idle: 0, iowait: 0, irq: 0, softirq: 0, steal: 0 };
}

function diff(a: CpuTimes, b: CpuTimes): CpuTimes {
  const d = zeroTimes();
  // Counters can step back by a tick on some kernels (iowait especially): clamp at 0.
  for (const mode of MODES) d[mode] = Math.max(0, b[mode] - a[mode]);
  return d;
}

/** busy = user+nice+system+irq+softirq+steal; total = busy+idle+iowait. */
function busyTicks(t: CpuTimes): number {
  return t.user + t.nice + t.system + t.irq + t.softirq + t.steal;
}
function totalTicks(t: CpuTimes): number {
  return busyTicks(t) + t.idle + t.iowait;
}
function pct(part: number, whole: number): number {
  return whole > 0 ? round2((100 * part) / whole) : 0;
}
function round2(n: number): number {
  return Math.round(n * 100) / 100;
}

/** Share of all CPU time per mode, %. */
const ModesSchema = z.strictObject({
  user: z.number().min(0).max(100),
  nice: z.number().min(0).max(100),
  system: z.number().min(0).max(100),
  iowait: z.number().min(0).max(100),
  irq: z.number().min(0).max(100),
  softirq: z.number().min(0).max(100),
  steal: z.number().min(0).max(100),
});

/** Share of all CPU time per mode, % (idle is what the modes leave of 100). */
export type CpuModes = z.infer<typeof ModesSchema>;

function modeShares(d: CpuTimes): CpuModes {
  const total = totalTicks(d);
  return {
    user: pct(d.user, total),
    nice: pct(d.nice, total),
    system: pct(d.system, total),
    iowait: pct(d.iowait, total),
    irq: pct(d.irq, total),
    softirq: pct(d.softirq, total),
    steal: pct(d.steal, total),
  };
}

export const CpuIntervalSchema = z.strictObject({
  startMs: z.number().int().min(0),
  endMs: z.number().int().min(0),
  busyPercent: z.number().min(0).max(100),
  softirqPercent: z.number().min(0).max(100),
  /** All cores together, per mode. */
  modes: ModesSchema,
  /** Busy % of each core, index = core number. */
  coreBusyPercent: z.array(z.number().min(0).max(100)).max(4096),
  /** Softirq % of each core. */
  coreSoftirqPercent: z.array(z.number().min(0).max(100)).max(4096),
});
export type CpuInterval = z.infer<typeof CpuIntervalSchema>;

export const CpuWindowSchema = z.strictObject({
  startMs: z.number().int().min(0),
  endMs: z.number().int().min(0),
  cores: z.number().int().min(0),
  /** Node CPU busy, % of all cores (100 = every core fully busy). */
  busyPercent: z.number().min(0).max(100),
  softirqPercent: z.number().min(0).max(100),
  /** Busy % of the busiest single core over the window: one saturated core hides in an average. */
  maxCorePercent: z.number().min(0).max(100),
  /**
   * Busy % of each core over the window, index = core number, so that a test window's cores can
   * be set against the idle window's. null in results files and agent frames written before it.
   */
  coreBusyPercent: z.array(z.number().min(0).max(100)).max(4096).nullable().default(null),
  /** Share of all CPU time per mode, %. */
  modes: ModesSchema,
  /** Busy CPU time summed over all cores, in seconds. */
  busyCpuSeconds: z.number().min(0),
});
export type CpuWindow = z.infer<typeof CpuWindowSchema>;

/** What an agent reports about its node's CPU for one test. */
/** A wall-clock interval, ms since the epoch. */
export const MeasuredIntervalSchema = z.strictObject({
  startMs: z.number().int().min(0),
  endMs: z.number().int().min(0),
});
export type MeasuredInterval = z.infer<typeof MeasuredIntervalSchema>;

/** What an agent reports about its node's CPU for one test. */
export const CpuReportSchema = z.strictObject({
  /** The node just before the test started (the baseline marginalCpu subtracts). */
  idle: CpuWindowSchema.nullable(),
  /**
   * The node over the test: between the first and last snapshots inside `measured` (the
   * nearest to its edges when fewer than two are; startMs/endMs say which were used), or over
   * the whole run of the measuring process when `measured` is null.
   */
  test: CpuWindowSchema,
  /** ~1 s intervals within the test window. */
  intervals: z.array(CpuIntervalSchema).max(4000),
  /**
   * The interval the test's tool measured, on this node's clock (iperf3: its report's measured
   * intervals, connection setup and --omit seconds excluded), which `test` was aligned to.
   * null when the tool gave none (sockperf, a report without timestamps) and in results
   * written before it.
   */
  measured: MeasuredIntervalSchema.nullable().default(null),
});
export type CpuReport = z.infer<typeof CpuReportSchema>;

/** Summarise CPU between two snapshots. */
export function cpuWindow(a: ProcStatSnapshot, b: ProcStatSnapshot): CpuWindow {
  const d = diff(a.total, b.total);
  const total = totalTicks(d);
  const n = Math.min(a.cores.length, b.cores.length);
  const coreBusyPercent: number[] = [];
  for (let i = 0; i < n; i++) {
    const c = diff(a.cores[i] as CpuTimes, b.cores[i] as CpuTimes);
    coreBusyPercent.push(pct(busyTicks(c), totalTicks(c)));
  }
  return {
    startMs: a.atMs,
    endMs: b.atMs,
    cores: n,
    busyPercent: pct(busyTicks(d), total),
    softirqPercent: pct(d.softirq, total),
    // reduce, not Math.max(...): the array may have thousands of cores.
    maxCorePercent: coreBusyPercent.reduce((m, p) => Math.max(m, p), 0),
    coreBusyPercent,
    modes: modeShares(d),
    busyCpuSeconds: round2(busyTicks(d) / USER_HZ),
  };
}

/** One interval between two consecutive snapshots, per core. */
export function cpuInterval(a: ProcStatSnapshot, b: ProcStatSnapshot): CpuInterval {
  const d = diff(a.total, b.total);
  const n = Math.min(a.cores.length, b.cores.length);
  const coreBusyPercent: number[] = [];
  const coreSoftirqPercent: number[] = [];
  for (let i = 0; i < n; i++) {
    const c = diff(a.cores[i] as CpuTimes, b.cores[i] as CpuTimes);
    coreBusyPercent.push(pct(busyTicks(c), totalTicks(c)));
    coreSoftirqPercent.push(pct(c.softirq, totalTicks(c)));
  }
  return {
    startMs: a.atMs,
    endMs: b.atMs,
    busyPercent: pct(busyTicks(d), totalTicks(d)),
    softirqPercent: pct(d.softirq, totalTicks(d)),
    modes: modeShares(d),
    coreBusyPercent,
    coreSoftirqPercent,
  };
}

/**
 * How far outside the measured interval a snapshot may lie and still count as inside it, ms.
 * The interval's edges are estimates (counted back from the process's exit, late by the results
 * exchange) and a snapshot's time is taken just after its read; a few ms either way is noise.
 */
const EDGE_TOLERANCE_MS = 50;

/** An aligned window must span this long, or half the measured interval if that is shorter (see alignedSpan). */
const MIN_ALIGNED_SPAN_MS = 500;

/**
 * The indices of the snapshots (oldest first) that bound `measured` most closely: the first and
 * last inside it, so the window holds no connection setup, --omit seconds or teardown; when
 * fewer than two lie inside (an interval shorter than the sampling), or the two inside span less
 * than MIN_ALIGNED_SPAN_MS (half the interval for a shorter one), the nearest to each edge.
 * undefined when `measured` is not within the snapshots' span (then it cannot be trusted) or no
 * pair of snapshots spans that much.
 */
function alignedSpan(during: readonly ProcStatSnapshot[], measured: MeasuredInterval): [number, number] | undefined {
  const times = during.map((s) => s.atMs);
  const first = times[0] ?? 0;
  const last = times[times.length - 1] ?? 0;
  if (measured.endMs <= measured.startMs) return undefined;
  if (measured.startMs < first - EDGE_TOLERANCE_MS || measured.endMs > last + EDGE_TOLERANCE_MS) return undefined;
  // A span much shorter than the interval is no measure of it: the sampler's stop snapshot can
  // come a few ms after a periodic one, and a window of a few ms holds no tick (0 % busy).
  const covers = ([a, b]: [number, number]) =>
    b > a && (times[b] as number) - (times[a] as number) >= Math.min((measured.endMs - measured.startMs) / 2, MIN_ALIGNED_SPAN_MS);
  const from = times.findIndex((t) => t >= measured.startMs - EDGE_TOLERANCE_MS);
  const to = times.findLastIndex((t) => t <= measured.endMs + EDGE_TOLERANCE_MS);
  if (from >= 0 && covers([from, to])) return [from, to];
  const nearest = (at: number) => times.reduce((best, t, i) => (Math.abs(t - at) < Math.abs((times[best] ?? 0) - at) ? i : best), 0);
  const span: [number, number] = [nearest(measured.startMs), nearest(measured.endMs)];
  return covers(span) ? span : undefined;
}

/**
 * Build the report from snapshots taken during the test (first = the measuring process's
 * start, last = its end, ~1 s apart), an optional snapshot pair from before the test, and
 * the interval the tool measured, if it said: the test window and the intervals are then
 * trimmed to the snapshots that bound it (see alignedSpan).
 */
export function cpuReport(
  during: readonly ProcStatSnapshot[],
  before?: readonly [ProcStatSnapshot, ProcStatSnapshot],
  measured?: MeasuredInterval,
): CpuReport {
  if (during.length < 2) throw new Error('a CPU report needs at least two snapshots');
  const span = measured ? alignedSpan(during, measured) : undefined;
  const used = span ? during.slice(span[0], span[1] + 1) : during;
  const intervals: CpuInterval[] = [];
  for (let i = 1; i < used.length; i++) {
    intervals.push(cpuInterval(used[i - 1] as ProcStatSnapshot, used[i] as ProcStatSnapshot));
  }
  return {
    idle: before ? cpuWindow(before[0], before[1]) : null,
    test: cpuWindow(used[0] as ProcStatSnapshot, used[used.length - 1] as ProcStatSnapshot),
    intervals,
    measured: span && measured ? { startMs: measured.startMs, endMs: measured.endMs } : null,
  };
}

/**
 * Seconds the test's CPU figures stand for: the measured interval's length when the report has
 * one (the bytes iperf3 counted are over exactly that), else the test window's.
 */
export function measuredSeconds(report: CpuReport): number {
  const { measured, test } = report;
  return (measured ? measured.endMs - measured.startMs : test.endMs - test.startMs) / 1000;
}

/**
 * The node's busy CPU-seconds over the interval iperf3 measured, to set against the bytes it
 * counted there: the test window's busy CPU-seconds scaled from the window's length to the
 * measured interval's (the window's edges are snapshots ~1 s apart, so it can be up to an
 * interval short at each edge, or long for a measured interval shorter than the sampling).
 * Without a measured interval, the test window's own.
 */
export function measuredBusyCpuSeconds(report: CpuReport): number {
  const windowSeconds = (report.test.endMs - report.test.startMs) / 1000;
  if (!report.measured || !(windowSeconds > 0)) return report.test.busyCpuSeconds;
  return round2((report.test.busyCpuSeconds * measuredSeconds(report)) / windowSeconds);
}

/**
 * Node CPU-seconds spent per gigabyte (10^9 bytes) moved: the cost figure that makes two
 * dataplanes comparable when their throughput differs. null when nothing was moved.
 */
export function cpuSecondsPerGigabyte(busyCpuSeconds: number, bytes: number): number | null {
  if (!(bytes > 0)) return null;
  return Math.round((busyCpuSeconds / (bytes / 1e9)) * 1e4) / 1e4;
}

/** The modes that count as busy (as in busyTicks): all but idle and iowait. */
const BUSY_MODES = ['user', 'nice', 'system', 'irq', 'softirq', 'steal'] as const;

/**
 * The node CPU a test added over the node's own load: its test window minus the idle window
 * measured just before it. Percentage points of all cores (100 = every core fully busy).
 */
export interface MarginalCpu {
  /** Busy % of all cores, test minus idle: the sum of the busy modes' differences. */
  busyPercent: number;
  /** Softirq % of all cores, test minus idle (where network receive work lands). */
  softirqPercent: number;
  /** Each mode's share, test minus idle. */
  modes: CpuModes;
  /**
   * The largest rise of one core: max over cores of (test busy % - idle busy %) of that core.
   * null when either window has no per-core figures (written before them) or the two windows
   * count different cores (a core went on- or offline between them).
   */
  maxCorePercent: number | null;
  /**
   * busyPercent x cores x seconds / 100: the CPU-seconds the test added, over the interval
   * iperf3 measured when the report has it (as its bytes are), else over the test window.
   */
  busyCpuSeconds: number;
}

/**
 * Marginal CPU of one side of a test: `report.test` minus `report.idle`, per mode and per core;
 * null when the report has no idle window.
 *
 * The differences keep their sign: a test on a quiet node can come out slightly below its idle
 * baseline from noise alone (a background job that ran in the idle second, tick rounding).
 * Clamping those at 0 would bias every mean and median of repeated tests upwards, by more the
 * cheaper the dataplane is; an unclamped noise term averages out.
 */
export function marginalCpu(report: CpuReport): MarginalCpu | null {
  const { idle, test } = report;
  if (!idle) return null;
  const modes = Object.fromEntries(
    (Object.keys(test.modes) as (keyof CpuModes)[]).map((m) => [m, round2(test.modes[m] - idle.modes[m])]),
  ) as CpuModes;
  const busyPercent = round2(BUSY_MODES.reduce((sum, m) => sum + modes[m], 0));
  const testCores = test.coreBusyPercent;
  const idleCores = idle.coreBusyPercent;
  let maxCorePercent: number | null = null;
  if (testCores && idleCores && testCores.length === idleCores.length) {
    for (let i = 0; i < testCores.length; i++) {
      const rise = round2((testCores[i] as number) - (idleCores[i] as number));
      maxCorePercent = maxCorePercent === null ? rise : Math.max(maxCorePercent, rise);
    }
  }
  const seconds = measuredSeconds(report);
  return {
    busyPercent,
    softirqPercent: modes.softirq,
    modes,
    maxCorePercent,
    busyCpuSeconds: round2((busyPercent * test.cores * seconds) / 100),
  };
}

/**
 * One reading of the /proc/stat an agent sees, sent in its hello so that the aggregator can
 * tell whether a pod agent sees its node's CPU (sameProcStat against the node's host agent).
 * Inside LXCFS, gVisor or Kata a pod's /proc/stat is its container's, sandbox's or VM's.
 */
export const ProcStatIdentitySchema = z.strictObject({
  /** The `btime` line (boot time, s since the epoch); null when the file has none (a real kernel always prints it). */
  btime: z.number().int().min(0).nullable(),
  /** Cores with a `cpuN` line. */
  cores: z.number().int().min(0).max(4096),
  /** The aggregate line's ticks (USER_HZ), all modes summed. */
  totalTicks: z.number().int().min(0),
  /** The aggregate line's busy ticks (all but idle and iowait). */
  busyTicks: z.number().int().min(0),
  /** When it was read, ms since the epoch. */
  atMs: z.number().int().min(0),
});
export type ProcStatIdentity = z.infer<typeof ProcStatIdentitySchema>;

/** The identity of a snapshot, for an agent's hello. */
export function procStatIdentity(s: ProcStatSnapshot): ProcStatIdentity {
  return {
    btime: s.btime ?? null,
    cores: s.cores.length,
    totalTicks: Math.round(totalTicks(s.total)),
    busyTicks: Math.round(busyTicks(s.total)),
    atMs: Math.round(s.atMs),
  };
}

/**
 * Slack of sameProcStat's tick checks, in seconds of every core: half a second for when the
 * two readings were taken (atMs is read after the file, on an agent's event loop that may be
 * busy starting up; per-core tick rounding is 0.01 s), plus 1% of the time between them (the
 * ticks follow the monotonic clock and atMs the wall clock, which NTP slews by at most 0.05%).
 * A view that is not the node's is off by far more: a VM or sandbox counts since its own boot,
 * a container's cgroup counts its own CPU time, not the node's.
 */
const SAME_PROC_STAT_SLACK = { seconds: 0.5, ofElapsed: 0.01 };

/**
 * Whether two readings of /proc/stat come from the same kernel counters: the host agent's
 * (`host`, the node's own) and a pod agent's on the same node (`pod`), in either order.
 *
 * false when they differ in boot time (by more than the second the kernel's btime moves by
 * under NTP, as it is derived from the wall clock), in cores (a cpuset-limited view), in total
 * ticks by more than every core counts in the time between them (cores x USER_HZ x seconds,
 * give or take SAME_PROC_STAT_SLACK: a VM or sandbox counts since its own boot), or when the
 * busy ticks went back or grew by more than that (a container's own busy time with idle made up
 * to the node's total, as LXCFS shows, is far below the node's).
 *
 * null when it cannot tell: either reading missing, neither with a btime, or the node's busy
 * ticks since boot (the host's reading, when it is the later) fit in what the time between
 * could add, so that a view counting from zero would pass as well; readings taken close
 * together (e.g. both agents' hellos after an aggregator restart) avoid that.
 */
export function sameProcStat(host: ProcStatIdentity | null | undefined, pod: ProcStatIdentity | null | undefined): boolean | null {
  if (!host || !pod) return null;
  if (host.btime === null && pod.btime === null) return null;
  if (host.btime === null || pod.btime === null || Math.abs(host.btime - pod.btime) > 1) return false;
  if (host.cores !== pod.cores || host.cores === 0) return false;
  const [early, late] = host.atMs <= pod.atMs ? [host, pod] : [pod, host];
  const elapsedSeconds = (late.atMs - early.atMs) / 1000;
  const perSecond = host.cores * USER_HZ;
  const expected = perSecond * elapsedSeconds;
  const slack = perSecond * (SAME_PROC_STAT_SLACK.seconds + SAME_PROC_STAT_SLACK.ofElapsed * elapsedSeconds);
  const total = late.totalTicks - early.totalTicks;
  // Busy counters never go back on one kernel (only idle and iowait may).
  const busy = late.busyTicks - early.busyTicks;
  if (Math.abs(total - expected) > slack || busy < 0 || busy > expected + slack) return false;
  return late === host && host.busyTicks <= expected + slack ? null : true;
}
