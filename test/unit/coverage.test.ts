/**
 * The coverage planners and budgets on their own: pure functions and classes, time passed in,
 * randomness seeded, so every test here is instant and replays exactly.
 */
import { describe, expect, it } from 'vitest';
import { bytesPerNode, NodeByteBudget, TestBudget } from '../../aggregator/planning/budget.js';
import { FullCoverage } from '../../aggregator/planning/full.js';
import { CoverageLedger } from '../../aggregator/planning/ledger.js';
import { jittered, parseQuietHours, quietMsLeft } from '../../aggregator/planning/pacing.js';
import { PeerLayout, type Member } from '../../aggregator/planning/peers.js';
import type { Pair } from '../../aggregator/planning/sweep.js';
import { seededRandom } from '../helpers/prng.js';

const HOUR = 3_600_000;
const key = (p: Pair) => `${p.source}->${p.target}`;

/** `n` nodes spread over `zones` zones, node i in zone i mod zones (null zones when `zones` is 0). */
function cluster(n: number, zones: number, prefix = 'node'): Member[] {
  return Array.from({ length: n }, (_, i) => ({ node: `${prefix}-${i}`, zone: zones > 0 ? `zone-${i % zones}` : null }));
}

function intraZonePairs(members: readonly Member[]): string[] {
  return members.flatMap((a) => members.filter((b) => b !== a && a.zone !== null && b.zone === a.zone).map((b) => `${a.node}->${b.node}`));
}

function expectDisjoint(round: readonly Pair[]): void {
  const seen = new Set<string>();
  const twice = round.flatMap((p) => [p.source, p.target]).filter((n) => seen.has(n) || !seen.add(n));
  expect(twice, JSON.stringify(round)).toEqual([]);
}

describe('quiet hours', () => {
  it('parses HH:MM-HH:MM and refuses what is not a window, saying why', () => {
    expect(parseQuietHours('01:00-05:30')).toEqual({ startMinute: 60, endMinute: 330 });
    expect(parseQuietHours(' 22:00-02:00 ')).toEqual({ startMinute: 1320, endMinute: 120 });
    expect(parseQuietHours('1:00-5:00')).toMatch(/not HH:MM-HH:MM/);
    expect(parseQuietHours('24:00-05:00')).toMatch(/above 23/);
    expect(parseQuietHours('03:00-03:00')).toMatch(/starts where it ends/);
  });

  it('says how long the window has left, in UTC, across midnight too', () => {
    const day = Date.UTC(2026, 2, 1);
    const at = (h: number, m = 0) => new Date(day + (h * 60 + m) * 60_000);
    const night = parseQuietHours('22:00-02:00');
    const early = parseQuietHours('01:00-05:00');
    if (typeof night === 'string' || typeof early === 'string') throw new Error('the windows above parse');
    expect(quietMsLeft(early, at(0, 59))).toBe(0);
    expect(quietMsLeft(early, at(1))).toBe(4 * HOUR);
    expect(quietMsLeft(early, at(4, 30))).toBe(HOUR / 2);
    expect(quietMsLeft(early, at(5))).toBe(0);
    expect(quietMsLeft(night, at(23))).toBe(3 * HOUR);
    expect(quietMsLeft(night, at(1, 30))).toBe(HOUR / 2);
    expect(quietMsLeft(night, at(12))).toBe(0);
    expect(quietMsLeft(null, at(1))).toBe(0);
  });
});

describe('jitter', () => {
  it('stays within ±percent, and spreads over that range', () => {
    const random = seededRandom(3);
    const pauses = Array.from({ length: 2000 }, () => jittered(1000, 20, random));
    expect(Math.min(...pauses)).toBeGreaterThanOrEqual(800);
    expect(Math.max(...pauses)).toBeLessThanOrEqual(1200);
    expect(Math.min(...pauses)).toBeLessThan(810);
    expect(Math.max(...pauses)).toBeGreaterThan(1190);
  });

  it('leaves the pause alone at 0%', () => {
    expect(jittered(1000, 0, () => 0.99)).toBe(1000);
  });
});

describe('TestBudget', () => {
  it('never starts more than the budget in any trailing hour, whatever the round sizes', () => {
    const random = seededRandom(11);
    const budget = new TestBudget(120);
    const starts: number[] = [];
    for (let now = 0; now < 10 * HOUR; now += Math.floor(random() * 60_000)) {
      if (budget.readyAt(now) > now) continue;
      const tests = Math.min(budget.allowance(now), 1 + Math.floor(random() * 20));
      budget.record(now, tests);
      for (let i = 0; i < tests; i++) starts.push(now);
    }
    for (const t of starts) expect(starts.filter((s) => s > t - HOUR && s <= t).length).toBeLessThanOrEqual(120);
    // Paced, not starved: close to the budget over the ten hours.
    expect(starts.length).toBeGreaterThan(0.9 * 120 * 10);
  });

  it('spaces rounds evenly: after k tests the next round waits k/budget hours', () => {
    const budget = new TestBudget(3600);
    expect(budget.readyAt(0)).toBe(0);
    budget.record(0, 10);
    expect(budget.allowance(5000)).toBe(0);
    expect(budget.readyAt(5000)).toBe(10_000);
    expect(budget.allowance(10_000)).toBe(3590);
  });

  it('is unlimited at 0', () => {
    const budget = new TestBudget(0);
    budget.record(0, 1_000_000);
    expect(budget.allowance(1)).toBe(Number.POSITIVE_INFINITY);
    expect(budget.readyAt(1)).toBe(1);
  });
});

describe('NodeByteBudget', () => {
  it('refuses a test that would take a node over its bytes in the trailing hour, and frees them after it', () => {
    const budget = new NodeByteBudget(3e9);
    budget.charge('a', 2e9, 0);
    expect(budget.fits('a', 1e9, 1000)).toBe(true);
    expect(budget.fits('a', 1.5e9, 1000)).toBe(false);
    expect(budget.fits('b', 3e9, 1000)).toBe(true);
    expect(budget.fits('a', 3e9, HOUR)).toBe(true);
  });

  it('replaces an estimate by what the test moved', () => {
    const budget = new NodeByteBudget(3e9);
    const c = budget.charge('a', 12.5e9, 0);
    expect(budget.fits('a', 1e9, 10)).toBe(false);
    budget.settle(c, 1e9);
    expect(budget.spent('a', 10)).toBe(1e9);
    expect(budget.fits('a', 1e9, 10)).toBe(true);
  });

  it('estimates bytes per node from the spec', () => {
    const tcp = {
      kind: 'throughput' as const,
      protocol: 'tcp' as const,
      durationSeconds: 10,
      bitrateBitsPerSecond: 0,
      streams: 4,
      reverse: false,
    };
    expect(bytesPerNode({ spec: tcp }, 10e9)).toBe(12.5e9);
    expect(bytesPerNode({ spec: { ...tcp, bitrateBitsPerSecond: 1e9 } }, 10e9)).toBe(1.25e9);
    // Omitted seconds move data too.
    expect(bytesPerNode({ spec: { ...tcp, bitrateBitsPerSecond: 1e9, omitSeconds: 2 } }, 10e9)).toBe(1.5e9);
    const latency = {
      kind: 'latency' as const,
      protocol: 'udp' as const,
      durationSeconds: 2,
      messageSizeBytes: 64,
      messagesPerSecond: 1000,
      connectSamples: 0,
    };
    expect(bytesPerNode({ spec: latency }, 10e9)).toBe(256_000);
  });
});

describe('PeerLayout', () => {
  it('gives each node k distinct reference peers outside its zone, the same every time', () => {
    const members = cluster(60, 3);
    const layout = new PeerLayout(members);
    const zone = new Map(members.map((m) => [m.node, m.zone]));
    for (const { node } of members) {
      const refs = layout.referencePeers(node, 3);
      expect(new Set(refs).size).toBe(3);
      expect(refs.filter((r) => zone.get(r) === zone.get(node))).toEqual([]);
      expect(new PeerLayout([...members].reverse()).referencePeers(node, 3)).toEqual(refs);
    }
  });

  it('moves few references when a node joins (consistent hashing)', () => {
    const members = cluster(200, 4);
    const before = new PeerLayout(members);
    const after = new PeerLayout([...members, { node: 'newcomer', zone: 'zone-1' }]);
    const changed = members.filter((m) => before.referencePeers(m.node, 3).join() !== after.referencePeers(m.node, 3).join());
    expect(changed.length).toBeLessThan(members.length / 10);
  });

  it('takes any other node as a reference of a node with no zone', () => {
    const layout = new PeerLayout(cluster(10, 0));
    const refs = layout.referencePeers('node-4', 3);
    expect(refs).toHaveLength(3);
    expect(refs).not.toContain('node-4');
  });

  it('rotates cross-zone peers through every node of the other zones', () => {
    const members = cluster(30, 3);
    const layout = new PeerLayout(members);
    const met = new Set<string>();
    for (let epoch = 0; epoch < 10; epoch++) {
      const peers = layout.crossZonePeers('node-0', epoch, 2);
      expect(peers).toHaveLength(2);
      for (const p of peers) met.add(p);
    }
    expect([...met].sort()).toEqual(
      members
        .filter((m) => m.zone !== 'zone-0')
        .map((m) => m.node)
        .sort(),
    );
  });
});

describe('CoverageLedger', () => {
  /** Plans `rounds` rounds, `step` ms apart; returns the rounds. */
  function run(
    ledger: CoverageLedger,
    members: () => readonly Member[],
    rounds: number,
    max: number,
    o: { from?: number; step?: number; available?: (n: string) => boolean } = {},
  ) {
    const out: Pair[][] = [];
    for (let r = 0; r < rounds; r++) {
      const now = (o.from ?? 0) + r * (o.step ?? 1000);
      ledger.sync(members(), now);
      out.push(ledger.plan(max, o.available ?? (() => true), now));
    }
    return out;
  }

  it('never puts a node in two pairs of a round, through churn, zone changes and unavailable nodes', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const random = seededRandom(seed);
      let members = cluster(40, 4);
      const ledger = new CoverageLedger({ referencePeers: 2, crossZonePeers: 1 });
      for (let r = 0; r < 300; r++) {
        if (random() < 0.2) members = members.filter(() => random() > 0.05);
        if (random() < 0.2) members = [...members, { node: `late-${r}`, zone: `zone-${Math.floor(random() * 5)}` }];
        if (random() < 0.05) members = members.map((m, i) => (i === 0 ? { ...m, zone: 'moved' } : m));
        ledger.sync(members, r * 1000);
        const present = new Set(members.map((m) => m.node));
        const round = ledger.plan(1 + Math.floor(random() * 30), () => random() > 0.1, r * 1000);
        expectDisjoint(round);
        expect(
          round.every((p) => present.has(p.source) && present.has(p.target)),
          `seed ${seed}`,
        ).toBe(true);
      }
    }
  });

  it('measures every pair within a zone before it measures any pair twice in its place', () => {
    for (const [n, zones, max] of [
      [30, 3, 15],
      [31, 3, 6],
      [64, 2, 9],
    ] as const) {
      const members = cluster(n, zones);
      const ledger = new CoverageLedger({ referencePeers: 3, crossZonePeers: 1 });
      const intra = intraZonePairs(members);
      const seen = new Set<string>();
      let repeats = 0;
      for (let r = 0; intra.some((p) => !seen.has(p)); r++) {
        const round = run(ledger, () => members, 1, max, { from: r * 1000 })[0] ?? [];
        const repeated = round.filter((p) => seen.has(key(p))).length;
        for (const p of round) seen.add(key(p));
        // A round with a repeat leaves no pair within a zone unmeasured that it could have taken instead.
        const busy = new Set(round.flatMap((p) => [p.source, p.target]));
        const couldHaveRun = intra.filter((p) => !seen.has(p) && p.split('->').every((x) => !busy.has(x)));
        if (repeated > 0) expect(couldHaveRun, `N=${n}, round ${r}`).toEqual([]);
        repeats += repeated;
        expect(r, `N=${n}: still covering after ${r} rounds`).toBeLessThan(10 * intra.length);
      }
      // The last few pairs within a zone meet each other; repeats fill the rest of those rounds.
      expect(repeats, `N=${n}`).toBeLessThan(intra.length);
    }
  });

  it('measures each node against its reference peers, both ways, within the first cycle, in about as few rounds as can be', () => {
    const members = cluster(24, 3);
    const ledger = new CoverageLedger({ referencePeers: 2, crossZonePeers: 0 });
    const layout = new PeerLayout(members);
    const refs = new Set(members.flatMap((m) => layout.referencePeers(m.node, 2).flatMap((r) => [`${m.node}->${r}`, `${r}->${m.node}`])));
    const candidates = [...intraZonePairs(members), ...refs];
    const measured: string[] = [];
    let rounds = 0;
    while (rounds < 500) {
      ledger.sync(members, rounds);
      measured.push(...ledger.plan(12, () => true, rounds).map(key));
      rounds++;
      if (ledger.cycleCompleted(rounds)) break;
    }
    expect([...refs].filter((p) => !measured.includes(p))).toEqual([]);
    expect(new Set(measured).size).toBe(candidates.length);
    // A node takes one test a round, so the busiest node's pair count is a lower bound on the rounds.
    const degree = Math.max(...members.map((m) => candidates.filter((p) => p.split('->').includes(m.node)).length));
    expect(rounds).toBeLessThanOrEqual(degree + 2);
  });

  it('takes the least recently measured pair first: the second pass follows the first', () => {
    const members = cluster(6, 1);
    const ledger = new CoverageLedger({ referencePeers: 0, crossZonePeers: 0 });
    const order = run(ledger, () => members, 60, 1).map((r) => key(r[0] as Pair));
    expect(new Set(order.slice(0, 30)).size).toBe(30);
    expect(order.slice(30)).toEqual(order.slice(0, 30));
  });

  it('lets zones of the same age take turns from round to round, so none waits for the others to finish', () => {
    const members = cluster(120, 40);
    const ledger = new CoverageLedger({ referencePeers: 0, crossZonePeers: 0 });
    const zone = new Map(members.map((m) => [m.node, m.zone]));
    const rounds = run(ledger, () => members, 8, 10);
    // 80 pairs in 8 rounds of 10, from 40 zones of 3 nodes (6 pairs each): every zone has had a turn.
    expect(new Set(rounds.flat().map((p) => zone.get(p.source))).size).toBe(40);
  });

  it('parks the pairs of an unavailable node and comes back to them, oldest first, when it is available', () => {
    const members = cluster(8, 1);
    const ledger = new CoverageLedger({ referencePeers: 0, crossZonePeers: 0 });
    const resting = run(ledger, () => members, 30, 4, { available: (n) => n !== 'node-3' }).flat();
    expect(resting.filter((p) => p.source === 'node-3' || p.target === 'node-3')).toEqual([]);
    const back = run(ledger, () => members, 20, 4, { from: 30_000 }).flat();
    // Its 14 pairs, never measured, come first: one in each round (it takes one test at a time),
    // while the others' repeats keep the rest of each round full.
    expect(back).toHaveLength(20 * 4);
    const rounds = 20;
    const withNode3 = (r: Pair[]) => r.filter((p) => p.source === 'node-3' || p.target === 'node-3');
    const perRound = Array.from({ length: rounds }, (_, r) => withNode3(back.slice(4 * r, 4 * r + 4)).length);
    expect(perRound.slice(0, 14)).toEqual(Array(14).fill(1));
    expect(new Set(withNode3(back.slice(0, 56)).map(key)).size).toBe(14);
  });

  it('measures nodes of unknown zone only against reference and sample peers', () => {
    const members = cluster(10, 0);
    const ledger = new CoverageLedger({ referencePeers: 1, crossZonePeers: 1 });
    ledger.sync(members, 0);
    expect(ledger.staleness(0).pairs).toBeLessThanOrEqual(10 * 3);
    const rounds = run(ledger, () => members, 20, 5);
    expect(rounds.flat().length).toBeGreaterThan(0);
  });

  it('reports staleness that an independent count of the same rounds confirms', () => {
    const random = seededRandom(9);
    let members = cluster(12, 2);
    const ledger = new CoverageLedger({ referencePeers: 0, crossZonePeers: 0 });
    const last = new Map<string, number>();
    const joined = new Map<string, number>();
    for (let r = 0; r < 120; r++) {
      const now = r * 10_000;
      if (r === 40) members = members.filter((m) => m.node !== 'node-5');
      if (r === 60) members = [...members, { node: 'node-99', zone: 'zone-1' }];
      for (const m of members) if (!joined.has(m.node)) joined.set(m.node, now);
      for (const node of [...joined.keys()]) if (!members.some((m) => m.node === node)) joined.delete(node);
      ledger.sync(members, now);
      for (const p of ledger.plan(1 + Math.floor(random() * 4), () => true, now)) last.set(key(p), now);
      // Independently: every intra-zone pair's last measurement, or when both of its nodes were there.
      const ages = intraZonePairs(members).map((p) => {
        const [a, b] = p.split('->') as [string, string];
        const since = Math.max(joined.get(a) ?? 0, joined.get(b) ?? 0);
        const at = last.get(p);
        return (now - (at !== undefined && at >= since ? at : since)) / 1000;
      });
      ages.sort((x, y) => y - x);
      const f = ledger.staleness(now);
      expect(f.pairs, `round ${r}`).toBe(ages.length);
      expect(f.measured + f.neverMeasured).toBe(f.pairs);
      expect(f.maxSeconds, `round ${r}`).toBeCloseTo(ages[0] ?? 0, 2);
      // Median: the pair at rank ⌊(pairs-1)/2⌋ from the oldest.
      expect(f.medianSeconds, `round ${r}`).toBeCloseTo(ages[Math.floor((ages.length - 1) / 2)] ?? 0, 2);
    }
  });

  it('completes a cycle once every candidate of its start has been measured again', () => {
    const members = cluster(6, 1);
    const ledger = new CoverageLedger({ referencePeers: 0, crossZonePeers: 0 });
    const completedAt: number[] = [];
    for (let r = 0; r < 100; r++) {
      ledger.sync(members, r);
      ledger.plan(3, () => true, r);
      if (ledger.cycleCompleted(r)) completedAt.push(r);
    }
    // 30 pairs, 3 disjoint pairs a round: a cycle is 10 rounds.
    expect(completedAt.slice(0, 3)).toEqual([9, 19, 29]);
  });
});

describe('FullCoverage', () => {
  it('reports exact staleness while membership holds still', () => {
    const members = Array.from({ length: 6 }, (_, i) => `n${i}`);
    const full = new FullCoverage(0);
    const last = new Map<string, number>();
    for (let r = 0; r < 40; r++) {
      const now = (r + 1) * 1000;
      for (const p of full.next(members, () => true, Number.POSITIVE_INFINITY, now).pairs) last.set(key(p), now);
      const ages = members
        .flatMap((s) => members.filter((t) => t !== s).map((t) => `${s}->${t}`))
        .map((p) => (now - (last.get(p) ?? 0)) / 1000)
        .sort((a, b) => b - a);
      const f = full.staleness(now);
      expect(f.pairs).toBe(30);
      expect(f.maxSeconds, `round ${r}`).toBe(ages[0]);
      expect(f.medianSeconds, `round ${r}`).toBe(ages[14]);
    }
  });

  it('puts back the pairs past the round limit and covers them later in the sweep', () => {
    const members = Array.from({ length: 6 }, (_, i) => `n${i}`);
    const full = new FullCoverage(0);
    const done: string[] = [];
    for (let r = 0; r < 100; r++) {
      const { pairs, completed } = full.next(members, () => true, 2, r);
      if (completed) break;
      expect(pairs.length).toBeLessThanOrEqual(2);
      done.push(...pairs.map(key));
    }
    expect(done.sort()).toEqual(members.flatMap((s) => members.filter((t) => t !== s).map((t) => `${s}->${t}`)).sort());
  });

  it('lets the others go on while a node sits out, and takes it back in a later sweep', () => {
    const members = Array.from({ length: 4 }, (_, i) => `n${i}`);
    const full = new FullCoverage(0);
    const sweeps: string[][] = [[]];
    for (let r = 0; r < 40; r++) {
      const { pairs, completed } = full.next(members, (n) => r >= 10 || n !== 'n0', 10, r);
      if (completed) sweeps.push([]);
      sweeps[sweeps.length - 1]?.push(...pairs.map(key));
    }
    // Without n0: its 6 pairs first, sweep after sweep; from round 10 every pair again.
    expect(sweeps[0]?.sort()).toEqual(['n1->n2', 'n1->n3', 'n2->n1', 'n2->n3', 'n3->n1', 'n3->n2']);
    expect(sweeps.some((s) => s.length === 12)).toBe(true);
  });
});
