/**
 * The budgets of the background sweep: tests per hour across the cluster, paced evenly, and
 * bytes per node per hour. Pure: times are passed in (ms since the epoch).
 */
import { kindOf, type TestSpec } from '../../shared/kinds/index.js';

const HOUR_MS = 3_600_000;

/**
 * At most `perHour` tests started in any trailing hour (0 = unlimited), spread evenly: after a
 * round of k tests the next may start k/perHour hours later, so the budget is not spent in a
 * burst at the top of the hour and then nothing.
 */
export class TestBudget {
  /** Rounds started within the last hour, oldest first. */
  private readonly rounds: Array<{ at: number; tests: number }> = [];
  private inWindow = 0;
  private nextAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly perHour: number) {}

  /** How many tests may start at `now` (Infinity when unlimited; 0 while the pace says wait). */
  allowance(now: number): number {
    if (this.perHour <= 0) return Number.POSITIVE_INFINITY;
    if (now < this.nextAt) return 0;
    this.expire(now);
    return Math.max(0, this.perHour - this.inWindow);
  }

  /** The earliest time a round may start: `now` if it may start now. */
  readyAt(now: number): number {
    if (this.perHour <= 0) return now;
    this.expire(now);
    let at = Math.max(now, this.nextAt);
    // A full window frees up when its oldest round leaves it.
    const oldest = this.rounds[0];
    if (this.inWindow >= this.perHour && oldest) at = Math.max(at, oldest.at + HOUR_MS);
    return at;
  }

  /** Count a round of `tests` tests started at `now`. */
  record(now: number, tests: number): void {
    if (this.perHour <= 0 || tests <= 0) return;
    this.rounds.push({ at: now, tests });
    this.inWindow += tests;
    this.nextAt = now + (tests * HOUR_MS) / this.perHour;
  }

  private expire(now: number): void {
    while (this.rounds.length > 0 && (this.rounds[0]?.at ?? now) <= now - HOUR_MS) this.inWindow -= this.rounds.shift()?.tests ?? 0;
  }
}

/** One node's share of one test, kept so the estimate can be replaced by what the test moved. */
export interface ByteCharge {
  at: number;
  bytes: number;
}

/**
 * At most `perHour` bytes through each node (sent plus received) in any trailing hour, 0 =
 * unlimited. A test is charged its estimate when it is planned and settled to the bytes it
 * really moved once its result is in.
 */
export class NodeByteBudget {
  private readonly charges = new Map<string, ByteCharge[]>();
  private lastSweep = 0;

  constructor(private readonly perHour: number) {}

  /** Whether `node` can take a test moving `bytes` at `now`. */
  fits(node: string, bytes: number, now: number): boolean {
    return this.perHour <= 0 || this.spent(node, now) + bytes <= this.perHour;
  }

  /** Bytes charged to `node` within the hour before `now`. */
  spent(node: string, now: number): number {
    const list = this.charges.get(node);
    if (!list) return 0;
    while (list.length > 0 && (list[0]?.at ?? now) <= now - HOUR_MS) list.shift();
    return list.reduce((sum, c) => sum + c.bytes, 0);
  }

  /** Charge `bytes` to `node` at `now`; returns the charge, to settle later. */
  charge(node: string, bytes: number, now: number): ByteCharge {
    const c = { at: now, bytes };
    if (this.perHour <= 0) return c;
    const list = this.charges.get(node) ?? [];
    list.push(c);
    this.charges.set(node, list);
    // Nodes that left keep nothing: once an hour, drop the lists with nothing left in the window.
    if (now - this.lastSweep > HOUR_MS) {
      this.lastSweep = now;
      for (const [n, l] of this.charges) if (this.spent(n, now) === 0 && l.length === 0) this.charges.delete(n);
    }
    return c;
  }

  /** Replace a charge's estimate by the bytes the test moved. */
  settle(c: ByteCharge, bytes: number): void {
    c.bytes = bytes;
  }
}

/**
 * Bytes one test moves through each of its two nodes, from its spec: bitrate × duration (with
 * its omitted seconds: they move data too) for a throughput test (sent by one, received by the other), with `uncappedTcpBitsPerSecond` standing
 * in for a TCP test without a cap; requests plus replies for a latency test (each node sends and
 * receives both). Payload only: headers, sockperf's warm-up and retransmissions are not counted.
 */
export function bytesPerNode(t: { spec: TestSpec }, uncappedTcpBitsPerSecond: number): number {
  return kindOf(t.spec).bytesPerNode(t.spec, uncappedTcpBitsPerSecond);
}
