/**
 * Every PromQL expression of the netmatrix dashboards, in one place, so that a metric renamed in
 * aggregator/metrics.ts is one search away from every panel that reads it; the matrix's gauges
 * are named through their catalogue (`M`, aggregator/figures.ts), so a rename there reaches
 * every panel. Expressions use the dashboards' template variables: `$path`, `$protocol` (regex
 * matchers, so "All" and several values work), `$node`, and Grafana's `$__rate_interval` and
 * `$__range`.
 * test/integration/prometheus.test.ts runs every one of them, read back from the generated JSON,
 * against a real Prometheus scraping a lab. Throughput metrics are in bytes per second (Prometheus's
 * base unit); panels multiply by 8 to show bit/s, the unit network people read. Latency metrics
 * are FULL round-trip times in seconds (sockperf ping-pong), not one-way latency.
 */
import { MATRIX_METRIC as M } from '../aggregator/figures.js';

/** A query of a panel: the expression and the legend of its series. */
export interface Query {
  expr: string;
  legend: string;
}

const PP = 'path=~"$path", protocol=~"$protocol"';
const P = 'path=~"$path"';
const NODE = 'node="$node"';
const RATE = '[$__rate_interval]';

/** Values of the template variables. */
export const VARIABLE_QUERIES = {
  path: `label_values(${M.pathThroughput}, path)`,
  protocol: `label_values(${M.pathThroughput}, protocol)`,
  node: `label_values(${M.nodeThroughput}, node)`,
} as const;

/** `other` path's median throughput over node-to-node's, per protocol (1 = no CNI overhead). */
const overhead = (other: 'pod' | 'service'): Query => ({
  expr:
    `${M.pathThroughput}{path="${other}", stat="median", protocol=~"$protocol"}` +
    ` / ignoring(path) ${M.pathThroughput}{path="node", stat="median", protocol=~"$protocol"}`,
  legend: `${other}/node {{protocol}}`,
});

const quantile = (q: number): Query => ({
  expr: `histogram_quantile(${q}, sum by (le, path, protocol, kind) (rate(netmatrix_test_duration_seconds_bucket{${PP}}${RATE})))`,
  legend: `p${Math.round(q * 100)} {{kind}} {{path}} {{protocol}}`,
});

/** One percentile ("50", "99", ...) of the round trips over the pairs of each path and protocol; `stat` a regex. */
const pathRtt = (percentile: string, stat: string, legend: string): Query => ({
  expr: `${M.pathRtt}{percentile="${percentile}", stat=~"${stat}", ${PP}}`,
  legend,
});

/** Observations per bucket of a per-test RTT histogram, for a heatmap of the distribution over time. */
const rttDistribution = (histogram: 'netmatrix_rtt_p50_seconds' | 'netmatrix_rtt_p99_seconds'): Query => ({
  expr: `sum by (le) (increase(${histogram}_bucket{${PP}}${RATE}))`,
  legend: '{{le}}',
});

/**
 * Each pair's round trip at one percentile, one series per pair; when the per-pair series are not
 * exported (more nodes than NETMATRIX_PER_PAIR_MAX_NODES), each node's median over its pairs in
 * their place. `row` names the heatmap row either way: "source → target", or the node.
 */
const pairRttOrNode = (percentile: string): Query => ({
  expr:
    `label_join(${M.pairRtt}{percentile="${percentile}", ${PP}}, "row", " → ", "source", "target")` +
    // label_join of one label copies it: label_replace's "$1" would read as a Grafana variable.
    ` or label_join(${M.nodeRtt}{percentile="${percentile}", ${PP}}` +
    ` unless on() ${M.pairRtt}{${PP}}, "row", "", "node")`,
  legend: '{{row}}',
});

export const OVERVIEW = {
  throughputMedian: {
    expr: `${M.pathThroughput}{stat="median", ${PP}} * 8`,
    legend: '{{path}} {{protocol}}',
  },
  throughputMinMax: {
    expr: `${M.pathThroughput}{stat=~"min|max", ${PP}} * 8`,
    legend: '{{path}} {{protocol}} {{stat}}',
  },
  podOverNode: overhead('pod'),
  serviceOverNode: overhead('service'),
  cpuBusy: { expr: `${M.pathCpuBusy}{${PP}}`, legend: '{{path}} {{protocol}} {{side}}' },
  cpuSoftirq: { expr: `${M.pathCpuSoftirq}{${PP}}`, legend: '{{path}} {{protocol}} {{side}}' },
  cpuMaxCore: { expr: `${M.pathCpuMaxCore}{${PP}}`, legend: '{{path}} {{protocol}} {{side}}' },
  cpuPerGigabyte: { expr: `${M.pathCpuPerGigabyte}{${PP}}`, legend: '{{path}} {{protocol}} {{side}}' },
  udpLoss: { expr: `${M.pathUdpLoss}{${P}}`, legend: '{{path}}' },
  udpJitter: { expr: `${M.pathUdpJitter}{${P}}`, legend: '{{path}}' },
  tcpRetransmitsPerTest: { expr: `${M.pathTcpRetransmits}{${P}}`, legend: '{{path}}' },
  tcpRetransmitsRate: { expr: `sum by (path) (rate(netmatrix_tcp_retransmits_total{${P}}${RATE}))`, legend: '{{path}}' },
  tcpRtt: { expr: `${M.pathTcpRtt}{${P}}`, legend: '{{path}}' },
  rttP50: pathRtt('50', 'median', '{{path}} {{protocol}} p50'),
  rttP99: pathRtt('99', 'median', '{{path}} {{protocol}} p99'),
  rttP999: pathRtt('99.9', 'median', '{{path}} {{protocol}} p99.9'),
  rttP99MinMax: pathRtt('99', 'min|max', '{{path}} {{protocol}} p99 {{stat}}'),
  rttP50Distribution: rttDistribution('netmatrix_rtt_p50_seconds'),
  rttP99Distribution: rttDistribution('netmatrix_rtt_p99_seconds'),
  connect: { expr: `${M.pathConnect}{${P}}`, legend: '{{path}} {{stat}}' },
  latencyDroppedWorst: { expr: `topk(5, ${M.nodeDropped})`, legend: '{{node}}' },
} satisfies Record<string, Query>;

export const MATRIX = {
  pairThroughput: {
    expr: `${M.pairThroughput}{${PP}} * 8`,
    legend: '{{source}} → {{target}}',
  },
  slowestPairs: {
    expr: `bottomk(5, ${M.pairThroughput}{${PP}}) * 8`,
    legend: '{{source}} → {{target}}',
  },
  failingPairs: {
    expr: `sort_desc(${M.pairFailures}{${PP}})`,
    legend: '{{source}} → {{target}} {{kind}}',
  },
  pairRttP50: { expr: `${M.pairRtt}{percentile="50", ${PP}}`, legend: '{{source}} → {{target}}' },
  pairRttP50OrNode: pairRttOrNode('50'),
  pairRttP99OrNode: pairRttOrNode('99'),
  slowestRttPairs: {
    expr: `topk(5, ${M.pairRtt}{percentile="99", ${PP}})`,
    legend: '{{source}} → {{target}}',
  },
} satisfies Record<string, Query>;

export const NODE_DRILLDOWN = {
  throughput: {
    expr: `${M.nodeThroughput}{${NODE}, ${PP}} * 8`,
    legend: '{{path}} {{protocol}} {{direction}}',
  },
  pairsOut: {
    expr: `${M.pairThroughput}{source="$node", ${PP}} * 8`,
    legend: '→ {{target}} {{path}} {{protocol}}',
  },
  pairsIn: {
    expr: `${M.pairThroughput}{target="$node", ${PP}} * 8`,
    legend: '{{source}} → {{path}} {{protocol}}',
  },
  cpuBusy: { expr: `${M.nodeCpuBusy}{${NODE}, ${PP}}`, legend: '{{path}} {{protocol}} {{side}}' },
  udpLoss: { expr: `${M.nodeUdpLoss}{${NODE}, ${P}}`, legend: '{{path}} {{direction}}' },
  lastSuccess: {
    // Milliseconds: Grafana's date units take them.
    expr: `${M.nodeLastSuccess}{${NODE}, ${PP}} * 1000`,
    legend: '{{path}} {{protocol}}',
  },
  sinceLastSuccess: {
    expr: `time() - ${M.nodeLastSuccess}{${NODE}, ${PP}}`,
    legend: '{{path}} {{protocol}}',
  },
  failingPairs: {
    expr: `${M.pairFailures}{source="$node", ${PP}} or ${M.pairFailures}{target="$node", ${PP}}`,
    legend: '{{source}} → {{target}} {{path}} {{protocol}} {{kind}}',
  },
  rtt: { expr: `${M.nodeRtt}{${NODE}, ${PP}}`, legend: '{{path}} {{protocol}} p{{percentile}}' },
  pairsRtt: {
    // A round trip is the same figure from either end: the node's pairs as client and as server.
    expr: `${M.pairRtt}{source="$node", percentile="99", ${PP}}` + ` or ${M.pairRtt}{target="$node", percentile="99", ${PP}}`,
    legend: '{{source}} → {{target}} {{path}} {{protocol}}',
  },
  latencyDropped: { expr: `${M.nodeDropped}{${NODE}}`, legend: 'worst path' },
} satisfies Record<string, Query>;

export const SCHEDULER = {
  agents: { expr: 'netmatrix_agents_connected', legend: '{{mode}}' },
  pairsMeasured: { expr: `${M.pairsMeasured}{${PP}}`, legend: '{{kind}} {{path}} {{protocol}}' },
  pairsShare: {
    // N agents of a mode make N(N-1) ordered pairs; the larger mode's count stands for N.
    expr: `${M.pairsMeasured}{${PP}} / scalar(max(netmatrix_agents_connected) * (max(netmatrix_agents_connected) - 1))`,
    legend: '{{kind}} {{path}} {{protocol}}',
  },
  sweepsPerHour: {
    expr: `sum by (path, protocol, kind) (increase(netmatrix_sweeps_completed_total{${PP}}[1h]))`,
    legend: '{{kind}} {{path}} {{protocol}}',
  },
  sweepsInRange: {
    expr: `sum by (path, protocol, kind) (increase(netmatrix_sweeps_completed_total{${PP}}[$__range]))`,
    legend: '{{kind}} {{path}} {{protocol}}',
  },
  staleness: {
    expr: `sort_desc(time() - ${M.nodeLastSuccess}{${PP}})`,
    legend: '{{node}} {{path}} {{protocol}}',
  },
  resting: { expr: 'netmatrix_nodes_resting', legend: 'resting' },
  oldestPerPath: {
    expr: `max by (path, protocol) (time() - ${M.nodeLastSuccess}{${PP}})`,
    legend: '{{path}} {{protocol}}',
  },
  failuresByReason: {
    expr: `sum by (path, protocol, kind, reason) (rate(netmatrix_test_failures_total{${PP}}${RATE})) * 60`,
    legend: '{{reason}} {{kind}} {{path}} {{protocol}}',
  },
  failureRatio: {
    expr:
      `sum by (path, protocol, kind) (rate(netmatrix_tests_total{outcome="failure", ${PP}}${RATE}))` +
      ` / sum by (path, protocol, kind) (rate(netmatrix_tests_total{${PP}}${RATE}))`,
    legend: '{{kind}} {{path}} {{protocol}}',
  },
  failingPairs: MATRIX.failingPairs,
  durationP50: quantile(0.5),
  durationP90: quantile(0.9),
  durationP99: quantile(0.99),
  testsPerMinute: {
    expr: `sum by (path, protocol, kind, outcome) (rate(netmatrix_tests_total{${PP}}${RATE})) * 60`,
    legend: '{{outcome}} {{kind}} {{path}} {{protocol}}',
  },
} satisfies Record<string, Query>;
