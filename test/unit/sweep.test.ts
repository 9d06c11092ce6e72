import { describe, expect, it } from 'vitest';
import { RoundRobin, Sweep, roundRobinRounds, type Pair } from '../../aggregator/planning/sweep.js';
import { seededRandom } from '../helpers/prng.js';

const prng = seededRandom;

function pick<T>(random: () => number, items: readonly T[]): T {
  const item = items[Math.floor(random() * items.length)];
  if (item === undefined) throw new Error('pick from an empty list');
  return item;
}

function shuffled<T>(random: () => number, items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

const names = (n: number, prefix = 'node'): string[] => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
/** Seeds for the property tests: each one replays a different churn history. */
const seeds = Array.from({ length: 300 }, (_, i) => i + 1);

const key = (p: Pair): string => `${p.source}->${p.target}`;

function orderedPairs(nodes: Iterable<string>): string[] {
  const list = [...nodes];
  return list.flatMap((s) => list.filter((t) => t !== s).map((t) => `${s}->${t}`));
}

/** Circle-method round count: 2(N-1) for even N, 2N for odd N, none below two nodes. */
function optimalRounds(n: number): number {
  if (n < 2) return 0;
  return n % 2 === 0 ? 2 * (n - 1) : 2 * n;
}

/** Fails unless no node appears twice in the round, as source or target (which also rules out self-pairs). */
function expectDisjoint(round: readonly Pair[]): void {
  const seen = new Set<string>();
  const doubleBooked = round.flatMap((p) => [p.source, p.target]).filter((n) => seen.has(n) || !seen.add(n));
  expect(doubleBooked, JSON.stringify(round)).toEqual([]);
}

/** Counts how often each ordered pair occurs across `rounds`. */
function coverage(rounds: readonly (readonly Pair[])[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const p of rounds.flat()) counts.set(key(p), (counts.get(key(p)) ?? 0) + 1);
  return counts;
}

/** Runs a sweep over a fixed membership to completion; throws if it runs past `limit` rounds. */
function runToCompletion(sweep: Sweep, members: readonly string[], limit: number): Pair[][] {
  const rounds: Pair[][] = [];
  for (;;) {
    const round = sweep.nextRound(members);
    if (round.length === 0) return rounds;
    rounds.push(round);
    if (rounds.length > limit) throw new Error(`sweep still running after ${limit} rounds`);
  }
}

describe('roundRobinRounds', () => {
  it('never puts a node in two pairs of one round, for 1 to 16 nodes', () => {
    for (let n = 1; n <= 16; n++) {
      for (const round of roundRobinRounds(names(n))) expectDisjoint(round);
    }
  });

  it('covers every ordered pair exactly once in 2(N-1) rounds for even N and 2N for odd N', () => {
    for (let n = 2; n <= 16; n++) {
      const rounds = roundRobinRounds(names(n));
      expect(rounds, `N=${n}`).toHaveLength(optimalRounds(n));
      const counts = coverage(rounds);
      expect([...counts.keys()].sort(), `N=${n}`).toEqual(orderedPairs(names(n)).sort());
      expect(
        [...counts.values()].every((c) => c === 1),
        `N=${n}`,
      ).toBe(true);
    }
  });

  it('fills every round: N/2 pairs for even N, (N-1)/2 for odd N', () => {
    for (let n = 2; n <= 16; n++) {
      for (const round of roundRobinRounds(names(n))) expect(round).toHaveLength(Math.floor(n / 2));
    }
  });

  it('gives no rounds for zero or one node', () => {
    expect(roundRobinRounds([])).toEqual([]);
    expect(roundRobinRounds(['only'])).toEqual([]);
  });

  it('measures both directions of a pair in consecutive rounds', () => {
    const rounds = roundRobinRounds(names(6));
    for (let r = 0; r < rounds.length; r += 2) {
      const reversed = rounds[r]!.map((p) => ({ source: p.target, target: p.source }));
      expect(rounds[r + 1]).toEqual(reversed);
    }
  });

  it('is deterministic for a given input order', () => {
    expect(roundRobinRounds(names(7))).toEqual(roundRobinRounds(names(7)));
  });

  it('rejects repeated node names', () => {
    expect(() => roundRobinRounds(['a', 'b', 'a'])).toThrow(RangeError);
  });
});

describe('Sweep without churn', () => {
  it('follows the circle-method schedule exactly, so greedy filling never costs a round', () => {
    for (let n = 0; n <= 16; n++) {
      const nodes = names(n);
      const sweep = new Sweep(nodes);
      const rounds = runToCompletion(sweep, nodes, 1000);
      expect(rounds, `N=${n}`).toEqual(roundRobinRounds(nodes));
      expect(rounds, `N=${n}`).toHaveLength(optimalRounds(n));
      expect(sweep.isComplete(nodes)).toBe(true);
      expect(sweep.remaining(nodes)).toBe(0);
    }
  });

  it('counts down remaining pairs as rounds are taken', () => {
    const nodes = names(5);
    const sweep = new Sweep(nodes);
    expect(sweep.remaining(nodes)).toBe(20);
    expect(sweep.isComplete(nodes)).toBe(false);
    const round = sweep.nextRound(nodes);
    expect(sweep.remaining(nodes)).toBe(20 - round.length);
  });

  it('keeps returning no pairs once complete', () => {
    const nodes = names(3);
    const sweep = new Sweep(nodes);
    runToCompletion(sweep, nodes, 100);
    expect(sweep.nextRound(nodes)).toEqual([]);
    expect(sweep.nextRound(nodes)).toEqual([]);
  });

  it('does not restart the schedule when only the order of members changes', () => {
    const random = prng(7);
    const nodes = names(8);
    const sweep = new Sweep(nodes);
    const rounds: Pair[][] = [];
    for (let round = sweep.nextRound(nodes); round.length > 0;) {
      rounds.push(round);
      round = sweep.nextRound(shuffled(random, nodes));
    }
    expect(rounds).toEqual(roundRobinRounds(nodes));
  });
});

describe('Sweep with churn', () => {
  /**
   * Joins and leaves drawn from a finite pool of names, at random between rounds. Covered pairs
   * only accumulate and every round covers at least one, so the sweep must end within P(P-1) rounds.
   */
  function churnedSweep(seed: number, poolSize: number, churnChance: number) {
    const random = prng(seed);
    const pool = names(poolSize);
    let members = pool.filter(() => random() < 0.6);
    const everPresent = new Set(members);
    const sweep = new Sweep(members);
    const rounds: { members: string[]; pairs: Pair[] }[] = [];
    for (;;) {
      if (random() < churnChance) {
        const absent = pool.filter((n) => !members.includes(n));
        if (absent.length > 0 && (members.length === 0 || random() < 0.5)) {
          // Joiners land at a random position, as a watch on Kubernetes nodes would report them.
          const joiner = pick(random, absent);
          const at = Math.floor(random() * (members.length + 1));
          members = [...members.slice(0, at), joiner, ...members.slice(at)];
        } else if (members.length > 0) {
          const leaver = pick(random, members);
          members = members.filter((n) => n !== leaver);
          everPresent.delete(leaver);
        }
      }
      const pairs = sweep.nextRound(members);
      if (pairs.length === 0) return { sweep, members, rounds, persistent: everPresent };
      rounds.push({ members, pairs });
      if (rounds.length > poolSize * (poolSize - 1)) throw new Error(`seed ${seed}: sweep did not terminate`);
    }
  }

  it('never double-books a node and only pairs nodes present at the time', () => {
    for (const seed of seeds) {
      const { rounds } = churnedSweep(seed, 2 + (seed % 15), 0.3);
      for (const { members, pairs } of rounds) {
        expectDisjoint(pairs);
        const absent = pairs.flatMap((p) => [p.source, p.target]).filter((n) => !members.includes(n));
        expect(absent, `seed ${seed}`).toEqual([]);
      }
    }
  });

  it('terminates with every pair of the final members covered, each exactly once', () => {
    for (const seed of seeds) {
      const { sweep, members, rounds } = churnedSweep(seed, 2 + (seed % 15), 0.3);
      expect(sweep.isComplete(members), `seed ${seed}`).toBe(true);
      const counts = coverage(rounds.map((r) => r.pairs));
      for (const pair of orderedPairs(members)) expect(counts.get(pair), `seed ${seed}: ${pair}`).toBe(1);
      expect(
        [...counts.values()].every((c) => c === 1),
        `seed ${seed}`,
      ).toBe(true);
    }
  });

  it('covers every pair of nodes that stayed for the whole sweep (no starvation)', () => {
    for (const seed of seeds) {
      const { rounds, persistent } = churnedSweep(seed, 2 + (seed % 15), 0.5);
      const counts = coverage(rounds.map((r) => r.pairs));
      for (const pair of orderedPairs(persistent)) expect(counts.get(pair), `seed ${seed}: ${pair}`).toBe(1);
    }
  });

  it('covers at least one new pair in every round while any remain', () => {
    for (const seed of seeds) {
      const random = prng(seed);
      const pool = names(10);
      let members = pool.slice(0, 6);
      const sweep = new Sweep(members);
      while (!sweep.isComplete(members)) {
        // Churn on every round: the schedule restarts each time and greedy filling must carry progress.
        const joiner = pool.find((n) => !members.includes(n));
        members = random() < 0.5 && joiner ? [...members, joiner] : members.slice(1);
        const before = sweep.remaining(members);
        const round = sweep.nextRound(members);
        if (before > 0) expect(round.length, `seed ${seed}`).toBeGreaterThan(0);
        expect(sweep.remaining(members)).toBe(before - round.length);
      }
    }
  });

  it('never leaves two idle members with an open pair between them', () => {
    for (const seed of seeds) {
      const { rounds } = churnedSweep(seed, 2 + (seed % 15), 0.3);
      const done = new Set<string>();
      for (const { members, pairs } of rounds) {
        for (const p of pairs) done.add(key(p));
        const busy = new Set(pairs.flatMap((p) => [p.source, p.target]));
        const idle = members.filter((n) => !busy.has(n));
        expect(
          orderedPairs(idle).filter((pair) => !done.has(pair)),
          `seed ${seed}`,
        ).toEqual([]);
      }
    }
  });

  it('covers every pair of persistent members once per sweep across consecutive sweeps', () => {
    for (const seed of seeds.slice(0, 100)) {
      const random = prng(seed);
      const persistent = names(2 + (seed % 7), 'stay');
      const visitors = names(6, 'visit');
      let members = [...persistent];
      for (let s = 0; s < 5; s++) {
        const sweep = new Sweep(members);
        const rounds: Pair[][] = [];
        for (;;) {
          if (random() < 0.4) {
            const visitor = pick(random, visitors);
            members = members.includes(visitor) ? members.filter((n) => n !== visitor) : [...members, visitor];
          }
          const round = sweep.nextRound(members);
          if (round.length === 0) break;
          rounds.push(round);
          if (rounds.length > 1000) throw new Error(`seed ${seed}: sweep ${s} did not terminate`);
        }
        const counts = coverage(rounds);
        for (const pair of orderedPairs(persistent)) {
          expect(counts.get(pair), `seed ${seed}, sweep ${s}: ${pair}`).toBe(1);
        }
      }
    }
  });
});

describe('Sweep.uncover', () => {
  it('puts a pair back so that it is covered again later in the same sweep', () => {
    for (const n of [4, 5]) {
      const nodes = names(n);
      const sweep = new Sweep(nodes);
      const [first] = sweep.nextRound(nodes);
      if (!first) throw new Error('first round is empty');
      sweep.uncover(first);
      expect(sweep.remaining(nodes)).toBe(n * (n - 1) - Math.floor(n / 2) + 1);
      const rest = runToCompletion(sweep, nodes, 100);
      expect(
        rest.flat().filter((p) => key(p) === key(first)),
        `N=${n}`,
      ).toHaveLength(1);
      expect(sweep.isComplete(nodes)).toBe(true);
    }
  });

  it('still completes every pair when random tests fail to start and are put back', () => {
    for (const seed of seeds.slice(0, 100)) {
      const random = prng(seed);
      const nodes = names(2 + (seed % 12));
      const sweep = new Sweep(nodes);
      const done = new Set<string>();
      for (let rounds = 0; !sweep.isComplete(nodes); rounds++) {
        const round = sweep.nextRound(nodes);
        expectDisjoint(round);
        expect(round.length, `seed ${seed}`).toBeGreaterThan(0);
        for (const p of round) {
          if (random() < 0.2) sweep.uncover(p);
          else done.add(key(p));
        }
        if (rounds > 10_000) throw new Error(`seed ${seed}: sweep did not terminate`);
      }
      expect([...done].sort()).toEqual(orderedPairs(nodes).sort());
    }
  });

  it('ignores a pair that is not covered', () => {
    const nodes = names(3);
    const sweep = new Sweep(nodes);
    sweep.uncover({ source: 'node-0', target: 'node-1' });
    sweep.uncover({ source: 'elsewhere', target: 'node-1' });
    expect(sweep.remaining(nodes)).toBe(6);
  });
});

describe('RoundRobin', () => {
  it('cycles through keys in their fixed order', () => {
    const rr = new RoundRobin(['a', 'b', 'c']);
    const all = () => true;
    expect(Array.from({ length: 7 }, () => rr.next(all))).toEqual(['a', 'b', 'c', 'a', 'b', 'c', 'a']);
  });

  it('skips ineligible keys and resumes after the key it last returned', () => {
    const rr = new RoundRobin(['a', 'b', 'c', 'd']);
    expect(rr.next((k) => k !== 'a')).toBe('b');
    expect(rr.next((k) => k === 'a' || k === 'd')).toBe('d');
    expect(rr.next(() => true)).toBe('a');
    expect(rr.next((k) => k !== 'b')).toBe('c');
  });

  it('gives keys that are always eligible an equal share', () => {
    const rr = new RoundRobin(['a', 'b', 'c', 'd', 'e']);
    const counts = new Map<string, number>();
    for (let i = 0; i < 1000; i++) {
      const k = rr.next((x) => x !== 'e');
      if (k !== undefined) counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    expect(Object.fromEntries(counts)).toEqual({ a: 250, b: 250, c: 250, d: 250 });
  });

  it('never passes over an eligible key for more than a full cycle, whatever the others do', () => {
    const random = prng(42);
    const keys = ['a', 'b', 'c', 'd', 'e'];
    const rr = new RoundRobin(keys);
    let sinceA = 0;
    for (let i = 0; i < 1000; i++) {
      // 'a' is always eligible; the others flicker at random.
      const k = rr.next((x) => x === 'a' || random() < 0.5);
      sinceA = k === 'a' ? 0 : sinceA + 1;
      expect(sinceA).toBeLessThan(keys.length);
    }
  });

  it('returns undefined when no key is eligible or there are no keys', () => {
    expect(new RoundRobin(['a', 'b']).next(() => false)).toBeUndefined();
    expect(new RoundRobin<string>([]).next(() => true)).toBeUndefined();
  });
});
