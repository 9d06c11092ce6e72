/**
 * Every netmatrix metric, on a registry passed in (never prom-client's global one). Event
 * counters are bumped by verbs (`recordResult`, `protocolError`, ...); the figures of the
 * matrix are computed at scrape time from the result store, so a node that leaves (its cells
 * removed from the store) disappears from /metrics at the next scrape with no label set left
 * behind. Per-pair series grow as N^2 and are exported only up to a node limit or on request.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { TestResult } from '../shared/result.js';
import { median } from '../shared/stats.js';
import type { AgentRegistry } from './agents.js';
import type { MatrixCell, ResultStore } from './results.js';
import type { KubeStatus } from './kube/status.js';

export interface MetricsOptions {
  perPair: 'auto' | 'always' | 'never';
  perPairMaxNodes: number;
  /** The Kubernetes integration's status; null when it is off. */
  kube?: KubeStatus | null;
}

/** Group values by a label set, then set each group's median on the gauge. */
function setMedians(g: Gauge<string>, rows: Array<[Record<string, string>, number | null | undefined]>): void {
  const groups = new Map<string, { labels: Record<string, string>; values: number[] }>();
  for (const [labels, v] of rows) {
    if (v === null || v === undefined || !Number.isFinite(v)) continue;
    const key = JSON.stringify(labels);
    const grp = groups.get(key) ?? { labels, values: [] };
    grp.values.push(v);
    groups.set(key, grp);
  }
  for (const { labels, values } of groups.values()) g.set(labels, median(values) as number);
}

/** Most `netmatrix_pair_consecutive_failures` series exported at once. */
export const PAIR_FAILURES_MAX_SERIES = 100;

/**
 * Results carry bits per second (iperf3's unit); metrics use Prometheus's base unit, bytes
 * (promtool rejects `_bits`). Dashboards multiply by 8 to show bit/s.
 */
const bytes = (bitsPerSecond: number | null) => (bitsPerSecond === null ? null : bitsPerSecond / 8);

const ratio = (pct: number | undefined) => (pct === undefined ? undefined : pct / 100);

export class Metrics {
  private readonly tests: Counter<string>;
  private readonly failures: Counter<string>;
  private readonly duration: Histogram<string>;
  private readonly protocolErrors: Counter<string>;
  private readonly ignored: Counter<string>;
  private readonly sweeps: Counter<string>;
  private readonly retransmits: Counter<string>;

  constructor(registry: Registry, store: ResultStore, agents: AgentRegistry, o: MetricsOptions) {
    const reg = [registry];
    this.tests = new Counter({
      name: 'netmatrix_tests_total',
      help: 'Tests finished, by outcome (success or failure).',
      labelNames: ['path', 'protocol', 'outcome'],
      registers: reg,
    });
    this.failures = new Counter({
      name: 'netmatrix_test_failures_total',
      help: 'Failed tests by reason (an error code from the catalogue).',
      labelNames: ['path', 'protocol', 'reason'],
      registers: reg,
    });
    this.duration = new Histogram({
      name: 'netmatrix_test_duration_seconds',
      help: 'Wall-clock time of a test from the serve command to the joined result.',
      labelNames: ['path', 'protocol'],
      buckets: [1, 2, 5, 10, 15, 20, 30, 60, 120],
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
      help: 'Background sweeps that covered every ordered pair of a path and protocol.',
      labelNames: ['path', 'protocol'],
      registers: reg,
    });
    this.retransmits = new Counter({
      name: 'netmatrix_tcp_retransmits_total',
      help: 'TCP retransmits reported by iperf3 senders, summed over tests.',
      labelNames: ['path'],
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
      store.matrix().flatMap((c) => (c.lastSuccess ? [{ ...c, r: c.lastSuccess }] : []));
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
      `Failed tests in a row of one ordered pair, up to its latest test; only pairs whose latest test failed, at most ${PAIR_FAILURES_MAX_SERIES} series (the longest runs).`,
      ['path', 'protocol', 'source', 'target'],
      (g) => {
        // Not subject to the per-pair node limit: on a healthy cluster there is no series at all,
        // and the cap keeps a cluster-wide outage from exporting N^2 of them.
        const failing = store
          .matrix()
          .filter((c) => c.consecutiveFailures > 0)
          .sort((a, b) => b.consecutiveFailures - a.consecutiveFailures)
          .slice(0, PAIR_FAILURES_MAX_SERIES);
        for (const c of failing) g.set({ path: c.path, protocol: c.protocol, source: c.source, target: c.target }, c.consecutiveFailures);
      },
    );
    gauge('netmatrix_pairs_measured', 'Ordered pairs with a successful result in the current matrix.', ['path', 'protocol'], (g) => {
      for (const c of ok()) g.inc({ path: c.path, protocol: c.protocol });
    });
  }

  recordResult(r: TestResult, durationSeconds: number): void {
    const labels = { path: r.path, protocol: r.protocol };
    this.tests.inc({ ...labels, outcome: r.ok ? 'success' : 'failure' });
    if (!r.ok && r.error) this.failures.inc({ ...labels, reason: r.error.code });
    this.duration.observe(labels, durationSeconds);
    const retr = r.iperf?.tcp?.retransmits;
    if (r.ok && r.protocol === 'tcp' && retr !== undefined) this.retransmits.inc({ path: r.path }, retr);
  }

  protocolError(reason: string): void {
    this.protocolErrors.inc({ reason });
  }

  resultIgnored(reason: 'duplicate' | 'unknown-test' | 'wrong-agent'): void {
    this.ignored.inc({ reason });
  }

  sweepCompleted(path: string, protocol: string): void {
    this.sweeps.inc({ path, protocol });
  }
}
