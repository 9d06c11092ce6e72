/**
 * Recent results in memory (history lives in Prometheus). Owns three things: a bounded list of
 * recent results, the latest outcome per (kind, path, protocol, source, target) — the matrix —
 * and the recently seen agent result ids, so a result delivered twice is kept once.
 *
 * The matrix keeps a summary of each result (`CellResult`), not the result: a whole result
 * carries the iperf3 reports and both sides' per-second, per-core CPU, 11 to 15 KiB, and a large
 * cluster has hundreds of thousands of measured pairs. Whole results stay in the recent list.
 */
import type { ErrorCode } from '../shared/errors.js';
import type { Path, Protocol, TestKind } from '../shared/protocol.js';
import { receiverUdp, type TestResult } from '../shared/result.js';

/** A latency test's figures as the matrix keeps them: full round trips, µs. */
export interface CellLatency {
  min: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  sentMessages: number;
  droppedMessages: number;
  /** Median TCP connection setup, µs; null when not measured. */
  connectP50Microseconds: number | null;
}

/** What the matrix keeps of one result: every figure the API, the page and /metrics read of it. */
export interface CellResult {
  id: string;
  ok: boolean;
  error: { code: ErrorCode; message: string } | null;
  endedAt: string;
  /** `endedAt` as Unix seconds. */
  endedAtSeconds: number;
  targetAddress: string;
  sourceZone: string | null;
  targetZone: string | null;
  throughputBitsPerSecond: number | null;
  /** Node CPU over the test window, % of all cores (busy, softirq) or of the busiest core; null when that side sent none. */
  clientBusyPercent: number | null;
  serverBusyPercent: number | null;
  clientSoftirqPercent: number | null;
  serverSoftirqPercent: number | null;
  clientMaxCorePercent: number | null;
  serverMaxCorePercent: number | null;
  clientCpuSecondsPerGigabyte: number | null;
  serverCpuSecondsPerGigabyte: number | null;
  tcpRetransmits: number | null;
  /** The sender's mean RTT: the client's report, or the server's when the client has none (a reverse test). */
  tcpRttMeanSeconds: number | null;
  udpJitterSeconds: number | null;
  udpLossRatio: number | null;
  latency: CellLatency | null;
}

export interface MatrixCell {
  kind: TestKind;
  path: Path;
  protocol: Protocol;
  source: string;
  target: string;
  /** The newest result, successful or not. */
  latest: CellResult;
  /** The newest successful result, if any. */
  lastSuccess: CellResult | null;
  /** Failed results in a row up to the newest (0 when the newest succeeded). */
  consecutiveFailures: number;
}

/** The summary of `r` the matrix keeps. */
export function cellResult(r: TestResult): CellResult {
  const c = r.source.cpu?.test;
  const s = r.target.cpu?.test;
  const l = r.latency;
  const udp = receiverUdp(r);
  return {
    id: r.id,
    ok: r.ok,
    error: r.error,
    endedAt: r.endedAt,
    endedAtSeconds: Date.parse(r.endedAt) / 1000,
    targetAddress: r.target.address,
    sourceZone: r.source.topology?.zone ?? null,
    targetZone: r.target.topology?.zone ?? null,
    throughputBitsPerSecond: r.throughputBitsPerSecond,
    clientBusyPercent: c?.busyPercent ?? null,
    serverBusyPercent: s?.busyPercent ?? null,
    clientSoftirqPercent: c?.softirqPercent ?? null,
    serverSoftirqPercent: s?.softirqPercent ?? null,
    clientMaxCorePercent: c?.maxCorePercent ?? null,
    serverMaxCorePercent: s?.maxCorePercent ?? null,
    clientCpuSecondsPerGigabyte: r.source.cpuSecondsPerGigabyte,
    serverCpuSecondsPerGigabyte: r.target.cpuSecondsPerGigabyte,
    tcpRetransmits: r.iperf?.tcp?.retransmits ?? null,
    tcpRttMeanSeconds: r.iperf?.tcp?.rttMeanSeconds ?? r.serverIperf?.tcp?.rttMeanSeconds ?? null,
    udpJitterSeconds: udp?.jitterSeconds ?? null,
    udpLossRatio: udp?.lossRatio ?? null,
    latency: l
      ? {
          min: l.rttMicroseconds.min,
          p50: l.rttMicroseconds.p50,
          p90: l.rttMicroseconds.p90,
          p99: l.rttMicroseconds.p99,
          p999: l.rttMicroseconds.p999,
          max: l.rttMicroseconds.max,
          sentMessages: l.sentMessages,
          droppedMessages: l.droppedMessages,
          connectP50Microseconds: l.connect?.p50Microseconds ?? null,
        }
      : null,
  };
}

function cellKey(kind: string, path: string, protocol: string, source: string, target: string): string {
  return `${kind}\u0000${path}\u0000${protocol}\u0000${source}\u0000${target}`;
}

export class ResultStore {
  /**
   * The newest `keep` results, a ring: `recent[next]` is the oldest once it is full. Splicing
   * the oldest off the front of an array cost more than the rest of add() together.
   */
  private readonly recent: TestResult[] = [];
  private next = 0;
  private readonly cells = new Map<string, MatrixCell>();
  /**
   * Each node's cells (the node at either end) by key, the same objects as `cells`: a node that
   * leaves costs its own cells only, and /metrics reads a node's cells without a lookup each.
   */
  private readonly byNode = new Map<string, Map<string, MatrixCell>>();
  private readonly seen = new Map<string, true>();
  private readonly listeners = new Set<(r: TestResult) => void>();
  private changes = 0;

  private evictions = 0;
  private readonly seenCapacity: number;
  private readonly maxCells: number;

  /**
   * `keep` recent whole results; at most `maxCells` cells, the least recently measured forgotten
   * first (the sweep's rotating samples and on-demand runs would otherwise grow the matrix
   * towards every pair ever measured: N^2 per kind, path and protocol); `seenCapacity` result ids
   * remembered against duplicates.
   */
  constructor(
    private readonly keep: number,
    o: { maxCells?: number; seenCapacity?: number } = {},
  ) {
    this.maxCells = o.maxCells ?? Infinity;
    this.seenCapacity = o.seenCapacity ?? 50_000;
  }

  add(r: TestResult): void {
    if (this.recent.length < this.keep) this.recent.push(r);
    else {
      this.recent[this.next] = r;
      this.next = (this.next + 1) % this.keep;
    }
    const key = cellKey(r.kind, r.path, r.protocol, r.source.node, r.target.node);
    const prev = this.cells.get(key);
    const summary = cellResult(r);
    const cell: MatrixCell = {
      kind: r.kind,
      path: r.path,
      protocol: r.protocol,
      source: r.source.node,
      target: r.target.node,
      latest: summary,
      lastSuccess: r.ok ? summary : (prev?.lastSuccess ?? null),
      consecutiveFailures: r.ok ? 0 : (prev?.consecutiveFailures ?? 0) + 1,
    };
    // Deleted and set again, not overwritten: the map then runs from the least recently measured
    // cell to the newest, and the cap evicts from its front.
    if (prev) this.cells.delete(key);
    this.cells.set(key, cell);
    this.cellsOf(r.source.node).set(key, cell);
    this.cellsOf(r.target.node).set(key, cell);
    if (this.cells.size > this.maxCells) this.evictOldest();
    this.changes++;
    for (const l of this.listeners) l(r);
  }

  /** Newest first. */
  latest(limit: number): TestResult[] {
    const out: TestResult[] = [];
    const n = this.recent.length;
    for (let i = 1; i <= Math.min(limit, n); i++) out.push(this.recent[(this.next - i + n) % n] as TestResult);
    return out;
  }

  /** The latest result per pair, of one kind of test (or of every kind), least recently measured first. */
  matrix(kind?: TestKind): MatrixCell[] {
    const cells = [...this.cells.values()];
    return kind ? cells.filter((c) => c.kind === kind) : cells;
  }

  /** Every cell, without a copy: for a reader that walks them once. */
  cellsView(): IterableIterator<MatrixCell> {
    return this.cells.values();
  }

  /** Each node with its cells (the node at either end), without a copy: for a reader that walks them once. */
  *nodeCellsView(): Generator<readonly [string, IterableIterator<MatrixCell>]> {
    for (const [node, cells] of this.byNode) yield [node, cells.values()];
  }

  /** Cells in the matrix now. */
  get size(): number {
    return this.cells.size;
  }

  /** Cells forgotten so far to keep within the cap. */
  get evicted(): number {
    return this.evictions;
  }

  /** A number that moves whenever the matrix does: readers may cache what they derive from it. */
  get version(): number {
    return this.changes;
  }

  /** Forget a node that left: its cells would otherwise keep exporting stale figures. */
  removeNode(node: string): void {
    const cells = this.byNode.get(node);
    if (!cells) return;
    this.byNode.delete(node);
    for (const [k, c] of cells) {
      this.cells.delete(k);
      this.byNode.get(c.source === node ? c.target : c.source)?.delete(k);
    }
    this.changes++;
  }

  /** True the first time an agent result id is seen (then remembers it). */
  firstSighting(resultId: string): boolean {
    if (this.seen.has(resultId)) return false;
    this.seen.set(resultId, true);
    if (this.seen.size > this.seenCapacity) this.seen.delete(this.seen.keys().next().value as string);
    return true;
  }

  onResult(listener: (r: TestResult) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private evictOldest(): void {
    const oldest = this.cells.entries().next().value;
    if (!oldest) return;
    const [key, c] = oldest;
    this.cells.delete(key);
    for (const node of [c.source, c.target]) {
      const cells = this.byNode.get(node);
      cells?.delete(key);
      if (cells?.size === 0) this.byNode.delete(node);
    }
    this.evictions++;
  }

  private cellsOf(node: string): Map<string, MatrixCell> {
    let cells = this.byNode.get(node);
    if (!cells) this.byNode.set(node, (cells = new Map()));
    return cells;
  }
}
