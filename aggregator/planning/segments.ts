/**
 * The pairs a budget-mode ledger has not measured yet, as lazy sequences: never all of them in
 * memory (every pair within one zone of 1,700 nodes is 2.9 million). Each segment holds pairs
 * that became candidates at the same moment (`since`), in an order whose consecutive pairs are
 * disjoint, so a round fills from the front of a segment without conflicts; and how a round
 * steps through one. Pairs are numbers (`pairId`) over the ledger's node slots.
 */
import { circleRound } from './sweep.js';

/** Node slots fit in 16 bits; slot 0xffff is never given out, so 0xffffffff is free for a tombstone. */
export const MAX_SLOTS = 0xffff;
export const pairId = (source: number, target: number): number => source * 0x10000 + target;
export const sourceOf = (id: number): number => Math.floor(id / 0x10000);
export const targetOf = (id: number): number => id % 0x10000;

/** A sequence of never-measured pairs that became candidates at `since`. */
export abstract class Segment {
  /** Pairs taken out of order and not used yet (a conflict in a round), served first. */
  readonly pending: number[] = [];
  /** Pairs held back while a node is unavailable (resting, over its byte budget), by that node's slot. */
  readonly parked = new Map<number, number[]>();
  private cursor = 0;

  constructor(
    readonly since: number,
    /** The pairs in the sequence. */
    readonly length: number,
  ) {}

  /** The next pair of the sequence proper, or undefined when it is used up. */
  next(): number | undefined {
    return this.cursor < this.length ? this.at(this.cursor++) : undefined;
  }

  /** Whether the sequence proper is over (pairs may still wait in pending or parked). */
  exhausted(): boolean {
    return this.cursor >= this.length;
  }

  /** Whether nothing is left: sequence, pending and parked. */
  done(): boolean {
    return this.cursor >= this.length && this.pending.length === 0 && this.parked.size === 0;
  }

  park(slot: number, id: number): void {
    const list = this.parked.get(slot);
    if (list) list.push(id);
    else this.parked.set(slot, [id]);
  }

  /** Move parked pairs of slots that `ready` accepts back to pending. */
  unpark(ready: (slot: number) => boolean): void {
    for (const [slot, ids] of this.parked) {
      if (!ready(slot)) continue;
      for (const id of ids) this.pending.push(id);
      this.parked.delete(slot);
    }
  }

  protected abstract at(i: number): number;
}

/** Listed pairs (reference peers and cross-zone samples), in the order given. */
export class ListSegment extends Segment {
  constructor(
    since: number,
    private readonly ids: readonly number[],
  ) {
    super(since, ids.length);
  }

  protected at(i: number): number {
    return this.ids[i] as number;
  }
}

/**
 * Every ordered pair within one zone that involves a cohort (`joined`: nodes that joined the
 * zone at `since`), among themselves and with the zone's earlier members (`earlier`). First the
 * circle-method rounds of the cohort, then rounds of cohort × earlier members, each a set of
 * disjoint pairs when the smaller side is walked against the larger.
 */
export class CohortSegment extends Segment {
  private readonly inner: number;
  private readonly small: readonly number[];
  private readonly large: readonly number[];
  private cachedRound = -1;
  private cached: number[] = [];

  constructor(
    since: number,
    readonly zone: string,
    private readonly joined: readonly number[],
    earlier: readonly number[],
  ) {
    const inner = joined.length * (joined.length - 1);
    super(since, inner + 2 * joined.length * earlier.length);
    this.inner = inner;
    [this.small, this.large] = joined.length <= earlier.length ? [joined, earlier] : [earlier, joined];
  }

  protected at(i: number): number {
    if (i < this.inner) {
      // Circle-method rounds of the cohort: floor(n/2) pairs each.
      const perRound = Math.floor(this.joined.length / 2);
      const r = Math.floor(i / perRound);
      if (r !== this.cachedRound) {
        this.cached = circleRound(this.joined, r).map(([a, b]) => pairId(a, b));
        this.cachedRound = r;
      }
      return this.cached[i % perRound] as number;
    }
    // Round q pairs small[j] with large[(j + q/2) mod |large|], forward on even q, reversed on odd.
    const k = i - this.inner;
    const q = Math.floor(k / this.small.length);
    const j = k % this.small.length;
    const a = this.small[j] as number;
    const b = this.large[(j + (q >> 1)) % this.large.length] as number;
    const forward = this.small === this.joined ? pairId(a, b) : pairId(b, a);
    return q % 2 === 0 ? forward : pairId(targetOf(forward), sourceOf(forward));
  }
}

/**
 * `ids` reordered as runs of disjoint pairs (each run a greedy matching of what is left), so that
 * a round can take many consecutive pairs of a list without meeting a node twice.
 */
export function inDisjointRuns(ids: readonly number[]): number[] {
  const out: number[] = [];
  let rest = ids;
  while (rest.length > 0) {
    const used = new Set<number>();
    const later: number[] = [];
    for (const id of rest) {
      const s = sourceOf(id);
      const t = targetOf(id);
      if (used.has(s) || used.has(t)) later.push(id);
      else {
        used.add(s).add(t);
        out.push(id);
      }
    }
    rest = later;
  }
  return out;
}

/**
 * What to do with a pair in a round: take it, drop it (no longer a candidate), leave it for a
 * later round (it meets a node already chosen), or park it under a node that cannot take tests now.
 */
export type Verdict = 'take' | 'drop' | 'busy' | { park: number };

/** Pairs of a segment's sequence looked at past ones that meet a chosen node, before it gives up for the round. */
const LOOKAHEAD = 16;

/**
 * Go through a segment's pending pairs once: take what fits, drop the stale, park the
 * unavailable. True when some had to wait for a node chosen in this round.
 */
export function drainPending(seg: Segment, verdict: (id: number, since: number) => Verdict, full: () => boolean): boolean {
  const keep: number[] = [];
  let waiting = false;
  for (const id of seg.pending) {
    if (full()) {
      keep.push(id);
      continue;
    }
    const v = verdict(id, seg.since);
    if (v === 'busy') {
      keep.push(id);
      waiting = true;
    } else if (typeof v === 'object') seg.park(v.park, id);
  }
  seg.pending.length = 0;
  for (const id of keep) seg.pending.push(id);
  return waiting;
}

/**
 * The next pair of a segment's sequence, looking a little further past pairs that meet a node
 * already chosen (those wait in pending). 'more' when it may give more this round, 'waiting'
 * when its next pairs all wait for chosen nodes, 'used-up' when its sequence is over.
 */
export function stepSequence(seg: Segment, verdict: (id: number, since: number) => Verdict): 'more' | 'waiting' | 'used-up' {
  for (let busy = 0; busy < LOOKAHEAD; busy++) {
    const id = seg.next();
    if (id === undefined) return busy > 0 ? 'waiting' : 'used-up';
    const v = verdict(id, seg.since);
    if (typeof v === 'object') seg.park(v.park, id);
    if (v !== 'busy') return 'more';
    seg.pending.push(id);
  }
  return 'waiting';
}
