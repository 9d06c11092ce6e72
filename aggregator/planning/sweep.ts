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

/** Rounds in the circle-method schedule of `n` nodes: 2(N-1) for even N, 2N for odd N, none below two. */
export function roundRobinRoundCount(n: number): number {
  if (n < 2) return 0;
  return n % 2 === 0 ? 2 * (n - 1) : 2 * n;
}

/**
 * Round `r` (0-based, below roundRobinRoundCount) of the circle-method schedule of `items`,
 * computed on its own in O(N), as [source, target] tuples. Items must be distinct.
 */
export function circleRound<T>(items: ArrayLike<T>, r: number): Array<[T, T]> {
  const n = items.length;
  if (n < 2 || r < 0 || r >= roundRobinRoundCount(n)) return [];
  // An odd count gets a phantom (index n): whoever meets it sits the round out.
  const m = n % 2 === 0 ? n : n + 1;
  const turn = r >> 1;
  // Slot 0 stays put and the others rotate by one per turn: after `turn` rotations slot i
  // (i >= 1) holds the item that started in slot 1 + ((i - 1 - turn) mod (m - 1)).
  const slot = (i: number) => (i === 0 ? 0 : 1 + ((((i - 1 - turn) % (m - 1)) + (m - 1)) % (m - 1)));
  const pairs: Array<[T, T]> = [];
  for (let i = 0; i < m / 2; i++) {
    const a = slot(i);
    const b = slot(m - 1 - i);
    if (a >= n || b >= n) continue;
    // Round 2k holds the k-th round of a single round-robin and round 2k+1 the same pairs reversed.
    pairs.push(r % 2 === 0 ? [items[a] as T, items[b] as T] : [items[b] as T, items[a] as T]);
  }
  return pairs;
}

/**
 * Round `r` of the circle-method schedule of `nodes`: the same pairs as
 * `roundRobinRounds(nodes)[r]`, without building the whole schedule (N(N-1) pairs, 25 million at
 * 5,000 nodes).
 */
export function roundRobinRound(nodes: readonly string[], r: number): Pair[] {
  return circleRound(nodes, r).map(([source, target]) => ({ source, target }));
}

/**
 * Circle-method round-robin: rounds of disjoint ordered pairs covering every ordered pair of
 * `nodes` exactly once, in 2(N-1) rounds for even N and 2N rounds for odd N (a bye each round).
 * Both bounds are optimal: with N even every node is busy in every round, and with N odd a round
 * holds at most (N-1)/2 pairs. Deterministic for a given input order. Throws on repeated names.
 *
 * Round 2k holds the k-th round of a single round-robin and round 2k+1 the same pairs reversed,
 * so both directions of a path are measured minutes apart and their asymmetry is comparable.
 * This builds all N(N-1) pairs: fine for an on-demand run of a small cluster; the background
 * sweep takes one round at a time with `roundRobinRound`.
 */
export function roundRobinRounds(nodes: readonly string[]): Pair[][] {
  assertDistinct(nodes);
  return Array.from({ length: roundRobinRoundCount(nodes.length) }, (_, r) => roundRobinRound(nodes, r));
}

/**
 * One sweep over the ordered pairs of a changing membership. Callers pass the current members
 * on every call; the sweep remembers which ordered pairs it has covered, keyed by node name, so
 * a node that leaves and rejoins within a sweep keeps the pairs it already did.
 *
 * With a stable membership it follows the circle-method schedule and so takes the optimal round
 * count. When membership changes it starts the circle-method schedule of the new members from
 * the top, skipping covered pairs, and fills each round greedily so that churn never leaves
 * nodes idle and every round covers at least one new pair while any remain.
 *
 * Sized for thousands of nodes: each round is computed when it is taken (O(N)), and covered
 * pairs are one bit each (3 MB at 5,000 nodes, where a set of names per node took gigabytes).
 */
export class Sweep {
  private readonly covered = new PairBits();
  /** The membership the schedule follows, in the order it was given, and each one's index in `covered`. */
  private scheduledFor: readonly string[];
  private scheduledIndex: Int32Array;
  private scheduledSet: ReadonlySet<string>;
  /** Index of the next scheduled round to consider. */
  private cursor = 0;

  constructor(members: readonly string[]) {
    assertDistinct(members);
    this.scheduledFor = [...members];
    this.scheduledSet = new Set(members);
    this.scheduledIndex = this.covered.reserve(members);
  }

  /**
   * The next round: disjoint pairs among `members` (the current membership, which may differ from
   * the last call) not yet covered in this sweep. Marks them covered. Returns [] when every
   * ordered pair among `members` is covered (the sweep is complete).
   */
  nextRound(members: readonly string[]): Pair[] {
    // The usual call repeats the last membership in the same order: check that in O(N) first.
    const unchanged = sameOrder(this.scheduledFor, members);
    if (!unchanged) {
      const current = new Set(members);
      if (current.size !== members.length) assertDistinct(members);
      if (!sameSet(this.scheduledSet, current)) {
        this.scheduledFor = [...members];
        this.scheduledSet = current;
        this.scheduledIndex = this.covered.reserve(members);
        this.cursor = 0;
      }
    }
    const index = unchanged ? this.scheduledIndex : this.covered.reserve(members);
    const busy = new Uint8Array(this.covered.size);
    const round: Pair[] = [];
    const take = (source: string, s: number, target: string, t: number) => {
      round.push({ source, target });
      busy[s] = 1;
      busy[t] = 1;
      this.covered.set(s, t);
    };
    // A fresh schedule covers every pair of its membership, so rounds past its end are needed only
    // for pairs put back by uncover(); greedy filling alone finds those.
    if (this.cursor < roundRobinRoundCount(this.scheduledFor.length)) {
      // The schedule over the members' indices in `covered`: the same rounds as over their names.
      for (const [a, b] of circleRound(this.scheduledIndex, this.cursor++)) {
        if (!this.covered.has(a, b)) take(this.covered.name(a), a, this.covered.name(b), b);
      }
    }
    // Greedy fill. Without churn or uncover() it never adds anything: a scheduled round of an even
    // membership busies every node, and one of an odd membership leaves a single node (the bye)
    // free, so the optimal no-churn round count is untouched. After churn, when covered pairs have
    // thinned the scheduled round, it puts the idle nodes to work; and since it leaves no two idle
    // members with an open pair, every round covers a new pair while any remain.
    for (let i = 0; i < members.length; i++) {
      const s = index[i] as number;
      if (busy[s]) continue;
      for (let j = 0; j < members.length; j++) {
        const t = index[j] as number;
        if (j === i || busy[t] || this.covered.has(s, t)) continue;
        take(members[i] as string, s, members[j] as string, t);
        break;
      }
    }
    return round;
  }

  /** Ordered pairs among `members` not yet covered. */
  remaining(members: readonly string[]): number {
    const index = this.covered.reserve(members);
    let count = 0;
    for (let i = 0; i < index.length; i++) {
      for (let j = 0; j < index.length; j++) {
        if (i !== j && !this.covered.has(index[i] as number, index[j] as number)) count++;
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
    const s = this.covered.indexOf(pair.source);
    const t = this.covered.indexOf(pair.target);
    if (s !== undefined && t !== undefined) this.covered.clear(s, t);
  }
}

/**
 * A set of ordered pairs of node names, one bit per pair: a dense bit matrix over the names seen
 * so far (each gets an index for good), grown by half again whenever a new name does not fit.
 */
class PairBits {
  private readonly index = new Map<string, number>();
  private readonly names: string[] = [];
  /** Rows (and columns) the matrix has room for. */
  private capacity = 0;
  private bits = new Uint32Array(0);

  /** Names indexed so far. */
  get size(): number {
    return this.names.length;
  }

  /** The index of each of `nodes`, giving new ones the next free index (and growing once if needed). */
  reserve(nodes: readonly string[]): Int32Array {
    const unseen = nodes.filter((n) => !this.index.has(n)).length;
    if (this.names.length + unseen > this.capacity) this.grow(Math.max(this.names.length + unseen, Math.ceil(this.capacity * 1.5)));
    const out = new Int32Array(nodes.length);
    nodes.forEach((node, i) => {
      let at = this.index.get(node);
      if (at === undefined) {
        at = this.names.length;
        this.index.set(node, at);
        this.names.push(node);
      }
      out[i] = at;
    });
    return out;
  }

  indexOf(node: string): number | undefined {
    return this.index.get(node);
  }

  name(i: number): string {
    return this.names[i] as string;
  }

  has(s: number, t: number): boolean {
    const bit = s * this.capacity + t;
    return ((this.bits[bit >>> 5] ?? 0) & (1 << (bit & 31))) !== 0;
  }

  set(s: number, t: number): void {
    const bit = s * this.capacity + t;
    this.bits[bit >>> 5] = (this.bits[bit >>> 5] ?? 0) | (1 << (bit & 31));
  }

  clear(s: number, t: number): void {
    const bit = s * this.capacity + t;
    this.bits[bit >>> 5] = (this.bits[bit >>> 5] ?? 0) & ~(1 << (bit & 31));
  }

  private grow(capacity: number): void {
    const bits = new Uint32Array(Math.ceil((capacity * capacity) / 32));
    for (let s = 0; s < this.names.length; s++) {
      for (let t = 0; t < this.names.length; t++) {
        if (!this.has(s, t)) continue;
        const bit = s * capacity + t;
        bits[bit >>> 5] = (bits[bit >>> 5] ?? 0) | (1 << (bit & 31));
      }
    }
    this.bits = bits;
    this.capacity = capacity;
  }
}

function sameOrder(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size !== b.size) return false;
  for (const x of b) if (!a.has(x)) return false;
  return true;
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
