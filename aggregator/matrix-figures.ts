/**
 * The figures /metrics derives from the matrix, computed in one pass over its cells. A scrape
 * used to walk (and copy) every cell once per gauge: at 1,000 nodes, 67,000 measured pairs and
 * 4 to 5 s with the event loop held. One pass, grouped by label values, and cached until the
 * matrix changes (every gauge of one scrape reads the same pass). Pure: no prom-client here.
 *
 * Throughput figures read the latest successful throughput test of each pair, latency figures
 * the latest successful latency test; medians are over pairs.
 */
import { median, spread } from '../shared/stats.js';
import type { MatrixCell } from './results.js';

/** Label values of one series, in the gauge's label order. */
export type Labels = Record<string, string>;

/** Values grouped by a label set; a group exists only once it has a finite value. */
export class Groups {
  private readonly groups = new Map<string, { labels: Labels; values: number[] }>();

  add(key: string, labels: () => Labels, v: number | null | undefined): void {
    if (v === null || v === undefined || !Number.isFinite(v)) return;
    const g = this.groups.get(key);
    if (g) g.values.push(v);
    else this.groups.set(key, { labels: labels(), values: [v] });
  }

  /** Each group's median, converted by `unit` after the median (µs to s once, no rounding noise). */
  medians(unit: (v: number) => number = (v) => v): Array<[Labels, number]> {
    return [...this.groups.values()].map(({ labels, values }) => [labels, unit(median(values) as number)]);
  }

  each(f: (labels: Labels, values: number[]) => void): void {
    for (const { labels, values } of this.groups.values()) f(labels, values);
  }
}

/** Results carry bits per second (iperf3's unit); metrics use Prometheus's base unit, bytes. */
const bytes = (bitsPerSecond: number | null) => (bitsPerSecond === null ? null : bitsPerSecond / 8);
const ratio = (pct: number | null) => (pct === null ? null : pct / 100);
/** sockperf reports microseconds; metrics use seconds. */
export const seconds = (us: number) => us / 1e6;

/** The `percentile` label of the per-path RTT gauge, and the field of sockperf's report it reads. */
export const PATH_PERCENTILES = [
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
export const NODE_PERCENTILES = [
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
  nodeLastSuccess: Map<string, { labels: Labels; t: number }>;
  /** Failing cells, longest runs first (ties in the order the pairs were first measured), at most `failingMax`. */
  failing: MatrixCell[];
  pairsMeasured: Map<string, { labels: Labels; n: number }>;
  pathRtt: Groups;
  nodeRtt: Groups;
  nodeDropped: Groups;
  pathConnect: Groups;
  /** Per-pair series, filled only when they are exported. */
  pairThroughput: Array<[Labels, number]>;
  pairRtt: Array<[Labels, number]>;
}

/** Everything the matrix gauges export, from one walk over `cells`. */
export function matrixFigures(cells: Iterable<MatrixCell>, o: { perPair: boolean; failingMax: number }): MatrixFigures {
  const f: MatrixFigures = {
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
    nodeLastSuccess: new Map(),
    failing: [],
    pairsMeasured: new Map(),
    pathRtt: new Groups(),
    nodeRtt: new Groups(),
    nodeDropped: new Groups(),
    pathConnect: new Groups(),
    pairThroughput: [],
    pairRtt: [],
  };
  for (const c of cells) {
    if (c.consecutiveFailures > 0) f.failing.push(c);
    const r = c.lastSuccess;
    if (!r) continue;
    const { path, protocol } = c;
    const measured = `${path}\0${protocol}\0${c.kind}`;
    const m = f.pairsMeasured.get(measured);
    if (m) m.n++;
    else f.pairsMeasured.set(measured, { labels: { path, protocol, kind: c.kind }, n: 1 });
    if (c.kind === 'throughput') throughput(f, c, r, o.perPair);
    else latency(f, c, o.perPair);
  }
  // Array.prototype.sort is stable: equal runs keep the order pairs were first measured.
  f.failing = f.failing.sort((a, b) => b.consecutiveFailures - a.consecutiveFailures).slice(0, o.failingMax);
  return f;
}

function throughput(f: MatrixFigures, c: MatrixCell, r: NonNullable<MatrixCell['lastSuccess']>, perPair: boolean): void {
  const { path, protocol, source, target } = c;
  const pp = `${path}\0${protocol}`;
  const tput = bytes(r.throughputBitsPerSecond);
  f.pathThroughput.add(pp, () => ({ path, protocol }), tput);
  f.nodeThroughput.add(`${pp}\0${source}\0out`, () => ({ path, protocol, node: source, direction: 'out' }), tput);
  f.nodeThroughput.add(`${pp}\0${target}\0in`, () => ({ path, protocol, node: target, direction: 'in' }), tput);
  if (perPair && tput !== null) f.pairThroughput.push([{ path, protocol, source, target }, tput]);

  const client = () => ({ path, protocol, side: 'client' });
  const server = () => ({ path, protocol, side: 'server' });
  f.pathCpuBusy.add(`${pp}\0c`, client, ratio(r.clientBusyPercent));
  f.pathCpuBusy.add(`${pp}\0s`, server, ratio(r.serverBusyPercent));
  f.pathCpuSoftirq.add(`${pp}\0c`, client, ratio(r.clientSoftirqPercent));
  f.pathCpuSoftirq.add(`${pp}\0s`, server, ratio(r.serverSoftirqPercent));
  f.pathCpuMaxCore.add(`${pp}\0c`, client, ratio(r.clientMaxCorePercent));
  f.pathCpuMaxCore.add(`${pp}\0s`, server, ratio(r.serverMaxCorePercent));
  f.pathCpuPerGigabyte.add(`${pp}\0c`, client, r.clientCpuSecondsPerGigabyte);
  f.pathCpuPerGigabyte.add(`${pp}\0s`, server, r.serverCpuSecondsPerGigabyte);
  f.nodeCpuBusy.add(`${pp}\0${source}\0c`, () => ({ path, protocol, node: source, side: 'client' }), ratio(r.clientBusyPercent));
  f.nodeCpuBusy.add(`${pp}\0${target}\0s`, () => ({ path, protocol, node: target, side: 'server' }), ratio(r.serverBusyPercent));

  if (protocol === 'udp') {
    f.pathUdpJitter.add(path, () => ({ path }), r.udpJitterSeconds);
    f.pathUdpLoss.add(path, () => ({ path }), r.udpLossRatio);
    f.nodeUdpLoss.add(`${path}\0${source}\0out`, () => ({ path, node: source, direction: 'out' }), r.udpLossRatio);
    f.nodeUdpLoss.add(`${path}\0${target}\0in`, () => ({ path, node: target, direction: 'in' }), r.udpLossRatio);
  } else {
    f.pathTcpRtt.add(path, () => ({ path }), r.tcpRttMeanSeconds);
    f.pathTcpRetransmits.add(path, () => ({ path }), r.tcpRetransmits);
  }
  for (const node of [source, target]) {
    const k = `${pp}\0${node}`;
    const last = f.nodeLastSuccess.get(k);
    if (!last) f.nodeLastSuccess.set(k, { labels: { path, protocol, node }, t: r.endedAtSeconds });
    else if (last.t < r.endedAtSeconds) last.t = r.endedAtSeconds;
  }
}

// A failed latency test carries no figures and leaves the pair's previous success in place: a
// pair that never succeeded has no series, never a 0 s round trip.
function latency(f: MatrixFigures, c: MatrixCell, perPair: boolean): void {
  const l = c.lastSuccess?.latency;
  if (!l) return;
  const { path, protocol, source, target } = c;
  const pp = `${path}\0${protocol}`;
  for (const [percentile, key] of PATH_PERCENTILES) f.pathRtt.add(`${pp}\0${percentile}`, () => ({ path, protocol, percentile }), l[key]);
  for (const [percentile, key] of NODE_PERCENTILES) {
    for (const node of [source, target])
      f.nodeRtt.add(`${pp}\0${node}\0${percentile}`, () => ({ path, protocol, node, percentile }), l[key]);
    if (perPair) f.pairRtt.push([{ path, protocol, source, target, percentile }, seconds(l[key])]);
  }
  if (protocol === 'udp' && l.sentMessages !== 0) {
    const dropped = l.droppedMessages / l.sentMessages;
    for (const node of [source, target]) f.nodeDropped.add(`${path}\0${node}`, () => ({ path, node }), dropped);
  }
  if (protocol === 'tcp') f.pathConnect.add(path, () => ({ path }), l.connectP50Microseconds);
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
