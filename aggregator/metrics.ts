/**
 * Every netmatrix metric, on a registry passed in (never prom-client's global one). Event
 * counters are bumped by verbs (`recordResult`, `protocolError`, ...); the figures of the
 * matrix are computed at scrape time from the result store, so a node that leaves (its cells
 * removed from the store) disappears from /metrics at the next scrape with no label set left
 * behind. Per-pair series grow as N^2 and are exported only up to a node limit or on request.
 * Throughput figures read the throughput cells of the matrix, latency figures (sockperf's full
 * round trips) the latency cells; the event counters carry the kind of test as a label.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { TestResult } from '../shared/result.js';
import { median, spread } from '../shared/stats.js';
import { TEST_KINDS } from '../shared/protocol.js';
import type { LatencyResult } from '../shared/sockperf.js';
import type { AgentRegistry } from './agents.js';
import type { MatrixCell, ResultStore } from './results.js';
import type { KubeStatus } from './kube/status.js';

export interface MetricsOptions {
  perPair: 'auto' | 'always' | 'never';
  perPairMaxNodes: number;
  /** The Kubernetes integration's status; null when it is off. */
  kube?: KubeStatus | null;
  /** The scheduler's coverage staleness per kind, path and protocol (Scheduler.staleness). */
  staleness?: () => ReadonlyArray<{
    kind: string;
    path: string;
    protocol: string;
    maxSeconds: number;
    medianSeconds: number;
    neverMeasured: number;
  }>;
}

/**
 * Group values by a label set, then set each group's median on the gauge, converted by `unit`
 * (after the median: sockperf's microseconds to seconds once, with no rounding noise).
 */
function setMedians(
  g: Gauge<string>,
  rows: Array<[Record<string, string>, number | null | undefined]>,
  unit: (v: number) => number = (v) => v,
): void {
  const groups = new Map<string, { labels: Record<string, string>; values: number[] }>();
  for (const [labels, v] of rows) {
    if (v === null || v === undefined || !Number.isFinite(v)) continue;
    const key = JSON.stringify(labels);
    const grp = groups.get(key) ?? { labels, values: [] };
    grp.values.push(v);
    groups.set(key, grp);
  }
  for (const { labels, values } of groups.values()) g.set(labels, unit(median(values) as number));
}

/** Most `netmatrix_pair_consecutive_failures` series exported at once. */
export const PAIR_FAILURES_MAX_SERIES = 100;

/**
 * Results carry bits per second (iperf3's unit); metrics use Prometheus's base unit, bytes
 * (promtool rejects `_bits`). Dashboards multiply by 8 to show bit/s.
 */
const bytes = (bitsPerSecond: number | null) => (bitsPerSecond === null ? null : bitsPerSecond / 8);

const ratio = (pct: number | undefined) => (pct === undefined ? undefined : pct / 100);

/** sockperf reports microseconds; metrics use seconds. */
const seconds = (us: number) => us / 1e6;

type RttKey = keyof LatencyResult['rttMicroseconds'];
/** The `percentile` label of the per-path RTT gauge, and the field of sockperf's report it reads. */
const PATH_PERCENTILES: ReadonlyArray<[string, RttKey]> = [
  ['50', 'p50'],
  ['90', 'p90'],
  ['99', 'p99'],
  ['99.9', 'p999'],
];
/**
 * Per node and per pair only the typical and the tail round trip: 2 percentiles x 3 paths x 2
 * protocols keeps a node at 12 RTT series (the per-node series are the bulk of /metrics on a
 * large cluster: about 50 per node with throughput's, under 50,000 at 1,000 nodes).
 */
const NODE_PERCENTILES: ReadonlyArray<[string, RttKey]> = [
  ['50', 'p50'],
  ['99', 'p99'],
];

/**
 * Buckets of the per-test RTT histograms, seconds: 25 µs (two hosts on one switch) to 1 s (a
 * broken path). Each latency test observes once, so they cost nothing per node or pair.
 */
export const RTT_BUCKETS_SECONDS = [
  25e-6, 50e-6, 75e-6, 100e-6, 150e-6, 200e-6, 300e-6, 500e-6, 750e-6, 1e-3, 1.5e-3, 2e-3, 3e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3,
  500e-3, 1,
];

export class Metrics {
  private readonly tests: Counter<string>;
  private readonly failures: Counter<string>;
  private readonly duration: Histogram<string>;
  private readonly protocolErrors: Counter<string>;
  private readonly ignored: Counter<string>;
  private readonly sweeps: Counter<string>;
  private readonly retransmits: Counter<string>;
  private readonly rttP50: Histogram<string>;
  private readonly rttP99: Histogram<string>;

  constructor(registry: Registry, store: ResultStore, agents: AgentRegistry, o: MetricsOptions) {
    const reg = [registry];
    this.tests = new Counter({
      name: 'netmatrix_tests_total',
      help: 'Tests finished, by kind (throughput or latency) and outcome (success or failure).',
      labelNames: ['path', 'protocol', 'kind', 'outcome'],
      registers: reg,
    });
    this.failures = new Counter({
      name: 'netmatrix_test_failures_total',
      help: 'Failed tests by kind and reason (an error code from the catalogue).',
      labelNames: ['path', 'protocol', 'kind', 'reason'],
      registers: reg,
    });
    this.duration = new Histogram({
      name: 'netmatrix_test_duration_seconds',
      help: 'Wall-clock time of a test from the serve command to the joined result, by kind of test.',
      labelNames: ['path', 'protocol', 'kind'],
      // 3, 4 and 7 s for latency tests: 2 s of sockperf plus its 2.5 s of warm-up and tail.
      buckets: [1, 2, 3, 4, 5, 7, 10, 15, 20, 30, 60, 120],
      registers: reg,
    });
    this.protocolErrors = new Counter({
      name: 'netmatrix_protocol_errors_total',
      help: 'WebSocket connections refused or closed for a protocol violation, by reason.',
      labelNames: ['reason'],
      registers: reg,
    });
    this.ignored = new Counter({
      name: 'netmatrix_results_ignored_total',
      help: 'Agent results not recorded: duplicate, unknown test or wrong agent.',
      labelNames: ['reason'],
      registers: reg,
    });
    this.sweeps = new Counter({
      name: 'netmatrix_sweeps_completed_total',
      help: 'Background sweeps that covered every ordered pair of a path and protocol, by kind of test (throughput or latency).',
      labelNames: ['path', 'protocol', 'kind'],
      registers: reg,
    });
    this.retransmits = new Counter({
      name: 'netmatrix_tcp_retransmits_total',
      help: 'TCP retransmits reported by iperf3 senders, summed over tests.',
      labelNames: ['path'],
      registers: reg,
    });
    this.rttP50 = new Histogram({
      name: 'netmatrix_rtt_p50_seconds',
      help: 'Median full round-trip time (sockperf ping-pong, request sent to reply received) of each successful latency test: one observation per test.',
      labelNames: ['path', 'protocol'],
      buckets: RTT_BUCKETS_SECONDS,
      registers: reg,
    });
    this.rttP99 = new Histogram({
      name: 'netmatrix_rtt_p99_seconds',
      help: '99th percentile full round-trip time (sockperf ping-pong) of each successful latency test: one observation per test.',
      labelNames: ['path', 'protocol'],
      buckets: RTT_BUCKETS_SECONDS,
      registers: reg,
    });

    new Gauge({
      name: 'netmatrix_agents_connected',
      help: 'Agents connected now, by network mode (pod or host).',
      labelNames: ['mode'],
      registers: reg,
      collect() {
        this.set({ mode: 'pod' }, agents.count('pod'));
        this.set({ mode: 'host' }, agents.count('host'));
      },
    });

    new Gauge({
      name: 'netmatrix_kubernetes_up',
      help: 'Whether each part of the Kubernetes integration works (1) or not (0): nodes (topology watch), services (pod-to-service targets), dataplane (detection). No series when Kubernetes is off.',
      labelNames: ['component'],
      registers: reg,
      collect() {
        this.reset();
        for (const [component, s] of Object.entries(o.kube?.view().components ?? {})) this.set({ component }, s.state === 'ok' ? 1 : 0);
      },
    });

    // ----- scrape-time figures from the matrix (latest successful result per pair) -----
    const ok = (): Array<MatrixCell & { r: TestResult }> =>
      store.matrix('throughput').flatMap((c) => (c.lastSuccess ? [{ ...c, r: c.lastSuccess }] : []));
    const gauge = (name: string, help: string, labelNames: string[], fill: (g: Gauge<string>) => void) =>
      new Gauge({
        name,
        help,
        labelNames,
        registers: reg,
        collect() {
          this.reset();
          fill(this);
        },
      });

    gauge(
      'netmatrix_path_throughput_bytes_per_second',
      'Throughput at the receiver in bytes per second (bits / 8) over all pairs of a path and protocol (latest successful test per pair): stat is min, median or max.',
      ['path', 'protocol', 'stat'],
      (g) => {
        const by = new Map<string, { path: string; protocol: string; v: number[] }>();
        for (const c of ok()) {
          const k = `${c.path}/${c.protocol}`;
          const e = by.get(k) ?? { path: c.path, protocol: c.protocol, v: [] };
          const v = bytes(c.r.throughputBitsPerSecond);
          if (v !== null) e.v.push(v);
          by.set(k, e);
        }
        for (const { path, protocol, v } of by.values()) {
          if (v.length === 0) continue;
          g.set({ path, protocol, stat: 'min' }, Math.min(...v));
          g.set({ path, protocol, stat: 'median' }, median(v) as number);
          g.set({ path, protocol, stat: 'max' }, Math.max(...v));
        }
      },
    );
    gauge(
      'netmatrix_node_throughput_bytes_per_second',
      "Median throughput of a node's pairs in bytes per second: direction out (node is the client) or in (node is the server).",
      ['path', 'protocol', 'node', 'direction'],
      (g) =>
        setMedians(
          g,
          ok().flatMap((c) => [
            [{ path: c.path, protocol: c.protocol, node: c.source, direction: 'out' }, bytes(c.r.throughputBitsPerSecond)],
            [{ path: c.path, protocol: c.protocol, node: c.target, direction: 'in' }, bytes(c.r.throughputBitsPerSecond)],
          ]),
        ),
    );
    const perPair = () => o.perPair === 'always' || (o.perPair === 'auto' && agents.nodes().length <= o.perPairMaxNodes);
    gauge(
      'netmatrix_pair_throughput_bytes_per_second',
      'Throughput of one ordered pair in bytes per second (only up to NETMATRIX_PER_PAIR_MAX_NODES nodes, or with NETMATRIX_PER_PAIR_METRICS=always).',
      ['path', 'protocol', 'source', 'target'],
      (g) => {
        if (!perPair()) return;
        for (const c of ok()) {
          const v = bytes(c.r.throughputBitsPerSecond);
          if (v !== null) g.set({ path: c.path, protocol: c.protocol, source: c.source, target: c.target }, v);
        }
      },
    );

    const cpuRows = (pick: (r: TestResult, side: 'client' | 'server') => number | null | undefined) =>
      ok().flatMap((c) => [
        [{ path: c.path, protocol: c.protocol, side: 'client' }, pick(c.r, 'client')] as [
          Record<string, string>,
          number | null | undefined,
        ],
        [{ path: c.path, protocol: c.protocol, side: 'server' }, pick(c.r, 'server')] as [
          Record<string, string>,
          number | null | undefined,
        ],
      ]);
    const side = (r: TestResult, s: 'client' | 'server') => (s === 'client' ? r.source : r.target);
    gauge(
      'netmatrix_path_cpu_busy_ratio',
      'Node CPU busy during tests (0-1 of all cores, from /proc/stat; includes softirq), median over pairs, for the client or server side.',
      ['path', 'protocol', 'side'],
      (g) =>
        setMedians(
          g,
          cpuRows((r, s) => ratio(side(r, s).cpu?.test.busyPercent)),
        ),
    );
    gauge(
      'netmatrix_path_cpu_softirq_ratio',
      'Node CPU in softirq during tests (0-1 of all cores), median over pairs.',
      ['path', 'protocol', 'side'],
      (g) =>
        setMedians(
          g,
          cpuRows((r, s) => ratio(side(r, s).cpu?.test.softirqPercent)),
        ),
    );
    gauge(
      'netmatrix_path_cpu_max_core_ratio',
      'Busy ratio of the busiest single core during tests, median over pairs.',
      ['path', 'protocol', 'side'],
      (g) =>
        setMedians(
          g,
          cpuRows((r, s) => ratio(side(r, s).cpu?.test.maxCorePercent)),
        ),
    );
    gauge(
      'netmatrix_path_cpu_seconds_per_gigabyte',
      'Node busy CPU-seconds per 10^9 bytes moved, median over pairs.',
      ['path', 'protocol', 'side'],
      (g) =>
        setMedians(
          g,
          cpuRows((r, s) => side(r, s).cpuSecondsPerGigabyte),
        ),
    );
    gauge(
      'netmatrix_node_cpu_busy_ratio',
      "Node CPU busy during its tests (0-1), median over the node's pairs, as client or server.",
      ['path', 'protocol', 'node', 'side'],
      (g) =>
        setMedians(
          g,
          ok().flatMap((c) => [
            [{ path: c.path, protocol: c.protocol, node: c.source, side: 'client' }, ratio(c.r.source.cpu?.test.busyPercent)],
            [{ path: c.path, protocol: c.protocol, node: c.target, side: 'server' }, ratio(c.r.target.cpu?.test.busyPercent)],
          ]),
        ),
    );
    const udp = () => ok().filter((c) => c.protocol === 'udp');
    gauge('netmatrix_path_udp_jitter_seconds', 'UDP jitter reported by iperf3, median over pairs.', ['path'], (g) =>
      setMedians(
        g,
        udp().map((c) => [{ path: c.path }, c.r.iperf?.udp?.jitterSeconds]),
      ),
    );
    gauge('netmatrix_path_udp_loss_ratio', 'UDP datagrams lost (0-1), median over pairs.', ['path'], (g) =>
      setMedians(
        g,
        udp().map((c) => [{ path: c.path }, c.r.iperf?.udp?.lossRatio]),
      ),
    );
    gauge(
      'netmatrix_node_udp_loss_ratio',
      "UDP loss (0-1), median over a node's pairs, by direction.",
      ['path', 'node', 'direction'],
      (g) =>
        setMedians(
          g,
          udp().flatMap((c) => [
            [{ path: c.path, node: c.source, direction: 'out' }, c.r.iperf?.udp?.lossRatio],
            [{ path: c.path, node: c.target, direction: 'in' }, c.r.iperf?.udp?.lossRatio],
          ]),
        ),
    );
    const tcp = () => ok().filter((c) => c.protocol === 'tcp');
    gauge('netmatrix_path_tcp_rtt_seconds', 'Mean TCP round-trip time seen by the iperf3 sender, median over pairs.', ['path'], (g) =>
      setMedians(
        g,
        tcp().map((c) => [{ path: c.path }, c.r.iperf?.tcp?.rttMeanSeconds ?? c.r.serverIperf?.tcp?.rttMeanSeconds]),
      ),
    );
    gauge('netmatrix_path_tcp_retransmits', 'TCP retransmits per test, median over pairs (latest test of each pair).', ['path'], (g) =>
      setMedians(
        g,
        tcp().map((c) => [{ path: c.path }, c.r.iperf?.tcp?.retransmits]),
      ),
    );
    const ts = (r: TestResult) => Date.parse(r.endedAt) / 1000;
    gauge(
      'netmatrix_node_last_success_timestamp_seconds',
      'When a test involving the node last succeeded (Unix seconds).',
      ['path', 'protocol', 'node'],
      (g) => {
        const latest = new Map<string, { labels: Record<string, string>; t: number }>();
        for (const c of ok()) {
          for (const node of [c.source, c.target]) {
            const k = `${c.path}/${c.protocol}/${node}`;
            const t = ts(c.r);
            if ((latest.get(k)?.t ?? 0) < t) latest.set(k, { labels: { path: c.path, protocol: c.protocol, node }, t });
          }
        }
        for (const { labels, t } of latest.values()) g.set(labels, t);
      },
    );
    gauge(
      'netmatrix_pair_consecutive_failures',
      `Failed tests in a row of one ordered pair and kind of test, up to its latest test; only pairs whose latest test failed, at most ${PAIR_FAILURES_MAX_SERIES} series (the longest runs).`,
      ['path', 'protocol', 'kind', 'source', 'target'],
      (g) => {
        // Not subject to the per-pair node limit: on a healthy cluster there is no series at all,
        // and the cap keeps a cluster-wide outage from exporting N^2 of them.
        const failing = store
          .matrix()
          .filter((c) => c.consecutiveFailures > 0)
          .sort((a, b) => b.consecutiveFailures - a.consecutiveFailures)
          .slice(0, PAIR_FAILURES_MAX_SERIES);
        for (const c of failing)
          g.set({ path: c.path, protocol: c.protocol, kind: c.kind, source: c.source, target: c.target }, c.consecutiveFailures);
      },
    );
    gauge(
      'netmatrix_pair_staleness_seconds',
      "Age of the background sweep's candidate pairs since their last test, by kind, path and protocol: stat max is the least recently measured pair, median the median (a pair never measured counts from when it became a candidate).",
      ['kind', 'path', 'protocol', 'stat'],
      (g) => {
        for (const s of o.staleness?.() ?? []) {
          g.set({ kind: s.kind, path: s.path, protocol: s.protocol, stat: 'max' }, s.maxSeconds);
          g.set({ kind: s.kind, path: s.path, protocol: s.protocol, stat: 'median' }, s.medianSeconds);
        }
      },
    );
    gauge(
      'netmatrix_pairs_never_measured',
      'Candidate pairs of the background sweep not measured yet since they became candidates, by kind, path and protocol.',
      ['kind', 'path', 'protocol'],
      (g) => {
        for (const s of o.staleness?.() ?? []) g.set({ kind: s.kind, path: s.path, protocol: s.protocol }, s.neverMeasured);
      },
    );
    gauge(
      'netmatrix_pairs_measured',
      'Ordered pairs with a successful result in the current matrix, by kind of test.',
      ['path', 'protocol', 'kind'],
      (g) => {
        for (const kind of TEST_KINDS)
          for (const c of store.matrix(kind)) if (c.lastSuccess) g.inc({ path: c.path, protocol: c.protocol, kind });
      },
    );

    // ----- latency: sockperf's full round trips of the latest successful latency test per pair -----
    // A failed latency test carries no `latency` and leaves the pair's previous success in place:
    // a pair that never succeeded has no series, never a 0 s round trip.
    const lat = (): Array<MatrixCell & { l: LatencyResult }> =>
      store.matrix('latency').flatMap((c) => (c.lastSuccess?.latency ? [{ ...c, l: c.lastSuccess.latency }] : []));
    gauge(
      'netmatrix_path_rtt_seconds',
      'FULL round-trip time (request sent to reply received, sockperf ping-pong; not one-way latency) over all pairs of a path and protocol, latest successful latency test per pair: percentile of each test (50, 90, 99, 99.9), stat min, median or max over the pairs.',
      ['path', 'protocol', 'percentile', 'stat'],
      (g) => {
        const by = new Map<string, { path: string; protocol: string; tests: LatencyResult[] }>();
        for (const c of lat()) {
          const k = `${c.path}/${c.protocol}`;
          const e = by.get(k) ?? { path: c.path, protocol: c.protocol, tests: [] };
          e.tests.push(c.l);
          by.set(k, e);
        }
        for (const { path, protocol, tests } of by.values()) {
          for (const [percentile, key] of PATH_PERCENTILES) {
            const s = spread(tests.map((l) => l.rttMicroseconds[key]));
            if (!s) continue;
            g.set({ path, protocol, percentile, stat: 'min' }, seconds(s.min));
            g.set({ path, protocol, percentile, stat: 'median' }, seconds(s.median));
            g.set({ path, protocol, percentile, stat: 'max' }, seconds(s.max));
          }
        }
      },
    );
    gauge(
      'netmatrix_node_rtt_seconds',
      "FULL round-trip time (sockperf ping-pong) of a node's pairs, the node at either end: the median over its pairs of each test's percentile (50 or 99).",
      ['path', 'protocol', 'node', 'percentile'],
      (g) => {
        const rows: Array<[Record<string, string>, number]> = [];
        for (const c of lat()) {
          for (const [percentile, key] of NODE_PERCENTILES) {
            for (const node of [c.source, c.target])
              rows.push([{ path: c.path, protocol: c.protocol, node, percentile }, c.l.rttMicroseconds[key]]);
          }
        }
        setMedians(g, rows, seconds);
      },
    );
    gauge(
      'netmatrix_pair_rtt_seconds',
      'FULL round-trip time (sockperf ping-pong) of one ordered pair, percentile 50 or 99 of its latest successful latency test (only up to NETMATRIX_PER_PAIR_MAX_NODES nodes, or with NETMATRIX_PER_PAIR_METRICS=always).',
      ['path', 'protocol', 'source', 'target', 'percentile'],
      (g) => {
        if (!perPair()) return;
        for (const c of lat()) {
          for (const [percentile, key] of NODE_PERCENTILES) {
            g.set(
              { path: c.path, protocol: c.protocol, source: c.source, target: c.target, percentile },
              seconds(c.l.rttMicroseconds[key]),
            );
          }
        }
      },
    );
    gauge(
      'netmatrix_node_latency_dropped_ratio',
      "UDP latency tests: requests without a reply over requests sent (0-1), median over a node's pairs (either end) of each path, and of the paths the worst: one series per node.",
      ['node'],
      (g) => {
        const perPath = new Map<string, { node: string; v: number[] }>();
        for (const c of lat()) {
          if (c.protocol !== 'udp' || c.l.sentMessages === 0) continue;
          for (const node of [c.source, c.target]) {
            const k = `${c.path}/${node}`;
            const e = perPath.get(k) ?? { node, v: [] };
            e.v.push(c.l.droppedMessages / c.l.sentMessages);
            perPath.set(k, e);
          }
        }
        const worst = new Map<string, number>();
        for (const { node, v } of perPath.values()) worst.set(node, Math.max(worst.get(node) ?? 0, median(v) as number));
        for (const [node, v] of worst) g.set({ node }, v);
      },
    );
    gauge(
      'netmatrix_path_connect_seconds',
      'TCP connection setup (SYN to established, timed by the client agent before its latency test): median of each test, then stat median or max over the pairs of a path.',
      ['path', 'stat'],
      (g) => {
        const by = new Map<string, number[]>();
        for (const c of lat()) {
          const p50 = c.l.connect?.p50Microseconds;
          if (c.protocol !== 'tcp' || p50 === null || p50 === undefined) continue;
          by.set(c.path, [...(by.get(c.path) ?? []), p50]);
        }
        for (const [path, v] of by) {
          const s = spread(v);
          if (!s) continue;
          g.set({ path, stat: 'median' }, seconds(s.median));
          g.set({ path, stat: 'max' }, seconds(s.max));
        }
      },
    );
  }

  recordResult(r: TestResult, durationSeconds: number): void {
    const labels = { path: r.path, protocol: r.protocol, kind: r.kind };
    this.tests.inc({ ...labels, outcome: r.ok ? 'success' : 'failure' });
    if (!r.ok && r.error) this.failures.inc({ ...labels, reason: r.error.code });
    this.duration.observe(labels, durationSeconds);
    if (r.ok && r.latency) {
      this.rttP50.observe({ path: r.path, protocol: r.protocol }, seconds(r.latency.rttMicroseconds.p50));
      this.rttP99.observe({ path: r.path, protocol: r.protocol }, seconds(r.latency.rttMicroseconds.p99));
    }
    const retr = r.iperf?.tcp?.retransmits;
    if (r.ok && r.protocol === 'tcp' && retr !== undefined) this.retransmits.inc({ path: r.path }, retr);
  }

  protocolError(reason: string): void {
    this.protocolErrors.inc({ reason });
  }

  resultIgnored(reason: 'duplicate' | 'unknown-test' | 'wrong-agent'): void {
    this.ignored.inc({ reason });
  }

  sweepCompleted(path: string, protocol: string, kind: string): void {
    this.sweeps.inc({ path, protocol, kind });
  }
}
