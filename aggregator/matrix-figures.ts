/**
 * The figures /metrics derives from the matrix, computed in one pass over its cells. A scrape
 * used to walk (and copy) every cell once per gauge: at 1,000 nodes, 67,000 measured pairs and
 * 4 to 5 s with the event loop held. One pass, filing each value under its path and protocol and
 * then its node, cached until the matrix changes (every gauge of one scrape reads the same pass).
 * Pure: no prom-client here.
 *
 * Throughput figures read the latest successful throughput test of each pair, latency figures
 * the latest successful latency test; medians are over pairs.
 */
import { median, spread } from '../shared/stats.js';
import type { CellLatency, CellResult, MatrixCell } from './results.js';

/** Label values of one series, in the gauge's label order. */
export type Labels = Record<string, string>;

/** Values grouped by a label set; a group exists only once it has a value. */
export class Groups {
  private readonly groups: Array<{ labels: Labels; values: number[] }> = [];

  put(labels: Labels, values: number[]): void {
    if (values.length > 0) this.groups.push({ labels, values });
  }

  /** Each group's median, converted by `unit` after the median (µs to s once, no rounding noise). */
  medians(unit: (v: number) => number = (v) => v): Array<[Labels, number]> {
    return this.groups.map(({ labels, values }) => [labels, unit(median(values) as number)]);
  }

  each(f: (labels: Labels, values: number[]) => void): void {
    for (const { labels, values } of this.groups) f(labels, values);
  }
}

/**
 * Results carry bits per second (iperf3's unit); metrics use Prometheus's base unit, bytes
 * (promtool rejects `_bits`). Dashboards multiply by 8 to show bit/s.
 */
const bytes = (bitsPerSecond: number | null) => (bitsPerSecond === null ? null : bitsPerSecond / 8);
const ratio = (pct: number | null) => (pct === null ? null : pct / 100);
/** sockperf reports microseconds; metrics use seconds. */
export const seconds = (us: number) => us / 1e6;

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

export interface MatrixFigures {
  pathThroughput: Groups;
  nodeThroughput: Groups;
  pathCpuBusy: Groups;
  pathCpuSoftirq: Groups;
  pathCpuMaxCore: Groups;
  pathCpuPerGigabyte: Groups;
  nodeCpuBusy: Groups;
  pathUdpJitter: Groups;
  pathUdpLoss: Groups;
  nodeUdpLoss: Groups;
  pathTcpRtt: Groups;
  pathTcpRetransmits: Groups;
  nodeLastSuccess: Array<{ labels: Labels; t: number }>;
  /** Failing cells, longest runs first (ties in the order the pairs were first measured), at most `failingMax`. */
  failing: MatrixCell[];
  pairsMeasured: Array<{ labels: Labels; n: number }>;
  pathRtt: Groups;
  nodeRtt: Groups;
  nodeDropped: Groups;
  pathConnect: Groups;
  /** Per-pair series, filled only when they are exported. */
  pairThroughput: Array<[Labels, number]>;
  pairRtt: Array<[Labels, number]>;
}

/** Finite values only: a missing figure (null) is no value, never a 0. */
const finite = (v: number | null | undefined): v is number => v !== null && v !== undefined && Number.isFinite(v);

function push(values: number[], v: number | null | undefined): void {
  if (finite(v)) values.push(v);
}

/** A node's values of one figure. Keyed by the node's name alone: a flat string hashes fast. */
class ByNode {
  readonly values = new Map<string, number[]>();
  add(node: string, v: number | null | undefined): void {
    if (!finite(v)) return;
    const list = this.values.get(node);
    if (list) list.push(v);
    else this.values.set(node, [v]);
  }
}

/** What one path and protocol collects in the walk: per-path lists and per-node lists. */
class Bucket {
  readonly measured = { throughput: 0, latency: 0 };
  readonly tput: number[] = [];
  readonly tputOut = new ByNode();
  readonly tputIn = new ByNode();
  /** [client, server] */
  readonly busy: [number[], number[]] = [[], []];
  readonly softirq: [number[], number[]] = [[], []];
  readonly maxCore: [number[], number[]] = [[], []];
  readonly perGigabyte: [number[], number[]] = [[], []];
  readonly busyClient = new ByNode();
  readonly busyServer = new ByNode();
  readonly jitter: number[] = [];
  readonly loss: number[] = [];
  readonly lossOut = new ByNode();
  readonly lossIn = new ByNode();
  readonly tcpRtt: number[] = [];
  readonly retransmits: number[] = [];
  readonly lastSuccess = new Map<string, number>();
  readonly rtt: number[][] = PATH_PERCENTILES.map(() => []);
  readonly nodeRtt: ByNode[] = NODE_PERCENTILES.map(() => new ByNode());
  readonly dropped = new ByNode();
  readonly connect: number[] = [];

  constructor(
    readonly path: string,
    readonly protocol: string,
  ) {}
}

/**
 * Everything the matrix gauges export, from one walk over `cells`. The walk files each value
 * under its path and protocol, then under a node name: no label set or composite key is built
 * per cell (at 67,000 cells that alone took a quarter of a second).
 */
export function matrixFigures(cells: Iterable<MatrixCell>, o: { perPair: boolean; failingMax: number }): MatrixFigures {
  const buckets = new Map<string, Bucket>();
  const failing: MatrixCell[] = [];
  const pairThroughput: Array<[Labels, number]> = [];
  const pairRtt: Array<[Labels, number]> = [];
  for (const c of cells) {
    if (c.consecutiveFailures > 0) failing.push(c);
    const r = c.lastSuccess;
    if (!r) continue;
    const key = c.protocol === 'tcp' ? c.path : `${c.path}/udp`;
    let b = buckets.get(key);
    if (!b) buckets.set(key, (b = new Bucket(c.path, c.protocol)));
    b.measured[c.kind]++;
    if (c.kind === 'throughput') throughput(b, c, r, o.perPair ? pairThroughput : null);
    else if (r.latency) latency(b, c, r.latency, o.perPair ? pairRtt : null);
  }
  // Array.prototype.sort is stable: equal runs keep the order pairs were first measured.
  failing.sort((a, b) => b.consecutiveFailures - a.consecutiveFailures);
  return { ...collect([...buckets.values()]), failing: failing.slice(0, o.failingMax), pairThroughput, pairRtt };
}

function throughput(b: Bucket, c: MatrixCell, r: CellResult, pairs: Array<[Labels, number]> | null): void {
  const { source, target } = c;
  const tput = bytes(r.throughputBitsPerSecond);
  push(b.tput, tput);
  b.tputOut.add(source, tput);
  b.tputIn.add(target, tput);
  if (pairs && tput !== null) pairs.push([{ path: c.path, protocol: c.protocol, source, target }, tput]);
  push(b.busy[0], ratio(r.clientBusyPercent));
  push(b.busy[1], ratio(r.serverBusyPercent));
  push(b.softirq[0], ratio(r.clientSoftirqPercent));
  push(b.softirq[1], ratio(r.serverSoftirqPercent));
  push(b.maxCore[0], ratio(r.clientMaxCorePercent));
  push(b.maxCore[1], ratio(r.serverMaxCorePercent));
  push(b.perGigabyte[0], r.clientCpuSecondsPerGigabyte);
  push(b.perGigabyte[1], r.serverCpuSecondsPerGigabyte);
  b.busyClient.add(source, ratio(r.clientBusyPercent));
  b.busyServer.add(target, ratio(r.serverBusyPercent));
  if (c.protocol === 'udp') {
    push(b.jitter, r.udpJitterSeconds);
    push(b.loss, r.udpLossRatio);
    b.lossOut.add(source, r.udpLossRatio);
    b.lossIn.add(target, r.udpLossRatio);
  } else {
    push(b.tcpRtt, r.tcpRttMeanSeconds);
    push(b.retransmits, r.tcpRetransmits);
  }
  for (const node of [source, target]) {
    if ((b.lastSuccess.get(node) ?? -Infinity) < r.endedAtSeconds) b.lastSuccess.set(node, r.endedAtSeconds);
  }
}

// A failed latency test carries no figures and leaves the pair's previous success in place: a
// pair that never succeeded has no series, never a 0 s round trip.
function latency(b: Bucket, c: MatrixCell, l: CellLatency, pairs: Array<[Labels, number]> | null): void {
  const { source, target } = c;
  PATH_PERCENTILES.forEach(([, key], i) => push(b.rtt[i] as number[], l[key]));
  NODE_PERCENTILES.forEach(([percentile, key], i) => {
    const byNode = b.nodeRtt[i] as ByNode;
    byNode.add(source, l[key]);
    byNode.add(target, l[key]);
    if (pairs) pairs.push([{ path: c.path, protocol: c.protocol, source, target, percentile }, seconds(l[key])]);
  });
  if (c.protocol === 'udp' && l.sentMessages !== 0) {
    const dropped = l.droppedMessages / l.sentMessages;
    b.dropped.add(source, dropped);
    b.dropped.add(target, dropped);
  }
  if (c.protocol === 'tcp') push(b.connect, l.connectP50Microseconds);
}

/** The walk's buckets as the label sets of each gauge. */
function collect(buckets: Bucket[]): Omit<MatrixFigures, 'failing' | 'pairThroughput' | 'pairRtt'> {
  const f = {
    pathThroughput: new Groups(),
    nodeThroughput: new Groups(),
    pathCpuBusy: new Groups(),
    pathCpuSoftirq: new Groups(),
    pathCpuMaxCore: new Groups(),
    pathCpuPerGigabyte: new Groups(),
    nodeCpuBusy: new Groups(),
    pathUdpJitter: new Groups(),
    pathUdpLoss: new Groups(),
    nodeUdpLoss: new Groups(),
    pathTcpRtt: new Groups(),
    pathTcpRetransmits: new Groups(),
    nodeLastSuccess: [] as Array<{ labels: Labels; t: number }>,
    pairsMeasured: [] as Array<{ labels: Labels; n: number }>,
    pathRtt: new Groups(),
    nodeRtt: new Groups(),
    nodeDropped: new Groups(),
    pathConnect: new Groups(),
  };
  const perNode = (g: Groups, by: ByNode, labels: (node: string) => Labels) => {
    for (const [node, values] of by.values) g.put(labels(node), values);
  };
  for (const b of buckets) {
    const { path, protocol } = b;
    for (const kind of ['throughput', 'latency'] as const)
      if (b.measured[kind] > 0) f.pairsMeasured.push({ labels: { path, protocol, kind }, n: b.measured[kind] });
    f.pathThroughput.put({ path, protocol }, b.tput);
    perNode(f.nodeThroughput, b.tputOut, (node) => ({ path, protocol, node, direction: 'out' }));
    perNode(f.nodeThroughput, b.tputIn, (node) => ({ path, protocol, node, direction: 'in' }));
    (['client', 'server'] as const).forEach((side, i) => {
      f.pathCpuBusy.put({ path, protocol, side }, b.busy[i] as number[]);
      f.pathCpuSoftirq.put({ path, protocol, side }, b.softirq[i] as number[]);
      f.pathCpuMaxCore.put({ path, protocol, side }, b.maxCore[i] as number[]);
      f.pathCpuPerGigabyte.put({ path, protocol, side }, b.perGigabyte[i] as number[]);
    });
    perNode(f.nodeCpuBusy, b.busyClient, (node) => ({ path, protocol, node, side: 'client' }));
    perNode(f.nodeCpuBusy, b.busyServer, (node) => ({ path, protocol, node, side: 'server' }));
    f.pathUdpJitter.put({ path }, b.jitter);
    f.pathUdpLoss.put({ path }, b.loss);
    perNode(f.nodeUdpLoss, b.lossOut, (node) => ({ path, node, direction: 'out' }));
    perNode(f.nodeUdpLoss, b.lossIn, (node) => ({ path, node, direction: 'in' }));
    f.pathTcpRtt.put({ path }, b.tcpRtt);
    f.pathTcpRetransmits.put({ path }, b.retransmits);
    for (const [node, t] of b.lastSuccess) f.nodeLastSuccess.push({ labels: { path, protocol, node }, t });
    PATH_PERCENTILES.forEach(([percentile], i) => f.pathRtt.put({ path, protocol, percentile }, b.rtt[i] as number[]));
    NODE_PERCENTILES.forEach(([percentile], i) =>
      perNode(f.nodeRtt, b.nodeRtt[i] as ByNode, (node) => ({ path, protocol, node, percentile })),
    );
    perNode(f.nodeDropped, b.dropped, (node) => ({ path, node }));
    f.pathConnect.put({ path }, b.connect);
  }
  return f;
}

/** min, median and max of each group, converted by `unit`. */
export function spreads(g: Groups, unit: (v: number) => number = (v) => v): Array<[Labels, { min: number; median: number; max: number }]> {
  const out: Array<[Labels, { min: number; median: number; max: number }]> = [];
  g.each((labels, values) => {
    const s = spread(values);
    if (s) out.push([labels, { min: unit(s.min), median: unit(s.median), max: unit(s.max) }]);
  });
  return out;
}
