/**
 * The background sweep's state for one aggregator: each kind, path and protocol's coverage
 * (full or budget, as its membership calls for), whose turn it is, and the budgets (tests per
 * hour, bytes per node per hour) with the charges of the round in progress. Pure: time and
 * membership are passed in, and what happened comes back as notes for the caller to act on.
 */
import { bytesMoved, type TestResult } from '../../shared/result.js';
import type { Path, Protocol, TestKind } from '../../shared/protocol.js';
import type { PlannedRound } from './runs.js';
import { bytesPerNode, NodeByteBudget, TestBudget, type ByteCharge } from './budget.js';
import { FullCoverage } from './full.js';
import { CoverageLedger } from './ledger.js';
import type { Member } from './peers.js';
import type { SchedulerSettings } from './settings.js';
import { specFor } from './spec.js';
import type { StalenessFigures } from './staleness.js';
import { RoundRobin, type Pair } from './sweep.js';

/** Staleness of one kind, path and protocol of the background sweep. */
export type CoverageStaleness = StalenessFigures & { kind: TestKind; path: Path; protocol: Protocol; mode: 'full' | 'budget' };

/** Something the sweep did while planning, for the caller to log, count or pass on. */
export type SweepNote =
  | { type: 'sweep-completed'; kind: TestKind; path: Path; protocol: Protocol }
  | { type: 'coverage-mode'; kind: TestKind; path: Path; protocol: Protocol; mode: 'full' | 'budget'; nodes: number }
  | { type: 'round-planned'; kind: TestKind; path: Path; protocol: Protocol; mode: 'full' | 'budget'; pairs: number };

type Coverage = { kind: TestKind; path: Path; protocol: Protocol } & (
  { mode: 'full'; full: FullCoverage } | { mode: 'budget'; ledger: CoverageLedger }
);

const key = (kind: TestKind, path: Path, protocol: Protocol) => `${kind}/${path}/${protocol}`;

export class BackgroundSweep {
  private readonly coverage = new Map<string, Coverage>();
  private readonly tests: TestBudget;
  private readonly bytes: NodeByteBudget;
  /** Byte charges of the background round in progress, by pair, settled when each test's result is in. */
  private readonly charges = new Map<Pair, ByteCharge[]>();
  private readonly order: {
    throughput: RoundRobin<{ path: Path; protocol: Protocol }>;
    latency: RoundRobin<{ path: Path; protocol: Protocol }>;
  };

  constructor(private readonly s: SchedulerSettings) {
    const keys = s.paths.flatMap((path) => s.protocols.map((protocol) => ({ path, protocol })));
    this.order = { throughput: new RoundRobin(keys), latency: new RoundRobin(keys) };
    this.tests = new TestBudget(s.testsPerHour);
    this.bytes = new NodeByteBudget(s.nodeBytesPerHour);
  }

  /** The earliest time (ms) the tests-per-hour pace lets a round start: `now` if it may start now. */
  readyAt(now: number): number {
    return this.tests.readyAt(now);
  }

  /** Bytes one background `kind` test over `protocol` is charged to each of its nodes before its result is in. */
  bytesPerTest(kind: TestKind, protocol: Protocol): number {
    return bytesPerNode(specFor(kind, protocol, this.s), this.s.assumedTcpBitsPerSecond);
  }

  /**
   * The next round of `kind`, taking its paths and protocols in turn; undefined when no path has
   * two members or no pair may run now. `members` lists each path's members for `kind`;
   * `rested` says whether a node may take a background test now.
   */
  round(
    kind: TestKind,
    members: (path: Path) => readonly string[],
    zoneOf: (node: string) => string | null,
    rested: (node: string) => boolean,
    now: number,
    note: (n: SweepNote) => void,
  ): PlannedRound | undefined {
    const pick = this.order[kind].next(({ path }) => members(path).length >= 2);
    if (!pick) return undefined;
    const list = members(pick.path);
    const coverage = this.coverageOf(kind, pick.path, pick.protocol, list.length, now, note);
    const bytes = this.bytesPerTest(kind, pick.protocol);
    const available = (node: string) => rested(node) && this.bytes.fits(node, bytes, now);
    const allowance = this.tests.allowance(now);
    let pairs: Pair[];
    let completed: boolean;
    if (coverage.mode === 'full') {
      const next = coverage.full.next(list, available, allowance, now);
      completed = next.completed;
      pairs = next.pairs;
    } else {
      const synced: Member[] = list.map((node) => ({ node, zone: zoneOf(node) }));
      coverage.ledger.sync(synced, now);
      // A round is one wave of tests: the next is planned with what this one taught (budgets, rests).
      pairs = coverage.ledger.plan(Math.min(this.s.concurrency, allowance), available, now);
      completed = coverage.ledger.cycleCompleted(now);
    }
    if (completed) note({ type: 'sweep-completed', kind, ...pick });
    this.tests.record(now, pairs.length);
    for (const p of pairs) this.charges.set(p, [this.bytes.charge(p.source, bytes, now), this.bytes.charge(p.target, bytes, now)]);
    note({ type: 'round-planned', kind, ...pick, mode: coverage.mode, pairs: pairs.length });
    return pairs.length > 0 ? { kind, ...pick, pairs } : undefined;
  }

  /** Settle a test's byte charges with what it moved. */
  settle(pair: Pair, r: TestResult): void {
    const charges = this.charges.get(pair);
    const moved = r.kind === 'throughput' ? bytesMoved(r.iperf) : 0;
    if (charges && moved > 0) for (const c of charges) this.bytes.settle(c, moved);
    this.charges.delete(pair);
  }

  /** Forget the charges of a round that is over (tests that never reported keep their estimate). */
  roundDone(round: PlannedRound): void {
    for (const p of round.pairs) this.charges.delete(p);
  }

  /** Staleness at `now` of every kind, path and protocol planned so far. */
  staleness(now: number): CoverageStaleness[] {
    return [...this.coverage.values()].map((c) => ({
      kind: c.kind,
      path: c.path,
      protocol: c.protocol,
      mode: c.mode,
      ...(c.mode === 'full' ? c.full.staleness(now) : c.ledger.staleness(now)),
    }));
  }

  /** The coverage state of a kind, path and protocol, in the mode its membership calls for now. */
  private coverageOf(kind: TestKind, path: Path, protocol: Protocol, nodes: number, now: number, note: (n: SweepNote) => void): Coverage {
    const s = this.s;
    const mode = s.coverage === 'auto' ? (nodes > s.coverageFullMaxNodes ? 'budget' : 'full') : s.coverage;
    const k = key(kind, path, protocol);
    const known = this.coverage.get(k);
    if (known?.mode === mode) return known;
    if (known || mode === 'budget') note({ type: 'coverage-mode', kind, path, protocol, mode, nodes });
    const fresh: Coverage =
      mode === 'full'
        ? { kind, path, protocol, mode, full: new FullCoverage(now) }
        : {
            kind,
            path,
            protocol,
            mode,
            ledger: new CoverageLedger({ referencePeers: s.referencePeers, crossZonePeers: s.crossZonePeers }),
          };
    this.coverage.set(k, fresh);
    return fresh;
  }
}
