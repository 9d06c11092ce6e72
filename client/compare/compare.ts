/**
 * The comparison model: pure arithmetic from loaded results files to the figures every view
 * (text, charts, HTML) shows. Per path and protocol, each run's successful tests are pooled
 * (every pair and every repetition is one sample), so p10..p90 is the spread a reader should
 * expect from one test on that cluster, and the first run is the baseline for every change.
 * Throughput tests and latency tests are pooled apart; a latency test's samples are its own
 * p50 and p99 round-trip times.
 */
import { PATHS, PROTOCOLS, type Path, type Protocol } from '../../shared/protocol.js';
import type { TestResult } from '../../shared/result.js';
import { droppedRatio } from '../../shared/results-file.js';
import { median, quantile } from '../../shared/stats.js';
import { describeRun, differences, type RunDescription } from './describe.js';
import type { LoadedRun } from './load.js';

/** Fewer successful tests than this in either run and a change is not judged: p10..p90 of one or two samples is no spread. */
export const MIN_SAMPLES_FOR_SIGNIFICANCE = 3;

/** Median and p10..p90 of one figure over one run's successful tests of one path and protocol. */
export interface SampleStats {
  median: number;
  p10: number;
  p90: number;
  /** Successful tests these come from. */
  samples: number;
}

/** Throughput of one run, path and protocol, in bits/s. */
export type ThroughputStats = SampleStats;

/** One run's throughput figures for one path and protocol. */
export interface RunFigures {
  /** Every throughput test of this path and protocol in the run, ok or not. */
  tests: number;
  failures: number;
  /** Over the successful tests; null when none succeeded. */
  throughput: ThroughputStats | null;
  /** Medians over the successful tests that carried CPU; node CPU busy, % of all cores. */
  clientCpuBusyPercent: number | null;
  serverCpuBusyPercent: number | null;
  /** Medians of node busy CPU-seconds per 10^9 bytes moved. */
  clientCpuSecondsPerGigabyte: number | null;
  serverCpuSecondsPerGigabyte: number | null;
}

/** One run's latency figures for one path and protocol; round-trip times in µs. */
export interface LatencyFigures {
  /** Every latency test of this path and protocol in the run, ok or not. */
  tests: number;
  failures: number;
  /** Each successful test's median round trip, pooled; null when none succeeded. */
  rttP50: SampleStats | null;
  /** Each successful test's 99th percentile round trip, pooled. */
  rttP99: SampleStats | null;
  /** UDP: requests without a reply / requests sent, summed over the successful tests; null for TCP. */
  droppedRatio: number | null;
  /** TCP: median of each test's median connection setup, µs; null when no test timed connects. */
  connectP50Microseconds: number | null;
}

/** One path and protocol's latency across all runs; `runs[i]` belongs to `Comparison.runs[i]`. */
export interface LatencySection {
  runs: LatencyFigures[];
  /** Median p50 against the first run's (positive: slower); null as for throughput. */
  p50Changes: (Change | null)[];
  /** Median p99 against the first run's. */
  p99Changes: (Change | null)[];
}

/** A median of a run relative to the first run's. */
export interface Change {
  percent: number;
  /**
   * true when each run's median lies outside the other's p10..p90 band; false when either
   * lies inside; null when a run has too few tests to tell a change from noise.
   */
  significant: boolean | null;
}

/** One path and protocol across all runs; `runs[i]` belongs to `Comparison.runs[i]`. */
export interface Section {
  path: Path;
  protocol: Protocol;
  /** Throughput; every run has 0 tests when only latency was measured on this path and protocol. */
  runs: RunFigures[];
  /** Against the first run; null for the first run itself and when either side has no throughput. */
  changes: (Change | null)[];
  /** null when no run has a latency test of this path and protocol. */
  latency: LatencySection | null;
}

/** How much throughput the CNI costs, per run and protocol: 1.00 = none. */
export interface Overhead {
  protocol: Protocol;
  /** Median pod-to-pod / median node-to-node throughput, per run (null when either is missing). */
  podOverNode: (number | null)[];
  /** Median pod-to-service / median node-to-node throughput, per run. */
  serviceOverNode: (number | null)[];
}

export interface Comparison {
  /** In the order given; the first is the baseline. */
  runs: RunDescription[];
  /** What differs between the runs, one line each, for the reader to see before any figure. */
  notes: string[];
  /** Every path and protocol any run measured, node/pod/service then TCP/UDP. */
  sections: Section[];
  /** Per protocol any run measured throughput of. */
  overhead: Overhead[];
}

/** Build the comparison of `loaded`, the first being the baseline. */
export function compareRuns(loaded: readonly LoadedRun[]): Comparison {
  const labels = uniqueLabels(loaded);
  const runs = loaded.map((r, i) => describeRun(r, labels[i] as string));
  const notes = differences(loaded, labels);
  const sections: Section[] = [];
  for (const path of PATHS) {
    for (const protocol of PROTOCOLS) {
      const perRun = loaded.map((r) => r.file.results.filter((t) => t.path === path && t.protocol === protocol));
      if (perRun.every((ts) => ts.length === 0)) continue;
      const figures = perRun.map((ts) => runFigures(ts.filter((t) => t.kind === 'throughput')));
      const base = figures[0]?.throughput ?? null;
      const changes = figures.map((f, i) => (i === 0 ? null : change(base, f.throughput)));
      const latencyTests = perRun.map((ts) => ts.filter((t) => t.kind === 'latency'));
      const latency = latencyTests.some((ts) => ts.length > 0) ? latencySection(latencyTests) : null;
      sections.push({ path, protocol, runs: figures, changes, latency });
    }
  }
  const protocols = PROTOCOLS.filter((p) => sections.some((s) => s.protocol === p && hasThroughput(s)));
  const overhead = protocols.map((protocol) => {
    const medianOf = (path: Path, i: number) =>
      sections.find((s) => s.path === path && s.protocol === protocol)?.runs[i]?.throughput?.median ?? null;
    return {
      protocol,
      podOverNode: loaded.map((_, i) => ratio(medianOf('pod', i), medianOf('node', i))),
      serviceOverNode: loaded.map((_, i) => ratio(medianOf('service', i), medianOf('node', i))),
    };
  });
  return { runs, notes, sections, overhead };
}

/** Whether any run has a throughput test of this section (a latency-only run has none). */
export function hasThroughput(s: Section): boolean {
  return s.runs.some((f) => f.tests > 0);
}

/** Figures of one run's tests of one path and protocol. */
export function runFigures(tests: readonly TestResult[]): RunFigures {
  const ok = tests.filter((t) => t.ok);
  const values = (f: (t: TestResult) => number | null | undefined) =>
    ok.map(f).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  const throughputs = values((t) => t.throughputBitsPerSecond);
  const medianOrNull = (xs: number[]) => median(xs) ?? null;
  return {
    tests: tests.length,
    failures: tests.length - ok.length,
    throughput:
      throughputs.length === 0
        ? null
        : {
            median: median(throughputs) as number,
            p10: quantile(throughputs, 0.1) as number,
            p90: quantile(throughputs, 0.9) as number,
            samples: throughputs.length,
          },
    clientCpuBusyPercent: medianOrNull(values((t) => t.source.cpu?.test.busyPercent)),
    serverCpuBusyPercent: medianOrNull(values((t) => t.target.cpu?.test.busyPercent)),
    clientCpuSecondsPerGigabyte: medianOrNull(values((t) => t.source.cpuSecondsPerGigabyte)),
    serverCpuSecondsPerGigabyte: medianOrNull(values((t) => t.target.cpuSecondsPerGigabyte)),
  };
}

/** Latency figures of each run's latency tests (`perRun[i]` of run i) of one path and protocol. */
export function latencySection(perRun: readonly (readonly TestResult[])[]): LatencySection {
  const runs = perRun.map(latencyFigures);
  const changes = (pick: (f: LatencyFigures) => SampleStats | null) => {
    const base = runs[0] ? pick(runs[0]) : null;
    return runs.map((f, i) => (i === 0 ? null : change(base, pick(f))));
  };
  return { runs, p50Changes: changes((f) => f.rttP50), p99Changes: changes((f) => f.rttP99) };
}

/** Figures of one run's latency tests of one path and protocol. */
export function latencyFigures(tests: readonly TestResult[]): LatencyFigures {
  const ok = tests.flatMap((t) => (t.ok && t.latency ? [{ test: t, latency: t.latency }] : []));
  const stats = (xs: number[]): SampleStats | null =>
    xs.length === 0
      ? null
      : { median: median(xs) as number, p10: quantile(xs, 0.1) as number, p90: quantile(xs, 0.9) as number, samples: xs.length };
  const udp = ok.filter((o) => droppedRatio(o.test) !== null);
  const sent = udp.reduce((n, o) => n + o.latency.sentMessages, 0);
  const dropped = udp.reduce((n, o) => n + o.latency.droppedMessages, 0);
  const connects = ok.flatMap((o) => {
    const p50 = o.latency.connect?.p50Microseconds;
    return typeof p50 === 'number' ? [p50] : [];
  });
  return {
    tests: tests.length,
    failures: tests.length - ok.length,
    rttP50: stats(ok.map((o) => o.latency.rttMicroseconds.p50)),
    rttP99: stats(ok.map((o) => o.latency.rttMicroseconds.p99)),
    // Pooled rather than a median of ratios: a loss that hits a few tests must not vanish.
    droppedRatio: sent > 0 ? dropped / sent : null,
    connectP50Microseconds: median(connects) ?? null,
  };
}

/** `other`'s median against `base`'s, in %, and whether it stands out of both runs' spread. */
export function change(base: SampleStats | null, other: SampleStats | null): Change | null {
  if (!base || !other || base.median === 0) return null;
  const judgeable = base.samples >= MIN_SAMPLES_FOR_SIGNIFICANCE && other.samples >= MIN_SAMPLES_FOR_SIGNIFICANCE;
  return {
    percent: ((other.median - base.median) / base.median) * 100,
    significant: judgeable ? isSignificant(base, other) : null,
  };
}

/** Each median lies outside the other run's p10..p90 band (strictly). */
export function isSignificant(a: SampleStats, b: SampleStats): boolean {
  const outside = (x: number, band: SampleStats) => x < band.p10 || x > band.p90;
  return outside(b.median, a) && outside(a.median, b);
}

function ratio(numerator: number | null, denominator: number | null): number | null {
  return numerator === null || denominator === null || denominator === 0 ? null : numerator / denominator;
}

/** Labels as given, with the file name added where two runs share one (both must stay tellable apart). */
export function uniqueLabels(loaded: readonly LoadedRun[]): string[] {
  const count = new Map<string, number>();
  for (const r of loaded) count.set(r.file.label, (count.get(r.file.label) ?? 0) + 1);
  const seen = new Map<string, number>();
  return loaded.map((r) => {
    if ((count.get(r.file.label) ?? 0) < 2) return r.file.label;
    const n = (seen.get(r.file.label) ?? 0) + 1;
    seen.set(r.file.label, n);
    return `${r.file.label} (${n})`;
  });
}
