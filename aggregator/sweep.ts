/**
 * Which pairs of nodes to test together. A node takes part in at most one test at a time, so a
 * round is a set of disjoint ordered pairs, and a sweep covers every ordered pair of the members.
 * Pure: no I/O, no clocks; the scheduler decides when a round runs.
 */

/** One ordered pair: `source` runs the iperf3 client, `target` the server. */
export interface Pair {
  source: string;
  target: string;
}

function assertDistinct(nodes: readonly string[]): void {
  // A repeated name would pair a node with itself; that is a bug in the caller, not a value.
  if (new Set(nodes).size !== nodes.length) {
    throw new RangeError(`node names must be distinct: ${nodes.join(', ')}`);
  }
}

/**
 * Circle-method round-robin: rounds of disjoint ordered pairs covering every ordered pair of
 * `nodes` exactly once, in 2(N-1) rounds for even N and 2N rounds for odd N (a bye each round).
 * Both bounds are optimal: with N even every node is busy in every round, and with N odd a round
 * holds at most (N-1)/2 pairs. Deterministic for a given input order. Throws on repeated names.
 *
 * Round 2k holds the k-th round of a single round-robin and round 2k+1 the same pairs reversed,
 * so both directions of a path are measured minutes apart and their asymmetry is comparable.
 */
export function roundRobinRounds(nodes: readonly string[]): Pair[][] {
  assertDistinct(nodes);
  if (nodes.length < 2) return [];
  // An odd count gets a phantom (undefined): whoever meets it sits the round out.
  const slots: (string | undefined)[] = nodes.length % 2 === 0 ? [...nodes] : [...nodes, undefined];
  const m = slots.length;
  const rounds: Pair[][] = [];
  for (let r = 0; r < m - 1; r++) {
    const forward: Pair[] = [];
    for (let i = 0; i < m / 2; i++) {
      const a = slots[i];
      const b = slots[m - 1 - i];
      if (a !== undefined && b !== undefined) forward.push({ source: a, target: b });
    }
    rounds.push(
      forward,
      forward.map((p) => ({ source: p.target, target: p.source })),
    );
    // Keep slot 0 fixed and rotate the rest by one: over m-1 rounds every slot meets every other once.
    const last = slots.pop();
    slots.splice(1, 0, last);
  }
  return rounds;
}

/**
 * One sweep over the ordered pairs of a changing membership. Callers pass the current members
 * on every call; the sweep remembers which ordered pairs it has covered, keyed by node name, so
 * a node that leaves and rejoins within a sweep keeps the pairs it already did.
 *
 * With a stable membership it follows the circle-method schedule and so takes the optimal round
 * count. When membership changes it computes a fresh schedule for the new members and starts it
 * from the top, skipping covered pairs, and fills each round greedily so that churn never leaves
 * nodes idle and every round covers at least one new pair while any remain.
 */
export class Sweep {
  /** source -> targets already covered in this sweep. */
  private readonly covered = new Map<string, Set<string>>();
  /** The membership `schedule` was computed for. */
  private scheduledFor: ReadonlySet<string>;
  private schedule: Pair[][];
  /** Index of the next scheduled round to consider. */
  private cursor = 0;

  constructor(members: readonly string[]) {
    this.schedule = roundRobinRounds(members);
    this.scheduledFor = new Set(members);
  }

  /**
   * The next round: disjoint pairs among `members` (the current membership, which may differ from
   * the last call) not yet covered in this sweep. Marks them covered. Returns [] when every
   * ordered pair among `members` is covered (the sweep is complete).
   */
  nextRound(members: readonly string[]): Pair[] {
    assertDistinct(members);
    if (!sameSet(this.scheduledFor, members)) {
      this.schedule = roundRobinRounds(members);
      this.scheduledFor = new Set(members);
      this.cursor = 0;
    }
    // A fresh schedule covers every pair of its membership, so rounds past its end are needed only
    // for pairs put back by uncover(); greedy filling alone finds those.
    const round = (this.schedule[this.cursor++] ?? []).filter((p) => this.isOpen(p));
    const busy = new Set<string>();
    for (const p of round) busy.add(p.source).add(p.target);
    // Greedy fill. Without churn or uncover() it never adds anything: a scheduled round of an even
    // membership busies every node, and one of an odd membership leaves a single node (the bye)
    // free, so the optimal no-churn round count is untouched. After churn, when covered pairs have
    // thinned the scheduled round, it puts the idle nodes to work; and since it leaves no two idle
    // members with an open pair, every round covers a new pair while any remain.
    for (const source of members) {
      if (busy.has(source)) continue;
      for (const target of members) {
        if (target === source || busy.has(target) || this.isCovered(source, target)) continue;
        round.push({ source, target });
        busy.add(source).add(target);
        break;
      }
    }
    for (const p of round) this.cover(p);
    return round;
  }

  /** Ordered pairs among `members` not yet covered. */
  remaining(members: readonly string[]): number {
    let count = 0;
    for (const source of members) {
      for (const target of members) {
        if (target !== source && !this.isCovered(source, target)) count++;
      }
    }
    return count;
  }

  /** Whether every ordered pair among `members` is covered. */
  isComplete(members: readonly string[]): boolean {
    return this.remaining(members) === 0;
  }

  /** Put a pair back as not covered (e.g. its test could not start because a node was busy). */
  uncover(pair: Pair): void {
    this.covered.get(pair.source)?.delete(pair.target);
  }

  /** Scheduled pairs only ever name members of `scheduledFor`, so open means not yet covered. */
  private isOpen(p: Pair): boolean {
    return !this.isCovered(p.source, p.target);
  }

  private isCovered(source: string, target: string): boolean {
    return this.covered.get(source)?.has(target) ?? false;
  }

  private cover(p: Pair): void {
    let targets = this.covered.get(p.source);
    if (!targets) {
      targets = new Set();
      this.covered.set(p.source, targets);
    }
    targets.add(p.target);
  }
}

function sameSet(a: ReadonlySet<string>, b: readonly string[]): boolean {
  return a.size === b.length && b.every((x) => a.has(x));
}

/**
 * Cycle through keys in a fixed order, skipping those for which `eligible` is false. Each call
 * resumes after the key it last returned, so every eligible key gets its turn.
 */
export class RoundRobin<K> {
  private readonly keys: readonly K[];
  /** Index of the key to try first on the next call. */
  private cursor = 0;

  constructor(keys: readonly K[]) {
    this.keys = [...keys];
  }

  /** The next eligible key in turn, or undefined if none is eligible. */
  next(eligible: (k: K) => boolean): K | undefined {
    for (let i = 0; i < this.keys.length; i++) {
      const index = (this.cursor + i) % this.keys.length;
      const key = this.keys[index] as K;
      if (eligible(key)) {
        this.cursor = index + 1;
        return key;
      }
    }
    return undefined;
  }
}
