/**
 * The planner on its own, table-driven: each case is a state (settings, membership, time,
 * what ran before) and the decisions it must lead to. No timers, sessions or awaits: the
 * planner is pure, and test/helpers/planner-driver.ts runs it on virtual time. Budgets, rests
 * and on-demand runs are in planner-budgets.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { IDLE_MS, MAX_WAIT_MS, Planner, type Decision } from '../../aggregator/planning/planner.js';
import { drive, members, nodeNames, orderedPairs, type DriveOptions } from '../helpers/planner-driver.js';
import { seededRandom } from '../helpers/prng.js';
import { schedulerTestSettings } from '../helpers/scheduler-settings.js';

const NOON = Date.UTC(2026, 0, 1, 12);
const four = () => members(nodeNames(4));
const brief = (d: Decision): string =>
  d.type === 'wait'
    ? `wait ${d.reason} ${d.ms}`
    : d.type === 'start-run'
      ? 'start-run'
      : `${d.run ? 'run' : 'sweep'} ${d.round.kind} ${d.round.path}/${d.round.protocol} ${d.round.pairs.length} pairs`;

describe('Planner: the next decision from a state', () => {
  const cases: Array<{
    name: string;
    settings?: Parameters<typeof schedulerTestSettings>[0];
    nodes?: number;
    at?: number;
    rounds?: number;
    random?: number;
    expect: string;
  }> = [
    { name: 'a round of disjoint pairs: 2 of 4 nodes', expect: 'sweep throughput node/tcp 2 pairs' },
    { name: 'idle with the background sweep off', settings: { continuous: false }, expect: `wait idle ${IDLE_MS}` },
    { name: 'idle with fewer than two members', nodes: 1, expect: `wait idle ${IDLE_MS}` },
    {
      name: 'quiet hours: at most a minute at a time',
      settings: { quietHours: { startMinute: 60, endMinute: 120 } },
      at: Date.UTC(2026, 0, 1, 1, 30),
      expect: `wait quiet-hours ${MAX_WAIT_MS}`,
    },
    {
      name: 'quiet hours: until the window ends',
      settings: { quietHours: { startMinute: 60, endMinute: 120 } },
      at: Date.UTC(2026, 0, 1, 1, 59, 30),
      expect: 'wait quiet-hours 30000',
    },
    {
      name: 'quiet hours: not after the window',
      settings: { quietHours: { startMinute: 60, endMinute: 120 } },
      at: Date.UTC(2026, 0, 1, 2),
      expect: 'sweep throughput node/tcp 2 pairs',
    },
    {
      name: 'quiet hours that wrap past midnight',
      settings: { quietHours: { startMinute: 23 * 60, endMinute: 60 } },
      at: Date.UTC(2026, 0, 1, 0, 59),
      expect: 'wait quiet-hours 60000',
    },
    { name: 'the pause after a round', settings: { pauseMs: 1000 }, rounds: 1, expect: 'wait pause 1000' },
    { name: 'no pause of 0 ms', settings: { pauseMs: 0 }, rounds: 1, expect: 'sweep throughput node/tcp 2 pairs' },
    {
      name: 'the pause jittered down by up to the percent',
      settings: { pauseMs: 1000, pauseJitterPercent: 20 },
      rounds: 1,
      random: 0,
      expect: 'wait pause 800',
    },
    {
      name: 'the pause jittered up by up to the percent',
      settings: { pauseMs: 1000, pauseJitterPercent: 20 },
      rounds: 1,
      random: 0.99999,
      expect: 'wait pause 1200',
    },
    { name: 'the tests-per-hour pace after a round of 2', settings: { testsPerHour: 3600 }, rounds: 1, expect: 'wait test-budget 2000' },
    { name: 'the pace, at most a minute at a time', settings: { testsPerHour: 60 }, rounds: 1, expect: `wait test-budget ${MAX_WAIT_MS}` },
    {
      name: 'a round no larger than the hour allows',
      settings: { testsPerHour: 1, coverage: 'budget' },
      expect: 'sweep throughput node/tcp 1 pairs',
    },
  ];
  it.each(cases)('$name', (c) => {
    const planner = new Planner(schedulerTestSettings(c.settings));
    const w = { now: c.at ?? NOON, members: members(nodeNames(c.nodes ?? 4)), random: () => c.random ?? 0.5 };
    for (let i = 0; i < (c.rounds ?? 0); i++) {
      const d = planner.next(w);
      if (d.type !== 'round') throw new Error(`expected a round, got ${brief(d)}`);
      planner.roundDone(d.round);
    }
    expect(brief(planner.next(w))).toBe(c.expect);
  });
});

describe('Planner: jitter', () => {
  it('varies the pause between rounds at random within ±percent', () => {
    const { trace } = drive({
      settings: { pauseMs: 1000, pauseJitterPercent: 20 },
      members: four,
      random: seededRandom(5),
      until: (t) => t.ran.length >= 60,
    });
    const pauses = trace.waits.filter((w) => w.reason === 'pause').map((w) => w.ms);
    expect(pauses.length).toBeGreaterThanOrEqual(20);
    expect(Math.min(...pauses)).toBeGreaterThanOrEqual(800);
    expect(Math.max(...pauses)).toBeLessThanOrEqual(1200);
    expect(new Set(pauses).size).toBeGreaterThan(10);
  });
});

describe('Planner: the order of background rounds', () => {
  const cases: Array<{ name: string; settings: Parameters<typeof schedulerTestSettings>[0]; expect: string[] }> = [
    {
      name: 'interleaves paths and protocols: each once in the first #paths x #protocols rounds',
      settings: { paths: ['node', 'pod'], protocols: ['tcp', 'udp'] },
      expect: ['throughput node/tcp', 'throughput node/udp', 'throughput pod/tcp', 'throughput pod/udp', 'throughput node/tcp'],
    },
    {
      name: 'runs latencyRounds latency rounds after each throughput round, each round of one kind',
      settings: { paths: ['node', 'pod'], protocols: ['tcp', 'udp'], latencyRounds: 2 },
      expect: [
        'throughput node/tcp',
        'latency node/tcp',
        'latency node/udp',
        'throughput node/udp',
        'latency pod/tcp',
        'latency pod/udp',
        'throughput pod/tcp',
      ],
    },
    { name: 'runs no latency test with latencyRounds 0', settings: { latencyRounds: 0 }, expect: Array(5).fill('throughput node/tcp') },
  ];
  it.each(cases)('$name', (c) => {
    const { trace } = drive({ settings: c.settings, members: four, until: (t) => t.decisions.length >= c.expect.length });
    expect(trace.decisions.map((d) => (d.type === 'round' ? `${d.round.kind} ${d.round.path}/${d.round.protocol}` : brief(d)))).toEqual(
      c.expect,
    );
  });
});

describe('Planner: what a sweep covers', () => {
  const zoneOf = (node: string) => `zone-${Number(node.replace('node', '')) % 3}`;
  const sameZone = (p: string) => zoneOf(p.split('->')[0] ?? '') === zoneOf(p.split('->')[1] ?? '');
  const cases: Array<{ name: string; options: Omit<DriveOptions, 'until'>; sweeps: number; check: (t: ReturnType<typeof drive>) => void }> =
    [
      {
        name: 'full: every ordered pair of every path and protocol once per sweep, and each sweep reported',
        options: { settings: { paths: ['node', 'pod'], protocols: ['tcp', 'udp'], concurrency: 4 }, members: four },
        sweeps: 4,
        check: ({ trace }) => {
          for (const key of ['node/tcp', 'node/udp', 'pod/tcp', 'pod/udp']) {
            const first = trace.ran.filter((r) => r.key === key).slice(0, 12);
            expect(first.map((r) => r.pair).sort(), key).toEqual(orderedPairs(nodeNames(4)).sort());
          }
          expect(trace.completed.map((c) => c.key).sort()).toEqual([
            'throughput:node/tcp',
            'throughput:node/udp',
            'throughput:pod/tcp',
            'throughput:pod/udp',
          ]);
        },
      },
      {
        name: 'full: a node that joins mid-sweep is in the next sweep',
        options: { members: (_now, t) => members(nodeNames(t.ran.length >= 3 ? 5 : 4)) },
        sweeps: 2,
        check: ({ trace }) => {
          const [first, second] = trace.completed;
          const next = trace.ran.slice(first?.afterTests, second?.afterTests).map((r) => r.pair);
          expect(next.sort()).toEqual(orderedPairs(nodeNames(5)).sort());
        },
      },
      {
        name: 'latency: every ordered pair, three latency rounds per throughput round, so its sweeps end first',
        options: {
          settings: { paths: ['node', 'service'], protocols: ['tcp', 'udp'], latencyRounds: 3 },
          members: () => members(nodeNames(6)),
        },
        sweeps: 4,
        check: ({ trace }) => {
          for (const key of ['node/tcp', 'node/udp', 'service/tcp', 'service/udp']) {
            const first = trace.ran.filter((r) => r.kind === 'latency' && r.key === key).slice(0, 30);
            expect(first.map((r) => r.pair).sort(), key).toEqual(orderedPairs(nodeNames(6)).sort());
          }
          expect(trace.completed.every((c) => c.key.startsWith('latency:'))).toBe(true);
        },
      },
      {
        name: 'latency: only members with sockperf, while throughput takes every node',
        options: { settings: { latencyRounds: 1 }, members: () => members(nodeNames(3), { withoutSockperf: ['node3'] }) },
        sweeps: 2,
        check: ({ trace }) => {
          expect(trace.ran.filter((r) => r.kind === 'latency' && r.pair.includes('node3'))).toEqual([]);
          expect(trace.ran.filter((r) => r.kind === 'latency').length).toBeGreaterThan(0);
          expect(trace.ran.some((r) => r.kind === 'throughput' && r.pair.endsWith('->node3'))).toBe(true);
        },
      },
      {
        name: 'budget: every pair within a zone and a peer in another zone both ways, in the first cycle',
        options: {
          settings: { coverage: 'budget', referencePeers: 1, crossZonePeers: 1, concurrency: 4 },
          members: () => members(nodeNames(9), { zoneOf }),
        },
        sweeps: 1,
        check: ({ planner, trace }) => {
          const cycle = trace.ran.slice(0, trace.completed[0]?.afterTests).map((r) => r.pair);
          expect(
            orderedPairs(nodeNames(9))
              .filter(sameZone)
              .filter((p) => !cycle.includes(p)),
          ).toEqual([]);
          for (const node of nodeNames(9)) {
            const cross = cycle.filter((p) => p.split('->').includes(node) && !sameZone(p));
            expect(cross.some((p) => p.startsWith(`${node}->`)) && cross.some((p) => p.endsWith(`->${node}`)), node).toBe(true);
          }
          const [figures] = planner.staleness(trace.now);
          expect(figures).toMatchObject({ kind: 'throughput', path: 'node', protocol: 'tcp', mode: 'budget' });
          expect(figures?.pairs).toBeGreaterThan(orderedPairs(nodeNames(9)).filter(sameZone).length);
          expect(figures?.pairs).toBeLessThan(72);
        },
      },
      {
        name: 'full: staleness of every pair measured once, the oldest within a sweep and a round',
        options: { settings: { pauseMs: 1000 }, members: four },
        sweeps: 2,
        check: ({ planner, trace }) => {
          const [figures] = planner.staleness(trace.now);
          expect(figures).toMatchObject({ mode: 'full', pairs: 12, measured: 12, neverMeasured: 0 });
          expect(figures?.maxSeconds).toBeGreaterThan(0);
          expect(figures?.maxSeconds).toBeLessThanOrEqual(7);
        },
      },
    ];
  it.each(cases)('$name', (c) => {
    const driven = drive({ ...c.options, until: (t) => t.completed.length >= c.sweeps });
    c.check(driven);
    // Rounds are disjoint: no node twice in one round.
    const byRound = new Map<number, string[]>();
    for (const r of driven.trace.ran) byRound.set(r.round, [...(byRound.get(r.round) ?? []), ...r.pair.split('->')]);
    for (const nodes of byRound.values()) expect(new Set(nodes).size).toBe(nodes.length);
  });

  it.each([
    [10, 'full', []],
    [3, 'budget', ['coverage-mode']],
  ] as const)('auto coverage with a limit of %i nodes: %s for 4 nodes', (limit, mode, notes) => {
    const { planner, trace } = drive({
      settings: { coverage: 'auto', coverageFullMaxNodes: limit },
      members: four,
      until: (t) => t.ran.length >= 12,
    });
    expect(planner.staleness(trace.now).map((f) => f.mode)).toEqual([mode]);
    expect(trace.decisions.flatMap((d) => d.notes.filter((n) => n.type === 'coverage-mode').map((n) => n.type))).toEqual(notes);
  });
});
