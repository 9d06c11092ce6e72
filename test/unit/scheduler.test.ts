/**
 * The scheduler loop without iperf3: an in-memory AgentRegistry of fake sessions, a fake test
 * runner that finishes on the next turn of the event loop (or when the test releases it), and a
 * sleep that resolves on the next turn, so every test here is instant and deterministic.
 * What the planner decides (order, budgets, rests, waits, specs) is tested without the loop in
 * planner.test.ts and scheduler-spec.test.ts; here, that the loop runs it: every pair through the
 * workers, no node double-booked, agents and addresses looked up, runs reported, stop and wake.
 */
import pino, { type Logger } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentRegistry, type AgentSession } from '../../aggregator/agents.js';
import { Scheduler, type SchedulerSettings } from '../../aggregator/scheduler.js';
import { unrunnableResult, type TestPlan } from '../../aggregator/test-runner.js';
import { failure } from '../../shared/errors.js';
import type { NetworkMode, Path, Protocol } from '../../shared/protocol.js';
import type { TestResult } from '../../shared/result.js';
import { testIdentity } from '../helpers/identity.js';
import { waitFor } from '../helpers/requirements.js';
import { schedulerTestSettings } from '../helpers/scheduler-settings.js';
import { cpuReport, nicReport } from '../helpers/reports.js';

const nextTick = () => new Promise<void>((r) => setImmediate(r));
const nodeNames = (n: number): string[] => Array.from({ length: n }, (_, i) => `node${i + 1}`);
const orderedPairs = (nodes: readonly string[]): string[] => nodes.flatMap((s) => nodes.filter((t) => t !== s).map((t) => `${s}->${t}`));
const pairOf = (p: { source: string; target: string }) => `${p.source}->${p.target}`;
const keyOf = (p: { path: Path; protocol: Protocol }) => `${p.path}/${p.protocol}`;
const sourceOf = (plan: TestPlan) => plan.client.identity.nodeName;
const targetOf = (plan: TestPlan) => plan.server.identity.nodeName;

/** Node i's addresses, as in the lab plan. */
const hostIp = (node: string) => `198.18.0.${10 + Number(node.replace('node', ''))}`;
const podIp = (node: string) => `198.19.${Number(node.replace('node', ''))}.2`;
const serviceIp = (node: string) => `198.18.200.${10 + Number(node.replace('node', ''))}`;

function fakeSession(node: string, mode: NetworkMode, sockperf = true): AgentSession {
  const identity = testIdentity({
    nodeName: node,
    mode,
    sockperfVersion: sockperf ? '3.7' : null,
    podIp: mode === 'host' ? hostIp(node) : podIp(node),
    hostIp: hostIp(node),
    limits: {
      maxDurationSeconds: 60,
      maxBitrateBitsPerSecond: 0,
      maxStreams: 8,
      portMin: 5201,
      portMax: 5201,
      allowedTargetCidrs: ['198.18.0.0/15'],
      maxOmitSeconds: 60,
    },
  });
  return { id: `${node}/${mode}`, identity, connectedAt: new Date(0), send: () => true, close: () => undefined };
}

/** One test the fake runner started. */
interface Started {
  plan: TestPlan;
  /** Background rounds are separated by the pause; this counts the pauses before the test started. */
  round: number;
  /** When it started (virtual time with a clock). */
  at: number;
}

interface HarnessOptions {
  nodes: number;
  settings?: Partial<SchedulerSettings>;
  serviceAddress?: (node: string) => string | undefined;
  /** Called when a test starts, before it finishes (to change the world mid-run). */
  onStart?: (plan: TestPlan, index: number) => void;
  /** Replace the sleep (e.g. one that never resolves). */
  sleep?: (ms: number) => Promise<void>;
  onRunStart?: () => Promise<void>;
  /** Nodes whose agents have no sockperf (they take no latency tests). */
  withoutSockperf?: string[];
  /** Virtual time: `now` reads it and every sleep moves it on by its length (the test runner takes none). */
  clock?: { ms: number };
  /** Zone of each node (budget coverage groups pairs by it). */
  zoneOf?: (node: string) => string | null;
  /** Change the fake runner's result (e.g. to report CPU or bytes moved). */
  result?: (plan: TestPlan, r: TestResult) => TestResult;
}

const running: Scheduler[] = [];

afterEach(async () => {
  // Bounded, so a scheduler that fails to stop fails its test here rather than at the hook timeout.
  const stopped = Promise.all(running.splice(0).map((s) => s.stop())).then(() => 'stopped');
  expect(await Promise.race([stopped, new Promise((r) => setTimeout(() => r('still running after 2 s'), 2000).unref())])).toBe('stopped');
});

/**
 * A scheduler over `nodes` nodes with a host and a pod agent each, and a fake test runner that
 * tracks the nodes in a test and records any overlap. Tests finish on the next turn of the
 * event loop, or, while `hold()` is in force, when `release()` is called.
 */
function harness(o: HarnessOptions) {
  const agents = new AgentRegistry();
  const addNode = (node: string) => {
    const sockperf = !(o.withoutSockperf ?? []).includes(node);
    agents.add(fakeSession(node, 'host', sockperf));
    agents.add(fakeSession(node, 'pod', sockperf));
  };
  nodeNames(o.nodes).forEach(addNode);

  const settings = schedulerTestSettings(o.settings);

  const started: Started[] = [];
  const results: TestResult[] = [];
  const sweepsCompleted: string[] = [];
  /** For each completed sweep, how many tests had started when it was reported. */
  const completedAfterTests: number[] = [];
  const overlaps: string[] = [];
  const active = new Set<string>();
  let maxConcurrent = 0;
  let concurrent = 0;
  let round = 0;
  let held: Array<() => void> | undefined;

  const runTest = async (plan: TestPlan): Promise<TestResult> => {
    const nodes = [sourceOf(plan), targetOf(plan)];
    for (const n of nodes) {
      if (active.has(n)) overlaps.push(`${n} in two tests (${keyOf(plan)} ${nodes.join('->')})`);
      active.add(n);
    }
    concurrent++;
    maxConcurrent = Math.max(maxConcurrent, concurrent);
    started.push({ plan, round, at: o.clock?.ms ?? Date.now() });
    o.onStart?.(plan, started.length - 1);
    try {
      if (held) await new Promise<void>((r) => held?.push(r));
      else await nextTick();
    } finally {
      concurrent--;
      for (const n of nodes) active.delete(n);
    }
    const ok = unrunnableResult(
      {
        spec: plan.spec,
        path: plan.path,
        protocol: plan.protocol,
        source: sourceOf(plan),
        target: targetOf(plan),
        runId: plan.runId,
        label: plan.label,
      },
      failure('cancelled'),
      new Date(o.clock?.ms ?? Date.now()),
    );
    const result: TestResult = { ...ok, ok: true, error: null, throughputBitsPerSecond: 9.4e9 };
    return o.result ? o.result(plan, result) : result;
  };
  const sleeps: number[] = [];

  const logs: Array<{ level: number; msg: string }> = [];
  const log: Logger = pino(
    { level: 'debug' },
    { write: (line: string) => void logs.push(JSON.parse(line) as { level: number; msg: string }) },
  );

  const scheduler = new Scheduler({
    agents,
    settings,
    serviceAddress: o.serviceAddress ?? serviceIp,
    runTest,
    unrunnable: (t, f) => unrunnableResult(t, f),
    onResult: (r) => void results.push(r),
    onSweepCompleted: (path, protocol, kind) => {
      sweepsCompleted.push(kind === 'latency' ? `latency:${keyOf({ path, protocol })}` : keyOf({ path, protocol }));
      completedAfterTests.push(started.length);
    },
    sleep:
      o.sleep ??
      ((ms) => {
        // Only the pause between rounds sleeps this long; an idle loop sleeps 1000 ms.
        if (ms === settings.pauseMs) round++;
        sleeps.push(ms);
        if (o.clock) o.clock.ms += ms;
        return nextTick();
      }),
    now: () => (o.clock ? new Date(o.clock.ms) : new Date()),
    log,
    ...(o.onRunStart ? { onRunStart: o.onRunStart } : {}),
    ...(o.zoneOf ? { topology: (node: string) => ({ zone: o.zoneOf?.(node) ?? null, region: null, instanceType: null }) } : {}),
  });
  running.push(scheduler);

  return {
    agents,
    scheduler,
    settings,
    started,
    results,
    sweepsCompleted,
    completedAfterTests,
    overlaps,
    logs,
    sleeps,
    addNode,
    get maxConcurrent() {
      return maxConcurrent;
    },
    /** Tests started from now on wait for release(). */
    hold() {
      held ??= [];
    },
    /** Finish the held tests and let later ones finish on their own again. */
    release() {
      const waiting = held ?? [];
      held = undefined;
      for (const r of waiting) r();
    },
    /** Errors the scheduler logged (a double-booked node would be one). */
    errors: () => logs.filter((l) => l.level >= 50),
  };
}

const until = <T>(predicate: () => T, what: string) => waitFor(predicate, 5_000, what, 1);

describe('Scheduler background sweep, with a fake test runner', () => {
  it('covers every ordered pair of every path and protocol, and reports each sweep completed', async () => {
    const h = harness({ nodes: 4, settings: { paths: ['node', 'pod'], protocols: ['tcp', 'udp'], concurrency: 1 } });
    const keys = ['node/tcp', 'node/udp', 'pod/tcp', 'pod/udp'];
    h.scheduler.start();
    await until(() => keys.every((k) => h.sweepsCompleted.includes(k)), 'a completed sweep of every path and protocol');
    await h.scheduler.stop();

    const all = orderedPairs(nodeNames(4));
    for (const k of keys) {
      // The first sweep of each key is its first 12 tests: every ordered pair exactly once.
      const firstSweep = h.started
        .filter((s) => keyOf(s.plan) === k)
        .slice(0, all.length)
        .map((s) => pairOf({ source: sourceOf(s.plan), target: targetOf(s.plan) }));
      expect(firstSweep.sort(), k).toEqual([...all].sort());
    }
    expect(h.sweepsCompleted.slice(0, 4).sort()).toEqual([...keys].sort());
    expect(h.results.every((r) => r.ok && r.runId === null && r.label === null)).toBe(true);
    expect(h.overlaps).toEqual([]);
    expect(h.errors()).toEqual([]);
  });

  it('never puts a node in two tests at once, across paths, with concurrency 8 and 8 nodes', async () => {
    const h = harness({ nodes: 8, settings: { paths: ['node', 'pod', 'service'], protocols: ['tcp', 'udp'], concurrency: 8 } });
    h.scheduler.start();
    await until(() => h.sweepsCompleted.length >= 6, 'a completed sweep of every path and protocol');
    await h.scheduler.stop();

    expect(h.started.length).toBeGreaterThanOrEqual(6 * 56);
    expect(h.overlaps).toEqual([]);
    // The cap was not the limit: a round of 8 nodes is 4 disjoint pairs, all run at once.
    expect(h.maxConcurrent).toBe(4);
    expect(h.errors()).toEqual([]);
  });

  it('targets node IPs on the node path and pod IPs on the pod path', async () => {
    const h = harness({ nodes: 2, settings: { paths: ['node', 'pod'] } });
    h.scheduler.start();
    await until(() => h.started.length >= 2, 'a node and a pod test');
    await h.scheduler.stop();
    for (const { plan } of h.started) {
      const t = targetOf(plan);
      expect(plan.targetAddress).toBe(plan.path === 'node' ? hostIp(t) : podIp(t));
      expect(plan.client.identity.mode).toBe(plan.path === 'node' ? 'host' : 'pod');
      expect(plan.server.identity.mode).toBe(plan.path === 'node' ? 'host' : 'pod');
    }
  });
});

describe('Scheduler latency tests, with a fake test runner', () => {
  it('covers every ordered pair of every path and protocol with latency tests too, and never puts a node in two tests at once', async () => {
    const h = harness({
      nodes: 6,
      settings: { paths: ['node', 'pod', 'service'], protocols: ['tcp', 'udp'], concurrency: 8, latencyRounds: 3 },
    });
    h.scheduler.start();
    const keys = ['node/tcp', 'node/udp', 'pod/tcp', 'pod/udp', 'service/tcp', 'service/udp'];
    await until(() => keys.every((k) => h.sweepsCompleted.includes(`latency:${k}`)), 'a latency sweep of every path and protocol');
    await h.scheduler.stop();

    const all = orderedPairs(nodeNames(6));
    for (const k of keys) {
      const firstSweep = h.started
        .filter((s) => s.plan.spec.kind === 'latency' && keyOf(s.plan) === k)
        .slice(0, all.length)
        .map((s) => pairOf({ source: sourceOf(s.plan), target: targetOf(s.plan) }));
      expect(firstSweep.sort(), k).toEqual([...all].sort());
    }
    // Latency tests run three times as many rounds as throughput tests, so their sweeps finish first.
    expect(h.sweepsCompleted.filter((k) => !k.startsWith('latency:'))).toEqual([]);
    expect(h.overlaps).toEqual([]);
    expect(h.errors()).toEqual([]);
  });

  it('leaves nodes whose agent has no sockperf out of latency tests, but not out of throughput tests', async () => {
    const h = harness({ nodes: 3, withoutSockperf: ['node3'], settings: { paths: ['pod'], protocols: ['tcp'], latencyRounds: 1 } });
    h.scheduler.start();
    await until(() => h.sweepsCompleted.includes('pod/tcp') && h.sweepsCompleted.includes('latency:pod/tcp'), 'both sweeps');
    await h.scheduler.stop();
    const latency = h.started.filter((s) => s.plan.spec.kind === 'latency');
    expect(latency.length).toBeGreaterThan(0);
    expect(latency.filter((s) => [sourceOf(s.plan), targetOf(s.plan)].includes('node3'))).toEqual([]);
    expect(h.started.filter((s) => s.plan.spec.kind === 'throughput' && targetOf(s.plan) === 'node3').length).toBeGreaterThan(0);
  });

  it('plans an on-demand run of both kinds: every pair once per kind', async () => {
    const h = harness({ nodes: 3, settings: { continuous: false } });
    h.scheduler.start();
    const run = h.scheduler.submit({ label: 'both', kinds: ['throughput', 'latency'], paths: ['pod'], protocols: ['udp'] });
    await until(() => h.scheduler.run(run.id)?.status === 'done', 'the run to finish');
    const results = h.scheduler.run(run.id)?.results ?? [];
    expect(h.scheduler.run(run.id)?.summary()).toMatchObject({ total: 12, done: 12, spec: { kinds: ['throughput', 'latency'] } });
    for (const kind of ['throughput', 'latency'] as const) {
      const pairs = results.filter((r) => r.kind === kind).map((r) => pairOf({ source: r.source.node, target: r.target.node }));
      expect(pairs.sort(), kind).toEqual(orderedPairs(nodeNames(3)).sort());
    }
    expect(h.overlaps).toEqual([]);
  });
});

describe('Scheduler on-demand runs, with a fake test runner', () => {
  it('preempts the background sweep at the next round boundary and covers every ordered pair once', async () => {
    const statusWhileRunning: string[] = [];
    // Read inside the run's first test, not by polling: the fake tests finish within a poll interval.
    const h: ReturnType<typeof harness> = harness({
      nodes: 4,
      settings: { paths: ['node', 'pod'], protocols: ['tcp', 'udp'], durationSeconds: 10 },
      onStart: (plan) => {
        if (plan.runId && statusWhileRunning.length === 0)
          statusWhileRunning.push(h.scheduler.run(plan.runId)?.summary().status ?? 'missing');
      },
    });
    h.hold();
    h.scheduler.start();
    await until(() => h.started.length === 1, 'the first background test');
    const submitted = h.scheduler.submit({ label: 'x', paths: ['pod'], protocols: ['tcp'], durationSeconds: 3 });
    const runId = submitted.id;
    expect(submitted).toMatchObject({
      label: 'x',
      status: 'queued',
      spec: { paths: ['pod'], protocols: ['tcp'], durationSeconds: 3 },
      done: 0,
      startedAt: null,
    });
    h.release();
    await until(() => h.started.some((s) => s.plan.runId === runId), 'the first test of the run');
    await until(() => h.scheduler.run(runId)?.status === 'done', 'the run to finish');
    await until(() => h.started.length > 20, 'the background sweep to resume');
    await h.scheduler.stop();

    // The round in progress (node/tcp, 2 pairs of 4 nodes) finishes; then the run's 12 tests, back to back.
    const owners = h.started.map((s) => s.plan.runId);
    expect(owners.slice(0, 2)).toEqual([null, null]);
    expect(owners.slice(2, 14)).toEqual(Array(12).fill(runId));
    expect(owners.slice(14).every((o) => o === null)).toBe(true);
    expect(statusWhileRunning).toEqual(['running']);

    const run = h.scheduler.run(runId);
    expect(run?.summary()).toMatchObject({ status: 'done', total: 12, done: 12, failed: 0, current: null });
    expect(run?.summary().endedAt).not.toBeNull();
    const pairs = run?.results.map((r) => pairOf({ source: r.source.node, target: r.target.node })) ?? [];
    expect(pairs.sort()).toEqual(orderedPairs(nodeNames(4)).sort());
    expect(
      run?.results.every(
        (r) => r.runId === runId && r.label === 'x' && r.path === 'pod' && r.protocol === 'tcp' && r.spec.durationSeconds === 3,
      ),
    ).toBe(true);
    expect(h.scheduler.allRuns().map((r) => r.id)).toEqual([runId]);
    expect(h.overlaps).toEqual([]);
  });

  it('runs with the background sweep off, and reports the run as running while its tests run', async () => {
    const statuses: string[] = [];
    // The runner callback needs the scheduler that the harness creates around it.
    // eslint-disable-next-line prefer-const
    let scheduler: Scheduler | undefined;
    const h = harness({
      nodes: 3,
      settings: { continuous: false },
      onStart: (plan) => void statuses.push(plan.runId ? (scheduler?.run(plan.runId)?.summary().status ?? 'missing') : 'background'),
    });
    scheduler = h.scheduler;
    h.scheduler.start();
    const run = h.scheduler.submit({ label: 'x', paths: ['pod'], protocols: ['tcp'] });
    await until(() => h.scheduler.run(run.id)?.status === 'done', 'the run to finish');
    expect(statuses).toEqual(Array(6).fill('running'));
    expect(h.scheduler.run(run.id)?.summary()).toMatchObject({ total: 6, done: 6, failed: 0 });
  });

  it('calls onRunStart once per run before its first test', async () => {
    const events: string[] = [];
    const h = harness({
      nodes: 2,
      settings: { continuous: false },
      onStart: () => void events.push('test'),
      onRunStart: async () => void events.push('start'),
    });
    h.scheduler.start();
    const run = h.scheduler.submit({ label: 'x', paths: ['pod'], protocols: ['tcp'] });
    await until(() => h.scheduler.run(run.id)?.status === 'done', 'the run to finish');
    expect(events).toEqual(['start', 'test', 'test']);
  });

  it('records the planned tests of an agent that leaves mid-run as failed with agent-lost, and still finishes', async () => {
    let gone = false;
    const h = harness({
      nodes: 4,
      settings: { continuous: false },
      // Drop node4's pod agent at the first test that does not involve node4.
      onStart: (plan) => {
        if (!gone && sourceOf(plan) !== 'node4' && targetOf(plan) !== 'node4') {
          gone = true;
          h.agents.remove('node4/pod');
        }
      },
    });
    h.scheduler.start();
    const { id } = h.scheduler.submit({ label: 'x', paths: ['pod'], protocols: ['tcp'] });
    await until(() => h.scheduler.run(id)?.status === 'done', 'the run to finish');

    const run = h.scheduler.run(id);
    // Circle method on node1..4: the first round is node1->node4 (run before the leave) and node2->node3.
    const lost = run?.results.filter((r) => !r.ok) ?? [];
    expect(lost.map((r) => r.error?.code)).toEqual(Array(5).fill('agent-lost'));
    expect(lost.every((r) => r.source.node === 'node4' || r.target.node === 'node4')).toBe(true);
    expect(lost.every((r) => r.runId === id && r.label === 'x')).toBe(true);
    expect(run?.summary()).toMatchObject({ status: 'done', total: 12, done: 12, failed: 5 });
    // Nothing was started against the missing agent.
    expect(h.started.filter((s) => sourceOf(s.plan) === 'node4' || targetOf(s.plan) === 'node4')).toHaveLength(1);
  });
});

describe('Scheduler throughput specs of on-demand runs, with a fake test runner', () => {
  it('refuses omit for an agent that predates it (no maxOmitSeconds in its hello), naming it, and sends it nothing', async () => {
    const h = harness({ nodes: 3, settings: { continuous: false } });
    const old = fakeSession('node3', 'pod');
    const { maxOmitSeconds: _, ...oldLimits } = old.identity.limits;
    h.agents.remove('node3/pod');
    h.agents.add({ ...old, identity: { ...old.identity, limits: oldLimits } });
    h.scheduler.start();
    const run = h.scheduler.submit({ label: 'omit', paths: ['pod'], protocols: ['tcp'], omitSeconds: 2 });
    await until(() => h.scheduler.run(run.id)?.status === 'done', 'the run to finish');
    const results = h.scheduler.run(run.id)?.results ?? [];
    const refused = results.filter((r) => !r.ok);
    expect(refused).toHaveLength(4);
    expect(refused.every((r) => r.source.node === 'node3' || r.target.node === 'node3')).toBe(true);
    expect(refused[0]?.error).toEqual({
      code: 'spec-refused',
      message: 'pod agent on node3: the agent predates iperf3 omit (-O): upgrade it, or run with omit 0',
    });
    expect(h.started.map((s) => [sourceOf(s.plan), targetOf(s.plan)].sort().join('-'))).toEqual(['node1-node2', 'node1-node2']);
  });
});

describe('Scheduler service path, with a fake test runner', () => {
  it('includes only nodes with a service address, and dials that address', async () => {
    const services: Record<string, string> = { node1: serviceIp('node1'), node2: serviceIp('node2'), node3: serviceIp('node3') };
    const h = harness({ nodes: 4, settings: { paths: ['node', 'service'] }, serviceAddress: (n) => services[n] });
    expect(h.scheduler.members('service')).toEqual(['node1', 'node2', 'node3']);
    expect(h.scheduler.members('node')).toEqual(['node1', 'node2', 'node3', 'node4']);
    h.scheduler.start();
    await until(() => h.sweepsCompleted.includes('service/tcp') && h.sweepsCompleted.includes('node/tcp'), 'a sweep of both paths');
    await h.scheduler.stop();

    const service = h.started.filter((s) => s.plan.path === 'service');
    expect(service.every((s) => sourceOf(s.plan) !== 'node4' && targetOf(s.plan) !== 'node4')).toBe(true);
    expect(service.every((s) => s.plan.targetAddress === services[targetOf(s.plan)])).toBe(true);
    expect(new Set(service.map((s) => pairOf({ source: sourceOf(s.plan), target: targetOf(s.plan) })))).toEqual(
      new Set(orderedPairs(['node1', 'node2', 'node3'])),
    );
    expect(h.started.some((s) => s.plan.path === 'node' && targetOf(s.plan) === 'node4')).toBe(true);
  });
});

describe('Scheduler stop, with a fake test runner', () => {
  it('resolves promptly mid-sweep and starts no test after it', async () => {
    const h = harness({ nodes: 8, settings: { paths: ['node', 'pod'], protocols: ['tcp', 'udp'], concurrency: 2 } });
    h.scheduler.start();
    await until(() => h.started.length >= 10, 'ten tests');
    const startedAtStop = h.started.length;
    await h.scheduler.stop();
    expect(h.started.length).toBe(startedAtStop);
    // Give a loop that failed to stop every chance to start another test.
    for (let i = 0; i < 20; i++) await nextTick();
    expect(h.started.length).toBe(startedAtStop);
    // Every test that started has finished and been reported.
    expect(h.results.length).toBe(startedAtStop);
  });

  it('resolves promptly while idle, even when the idle sleep would never end', async () => {
    const h = harness({ nodes: 1, sleep: () => new Promise<void>(() => undefined) });
    h.scheduler.start();
    await nextTick();
    const stopped = await Promise.race([h.scheduler.stop().then(() => 'stopped'), new Promise((r) => setTimeout(() => r('hung'), 1000))]);
    expect(stopped).toBe('stopped');
    expect(h.started).toEqual([]);
  });

  it('wakes from idle for an on-demand run', async () => {
    const h = harness({ nodes: 2, settings: { continuous: false }, sleep: () => new Promise<void>(() => undefined) });
    h.scheduler.start();
    await nextTick();
    const { id } = h.scheduler.submit({ label: 'x', paths: ['node'], protocols: ['tcp'] });
    await until(() => h.scheduler.run(id)?.status === 'done', 'the run to finish');
    expect(h.scheduler.run(id)?.summary()).toMatchObject({ total: 2, done: 2 });
  });
});

describe('Scheduler budget mode, quiet hours and rests, with a fake test runner', () => {
  /** 9 nodes in 3 zones: node1, node4, node7 in zone-1, and so on. */
  const zoneOf = (node: string) => `zone-${Number(node.replace('node', '')) % 3}`;
  const budget = { coverage: 'budget' as const, referencePeers: 1, crossZonePeers: 1 };

  it('never puts a node in two tests at once across kinds, paths and protocols in budget mode', async () => {
    const h = harness({
      nodes: 12,
      zoneOf,
      settings: { ...budget, paths: ['node', 'pod'], protocols: ['tcp', 'udp'], latencyRounds: 2, concurrency: 8 },
    });
    h.scheduler.start();
    await until(() => h.started.length >= 600, '600 tests');
    await h.scheduler.stop();
    expect(new Set(h.started.map((s) => `${s.plan.spec.kind}/${keyOf(s.plan)}`)).size).toBe(8);
    expect(h.maxConcurrent).toBeGreaterThan(1);
    expect(h.overlaps).toEqual([]);
    expect(h.errors()).toEqual([]);
  });

  it('runs no background test in quiet hours, but still runs an on-demand run', async () => {
    const clock = { ms: Date.UTC(2026, 0, 1, 1, 30) };
    const quietHours = { startMinute: 60, endMinute: 120 };
    const h = harness({ nodes: 4, clock, settings: { quietHours } });
    h.scheduler.start();
    const { id } = h.scheduler.submit({ label: 'at night', paths: ['node'], protocols: ['tcp'] });
    await until(() => h.scheduler.run(id)?.status === 'done', 'the on-demand run');
    await until(() => h.started.some((s) => s.plan.runId === null), 'a background test');
    await h.scheduler.stop();
    const quietEnds = Date.UTC(2026, 0, 1, 2);
    expect(h.started.filter((s) => s.plan.runId === id && s.at < quietEnds)).toHaveLength(12);
    expect(h.started.filter((s) => s.plan.runId === null && s.at < quietEnds)).toEqual([]);
    // It waited for the end of the window, not for ever.
    expect(Math.min(...h.started.filter((s) => s.plan.runId === null).map((s) => s.at))).toBeLessThan(quietEnds + 2 * 60_000);
  });

  it.each([
    ['CPU', { busyNodeCpuPercent: 50 }, { idleCpuPercent: 95 }],
    ['NIC', { busyNodeNicBitsPerSecond: 1e9 }, { idleNicBitsPerSecond: 5e9 }],
  ] as const)('rests a node whose idle %s before a test says it is busy with real work, then takes it back', async (_, limit, logged) => {
    const clock = { ms: Date.UTC(2026, 0, 1, 12) };
    // node2 is busy with someone else's work (95% CPU, 5 Gbit/s in); the others are quiet (5%, 1 Mbit/s).
    const side = (node: string) =>
      node === 'node2'
        ? { cpu: cpuReport(clock.ms, 95), nic: nicReport(clock.ms, 5e9, 0) }
        : { cpu: cpuReport(clock.ms, 5), nic: nicReport(clock.ms, 1e6, 0) };
    const h = harness({
      nodes: 4,
      clock,
      settings: { pauseMs: 1000, busyNodeRestSeconds: 600, ...limit },
      result: (plan, r) => ({ ...r, source: { ...r.source, ...side(sourceOf(plan)) }, target: { ...r.target, ...side(targetOf(plan)) } }),
    });
    const begin = clock.ms;
    h.scheduler.start();
    await until(() => clock.ms - begin > 800_000, 'virtual time past the rest');
    await h.scheduler.stop();
    const withNode2 = h.started.filter((s) => [sourceOf(s.plan), targetOf(s.plan)].includes('node2')).map((s) => s.at);
    const first = withNode2[0] ?? Number.NaN;
    // Its first test told; then nothing with node2 for 600 s, while the others went on; then it is back.
    expect(withNode2.filter((t) => t > first && t < first + 600_000)).toEqual([]);
    expect(h.started.filter((s) => s.at > first && s.at < first + 600_000).length).toBeGreaterThan(10);
    expect(withNode2.some((t) => t >= first + 600_000)).toBe(true);
    expect(h.logs.find((l) => l.msg === 'node busy, resting')).toMatchObject({ node: 'node2', ...logged });
    // Resting still where the test stopped (it was busy again when it came back), and no longer once that rest is over.
    expect(h.scheduler.restingNodes(new Date(clock.ms))).toBe(1);
    expect(h.scheduler.restingNodes(new Date(clock.ms + 600_001))).toBe(0);
  });
});
