/**
 * Every figure compare judges, one row each: which kind of test it comes from, how it is read
 * from one test, its unit, and whether it compares as a ratio (log scale, % change) or a
 * difference (linear, in its own unit). The text tables, the HTML report and --json all
 * iterate this list, so a figure added here appears in all three.
 */
import { cpuSecondsPerGigabyte, marginalCpu, type CpuReport, type MarginalCpu } from '../../shared/cpu.js';
import type { Protocol, TestKind } from '../../shared/protocol.js';
import { bytesMoved, receiverUdp, type TestResult } from '../../shared/result.js';
import type { Scale } from './effect.js';
import { formatBitrate, formatCpuCost, formatDropped, formatPercent, formatRtt } from './units.js';

export interface Figure {
  /** Stable name in --json. */
  id: string;
  kind: TestKind;
  /** Shown in the tables. */
  title: string;
  /** The unit of `value` and of a linear figure's estimate. */
  unit: string;
  scale: Scale;
  /** Linear figures: the practical margin in `unit` (log figures take --margin). */
  margin?: number;
  /** Only these protocols have it (UDP loss). */
  protocols?: readonly Protocol[];
  /** null when the test does not carry it (no CPU report, no idle baseline, a failed test). */
  value: (t: TestResult) => number | null;
  format: (v: number) => string;
}

/**
 * A node busier than this before the test has too little headroom to show what the test cost:
 * its marginal CPU would be a small difference of two large, noisy figures (and at saturation
 * none at all), so it is left out.
 */
export const MAX_IDLE_BUSY_PERCENT = 50;

/** shared/cpu's marginal CPU (test window minus idle baseline, per mode and core), where the baseline left headroom. */
function marginal(cpu: CpuReport | null): MarginalCpu | null {
  return cpu && cpu.idle && cpu.idle.busyPercent <= MAX_IDLE_BUSY_PERCENT ? marginalCpu(cpu) : null;
}

/** CPU-seconds per 10^9 bytes of the test's CPU-seconds; null without bytes. */
function perGigabyte(cpuSeconds: number | null | undefined, t: TestResult): number | null {
  return typeof cpuSeconds === 'number' ? cpuSecondsPerGigabyte(cpuSeconds, bytesMoved(t.iperf)) : null;
}

const ok = (t: TestResult, v: number | null | undefined): number | null => (t.ok && typeof v === 'number' && Number.isFinite(v) ? v : null);

const sides = [
  { side: 'client', pick: (t: TestResult) => t.source },
  { side: 'server', pick: (t: TestResult) => t.target },
] as const;

const cpuCost = (v: number) => `${formatCpuCost(v)} s/GB`;
const percent = (v: number) => `${formatPercent(v)}%`;

export const FIGURES: readonly Figure[] = [
  {
    id: 'throughput',
    kind: 'throughput',
    title: 'throughput',
    unit: 'bit/s',
    scale: 'log',
    value: (t) => ok(t, t.throughputBitsPerSecond),
    format: formatBitrate,
  },
  {
    id: 'udp-loss',
    kind: 'throughput',
    title: 'UDP loss (pt)',
    unit: 'percentage points',
    scale: 'linear',
    margin: 0.5,
    protocols: ['udp'],
    // The receiver's own report: with -O, iperf3 3.12 hands the client a loss that counts the omitted seconds.
    value: (t) => {
      const udp = receiverUdp(t);
      return ok(t, udp ? udp.lossRatio * 100 : null);
    },
    format: (v) => `${v.toFixed(2)}%`,
  },
  ...sides.flatMap(({ side, pick }): Figure[] => [
    {
      id: `${side}-cpu-seconds-per-gigabyte-marginal`,
      kind: 'throughput',
      title: `${side} CPU-s/GB, marginal`,
      unit: 'CPU-seconds per 10^9 bytes',
      scale: 'log',
      value: (t) => ok(t, perGigabyte(marginal(pick(t).cpu)?.busyCpuSeconds, t)),
      format: cpuCost,
    },
    {
      id: `${side}-cpu-busy-percent-marginal`,
      kind: 'throughput',
      title: `${side} CPU busy, marginal`,
      unit: '% of all cores',
      scale: 'log',
      value: (t) => ok(t, marginal(pick(t).cpu)?.busyPercent),
      format: percent,
    },
    {
      id: `${side}-cpu-seconds-per-gigabyte-total`,
      kind: 'throughput',
      title: `${side} CPU-s/GB, total`,
      unit: 'CPU-seconds per 10^9 bytes',
      scale: 'log',
      // As the aggregator recorded it (shared/result.ts sideCost): not computed a second time.
      value: (t) => ok(t, pick(t).cpuSecondsPerGigabyte),
      format: cpuCost,
    },
    {
      id: `${side}-cpu-busy-percent-total`,
      kind: 'throughput',
      title: `${side} CPU busy, total`,
      unit: '% of all cores',
      scale: 'log',
      value: (t) => ok(t, pick(t).cpu?.test.busyPercent),
      format: percent,
    },
    {
      id: `${side}-busiest-core-percent-marginal`,
      kind: 'throughput',
      title: `${side} busiest core, marginal`,
      unit: '% of one core',
      scale: 'log',
      value: (t) => ok(t, marginal(pick(t).cpu)?.maxCorePercent),
      format: percent,
    },
    {
      id: `${side}-busiest-core-percent`,
      kind: 'throughput',
      title: `${side} busiest core, total`,
      unit: '% of one core',
      scale: 'log',
      value: (t) => ok(t, pick(t).cpu?.test.maxCorePercent),
      format: percent,
    },
  ]),
  {
    id: 'rtt-p50',
    kind: 'latency',
    title: 'round trip p50',
    unit: 'µs',
    scale: 'log',
    value: (t) => ok(t, t.latency?.rttMicroseconds.p50),
    format: formatRtt,
  },
  {
    id: 'rtt-p99',
    kind: 'latency',
    title: 'round trip p99',
    unit: 'µs',
    scale: 'log',
    value: (t) => ok(t, t.latency?.rttMicroseconds.p99),
    format: formatRtt,
  },
  {
    id: 'connect-p50',
    kind: 'latency',
    title: 'TCP connect p50',
    unit: 'µs',
    scale: 'log',
    protocols: ['tcp'],
    value: (t) => ok(t, t.latency?.connect?.p50Microseconds),
    format: formatRtt,
  },
  {
    id: 'udp-dropped',
    kind: 'latency',
    title: 'UDP dropped (pt)',
    unit: 'percentage points',
    scale: 'linear',
    margin: 0.5,
    protocols: ['udp'],
    value: (t) => {
      const l = t.latency;
      return ok(t, l && t.protocol === 'udp' && l.sentMessages > 0 ? (100 * l.droppedMessages) / l.sentMessages : null);
    },
    format: (v) => formatDropped(v / 100),
  },
];

/** One CPU-second per 10^9 bytes is 1.25 cores busy per 10 Gbit/s (10 Gbit/s = 1.25 x 10^9 bytes/s). */
export const CORES_PER_10_GBITS_PER_CPU_SECOND_PER_GIGABYTE = 1.25;
