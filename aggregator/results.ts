/**
 * Recent results in memory (history lives in Prometheus). Owns three things: a bounded list of
 * recent results, the latest result per (kind, path, protocol, source, target) — the matrix — and
 * the recently seen agent result ids, so a result delivered twice is kept once.
 */
import type { Path, Protocol, TestKind } from '../shared/protocol.js';
import type { TestResult } from '../shared/result.js';

export interface MatrixCell {
  kind: TestKind;
  path: Path;
  protocol: Protocol;
  source: string;
  target: string;
  /** The newest result, successful or not. */
  latest: TestResult;
  /** The newest successful result, if any. */
  lastSuccess: TestResult | null;
  /** Failed results in a row up to the newest (0 when the newest succeeded). */
  consecutiveFailures: number;
}

function cellKey(kind: string, path: string, protocol: string, source: string, target: string): string {
  return `${kind}\u0000${path}\u0000${protocol}\u0000${source}\u0000${target}`;
}

export class ResultStore {
  private readonly recent: TestResult[] = [];
  private readonly cells = new Map<string, MatrixCell>();
  private readonly seen = new Map<string, true>();
  private readonly listeners = new Set<(r: TestResult) => void>();

  constructor(
    private readonly keep: number,
    private readonly seenCapacity = 50_000,
  ) {}

  add(r: TestResult): void {
    this.recent.push(r);
    if (this.recent.length > this.keep) this.recent.splice(0, this.recent.length - this.keep);
    const key = cellKey(r.kind, r.path, r.protocol, r.source.node, r.target.node);
    const prev = this.cells.get(key);
    this.cells.set(key, {
      kind: r.kind,
      path: r.path,
      protocol: r.protocol,
      source: r.source.node,
      target: r.target.node,
      latest: r,
      lastSuccess: r.ok ? r : (prev?.lastSuccess ?? null),
      consecutiveFailures: r.ok ? 0 : (prev?.consecutiveFailures ?? 0) + 1,
    });
    for (const l of this.listeners) l(r);
  }

  /** Newest first. */
  latest(limit: number): TestResult[] {
    return this.recent.slice(-limit).reverse();
  }

  byRun(runId: string): TestResult[] {
    return this.recent.filter((r) => r.runId === runId);
  }

  /** The latest result per pair, of one kind of test (or of every kind). */
  matrix(kind?: TestKind): MatrixCell[] {
    const cells = [...this.cells.values()];
    return kind ? cells.filter((c) => c.kind === kind) : cells;
  }

  /** Forget a node that left: its cells would otherwise keep exporting stale figures. */
  removeNode(node: string): void {
    for (const [k, c] of this.cells) if (c.source === node || c.target === node) this.cells.delete(k);
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
}
