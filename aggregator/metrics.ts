/**
 * Every netmatrix metric, on a registry passed in (never prom-client's global one). Event
 * counters are bumped by verbs (`recordResult`, `protocolError`, ...) and defined here; the
 * gauges of the matrix are rows of the figure catalogue (aggregator/figures.ts), computed at
 * scrape time from the result store and written as text (aggregator/matrix-figures.ts), so a
 * node that leaves (its cells removed from the store) disappears from /metrics at the next
 * scrape with no label set left behind. Per-pair series grow as N^2 and are exported only up to
 * a node limit or on request.
 * Throughput figures read the throughput cells of the matrix, latency figures (sockperf's full
 * round trips) the latency cells; the event counters carry the kind of test as a label.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { TestResult } from '../shared/result.js';
import type { AgentRegistry } from './agents.js';
import type { KubeStatus } from './kube/integration.js';
import { PAIR_FAILURES_MAX_SERIES, toBaseUnit } from './figures.js';
import { matrixText } from './matrix-figures.js';
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
  /** Nodes resting from background tests, busy with real work (Scheduler.restingNodes). */
  resting?: () => number;
}

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

  /** What /metrics returns (prom-client's default, the text format 0.0.4). */
  readonly contentType: string;
  private cached: { version: number; perPair: boolean; text: string[] } | undefined;

  constructor(
    private readonly registry: Registry,
    private readonly store: ResultStore,
    private readonly agents: AgentRegistry,
    private readonly o: MetricsOptions,
  ) {
    this.contentType = registry.contentType;
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

    new Counter({
      name: 'netmatrix_matrix_pairs_evicted_total',
      help: 'Pairs forgotten, least recently measured first, to keep the matrix within NETMATRIX_MATRIX_MAX_PAIRS.',
      registers: reg,
      collect() {
        this.reset();
        this.inc(store.evicted);
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

    new Gauge({
      name: 'netmatrix_pair_staleness_seconds',
      help: "Age of the background sweep's candidate pairs since their last test, by kind, path and protocol: stat max is the least recently measured pair, median the median (a pair never measured counts from when it became a candidate).",
      labelNames: ['kind', 'path', 'protocol', 'stat'],
      registers: reg,
      collect() {
        this.reset();
        for (const s of o.staleness?.() ?? []) {
          this.set({ kind: s.kind, path: s.path, protocol: s.protocol, stat: 'max' }, s.maxSeconds);
          this.set({ kind: s.kind, path: s.path, protocol: s.protocol, stat: 'median' }, s.medianSeconds);
        }
      },
    });
    new Gauge({
      name: 'netmatrix_nodes_resting',
      help: 'Nodes resting from background tests because their CPU or NIC was busy with real work just before a test (NETMATRIX_BUSY_NODE_*).',
      registers: reg,
      collect() {
        this.set(o.resting?.() ?? 0);
      },
    });
    new Gauge({
      name: 'netmatrix_pairs_never_measured',
      help: 'Candidate pairs of the background sweep not measured yet since they became candidates, by kind, path and protocol.',
      labelNames: ['kind', 'path', 'protocol'],
      registers: reg,
      collect() {
        this.reset();
        for (const s of o.staleness?.() ?? []) this.set({ kind: s.kind, path: s.path, protocol: s.protocol }, s.neverMeasured);
      },
    });
  }

  /**
   * The whole of /metrics in chunks, to be written one after the other: prom-client's metrics,
   * then the matrix's gauges. The matrix's text is kept until the matrix (or whether per-pair
   * series are exported) changes.
   */
  async chunks(): Promise<string[]> {
    const perPair = this.o.perPair === 'always' || (this.o.perPair === 'auto' && this.agents.nodeCount() <= this.o.perPairMaxNodes);
    if (this.cached?.version !== this.store.version || this.cached.perPair !== perPair)
      this.cached = {
        version: this.store.version,
        perPair,
        text: matrixText(this.store, { perPair, failingMax: PAIR_FAILURES_MAX_SERIES }),
      };
    return [await this.registry.metrics(), '\n', ...this.cached.text];
  }

  /** The whole of /metrics as one string. */
  async exposition(): Promise<string> {
    return (await this.chunks()).join('');
  }

  recordResult(r: TestResult, durationSeconds: number): void {
    const labels = { path: r.path, protocol: r.protocol, kind: r.kind };
    this.tests.inc({ ...labels, outcome: r.ok ? 'success' : 'failure' });
    if (!r.ok && r.error) this.failures.inc({ ...labels, reason: r.error.code });
    this.duration.observe(labels, durationSeconds);
    if (r.ok && r.latency) {
      this.rttP50.observe({ path: r.path, protocol: r.protocol }, toBaseUnit(r.latency.rttMicroseconds.p50, 'µs'));
      this.rttP99.observe({ path: r.path, protocol: r.protocol }, toBaseUnit(r.latency.rttMicroseconds.p99, 'µs'));
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
