/**
 * The gauges /metrics derives from the matrix, and the code that writes them at scrape time.
 * Figures per path and per pair come from one walk over the cells; figures per node from a
 * second pass, node by node over each node's own cells, so a node's values live only while its
 * medians are taken. (Values filed per node for the whole matrix were 50 MiB held through the
 * scrape at 5,000 nodes; a walk per gauge, before that, took 4 to 5 s at 1,000 nodes.)
 *
 * Throughput figures read the latest successful throughput test of each pair, latency figures
 * the latest successful latency test; medians are over pairs. A missing figure (null) is no
 * value, never a 0.
 */
import { TEST_KINDS } from '../shared/protocol.js';
import { median, spread } from '../shared/stats.js';
import { GaugeText, type GaugeFamily, type Labels } from './exposition.js';
import type { CellLatency, CellResult, MatrixCell } from './results.js';

/** Most `netmatrix_pair_consecutive_failures` series exported at once. */
export const PAIR_FAILURES_MAX_SERIES = 100;

const PER_PAIR_NOTE = 'only up to NETMATRIX_PER_PAIR_MAX_NODES nodes, or with NETMATRIX_PER_PAIR_METRICS=always';
const gauge = (name: string, labelNames: string[], help: string): GaugeFamily => ({ name, help, labelNames });

const PATH_THROUGHPUT = gauge(
  'netmatrix_path_throughput_bytes_per_second',
  ['path', 'protocol', 'stat'],
  'Throughput at the receiver in bytes per second (bits / 8) over all pairs of a path and protocol (latest successful test per pair): stat is min, median or max.',
);
const NODE_THROUGHPUT = gauge(
  'netmatrix_node_throughput_bytes_per_second',
  ['path', 'protocol', 'node', 'direction'],
  "Median throughput of a node's pairs in bytes per second: direction out (node is the client) or in (node is the server).",
);
const PAIR_THROUGHPUT = gauge(
  'netmatrix_pair_throughput_bytes_per_second',
  ['path', 'protocol', 'source', 'target'],
  `Throughput of one ordered pair in bytes per second (${PER_PAIR_NOTE}).`,
);
const PATH_CPU_BUSY = gauge(
  'netmatrix_path_cpu_busy_ratio',
  ['path', 'protocol', 'side'],
  'Node CPU busy during tests (0-1 of all cores, from /proc/stat; includes softirq), median over pairs, for the client or server side.',
);
const PATH_CPU_SOFTIRQ = gauge(
  'netmatrix_path_cpu_softirq_ratio',
  ['path', 'protocol', 'side'],
  'Node CPU in softirq during tests (0-1 of all cores), median over pairs.',
);
const PATH_CPU_MAX_CORE = gauge(
  'netmatrix_path_cpu_max_core_ratio',
  ['path', 'protocol', 'side'],
  'Busy ratio of the busiest single core during tests, median over pairs.',
);
const PATH_CPU_PER_GIGABYTE = gauge(
  'netmatrix_path_cpu_seconds_per_gigabyte',
  ['path', 'protocol', 'side'],
  'Node busy CPU-seconds per 10^9 bytes moved, median over pairs.',
);
const NODE_CPU_BUSY = gauge(
  'netmatrix_node_cpu_busy_ratio',
  ['path', 'protocol', 'node', 'side'],
  "Node CPU busy during its tests (0-1), median over the node's pairs, as client or server.",
);
const PATH_UDP_JITTER = gauge('netmatrix_path_udp_jitter_seconds', ['path'], 'UDP jitter reported by iperf3, median over pairs.');
const PATH_UDP_LOSS = gauge('netmatrix_path_udp_loss_ratio', ['path'], 'UDP datagrams lost (0-1), median over pairs.');
const NODE_UDP_LOSS = gauge(
  'netmatrix_node_udp_loss_ratio',
  ['path', 'node', 'direction'],
  "UDP loss (0-1), median over a node's pairs, by direction.",
);
const PATH_TCP_RTT = gauge(
  'netmatrix_path_tcp_rtt_seconds',
  ['path'],
  'Mean TCP round-trip time seen by the iperf3 sender, median over pairs.',
);
const PATH_TCP_RETRANSMITS = gauge(
  'netmatrix_path_tcp_retransmits',
  ['path'],
  'TCP retransmits per test, median over pairs (latest test of each pair).',
);
const NODE_LAST_SUCCESS = gauge(
  'netmatrix_node_last_success_timestamp_seconds',
  ['path', 'protocol', 'node'],
  'When a test involving the node last succeeded (Unix seconds).',
);
// Not subject to the per-pair node limit: on a healthy cluster there is no series at all, and the
// cap keeps a cluster-wide outage from exporting N^2 of them.
const PAIR_FAILURES = gauge(
  'netmatrix_pair_consecutive_failures',
  ['path', 'protocol', 'kind', 'source', 'target'],
  `Failed tests in a row of one ordered pair and kind of test, up to its latest test; only pairs whose latest test failed, at most ${PAIR_FAILURES_MAX_SERIES} series (the longest runs).`,
);
const PAIRS_MEASURED = gauge(
  'netmatrix_pairs_measured',
  ['path', 'protocol', 'kind'],
  'Ordered pairs with a successful result in the current matrix, by kind of test.',
);
// ----- latency: sockperf's full round trips of the latest successful latency test per pair -----
const PATH_RTT = gauge(
  'netmatrix_path_rtt_seconds',
  ['path', 'protocol', 'percentile', 'stat'],
  'FULL round-trip time (request sent to reply received, sockperf ping-pong; not one-way latency) over all pairs of a path and protocol, latest successful latency test per pair: percentile of each test (50, 90, 99, 99.9), stat min, median or max over the pairs.',
);
const NODE_RTT = gauge(
  'netmatrix_node_rtt_seconds',
  ['path', 'protocol', 'node', 'percentile'],
  "FULL round-trip time (sockperf ping-pong) of a node's pairs, the node at either end: the median over its pairs of each test's percentile (50 or 99).",
);
const PAIR_RTT = gauge(
  'netmatrix_pair_rtt_seconds',
  ['path', 'protocol', 'source', 'target', 'percentile'],
  `FULL round-trip time (sockperf ping-pong) of one ordered pair, percentile 50 or 99 of its latest successful latency test (${PER_PAIR_NOTE}).`,
);
const NODE_DROPPED = gauge(
  'netmatrix_node_latency_dropped_ratio',
  ['node'],
  "UDP latency tests: requests without a reply over requests sent (0-1), median over a node's pairs (either end) of each path, and of the paths the worst: one series per node.",
);
const PATH_CONNECT = gauge(
  'netmatrix_path_connect_seconds',
  ['path', 'stat'],
  'TCP connection setup (SYN to established, timed by the client agent before its latency test): median of each test, then stat median or max over the pairs of a path.',
);

/** Every gauge of the matrix, in the order /metrics lists them. */
export const MATRIX_GAUGES: readonly GaugeFamily[] = [
  PATH_THROUGHPUT,
  NODE_THROUGHPUT,
  PAIR_THROUGHPUT,
  PATH_CPU_BUSY,
  PATH_CPU_SOFTIRQ,
  PATH_CPU_MAX_CORE,
  PATH_CPU_PER_GIGABYTE,
  NODE_CPU_BUSY,
  PATH_UDP_JITTER,
  PATH_UDP_LOSS,
  NODE_UDP_LOSS,
  PATH_TCP_RTT,
  PATH_TCP_RETRANSMITS,
  NODE_LAST_SUCCESS,
  PAIR_FAILURES,
  PAIRS_MEASURED,
  PATH_RTT,
  NODE_RTT,
  PAIR_RTT,
  NODE_DROPPED,
  PATH_CONNECT,
];

/**
 * Results carry bits per second (iperf3's unit); metrics use Prometheus's base unit, bytes
 * (promtool rejects `_bits`). Dashboards multiply by 8 to show bit/s.
 */
const bytes = (bitsPerSecond: number | null) => (bitsPerSecond === null ? null : bitsPerSecond / 8);
const ratio = (pct: number | null) => (pct === null ? null : pct / 100);
/** sockperf reports microseconds; metrics use seconds. */
const seconds = (us: number) => us / 1e6;

/** The `percentile` label of the per-path RTT gauge, and the field of sockperf's report it reads. */
const PATH_PERCENTILES = [
  ['50', 'p50'],
  ['90', 'p90'],
  ['99', 'p99'],
  ['99.9', 'p999'],
] as const;
/**
 * Per node and per pair only the typical and the tail round trip: 2 percentiles x 3 paths x 2
 * protocols keeps a node at 12 RTT series (the per-node series are the bulk of /metrics on a
 * large cluster: about 50 per node with throughput's, under 50,000 at 1,000 nodes).
 */
const NODE_PERCENTILES = [
  ['50', 'p50'],
  ['99', 'p99'],
] as const;
const SIDES = ['client', 'server'] as const;

const finite = (v: number | null | undefined): v is number => v !== null && v !== undefined && Number.isFinite(v);

function push(values: number[], v: number | null | undefined): void {
  if (finite(v)) values.push(v);
}

/** What one path and protocol collects over all its pairs. */
class PathValues {
  readonly measured = { throughput: 0, latency: 0 };
  readonly tput: number[] = [];
  /** [client, server] */
  readonly busy: [number[], number[]] = [[], []];
  readonly softirq: [number[], number[]] = [[], []];
  readonly maxCore: [number[], number[]] = [[], []];
  readonly perGigabyte: [number[], number[]] = [[], []];
  readonly jitter: number[] = [];
  readonly loss: number[] = [];
  readonly tcpRtt: number[] = [];
  readonly retransmits: number[] = [];
  readonly rtt: number[][] = PATH_PERCENTILES.map(() => []);
  readonly connect: number[] = [];

  constructor(
    readonly path: string,
    readonly protocol: string,
  ) {}
}

/** What one node collects over its pairs of one path and protocol; emptied for the next node. */
class NodeValues {
  readonly tputOut: number[] = [];
  readonly tputIn: number[] = [];
  readonly busyClient: number[] = [];
  readonly busyServer: number[] = [];
  readonly lossOut: number[] = [];
  readonly lossIn: number[] = [];
  readonly rtt: number[][] = NODE_PERCENTILES.map(() => []);
  readonly dropped: number[] = [];
  lastSuccess = -Infinity;

  constructor(
    readonly path: string,
    readonly protocol: string,
  ) {}

  clear(): void {
    for (const a of [this.tputOut, this.tputIn, this.busyClient, this.busyServer, this.lossOut, this.lossIn, this.dropped, ...this.rtt])
      a.length = 0;
    this.lastSuccess = -Infinity;
  }
}

/** The matrix as /metrics reads it: every cell, and each node's cells (the node at either end). */
export interface MatrixView {
  cellsView(): Iterable<MatrixCell>;
  nodeCellsView(): Iterable<readonly [string, Iterable<MatrixCell>]>;
}

/** The text of every matrix gauge, in chunks (GaugeText.chunks). */
export function matrixText(matrix: MatrixView, o: { perPair: boolean; failingMax: number }): string[] {
  const out = new GaugeText(MATRIX_GAUGES);
  writePaths(matrix.cellsView(), out, o);
  writeNodes(matrix.nodeCellsView(), out);
  return out.chunks();
}

/** Per path and per pair, from one walk over the cells; then the longest failing runs. */
function writePaths(cells: Iterable<MatrixCell>, out: GaugeText, o: { perPair: boolean; failingMax: number }): void {
  const paths = new Map<string, PathValues>();
  const failing: MatrixCell[] = [];
  for (const c of cells) {
    if (c.consecutiveFailures > 0) failing.push(c);
    const r = c.lastSuccess;
    if (!r) continue;
    const key = c.protocol === 'tcp' ? c.path : `${c.path}/udp`;
    let p = paths.get(key);
    if (!p) paths.set(key, (p = new PathValues(c.path, c.protocol)));
    p.measured[c.kind]++;
    if (c.kind === 'throughput') pathThroughput(p, c, r, o.perPair ? out : null);
    else if (r.latency) pathLatency(p, c, r.latency, o.perPair ? out : null);
  }

  for (const kind of TEST_KINDS)
    for (const { path, protocol, measured } of paths.values())
      if (measured[kind] > 0) out.sample(PAIRS_MEASURED, { path, protocol, kind }, measured[kind]);
  for (const p of paths.values()) {
    const { path, protocol } = p;
    writeSpread(out, PATH_THROUGHPUT, { path, protocol }, p.tput, ['min', 'median', 'max']);
    SIDES.forEach((side, i) => {
      writeMedian(out, PATH_CPU_BUSY, { path, protocol, side }, p.busy[i] as number[]);
      writeMedian(out, PATH_CPU_SOFTIRQ, { path, protocol, side }, p.softirq[i] as number[]);
      writeMedian(out, PATH_CPU_MAX_CORE, { path, protocol, side }, p.maxCore[i] as number[]);
      writeMedian(out, PATH_CPU_PER_GIGABYTE, { path, protocol, side }, p.perGigabyte[i] as number[]);
    });
    writeMedian(out, PATH_UDP_JITTER, { path }, p.jitter);
    writeMedian(out, PATH_UDP_LOSS, { path }, p.loss);
    writeMedian(out, PATH_TCP_RTT, { path }, p.tcpRtt);
    writeMedian(out, PATH_TCP_RETRANSMITS, { path }, p.retransmits);
    PATH_PERCENTILES.forEach(([percentile], i) =>
      writeSpread(out, PATH_RTT, { path, protocol, percentile }, p.rtt[i] as number[], ['min', 'median', 'max'], seconds),
    );
    writeSpread(out, PATH_CONNECT, { path }, p.connect, ['median', 'max'], seconds);
  }

  // Array.prototype.sort is stable: equal runs keep the matrix's order (least recently measured first).
  failing.sort((a, b) => b.consecutiveFailures - a.consecutiveFailures);
  for (const c of failing.slice(0, o.failingMax))
    out.sample(
      PAIR_FAILURES,
      { path: c.path, protocol: c.protocol, kind: c.kind, source: c.source, target: c.target },
      c.consecutiveFailures,
    );
}

function pathThroughput(p: PathValues, c: MatrixCell, r: CellResult, pairs: GaugeText | null): void {
  const tput = bytes(r.throughputBitsPerSecond);
  push(p.tput, tput);
  if (pairs && tput !== null)
    pairs.sample(PAIR_THROUGHPUT, { path: c.path, protocol: c.protocol, source: c.source, target: c.target }, tput);
  push(p.busy[0], ratio(r.clientBusyPercent));
  push(p.busy[1], ratio(r.serverBusyPercent));
  push(p.softirq[0], ratio(r.clientSoftirqPercent));
  push(p.softirq[1], ratio(r.serverSoftirqPercent));
  push(p.maxCore[0], ratio(r.clientMaxCorePercent));
  push(p.maxCore[1], ratio(r.serverMaxCorePercent));
  push(p.perGigabyte[0], r.clientCpuSecondsPerGigabyte);
  push(p.perGigabyte[1], r.serverCpuSecondsPerGigabyte);
  if (c.protocol === 'udp') {
    push(p.jitter, r.udpJitterSeconds);
    push(p.loss, r.udpLossRatio);
  } else {
    push(p.tcpRtt, r.tcpRttMeanSeconds);
    push(p.retransmits, r.tcpRetransmits);
  }
}

// A failed latency test carries no figures and leaves the pair's previous success in place: a
// pair that never succeeded has no series, never a 0 s round trip.
function pathLatency(p: PathValues, c: MatrixCell, l: CellLatency, pairs: GaugeText | null): void {
  PATH_PERCENTILES.forEach(([, key], i) => push(p.rtt[i] as number[], l[key]));
  if (pairs)
    for (const [percentile, key] of NODE_PERCENTILES)
      pairs.sample(PAIR_RTT, { path: c.path, protocol: c.protocol, source: c.source, target: c.target, percentile }, seconds(l[key]));
  if (c.protocol === 'tcp') push(p.connect, l.connectP50Microseconds);
}

/** Per node: each node's cells, its values by path and protocol, their medians, then the next node. */
function writeNodes(nodes: Iterable<readonly [string, Iterable<MatrixCell>]>, out: GaugeText): void {
  // Emptied after each node: a path and protocol the node has no cells of writes nothing.
  const scratch = new Map<string, NodeValues>();
  for (const [node, cells] of nodes) {
    for (const c of cells) {
      const r = c.lastSuccess;
      if (!r) continue;
      const key = c.protocol === 'tcp' ? c.path : `${c.path}/udp`;
      let v = scratch.get(key);
      if (!v) scratch.set(key, (v = new NodeValues(c.path, c.protocol)));
      const client = c.source === node;
      if (c.kind === 'throughput') nodeThroughput(v, c, r, client);
      else if (r.latency) nodeLatency(v, c, r.latency);
    }
    let worstDropped: number | null = null;
    for (const v of scratch.values()) {
      const { path, protocol } = v;
      writeMedian(out, NODE_THROUGHPUT, { path, protocol, node, direction: 'out' }, v.tputOut);
      writeMedian(out, NODE_THROUGHPUT, { path, protocol, node, direction: 'in' }, v.tputIn);
      writeMedian(out, NODE_CPU_BUSY, { path, protocol, node, side: 'client' }, v.busyClient);
      writeMedian(out, NODE_CPU_BUSY, { path, protocol, node, side: 'server' }, v.busyServer);
      writeMedian(out, NODE_UDP_LOSS, { path, node, direction: 'out' }, v.lossOut);
      writeMedian(out, NODE_UDP_LOSS, { path, node, direction: 'in' }, v.lossIn);
      if (v.lastSuccess > -Infinity) out.sample(NODE_LAST_SUCCESS, { path, protocol, node }, v.lastSuccess);
      NODE_PERCENTILES.forEach(([percentile], i) =>
        writeMedian(out, NODE_RTT, { path, protocol, node, percentile }, v.rtt[i] as number[], seconds),
      );
      if (v.dropped.length > 0) worstDropped = Math.max(worstDropped ?? 0, median(v.dropped) as number);
      v.clear();
    }
    if (worstDropped !== null) out.sample(NODE_DROPPED, { node }, worstDropped);
  }
}

function nodeThroughput(v: NodeValues, c: MatrixCell, r: CellResult, client: boolean): void {
  const tput = bytes(r.throughputBitsPerSecond);
  if (client) {
    push(v.tputOut, tput);
    push(v.busyClient, ratio(r.clientBusyPercent));
  } else {
    push(v.tputIn, tput);
    push(v.busyServer, ratio(r.serverBusyPercent));
  }
  if (c.protocol === 'udp') push(client ? v.lossOut : v.lossIn, r.udpLossRatio);
  if (v.lastSuccess < r.endedAtSeconds) v.lastSuccess = r.endedAtSeconds;
}

function nodeLatency(v: NodeValues, c: MatrixCell, l: CellLatency): void {
  NODE_PERCENTILES.forEach(([, key], i) => push(v.rtt[i] as number[], l[key]));
  if (c.protocol === 'udp' && l.sentMessages !== 0) v.dropped.push(l.droppedMessages / l.sentMessages);
}

/** The median of `values` (none: no series), converted by `unit` after the median (µs to s once, no rounding noise). */
function writeMedian(out: GaugeText, g: GaugeFamily, labels: Labels, values: number[], unit: (v: number) => number = (v) => v): void {
  if (values.length > 0) out.sample(g, labels, unit(median(values) as number));
}

function writeSpread(
  out: GaugeText,
  g: GaugeFamily,
  labels: Labels,
  values: number[],
  stats: ReadonlyArray<'min' | 'median' | 'max'>,
  unit: (v: number) => number = (v) => v,
): void {
  const s = spread(values);
  if (s) for (const stat of stats) out.sample(g, { ...labels, stat }, unit(s[stat]));
}
