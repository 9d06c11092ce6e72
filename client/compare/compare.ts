/**
 * The comparison model: pure arithmetic from loaded results files to what every view (text,
 * HTML, charts, --json) shows. Per kind, path and protocol:
 * - every figure of figures.ts is judged run against baseline by effect.ts: per ordered pair
 *   the median over its repetitions, the paired (or, without common pairs, unpaired) effect
 *   with its 95 % interval, verdict and minimum detectable effect;
 * - each run's successful tests are also pooled (every pair and repetition one sample) into
 *   median and p10..p90, the spread a reader should expect from one test: descriptive only,
 *   for the charts and the CNI overhead ratios.
 * The first run is the baseline; a later file with the same label as an earlier one is a
 * repeat of that configuration, and its comparison with the earlier one is its drift.
 */
import { PATHS, PROTOCOLS, type Path, type Protocol } from '../../shared/protocol.js';
import type { TestResult } from '../../shared/result.js';
import { droppedRatio } from '../../shared/results-file.js';
import { median, quantile } from '../../shared/stats.js';
import { describeRun, differences, type RunDescription } from './describe.js';
import { compareFigure, DEFAULT_MARGIN, DEFAULT_REPLICATES, DEFAULT_SEED, type Effect, type Passes } from './effect.js';
import { FIGURES, type Figure } from './figures.js';
import type { LoadedRun } from './load.js';

/** How effects are judged; the defaults are compare's. */
export interface CompareOptions {
  /** Practical margin of ratio figures, as a fraction (0.03 = +-3 %). */
  margin: number;
  seed: number;
  replicates: number;
}

export const DEFAULT_COMPARE_OPTIONS: CompareOptions = { margin: DEFAULT_MARGIN, seed: DEFAULT_SEED, replicates: DEFAULT_REPLICATES };

/** Which run is judged against which: `runs` indexes of Comparison.runs. */
export interface Pairing {
  baseline: number;
  run: number;
  /** Both files carry one label: a repeat of one configuration, so any change is drift. */
  drift: boolean;
}

/** One run's figure: the median over pairs of each pair's median over its repetitions. */
export interface FigureRun {
  value: number | null;
  pairs: number;
  /** Tests that carried the figure. */
  values: number;
}

/** One figure of one section: per run, and per pairing (`comparisons[i]` belongs to `Comparison.pairings[i]`). */
export interface FigureAnalysis {
  figure: Figure;
  runs: FigureRun[];
  comparisons: Effect[];
}

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
  /** The latency figures judged. */
  figures: FigureAnalysis[];
}

/** One path and protocol across all runs; `runs[i]` belongs to `Comparison.runs[i]`. */
export interface Section {
  path: Path;
  protocol: Protocol;
  /** Throughput; every run has 0 tests when only latency was measured on this path and protocol. */
  runs: RunFigures[];
  /** The throughput figures judged; empty when no run measured throughput here. */
  figures: FigureAnalysis[];
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
  /** Every run against the baseline, then each repeat of a label against that label's first file. */
  pairings: Pairing[];
  options: CompareOptions;
  /** Some run is of the lab, whose nodes are one machine: client and server read the same CPU. */
  lab: boolean;
  /** What differs between the runs, one line each, for the reader to see before any figure. */
  notes: string[];
  /** Every path and protocol any run measured, node/pod/service then TCP/UDP. */
  sections: Section[];
  /** Per protocol any run measured throughput of. */
  overhead: Overhead[];
}

/** Build the comparison of `loaded`, the first being the baseline. */
export function compareRuns(loaded: readonly LoadedRun[], options: CompareOptions = DEFAULT_COMPARE_OPTIONS): Comparison {
  const labels = uniqueLabels(loaded);
  const runs = loaded.map((r, i) => describeRun(r, labels[i] as string));
  const notes = differences(loaded, labels);
  for (const [i, r] of loaded.entries()) {
    // Every file written since the read/assumed marks exist has them (lab and cluster alike).
    if (r.file.environment.dataplane.provenance === null) {
      notes.push(
        `note: ${labels[i]} was written by an older netmatrix: its dataplane settings carry no read/assumed marks, ` +
          'and what it did not record (pod MTU, congestion control, per-core and measured CPU windows, omitted seconds) ' +
          'reads as missing (-) or its default',
      );
    }
    const foreign = r.file.environment.nodes.filter((n) => n.podProcStatIsNodes === false).map((n) => n.name);
    if (foreign.length > 0) {
      notes.push(
        `note: in ${labels[i]}, the pod agent of ${foreign.join(', ')} does not read its node's /proc/stat ` +
          "(LXCFS, gVisor or Kata?): pod and service path CPU figures there are not the node's",
      );
    }
  }
  const pairings = pairRuns(loaded);
  const sections: Section[] = [];
  for (const path of PATHS) {
    for (const protocol of PROTOCOLS) {
      const perRun = loaded.map((r) => r.file.results.filter((t) => t.path === path && t.protocol === protocol));
      if (perRun.every((ts) => ts.length === 0)) continue;
      const throughputTests = perRun.map((ts) => ts.filter((t) => t.kind === 'throughput'));
      const figures = throughputTests.map(runFigures);
      const judged = throughputTests.some((ts) => ts.length > 0) ? analyse('throughput', protocol, throughputTests, pairings, options) : [];
      const latencyTests = perRun.map((ts) => ts.filter((t) => t.kind === 'latency'));
      const latency = latencyTests.some((ts) => ts.length > 0)
        ? { runs: latencyTests.map(latencyFigures), figures: analyse('latency', protocol, latencyTests, pairings, options) }
        : null;
      sections.push({ path, protocol, runs: figures, figures: judged, latency });
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
  const lab = loaded.some((r) => r.file.environment.lab !== null);
  return { runs, pairings, options, notes, lab, sections, overhead };
}

/** Every run against the first; a file whose label an earlier non-baseline file has is also judged against that one (drift). */
export function pairRuns(loaded: readonly LoadedRun[]): Pairing[] {
  const label = (i: number) => loaded[i]?.file.label;
  const pairings: Pairing[] = [];
  for (let i = 1; i < loaded.length; i++) pairings.push({ baseline: 0, run: i, drift: label(i) === label(0) });
  for (let i = 1; i < loaded.length; i++) {
    const first = loaded.findIndex((r, j) => j > 0 && j < i && r.file.label === label(i));
    if (first > 0) pairings.push({ baseline: first, run: i, drift: true });
  }
  return pairings;
}

/** Every figure of `kind` (and this protocol) over each run's tests, judged for every pairing. */
function analyse(
  kind: TestResult['kind'],
  protocol: Protocol,
  perRun: readonly (readonly TestResult[])[],
  pairings: readonly Pairing[],
  options: CompareOptions,
): FigureAnalysis[] {
  return FIGURES.filter((f) => f.kind === kind && (!f.protocols || f.protocols.includes(protocol))).flatMap((figure) => {
    const values = perRun.map((ts) => pairValues(ts, figure));
    if (values.every((v) => v.size === 0)) return [];
    const runs = values.map(figureRun);
    const comparisons = pairings.map((p) =>
      compareFigure(values[p.baseline] as Map<string, Passes>, values[p.run] as Map<string, Passes>, {
        scale: figure.scale,
        margin: figure.scale === 'log' ? options.margin : (figure.margin ?? 0),
        seed: options.seed,
        replicates: options.replicates,
      }),
    );
    return [{ figure, runs, comparisons }];
  });
}

/**
 * One figure's values per ordered pair, by pass: a pair's i-th test in time is its i-th
 * repetition (a run sweeps the whole matrix once per repetition). A test without the figure
 * (failed, no CPU) leaves its pass empty. Pairs with no value at all are left out.
 */
export function pairValues(tests: readonly TestResult[], figure: Figure): Map<string, Passes> {
  const byPair = new Map<string, TestResult[]>();
  for (const t of tests) {
    const k = `${t.source.node}>${t.target.node}`;
    const list = byPair.get(k);
    if (list) list.push(t);
    else byPair.set(k, [t]);
  }
  const out = new Map<string, Passes>();
  for (const [k, ts] of byPair) {
    const passes = [...ts].sort((a, b) => a.startedAt.localeCompare(b.startedAt)).map((t) => figure.value(t));
    if (passes.some((v) => v !== null)) out.set(k, passes);
  }
  return out;
}

function figureRun(values: ReadonlyMap<string, Passes>): FigureRun {
  const medians = [...values.values()].map((p) => median(p.filter((x): x is number => x !== null)) as number);
  let count = 0;
  for (const p of values.values()) for (const x of p) if (x !== null) count++;
  return { value: median(medians) ?? null, pairs: values.size, values: count };
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
