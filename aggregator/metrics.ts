/**
 * Every netmatrix metric, on a registry passed in (never prom-client's global one). Event
 * counters are bumped by verbs (`recordResult`, `protocolError`, ...); the figures of the
 * matrix are computed at scrape time from the result store (aggregator/matrix-figures.ts, one
 * pass over the cells for all gauges), so a node that leaves (its cells
 * removed from the store) disappears from /metrics at the next scrape with no label set left
 * behind. Per-pair series grow as N^2 and are exported only up to a node limit or on request.
 * Throughput figures read the throughput cells of the matrix, latency figures (sockperf's full
 * round trips) the latency cells; the event counters carry the kind of test as a label.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { TEST_KINDS } from '../shared/protocol.js';
import type { TestResult } from '../shared/result.js';
import type { AgentRegistry } from './agents.js';
import type { KubeStatus } from './kube/status.js';
import { matrixFigures, seconds, spreads, type Labels, type MatrixFigures } from './matrix-figures.js';
import type { ResultStore } from './results.js';

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

/** Most `netmatrix_pair_consecutive_failures` series exported at once. */
export const PAIR_FAILURES_MAX_SERIES = 100;

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

    // ----- scrape-time figures from the matrix: one pass over its cells per change, shared by every gauge -----
    const perPair = () => o.perPair === 'always' || (o.perPair === 'auto' && agents.nodeCount() <= o.perPairMaxNodes);
    let cached: { version: number; perPair: boolean; figures: MatrixFigures } | undefined;
    // prom-client runs every collect() of one scrape synchronously, so they all read one pass.
    const figures = (): MatrixFigures => {
      const pp = perPair();
      if (cached?.version !== store.version || cached.perPair !== pp)
        cached = {
          version: store.version,
          perPair: pp,
          figures: matrixFigures(store.cellsView(), { perPair: pp, failingMax: PAIR_FAILURES_MAX_SERIES }),
        };
      return cached.figures;
    };
    const gauge = (name: string, help: string, labelNames: string[], fill: (g: Gauge<string>, f: MatrixFigures) => void) =>
      new Gauge({
        name,
        help,
        labelNames,
        registers: reg,
        collect() {
          this.reset();
          fill(this, figures());
        },
      });
    const setAll = (g: Gauge<string>, rows: Iterable<[Labels, number]>) => {
      for (const [labels, v] of rows) g.set(labels, v);
    };
    const setSpreads = (g: Gauge<string>, rows: ReturnType<typeof spreads>, stats: ReadonlyArray<'min' | 'median' | 'max'>) => {
      for (const [labels, s] of rows) for (const stat of stats) g.set({ ...labels, stat }, s[stat]);
    };

    gauge(
      'netmatrix_path_throughput_bytes_per_second',
      'Throughput at the receiver in bytes per second (bits / 8) over all pairs of a path and protocol (latest successful test per pair): stat is min, median or max.',
      ['path', 'protocol', 'stat'],
      (g, f) => setSpreads(g, spreads(f.pathThroughput), ['min', 'median', 'max']),
    );
    gauge(
      'netmatrix_node_throughput_bytes_per_second',
      "Median throughput of a node's pairs in bytes per second: direction out (node is the client) or in (node is the server).",
      ['path', 'protocol', 'node', 'direction'],
      (g, f) => setAll(g, f.nodeThroughput.medians()),
    );
    gauge(
      'netmatrix_pair_throughput_bytes_per_second',
      'Throughput of one ordered pair in bytes per second (only up to NETMATRIX_PER_PAIR_MAX_NODES nodes, or with NETMATRIX_PER_PAIR_METRICS=always).',
      ['path', 'protocol', 'source', 'target'],
      (g, f) => setAll(g, f.pairThroughput),
    );
    gauge(
      'netmatrix_path_cpu_busy_ratio',
      'Node CPU busy during tests (0-1 of all cores, from /proc/stat; includes softirq), median over pairs, for the client or server side.',
      ['path', 'protocol', 'side'],
      (g, f) => setAll(g, f.pathCpuBusy.medians()),
    );
    gauge(
      'netmatrix_path_cpu_softirq_ratio',
      'Node CPU in softirq during tests (0-1 of all cores), median over pairs.',
      ['path', 'protocol', 'side'],
      (g, f) => setAll(g, f.pathCpuSoftirq.medians()),
    );
    gauge(
      'netmatrix_path_cpu_max_core_ratio',
      'Busy ratio of the busiest single core during tests, median over pairs.',
      ['path', 'protocol', 'side'],
      (g, f) => setAll(g, f.pathCpuMaxCore.medians()),
    );
    gauge(
      'netmatrix_path_cpu_seconds_per_gigabyte',
      'Node busy CPU-seconds per 10^9 bytes moved, median over pairs.',
      ['path', 'protocol', 'side'],
      (g, f) => setAll(g, f.pathCpuPerGigabyte.medians()),
    );
    gauge(
      'netmatrix_node_cpu_busy_ratio',
      "Node CPU busy during its tests (0-1), median over the node's pairs, as client or server.",
      ['path', 'protocol', 'node', 'side'],
      (g, f) => setAll(g, f.nodeCpuBusy.medians()),
    );
    gauge('netmatrix_path_udp_jitter_seconds', 'UDP jitter reported by iperf3, median over pairs.', ['path'], (g, f) =>
      setAll(g, f.pathUdpJitter.medians()),
    );
    gauge('netmatrix_path_udp_loss_ratio', 'UDP datagrams lost (0-1), median over pairs.', ['path'], (g, f) =>
      setAll(g, f.pathUdpLoss.medians()),
    );
    gauge(
      'netmatrix_node_udp_loss_ratio',
      "UDP loss (0-1), median over a node's pairs, by direction.",
      ['path', 'node', 'direction'],
      (g, f) => setAll(g, f.nodeUdpLoss.medians()),
    );
    gauge('netmatrix_path_tcp_rtt_seconds', 'Mean TCP round-trip time seen by the iperf3 sender, median over pairs.', ['path'], (g, f) =>
      setAll(g, f.pathTcpRtt.medians()),
    );
    gauge('netmatrix_path_tcp_retransmits', 'TCP retransmits per test, median over pairs (latest test of each pair).', ['path'], (g, f) =>
      setAll(g, f.pathTcpRetransmits.medians()),
    );
    gauge(
      'netmatrix_node_last_success_timestamp_seconds',
      'When a test involving the node last succeeded (Unix seconds).',
      ['path', 'protocol', 'node'],
      (g, f) => {
        for (const { labels, t } of f.nodeLastSuccess) g.set(labels, t);
      },
    );
    gauge(
      'netmatrix_pair_consecutive_failures',
      `Failed tests in a row of one ordered pair and kind of test, up to its latest test; only pairs whose latest test failed, at most ${PAIR_FAILURES_MAX_SERIES} series (the longest runs).`,
      ['path', 'protocol', 'kind', 'source', 'target'],
      // Not subject to the per-pair node limit: on a healthy cluster there is no series at all,
      // and the cap keeps a cluster-wide outage from exporting N^2 of them.
      (g, f) => {
        for (const c of f.failing)
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
      (g, f) => {
        for (const kind of TEST_KINDS) for (const { labels, n } of f.pairsMeasured) if (labels.kind === kind) g.set(labels, n);
      },
    );

    // ----- latency: sockperf's full round trips of the latest successful latency test per pair -----
    gauge(
      'netmatrix_path_rtt_seconds',
      'FULL round-trip time (request sent to reply received, sockperf ping-pong; not one-way latency) over all pairs of a path and protocol, latest successful latency test per pair: percentile of each test (50, 90, 99, 99.9), stat min, median or max over the pairs.',
      ['path', 'protocol', 'percentile', 'stat'],
      (g, f) => setSpreads(g, spreads(f.pathRtt, seconds), ['min', 'median', 'max']),
    );
    gauge(
      'netmatrix_node_rtt_seconds',
      "FULL round-trip time (sockperf ping-pong) of a node's pairs, the node at either end: the median over its pairs of each test's percentile (50 or 99).",
      ['path', 'protocol', 'node', 'percentile'],
      (g, f) => setAll(g, f.nodeRtt.medians(seconds)),
    );
    gauge(
      'netmatrix_pair_rtt_seconds',
      'FULL round-trip time (sockperf ping-pong) of one ordered pair, percentile 50 or 99 of its latest successful latency test (only up to NETMATRIX_PER_PAIR_MAX_NODES nodes, or with NETMATRIX_PER_PAIR_METRICS=always).',
      ['path', 'protocol', 'source', 'target', 'percentile'],
      (g, f) => setAll(g, f.pairRtt),
    );
    gauge(
      'netmatrix_node_latency_dropped_ratio',
      "UDP latency tests: requests without a reply over requests sent (0-1), median over a node's pairs (either end) of each path, and of the paths the worst: one series per node.",
      ['node'],
      (g, f) => {
        const worst = new Map<string, number>();
        for (const [{ node }, v] of f.nodeDropped.medians()) if (node !== undefined) worst.set(node, Math.max(worst.get(node) ?? 0, v));
        for (const [node, v] of worst) g.set({ node }, v);
      },
    );
    gauge(
      'netmatrix_path_connect_seconds',
      'TCP connection setup (SYN to established, timed by the client agent before its latency test): median of each test, then stat median or max over the pairs of a path.',
      ['path', 'stat'],
      (g, f) => setSpreads(g, spreads(f.pathConnect, seconds), ['median', 'max']),
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
