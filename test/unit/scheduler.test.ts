/**
 * The scheduler loop without iperf3: an in-memory AgentRegistry of fake sessions, a fake test
 * runner that finishes on the next turn of the event loop (or when the test releases it), and a
 * sleep that resolves on the next turn, so every test here is instant and deterministic.
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

function fakeSession(node: string, mode: NetworkMode): AgentSession {
  const identity = testIdentity({
    nodeName: node,
    mode,
    podIp: mode === 'host' ? hostIp(node) : podIp(node),
    hostIp: hostIp(node),
    limits: {
      maxDurationSeconds: 60,
      maxBitrateBitsPerSecond: 0,
      maxStreams: 8,
      portMin: 5201,
      portMax: 5201,
      allowedTargetCidrs: ['198.18.0.0/15'],
    },
  });
  return { id: `${node}/${mode}`, identity, connectedAt: new Date(0), send: () => true, close: () => undefined };
}

/** One test the fake runner started. */
interface Started {
  plan: TestPlan;
  /** Background rounds are separated by the pause; this counts the pauses before the test started. */
  round: number;
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
    agents.add(fakeSession(node, 'host'));
    agents.add(fakeSession(node, 'pod'));
  };
  nodeNames(o.nodes).forEach(addNode);

  const settings: SchedulerSettings = {
    continuous: true,
    paths: ['node'],
    protocols: ['tcp'],
    durationSeconds: 10,
    tcpBitrate: 0,
    udpBitrate: 1_000_000_000,
    streams: 1,
    concurrency: 1,
    pauseMs: 0,
    ...o.settings,
  };

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
    started.push({ plan, round });
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
        path: plan.path,
        protocol: plan.protocol,
        spec: plan.spec,
        source: sourceOf(plan),
        target: targetOf(plan),
        runId: plan.runId,
        label: plan.label,
      },
      failure('cancelled'),
    );
    return { ...ok, ok: true, error: null, throughputBitsPerSecond: 9.4e9 };
  };

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
    onSweepCompleted: (path, protocol) => {
      sweepsCompleted.push(keyOf({ path, protocol }));
      completedAfterTests.push(started.length);
    },
    sleep:
      o.sleep ??
      ((ms) => {
        // Only the pause between rounds sleeps this long; an idle loop sleeps 1000 ms.
        if (ms === settings.pauseMs) round++;
        return nextTick();
      }),
    now: () => new Date(),
    log,
    ...(o.onRunStart ? { onRunStart: o.onRunStart } : {}),
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

  it('interleaves paths and protocols: every one appears once within the first #paths x #protocols rounds', async () => {
    const h = harness({ nodes: 4, settings: { paths: ['node', 'pod'], protocols: ['tcp', 'udp'], pauseMs: 7 } });
    h.scheduler.start();
    await until(() => h.started.some((s) => s.round >= 4), 'a fifth round');
    await h.scheduler.stop();

    const rounds = new Map<number, Set<string>>();
    for (const s of h.started.filter((x) => x.round < 4)) rounds.set(s.round, (rounds.get(s.round) ?? new Set()).add(keyOf(s.plan)));
    // Each round is one path and protocol, and the first four are the four different ones.
    expect([...rounds.values()].map((keys) => keys.size)).toEqual([1, 1, 1, 1]);
    expect([...rounds.values()].flatMap((keys) => [...keys]).sort()).toEqual(['node/tcp', 'node/udp', 'pod/tcp', 'pod/udp']);
    // Each round of 4 nodes is 2 disjoint pairs.
    expect(h.started.filter((s) => s.round === 0)).toHaveLength(2);
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

  it('uses the configured spec: duration, UDP rate, TCP cap and streams', async () => {
    const h = harness({
      nodes: 2,
      settings: { protocols: ['tcp', 'udp'], durationSeconds: 7, tcpBitrate: 5e8, udpBitrate: 3e8, streams: 2 },
    });
    h.scheduler.start();
    await until(() => h.started.length >= 2, 'a TCP and a UDP test');
    await h.scheduler.stop();
    const specs = Object.fromEntries(h.started.slice(0, 2).map((s) => [s.plan.protocol, s.plan.spec]));
    expect(specs).toEqual({
      tcp: { protocol: 'tcp', durationSeconds: 7, bitrateBitsPerSecond: 5e8, streams: 2, reverse: false },
      udp: { protocol: 'udp', durationSeconds: 7, bitrateBitsPerSecond: 3e8, streams: 2, reverse: false },
    });
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

  it('includes a node that joins mid-sweep in the next sweep', async () => {
    const h = harness({ nodes: 4 });
    h.scheduler.start();
    await until(() => h.results.length >= 3, 'three tests of the first sweep');
    const completedAtJoin = h.sweepsCompleted.length;
    h.addNode('node5');
    await until(() => h.sweepsCompleted.length >= completedAtJoin + 2, 'two more completed sweeps');
    await h.scheduler.stop();

    // The sweep that began after the join runs from one completion to the next.
    const from = h.completedAfterTests[completedAtJoin] ?? Number.NaN;
    const to = h.completedAfterTests[completedAtJoin + 1] ?? Number.NaN;
    const nextSweep = h.started.slice(from, to).map((s) => pairOf({ source: sourceOf(s.plan), target: targetOf(s.plan) }));
    expect(nextSweep.sort()).toEqual(orderedPairs(nodeNames(5)).sort());
    expect(h.overlaps).toEqual([]);
  });
});

describe('Scheduler on-demand runs, with a fake test runner', () => {
  it('preempts the background sweep at the next round boundary and covers every ordered pair once', async () => {
    const h = harness({ nodes: 4, settings: { paths: ['node', 'pod'], protocols: ['tcp', 'udp'], durationSeconds: 10 } });
    const statusWhileRunning: string[] = [];
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
    statusWhileRunning.push(h.scheduler.run(runId)?.summary().status ?? 'missing');
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

  it('measures every pair `repeat` times, in whole passes over the matrix', async () => {
    const h = harness({ nodes: 3, settings: { continuous: false } });
    h.scheduler.start();
    const run = h.scheduler.submit({ label: 'x', paths: ['pod'], protocols: ['tcp'], repeat: 3 });
    await until(() => h.scheduler.run(run.id)?.status === 'done', 'the run to finish');
    const results = h.scheduler.run(run.id)?.results ?? [];
    expect(h.scheduler.run(run.id)?.summary()).toMatchObject({ total: 18, done: 18, spec: { repeat: 3 } });
    const keys = results.map((r) => pairOf({ source: r.source.node, target: r.target.node }));
    // Each pass covers all 6 pairs before the next pass starts.
    for (let pass = 0; pass < 3; pass++) expect(keys.slice(pass * 6, pass * 6 + 6).sort()).toEqual(orderedPairs(nodeNames(3)).sort());
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
