/**
 * Every PromQL expression of the netmatrix dashboards, in one place, so that a metric renamed in
 * aggregator/metrics.ts is one search away from every panel that reads it. Expressions use the
 * dashboards' template variables: `$path`, `$protocol` (regex matchers, so "All" and several
 * values work), `$node`, and Grafana's `$__rate_interval` and `$__range`.
 * test/integration/prometheus.test.ts runs every one of them, read back from the generated JSON,
 * against a real Prometheus scraping a lab. Throughput metrics are in bytes per second (Prometheus's
 * base unit); panels multiply by 8 to show bit/s, the unit network people read. Latency metrics
 * are FULL round-trip times in seconds (sockperf ping-pong), not one-way latency.
 */

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
  path: 'label_values(netmatrix_path_throughput_bytes_per_second, path)',
  protocol: 'label_values(netmatrix_path_throughput_bytes_per_second, protocol)',
  node: 'label_values(netmatrix_node_throughput_bytes_per_second, node)',
} as const;

/** `other` path's median throughput over node-to-node's, per protocol (1 = no CNI overhead). */
const overhead = (other: 'pod' | 'service'): Query => ({
  expr:
    `netmatrix_path_throughput_bytes_per_second{path="${other}", stat="median", protocol=~"$protocol"}` +
    ` / ignoring(path) netmatrix_path_throughput_bytes_per_second{path="node", stat="median", protocol=~"$protocol"}`,
  legend: `${other}/node {{protocol}}`,
});

const quantile = (q: number): Query => ({
  expr: `histogram_quantile(${q}, sum by (le, path, protocol, kind) (rate(netmatrix_test_duration_seconds_bucket{${PP}}${RATE})))`,
  legend: `p${Math.round(q * 100)} {{kind}} {{path}} {{protocol}}`,
});

/** One percentile ("50", "99", ...) of the round trips over the pairs of each path and protocol; `stat` a regex. */
const pathRtt = (percentile: string, stat: string, legend: string): Query => ({
  expr: `netmatrix_path_rtt_seconds{percentile="${percentile}", stat=~"${stat}", ${PP}}`,
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
    `label_join(netmatrix_pair_rtt_seconds{percentile="${percentile}", ${PP}}, "row", " → ", "source", "target")` +
    // label_join of one label copies it: label_replace's "$1" would read as a Grafana variable.
    ` or label_join(netmatrix_node_rtt_seconds{percentile="${percentile}", ${PP}}` +
    ` unless on() netmatrix_pair_rtt_seconds{${PP}}, "row", "", "node")`,
  legend: '{{row}}',
});

export const OVERVIEW = {
  throughputMedian: {
    expr: `netmatrix_path_throughput_bytes_per_second{stat="median", ${PP}} * 8`,
    legend: '{{path}} {{protocol}}',
  },
  throughputMinMax: {
    expr: `netmatrix_path_throughput_bytes_per_second{stat=~"min|max", ${PP}} * 8`,
    legend: '{{path}} {{protocol}} {{stat}}',
  },
  podOverNode: overhead('pod'),
  serviceOverNode: overhead('service'),
  cpuBusy: { expr: `netmatrix_path_cpu_busy_ratio{${PP}}`, legend: '{{path}} {{protocol}} {{side}}' },
  cpuSoftirq: { expr: `netmatrix_path_cpu_softirq_ratio{${PP}}`, legend: '{{path}} {{protocol}} {{side}}' },
  cpuMaxCore: { expr: `netmatrix_path_cpu_max_core_ratio{${PP}}`, legend: '{{path}} {{protocol}} {{side}}' },
  cpuPerGigabyte: { expr: `netmatrix_path_cpu_seconds_per_gigabyte{${PP}}`, legend: '{{path}} {{protocol}} {{side}}' },
  udpLoss: { expr: `netmatrix_path_udp_loss_ratio{${P}}`, legend: '{{path}}' },
  udpJitter: { expr: `netmatrix_path_udp_jitter_seconds{${P}}`, legend: '{{path}}' },
  tcpRetransmitsPerTest: { expr: `netmatrix_path_tcp_retransmits{${P}}`, legend: '{{path}}' },
  tcpRetransmitsRate: { expr: `sum by (path) (rate(netmatrix_tcp_retransmits_total{${P}}${RATE}))`, legend: '{{path}}' },
  tcpRtt: { expr: `netmatrix_path_tcp_rtt_seconds{${P}}`, legend: '{{path}}' },
  rttP50: pathRtt('50', 'median', '{{path}} {{protocol}} p50'),
  rttP99: pathRtt('99', 'median', '{{path}} {{protocol}} p99'),
  rttP999: pathRtt('99.9', 'median', '{{path}} {{protocol}} p99.9'),
  rttP99MinMax: pathRtt('99', 'min|max', '{{path}} {{protocol}} p99 {{stat}}'),
  rttP50Distribution: rttDistribution('netmatrix_rtt_p50_seconds'),
  rttP99Distribution: rttDistribution('netmatrix_rtt_p99_seconds'),
  connect: { expr: `netmatrix_path_connect_seconds{${P}}`, legend: '{{path}} {{stat}}' },
  latencyDroppedWorst: { expr: 'topk(5, netmatrix_node_latency_dropped_ratio)', legend: '{{node}}' },
} satisfies Record<string, Query>;

export const MATRIX = {
  pairThroughput: {
    expr: `netmatrix_pair_throughput_bytes_per_second{${PP}} * 8`,
    legend: '{{source}} → {{target}}',
  },
  slowestPairs: {
    expr: `bottomk(5, netmatrix_pair_throughput_bytes_per_second{${PP}}) * 8`,
    legend: '{{source}} → {{target}}',
  },
  failingPairs: {
    expr: `sort_desc(netmatrix_pair_consecutive_failures{${PP}})`,
    legend: '{{source}} → {{target}} {{kind}}',
  },
  pairRttP50: { expr: `netmatrix_pair_rtt_seconds{percentile="50", ${PP}}`, legend: '{{source}} → {{target}}' },
  pairRttP50OrNode: pairRttOrNode('50'),
  pairRttP99OrNode: pairRttOrNode('99'),
  slowestRttPairs: {
    expr: `topk(5, netmatrix_pair_rtt_seconds{percentile="99", ${PP}})`,
    legend: '{{source}} → {{target}}',
  },
} satisfies Record<string, Query>;

export const NODE_DRILLDOWN = {
  throughput: {
    expr: `netmatrix_node_throughput_bytes_per_second{${NODE}, ${PP}} * 8`,
    legend: '{{path}} {{protocol}} {{direction}}',
  },
  pairsOut: {
    expr: `netmatrix_pair_throughput_bytes_per_second{source="$node", ${PP}} * 8`,
    legend: '→ {{target}} {{path}} {{protocol}}',
  },
  pairsIn: {
    expr: `netmatrix_pair_throughput_bytes_per_second{target="$node", ${PP}} * 8`,
    legend: '{{source}} → {{path}} {{protocol}}',
  },
  cpuBusy: { expr: `netmatrix_node_cpu_busy_ratio{${NODE}, ${PP}}`, legend: '{{path}} {{protocol}} {{side}}' },
  udpLoss: { expr: `netmatrix_node_udp_loss_ratio{${NODE}, ${P}}`, legend: '{{path}} {{direction}}' },
  lastSuccess: {
    // Milliseconds: Grafana's date units take them.
    expr: `netmatrix_node_last_success_timestamp_seconds{${NODE}, ${PP}} * 1000`,
    legend: '{{path}} {{protocol}}',
  },
  sinceLastSuccess: {
    expr: `time() - netmatrix_node_last_success_timestamp_seconds{${NODE}, ${PP}}`,
    legend: '{{path}} {{protocol}}',
  },
  failingPairs: {
    expr: `netmatrix_pair_consecutive_failures{source="$node", ${PP}} or netmatrix_pair_consecutive_failures{target="$node", ${PP}}`,
    legend: '{{source}} → {{target}} {{path}} {{protocol}} {{kind}}',
  },
  rtt: { expr: `netmatrix_node_rtt_seconds{${NODE}, ${PP}}`, legend: '{{path}} {{protocol}} p{{percentile}}' },
  pairsRtt: {
    // A round trip is the same figure from either end: the node's pairs as client and as server.
    expr:
      `netmatrix_pair_rtt_seconds{source="$node", percentile="99", ${PP}}` +
      ` or netmatrix_pair_rtt_seconds{target="$node", percentile="99", ${PP}}`,
    legend: '{{source}} → {{target}} {{path}} {{protocol}}',
  },
  latencyDropped: { expr: `netmatrix_node_latency_dropped_ratio{${NODE}}`, legend: 'worst path' },
} satisfies Record<string, Query>;

export const SCHEDULER = {
  agents: { expr: 'netmatrix_agents_connected', legend: '{{mode}}' },
  pairsMeasured: { expr: `netmatrix_pairs_measured{${PP}}`, legend: '{{kind}} {{path}} {{protocol}}' },
  pairsShare: {
    // N agents of a mode make N(N-1) ordered pairs; the larger mode's count stands for N.
    expr: `netmatrix_pairs_measured{${PP}} / scalar(max(netmatrix_agents_connected) * (max(netmatrix_agents_connected) - 1))`,
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
    expr: `sort_desc(time() - netmatrix_node_last_success_timestamp_seconds{${PP}})`,
    legend: '{{node}} {{path}} {{protocol}}',
  },
  resting: { expr: 'netmatrix_nodes_resting', legend: 'resting' },
  oldestPerPath: {
    expr: `max by (path, protocol) (time() - netmatrix_node_last_success_timestamp_seconds{${PP}})`,
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
