/**
 * The catalogue of the matrix's figures, the one place each is described. A pair figure is a
 * value the matrix keeps of a pair's latest successful test (`CellResult`): its unit there and
 * in /api/matrix, its field of an /api/matrix cell, and how it is read. A family row is a gauge
 * of /metrics made of pair figures: its name, labels and help, and how the pairs' values become
 * series (over the pairs of a path, over a node's pairs, or one per pair). matrix-figures.ts
 * writes /metrics by walking these rows, api.ts names the cells' fields from them, the
 * dashboards' queries name families through them, and a contract test holds the README's
 * metrics table to them. `toBaseUnit` is the one conversion from a stored unit to Prometheus's.
 */
import type { Protocol, TestKind } from '../shared/protocol.js';
import type { GaugeFamily, Labels } from './exposition.js';
import type { CellResult } from './results.js';

/** Units of the figures as the matrix stores them (the tools' own) and /api/matrix serves them. */
export type Unit = 'bit/s' | '%' | 'µs' | 's' | 'ratio' | 'count' | 'CPU-s/GB';

/**
 * How many of each unit make Prometheus's base unit (bytes, seconds, ratios; promtool rejects
 * `_bits`): iperf3 reports bits per second, /proc/stat shares percent, sockperf microseconds.
 */
const PER_BASE_UNIT: Readonly<Record<Unit, number>> = { 'bit/s': 8, '%': 100, µs: 1e6, s: 1, ratio: 1, count: 1, 'CPU-s/GB': 1 };

/** `v`, in `unit`, in Prometheus's base unit. A division, as the figures were always converted: the same last digit. */
export function toBaseUnit(v: number, unit: Unit): number {
  const per = PER_BASE_UNIT[unit];
  return per === 1 ? v : v / per;
}

/**
 * Whether /metrics converts a unit value by value, before a median is taken, rather than once
 * after it. CPU shares always were converted test by test, and converting them after would move
 * medians of two values in their last digit; round trips are converted after (no rounding noise
 * from a million divisions). Bytes come out the same either way (a division by 8 is exact).
 */
export const convertsEachValue = (unit: Unit): boolean => unit === '%';

/** A value of one pair's latest successful test, as the matrix keeps it. */
export interface PairFigure {
  /** The field of an /api/matrix cell that carries it (in `unit`); null when the API does not. */
  readonly api: string | null;
  /** The kind of test it comes from. */
  readonly kind: TestKind;
  /** /metrics reads it only from cells of this protocol (UDP loss, TCP retransmits). */
  readonly protocol?: Protocol;
  readonly unit: Unit;
  /** Read from the stored summary; null (or undefined) when the test did not carry it. */
  readonly read: (r: CellResult) => number | null | undefined;
}

const figure = <const F extends PairFigure>(f: F): F => f;
const rtt = (key: 'p50' | 'p90' | 'p99' | 'p999') =>
  figure({ api: null, kind: 'latency', unit: 'µs', read: (r) => (r.latency ? r.latency[key] : null) });

/**
 * Every pair figure. The throughput ones with an `api` name are the figures of an /api/matrix
 * throughput cell, in this order; the round trips are its latency cells' `rttMicroseconds`.
 */
export const PAIR_FIGURES = {
  throughput: figure({ api: 'throughputBitsPerSecond', kind: 'throughput', unit: 'bit/s', read: (r) => r.throughputBitsPerSecond }),
  clientBusy: figure({ api: 'clientCpuBusyPercent', kind: 'throughput', unit: '%', read: (r) => r.clientBusyPercent }),
  serverBusy: figure({ api: 'serverCpuBusyPercent', kind: 'throughput', unit: '%', read: (r) => r.serverBusyPercent }),
  clientSoftirq: figure({ api: 'clientSoftirqPercent', kind: 'throughput', unit: '%', read: (r) => r.clientSoftirqPercent }),
  serverSoftirq: figure({ api: 'serverSoftirqPercent', kind: 'throughput', unit: '%', read: (r) => r.serverSoftirqPercent }),
  clientMaxCore: figure({ api: null, kind: 'throughput', unit: '%', read: (r) => r.clientMaxCorePercent }),
  serverMaxCore: figure({ api: null, kind: 'throughput', unit: '%', read: (r) => r.serverMaxCorePercent }),
  clientPerGigabyte: figure({
    api: 'clientCpuSecondsPerGigabyte',
    kind: 'throughput',
    unit: 'CPU-s/GB',
    read: (r) => r.clientCpuSecondsPerGigabyte,
  }),
  serverPerGigabyte: figure({
    api: 'serverCpuSecondsPerGigabyte',
    kind: 'throughput',
    unit: 'CPU-s/GB',
    read: (r) => r.serverCpuSecondsPerGigabyte,
  }),
  tcpRetransmits: figure({ api: 'tcpRetransmits', kind: 'throughput', protocol: 'tcp', unit: 'count', read: (r) => r.tcpRetransmits }),
  tcpRtt: figure({ api: 'tcpRttMeanSeconds', kind: 'throughput', protocol: 'tcp', unit: 's', read: (r) => r.tcpRttMeanSeconds }),
  udpJitter: figure({ api: 'udpJitterSeconds', kind: 'throughput', protocol: 'udp', unit: 's', read: (r) => r.udpJitterSeconds }),
  udpLoss: figure({ api: 'udpLossRatio', kind: 'throughput', protocol: 'udp', unit: 'ratio', read: (r) => r.udpLossRatio }),
  /** Unix seconds; the API gives `lastSuccessAt`, an ISO time, from every cell's head. */
  endedAt: figure({ api: null, kind: 'throughput', unit: 's', read: (r) => r.endedAtSeconds }),
  rttP50: rtt('p50'),
  rttP90: rtt('p90'),
  rttP99: rtt('p99'),
  rttP999: rtt('p999'),
  connect: figure({
    api: 'connectP50Microseconds',
    kind: 'latency',
    protocol: 'tcp',
    unit: 'µs',
    read: (r) => r.latency?.connectP50Microseconds ?? null,
  }),
  // Only where requests were sent: a test that sent none has no ratio. (The API's `droppedRatio`
  // says 0 there, of every protocol, and is written by api.ts.)
  dropped: figure({
    api: null,
    kind: 'latency',
    protocol: 'udp',
    unit: 'ratio',
    read: (r) => (r.latency && r.latency.sentMessages !== 0 ? r.latency.droppedMessages / r.latency.sentMessages : null),
  }),
} as const;

type ThroughputFigure = Extract<(typeof PAIR_FIGURES)[keyof typeof PAIR_FIGURES], { kind: 'throughput' }>;
/** The figures of an /api/matrix throughput cell, by field. */
export type ApiThroughputFigures = { [K in NonNullable<ThroughputFigure['api']>]: number | null };

/** The throughput figures /api/matrix serves, in the order of a cell's fields. */
export const API_THROUGHPUT_FIGURES = Object.values(PAIR_FIGURES).filter(
  (f): f is ThroughputFigure & { api: keyof ApiThroughputFigures } => f.kind === 'throughput' && f.api !== null,
);

/** One series of a family per matching cell: extra labels, the figure it reads, and (per node) which end the node must be. */
export interface Series {
  readonly labels: Labels;
  readonly figure: PairFigure;
  /** Node families: only cells with the node at this end (client: it is the source); absent, either end. */
  readonly end?: 'client' | 'server';
}

/**
 * How a family's series come from the pairs' values: their median; one series per stat of their
 * spread (the `stat` label); their latest (max); per node the median of each path, then the worst
 * path; one series per pair; or, with no figure, a count of measured pairs or the longest runs of
 * failures (written by matrix-figures.ts itself).
 */
export type Aggregate =
  | { of: 'median' }
  | { of: 'spread'; stats: ReadonlyArray<'min' | 'median' | 'max'> }
  | { of: 'max' }
  | { of: 'worst-path-median' }
  | { of: 'pair' }
  | { of: 'pairs-measured' }
  | { of: 'failing-runs' };

/** A gauge family of /metrics computed from the matrix at scrape time. */
export interface MatrixFamily extends GaugeFamily {
  readonly type: 'gauge';
  /** Over the pairs of a path and protocol, over a node's pairs (of each path and protocol), or per pair. */
  readonly scope: 'path' | 'node' | 'pair';
  readonly aggregate: Aggregate;
  readonly series: readonly Series[];
}

/** Most `netmatrix_pair_consecutive_failures` series exported at once. */
export const PAIR_FAILURES_MAX_SERIES = 100;

const PER_PAIR_NOTE = 'only up to NETMATRIX_PER_PAIR_MAX_NODES nodes, or with NETMATRIX_PER_PAIR_METRICS=always';
const F = PAIR_FIGURES;
const MEDIAN: Aggregate = { of: 'median' };
const SPREAD: Aggregate = { of: 'spread', stats: ['min', 'median', 'max'] };
const one = (figure: PairFigure): Series[] => [{ labels: {}, figure }];
const sides = (client: PairFigure, server: PairFigure): Series[] => [
  { labels: { side: 'client' }, figure: client },
  { labels: { side: 'server' }, figure: server },
];
/** A node's pairs by direction: out where it is the client, in where it is the server. */
const directions = (figure: PairFigure): Series[] => [
  { labels: { direction: 'out' }, figure, end: 'client' },
  { labels: { direction: 'in' }, figure, end: 'server' },
];
/** The `percentile` label of the round-trip families, and the figure each reads. */
const percentiles = (...ps: Array<'50' | '90' | '99' | '99.9'>): Series[] => {
  const of = { '50': F.rttP50, '90': F.rttP90, '99': F.rttP99, '99.9': F.rttP999 };
  return ps.map((percentile) => ({ labels: { percentile }, figure: of[percentile] }));
};
function family(
  name: string,
  labelNames: readonly string[],
  scope: MatrixFamily['scope'],
  aggregate: Aggregate,
  series: Series[],
  help: string,
): MatrixFamily {
  return { name, labelNames, type: 'gauge', scope, aggregate, series, help };
}

/**
 * Every gauge of the matrix, in the order /metrics lists them. Throughput families read the
 * latest successful throughput test of each pair, latency families the latest successful latency
 * test; medians are over pairs.
 */
export const MATRIX_FAMILIES = {
  pathThroughput: family(
    'netmatrix_path_throughput_bytes_per_second',
    ['path', 'protocol', 'stat'],
    'path',
    SPREAD,
    one(F.throughput),
    'Throughput at the receiver in bytes per second (bits / 8) over all pairs of a path and protocol (latest successful test per pair): stat is min, median or max.',
  ),
  nodeThroughput: family(
    'netmatrix_node_throughput_bytes_per_second',
    ['path', 'protocol', 'node', 'direction'],
    'node',
    MEDIAN,
    directions(F.throughput),
    "Median throughput of a node's pairs in bytes per second: direction out (node is the client) or in (node is the server).",
  ),
  pairThroughput: family(
    'netmatrix_pair_throughput_bytes_per_second',
    ['path', 'protocol', 'source', 'target'],
    'pair',
    { of: 'pair' },
    one(F.throughput),
    `Throughput of one ordered pair in bytes per second (${PER_PAIR_NOTE}).`,
  ),
  pathCpuBusy: family(
    'netmatrix_path_cpu_busy_ratio',
    ['path', 'protocol', 'side'],
    'path',
    MEDIAN,
    sides(F.clientBusy, F.serverBusy),
    'Node CPU busy during tests (0-1 of all cores, from /proc/stat; includes softirq), median over pairs, for the client or server side.',
  ),
  pathCpuSoftirq: family(
    'netmatrix_path_cpu_softirq_ratio',
    ['path', 'protocol', 'side'],
    'path',
    MEDIAN,
    sides(F.clientSoftirq, F.serverSoftirq),
    'Node CPU in softirq during tests (0-1 of all cores), median over pairs.',
  ),
  pathCpuMaxCore: family(
    'netmatrix_path_cpu_max_core_ratio',
    ['path', 'protocol', 'side'],
    'path',
    MEDIAN,
    sides(F.clientMaxCore, F.serverMaxCore),
    'Busy ratio of the busiest single core during tests, median over pairs.',
  ),
  pathCpuPerGigabyte: family(
    'netmatrix_path_cpu_seconds_per_gigabyte',
    ['path', 'protocol', 'side'],
    'path',
    MEDIAN,
    sides(F.clientPerGigabyte, F.serverPerGigabyte),
    'Node busy CPU-seconds per 10^9 bytes moved, median over pairs.',
  ),
  nodeCpuBusy: family(
    'netmatrix_node_cpu_busy_ratio',
    ['path', 'protocol', 'node', 'side'],
    'node',
    MEDIAN,
    [
      { labels: { side: 'client' }, figure: F.clientBusy, end: 'client' },
      { labels: { side: 'server' }, figure: F.serverBusy, end: 'server' },
    ],
    "Node CPU busy during its tests (0-1), median over the node's pairs, as client or server.",
  ),
  pathUdpJitter: family(
    'netmatrix_path_udp_jitter_seconds',
    ['path'],
    'path',
    MEDIAN,
    one(F.udpJitter),
    'UDP jitter reported by iperf3, median over pairs.',
  ),
  pathUdpLoss: family(
    'netmatrix_path_udp_loss_ratio',
    ['path'],
    'path',
    MEDIAN,
    one(F.udpLoss),
    'UDP datagrams lost (0-1), median over pairs.',
  ),
  nodeUdpLoss: family(
    'netmatrix_node_udp_loss_ratio',
    ['path', 'node', 'direction'],
    'node',
    MEDIAN,
    directions(F.udpLoss),
    "UDP loss (0-1), median over a node's pairs, by direction.",
  ),
  pathTcpRtt: family(
    'netmatrix_path_tcp_rtt_seconds',
    ['path'],
    'path',
    MEDIAN,
    one(F.tcpRtt),
    'Mean TCP round-trip time seen by the iperf3 sender, median over pairs.',
  ),
  pathTcpRetransmits: family(
    'netmatrix_path_tcp_retransmits',
    ['path'],
    'path',
    MEDIAN,
    one(F.tcpRetransmits),
    'TCP retransmits per test, median over pairs (latest test of each pair).',
  ),
  nodeLastSuccess: family(
    'netmatrix_node_last_success_timestamp_seconds',
    ['path', 'protocol', 'node'],
    'node',
    { of: 'max' },
    one(F.endedAt),
    'When a test involving the node last succeeded (Unix seconds).',
  ),
  // Not subject to the per-pair node limit: on a healthy cluster there is no series at all, and
  // the cap keeps a cluster-wide outage from exporting N^2 of them.
  pairFailures: family(
    'netmatrix_pair_consecutive_failures',
    ['path', 'protocol', 'kind', 'source', 'target'],
    'pair',
    { of: 'failing-runs' },
    [],
    `Failed tests in a row of one ordered pair and kind of test, up to its latest test; only pairs whose latest test failed, at most ${PAIR_FAILURES_MAX_SERIES} series (the longest runs).`,
  ),
  pairsMeasured: family(
    'netmatrix_pairs_measured',
    ['path', 'protocol', 'kind'],
    'path',
    { of: 'pairs-measured' },
    [],
    'Ordered pairs with a successful result in the current matrix, by kind of test.',
  ),
  // Latency: sockperf's full round trips. Per node and per pair only the typical and the tail
  // round trip: 2 percentiles x 3 paths x 2 protocols keeps a node at 12 RTT series (the per-node
  // series are the bulk of /metrics on a large cluster: about 50 per node, under 50,000 at 1,000 nodes).
  pathRtt: family(
    'netmatrix_path_rtt_seconds',
    ['path', 'protocol', 'percentile', 'stat'],
    'path',
    SPREAD,
    percentiles('50', '90', '99', '99.9'),
    'FULL round-trip time (request sent to reply received, sockperf ping-pong; not one-way latency) over all pairs of a path and protocol, latest successful latency test per pair: percentile of each test (50, 90, 99, 99.9), stat min, median or max over the pairs.',
  ),
  nodeRtt: family(
    'netmatrix_node_rtt_seconds',
    ['path', 'protocol', 'node', 'percentile'],
    'node',
    MEDIAN,
    percentiles('50', '99'),
    "FULL round-trip time (sockperf ping-pong) of a node's pairs, the node at either end: the median over its pairs of each test's percentile (50 or 99).",
  ),
  pairRtt: family(
    'netmatrix_pair_rtt_seconds',
    ['path', 'protocol', 'source', 'target', 'percentile'],
    'pair',
    { of: 'pair' },
    percentiles('50', '99'),
    `FULL round-trip time (sockperf ping-pong) of one ordered pair, percentile 50 or 99 of its latest successful latency test (${PER_PAIR_NOTE}).`,
  ),
  nodeDropped: family(
    'netmatrix_node_latency_dropped_ratio',
    ['node'],
    'node',
    { of: 'worst-path-median' },
    one(F.dropped),
    "UDP latency tests: requests without a reply over requests sent (0-1), median over a node's pairs (either end) of each path, and of the paths the worst: one series per node.",
  ),
  pathConnect: family(
    'netmatrix_path_connect_seconds',
    ['path', 'stat'],
    'path',
    { of: 'spread', stats: ['median', 'max'] },
    one(F.connect),
    'TCP connection setup (SYN to established, timed by the client agent before its latency test): median of each test, then stat median or max over the pairs of a path.',
  ),
} as const satisfies Record<string, MatrixFamily>;

/** MATRIX_FAMILIES as a list, in the order /metrics writes them. */
export const MATRIX_FAMILY_LIST: readonly MatrixFamily[] = Object.values(MATRIX_FAMILIES);

/** Each family's metric name by its catalogue key, for code that writes PromQL (the dashboards, the alerts). */
export const MATRIX_METRIC = Object.fromEntries(Object.entries(MATRIX_FAMILIES).map(([key, f]) => [key, f.name])) as {
  readonly [K in keyof typeof MATRIX_FAMILIES]: string;
};
