/**
 * Full coverage of one kind, path and protocol: sweep after sweep over every ordered pair (the
 * circle-method rounds of sweep.ts), with a clock of each sweep's progress, so its staleness
 * costs O(rounds) rather than a time per pair (25 million pairs at 5,000 nodes). Pure.
 */
import { Sweep, type Pair } from './sweep.js';
import { referenceTimes, stalenessAt, type StalenessFigures } from './staleness.js';

/** A sweep's progress: after the round at times[i], covered[i] pairs were covered. */
interface Progress {
  start: number;
  times: number[];
  covered: number[];
}

export class FullCoverage {
  private sweep: Sweep | undefined;
  private current: Progress;
  private previous: Progress | undefined;
  private members = 0;

  constructor(now: number) {
    this.current = { start: now, times: [], covered: [] };
  }

  /**
   * The next round of the sweep among `members`, at most `max` pairs. Nodes that `available`
   * refuses (resting, over a budget) sit out as if they had left, so the others do not wait for
   * them; their pairs come in a later sweep. Pairs past `max` are put back for later in this one.
   * `completed` says a sweep ended before this round (this round is the first of the next).
   */
  next(members: readonly string[], available: (node: string) => boolean, max: number, now: number): { pairs: Pair[]; completed: boolean } {
    this.members = members.length;
    const present = members.filter(available);
    if (present.length < 2) return { pairs: [], completed: false };
    let completed = false;
    let sweep = this.sweep;
    let pairs = sweep?.nextRound(present) ?? [];
    if (!sweep || pairs.length === 0) {
      completed = sweep !== undefined;
      if (completed) {
        this.previous = this.current;
        this.current = { start: now, times: [], covered: [] };
      }
      sweep = new Sweep(present);
      this.sweep = sweep;
      pairs = sweep.nextRound(present);
    }
    for (const p of pairs.slice(max)) sweep.uncover(p);
    const kept = pairs.slice(0, max);
    if (kept.length > 0) {
      this.current.times.push(now);
      this.current.covered.push(this.coveredNow() + kept.length);
    }
    return { pairs: kept, completed };
  }

  /**
   * Staleness at `now`. Exact while membership holds still: a sweep follows the same rounds as
   * the one before, so a pair not yet covered in this sweep was last covered at the same point
   * of the previous one. After a join or a leave it is an estimate on the same assumption.
   */
  staleness(now: number): StalenessFigures {
    const pairs = this.members * (this.members - 1);
    const covered = Math.min(pairs, this.coveredNow());
    return stalenessAt(referenceTimes(this.oldestFirst(pairs, covered), pairs), pairs, this.previous ? pairs : covered, now);
  }

  /**
   * Reference times oldest first, as runs: the pairs not yet covered in this sweep as the
   * previous sweep covered them (from rank `covered` on), then this sweep's, in order.
   */
  private *oldestFirst(pairs: number, covered: number): Generator<readonly [number, number]> {
    let rank = covered;
    for (let i = 0; i < (this.previous?.times.length ?? 0) && rank < pairs; i++) {
      const upTo = Math.min(this.previous?.covered[i] ?? 0, pairs);
      if (upTo <= rank) continue;
      yield [this.previous?.times[i] as number, upTo - rank];
      rank = upTo;
    }
    // Pairs the previous sweep did not cover (all of them in the first sweep): since this sweep began.
    if (rank < pairs) yield [this.current.start, pairs - rank];
    let done = 0;
    for (let i = 0; i < this.current.times.length && done < covered; i++) {
      const upTo = Math.min(this.current.covered[i] ?? 0, covered);
      yield [this.current.times[i] as number, upTo - done];
      done = upTo;
    }
  }

  private coveredNow(): number {
    return this.current.covered[this.current.covered.length - 1] ?? 0;
  }
}
