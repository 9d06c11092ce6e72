/**
 * The planner's budgets, rests and on-demand runs, table-driven over virtual hours: each case a
 * state and what the planner must decide from it, with no timers, sessions or awaits
 * (test/helpers/planner-driver.ts runs the pure planner on virtual time).
 */
import { describe, expect, it } from 'vitest';
import { Planner } from '../../aggregator/planning/planner.js';
import { Run } from '../../aggregator/planning/runs.js';
import type { TestResult } from '../../shared/result.js';
import { busiestHour, drive, members, nodeNames, okResult, orderedPairs } from '../helpers/planner-driver.js';
import { schedulerTestSettings } from '../helpers/scheduler-settings.js';
import { cpuReport, nicReport } from '../helpers/reports.js';

const HOUR = 3_600_000;
const NOON = Date.UTC(2026, 0, 1, 12);
const four = () => members(nodeNames(4));

describe('Planner: budgets over virtual hours', () => {
  const zoneOf = (node: string) => `zone-${Number(node.replace('node', '')) % 3}`;
  it.each(['full', 'budget'] as const)('keeps within the tests-per-hour budget in %s mode, and spends it', (coverage) => {
    const { trace } = drive({
      settings: { coverage, referencePeers: 1, crossZonePeers: 1, testsPerHour: 60, concurrency: 4, pauseMs: 1000 },
      members: () => members(nodeNames(8), { zoneOf }),
      until: (t) => t.now - NOON >= 3 * HOUR,
    });
    const ats = trace.ran.map((r) => r.at);
    expect(busiestHour(ats)).toBeLessThanOrEqual(60);
    expect(ats.filter((t) => t < NOON + 3 * HOUR).length).toBeGreaterThanOrEqual(0.9 * 180);
  });

  // Uncapped TCP assumed at 1 Gbit/s for 10 s: 1.25 GB a test; each node may move 2.5 GB an hour.
  it.each([
    ['on the estimate alone (the tests report no bytes): two tests an hour', 0, (n: number) => n === 2],
    ['settled at the 0.1 GB each test moved: many more', 1e8, (n: number) => n > 10],
  ] as const)('keeps each node within its bytes per hour %s', (_, bytes, ok) => {
    const { trace } = drive({
      settings: { assumedTcpBitsPerSecond: 1e9, nodeBytesPerHour: 2.5e9, pauseMs: 1000 },
      members: four,
      result: (pair, _kind, now) => okResult(pair, 'node', 'tcp', now, bytes),
      until: (t) => t.now - NOON >= 2 * HOUR,
    });
    for (const node of nodeNames(4)) {
      const ats = trace.ran.filter((r) => r.pair.split('->').includes(node)).map((r) => r.at);
      expect(ok(busiestHour(ats)), `${node}: ${busiestHour(ats)}`).toBe(true);
    }
  });
});

describe('Planner: busy nodes rest', () => {
  /** node2 is busy with someone else's work (95% CPU, 5 Gbit/s in); the others are quiet (5%, 1 Mbit/s). */
  const busySides = (r: TestResult, now: number): TestResult => {
    const side = (node: string) =>
      node === 'node2' ? { cpu: cpuReport(now, 95), nic: nicReport(now, 5e9, 0) } : { cpu: cpuReport(now, 5), nic: nicReport(now, 1e6, 0) };
    return { ...r, source: { ...r.source, ...side(r.source.node) }, target: { ...r.target, ...side(r.target.node) } };
  };
  it.each([
    ['CPU', { busyNodeCpuPercent: 50 }, { idleCpuPercent: 95 }],
    ['NIC', { busyNodeNicBitsPerSecond: 1e9 }, { idleNicBitsPerSecond: 5e9 }],
  ] as const)('rests a node whose idle %s before a test says it is busy, then takes it back', (_, limit, busy) => {
    const { planner, trace } = drive({
      settings: { pauseMs: 1000, busyNodeRestSeconds: 600, ...limit },
      members: four,
      result: (pair, _kind, now) => busySides(okResult(pair, 'node', 'tcp', now), now),
      until: (t) => t.now - NOON > 800_000,
    });
    const withNode2 = trace.ran.filter((r) => r.pair.split('->').includes('node2')).map((r) => r.at);
    const first = withNode2[0] ?? Number.NaN;
    expect(withNode2.filter((t) => t > first && t < first + 600_000)).toEqual([]);
    expect(trace.ran.filter((r) => r.at > first && r.at < first + 600_000).length).toBeGreaterThan(10);
    expect(withNode2.some((t) => t >= first + 600_000)).toBe(true);
    // Resting still where the drive stopped (it was busy again when it came back), and no longer once that rest is over.
    expect(planner.restingNodes(trace.now)).toBe(1);
    expect(planner.restingNodes(trace.now + 600_001)).toBe(0);
    // What the loop logs: the node and what said it was busy, once per rest (a rest extended is not news).
    const again = new Planner(schedulerTestSettings({ busyNodeRestSeconds: 600, ...limit }));
    const pair = { source: 'node1', target: 'node2' };
    const at = (ms: number) => again.recordResult(pair, busySides(okResult(pair, 'node', 'tcp', ms), ms), ms);
    const rest = (fresh: boolean) => [{ node: 'node2', busy, restSeconds: 600, fresh }];
    expect([at(NOON), at(NOON + 2000), at(NOON + 700_000)]).toEqual([rest(true), rest(false), rest(true)]);
  });

  // Each idle window starts where the previous test was seen to end; after its first test node2's
  // idle window is busy. A window that reaches back into our own test (its tail) is not evidence.
  it.each([
    ['NIC window overlapping the test before it', 'nic', 500, false],
    ['NIC window after the test before it', 'nic', 0, true],
    ["CPU window after the CPU test window but before the test's process ended", 'cpu', 500, false],
    ['CPU window after the process ended', 'cpu', 0, true],
  ] as const)('an idle %s: rests %s', (_, what, tailMs, rests) => {
    let tests = 0;
    const { trace } = drive({
      settings: {
        pauseMs: 1000,
        busyNodeRestSeconds: 600,
        ...(what === 'nic' ? { busyNodeNicBitsPerSecond: 1e9 } : { busyNodeCpuPercent: 50 }),
      },
      members: () => members(nodeNames(2)),
      result: (pair, _kind, now) => {
        tests++;
        const r = okResult(pair, 'node', 'tcp', now);
        const busy = (node: string) => node === 'node2' && tests > 1;
        const side = (node: string) =>
          what === 'nic' ? { nic: nicReport(now, busy(node) ? 5e9 : 0, tailMs) } : { cpu: cpuReport(now, busy(node) ? 95 : 0) };
        return {
          ...r,
          ...(what === 'cpu' ? { endedAt: new Date(now + tailMs).toISOString() } : {}),
          source: { ...r.source, ...side(pair.source) },
          target: { ...r.target, ...side(pair.target) },
        };
      },
      until: (t) => t.ran.length >= 20,
    });
    // Resting, node2 sits out: two nodes make no pair, so the drive waits instead of testing.
    const gap = trace.ran.length >= 2 ? Math.max(...trace.ran.slice(1).map((r, i) => r.at - (trace.ran[i]?.at ?? 0))) : 0;
    expect(gap >= 600_000).toBe(rests);
  });
});

describe('Planner: on-demand runs', () => {
  const run = (req: ConstructorParameters<typeof Run>[1]) => new Run('x', req);
  const spec = {
    kinds: ['throughput' as const],
    paths: ['pod' as const],
    protocols: ['tcp' as const],
    durationSeconds: 3,
    repeat: 1,
    streams: 1,
    tcpBitrateBitsPerSecond: 0,
    udpBitrateBitsPerSecond: 0,
    omitSeconds: 1,
  };
  const cases: Array<{
    name: string;
    spec: typeof spec | (Omit<typeof spec, 'kinds'> & { kinds: Array<'throughput' | 'latency'> });
    nodes: number;
    continuous: boolean;
    afterBackground: number;
    expect: (t: ReturnType<typeof drive>['trace'], r: Run) => void;
  }> = [
    {
      name: 'starts at the next round boundary, ahead of the background sweep, every ordered pair once, then the sweep resumes',
      spec,
      nodes: 4,
      continuous: true,
      afterBackground: 1,
      expect: (t, r) => {
        expect(t.ran.map((x) => x.runId)).toEqual([null, null, ...Array(12).fill(r.id), null, null]);
        expect(r.summary()).toMatchObject({ status: 'done', total: 12, done: 12, failed: 0, current: null });
        expect(r.results.map((x) => `${x.source.node}->${x.target.node}`).sort()).toEqual(orderedPairs(nodeNames(4)).sort());
      },
    },
    {
      name: 'measures every pair `repeat` times, in whole passes over the matrix',
      spec: { ...spec, repeat: 3 },
      nodes: 3,
      continuous: false,
      afterBackground: 0,
      expect: (t, r) => {
        const pairs = t.ran.filter((x) => x.runId === r.id).map((x) => x.pair);
        for (let pass = 0; pass < 3; pass++) expect(pairs.slice(pass * 6, pass * 6 + 6).sort()).toEqual(orderedPairs(nodeNames(3)).sort());
        expect(r.summary()).toMatchObject({ total: 18, done: 18 });
      },
    },
    {
      name: 'plans both kinds: every pair once per kind',
      spec: { ...spec, kinds: ['throughput', 'latency'] },
      nodes: 3,
      continuous: false,
      afterBackground: 0,
      expect: (t) => {
        for (const kind of ['throughput', 'latency'] as const)
          expect(
            t.ran
              .filter((x) => x.kind === kind)
              .map((x) => x.pair)
              .sort(),
            kind,
          ).toEqual(orderedPairs(nodeNames(3)).sort());
      },
    },
  ];
  it.each(cases)('$name', (c) => {
    const r = run(c.spec);
    let background = 0;
    const { trace } = drive({
      settings: { continuous: c.continuous },
      members: () => members(nodeNames(c.nodes)),
      before: (planner) => {
        if (background++ === c.afterBackground) planner.submit(r);
      },
      until: (t) => r.status === 'done' && (!c.continuous || t.ran.filter((x) => x.runId === null).length >= 2 * (c.afterBackground + 1)),
    });
    // The run starts by itself (its environment is captured then), before its first round.
    const kinds = trace.decisions.map((d) => d.type);
    expect(kinds.indexOf('start-run')).toBeLessThan(trace.decisions.findIndex((d) => d.type === 'round' && d.run !== null));
    expect(trace.decisions.flatMap((d) => d.notes).filter((n) => n.type === 'run-finished')).toEqual([{ type: 'run-finished', run: r }]);
    c.expect(trace, r);
  });
});
