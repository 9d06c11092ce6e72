/**
 * Decides what runs next and runs it. One round at a time: a round is a set of disjoint
 * pairs, so a node is never in two tests at once, across all paths and kinds; in particular a
 * latency test never shares a node with a throughput test (a saturated link would poison it).
 * On-demand runs go first; otherwise the background sweep takes the next round of the next
 * path and protocol in turn (interleaved, so every kind of figure appears within the first few
 * rounds), and after each throughput round, `latencyRounds` rounds of the latency sweep: latency
 * tests are short and light, so every pair's latency is refreshed that many times as often.
 * Time is a parameter (`sleep`, `now`), and so are randomness and the test runner, so the loop
 * can be tested without iperf3.
 *
 * What the background sweep covers is the coverage mode's (aggregator/coverage/): every ordered
 * pair in full mode, or in budget mode the pairs within each zone, each node's reference peers
 * and a rotating cross-zone sample, least recently measured first. Either way it stays within
 * the budgets (tests per hour, bytes per node per hour), keeps quiet hours, rests nodes busy
 * with real work, and jitters its pauses. On-demand runs ignore all of that: they are asked for.
 */
import type { Logger } from 'pino';
import { failure, type Failure } from '../shared/errors.js';
import { DEFAULT_RUN_OMIT_SECONDS, type RunRequest, type RunSummary } from '../shared/api.js';
import type { LatencySpec, NetworkMode, Path, Protocol, TestKind, TestSpec, ThroughputSpec } from '../shared/protocol.js';
import { bytesMoved, type TestResult, type Topology } from '../shared/result.js';
import { checkOmit } from '../shared/limits.js';
import type { AgentRegistry, AgentSession } from './agents.js';
import { bytesPerNode, NodeByteBudget, TestBudget, type ByteCharge } from './coverage/budget.js';
import { FullCoverage } from './coverage/full.js';
import { CoverageLedger } from './coverage/ledger.js';
import { jittered, quietMsLeft, type QuietHours } from './coverage/pacing.js';
import type { StalenessFigures } from './coverage/staleness.js';
import { Run, type PlannedRound } from './runs.js';
import { RoundRobin, type Pair } from './sweep.js';
import type { TestPlan } from './test-runner.js';

/** full: every ordered pair; budget: zones, reference peers and a cross-zone sample; auto: full up to `coverageFullMaxNodes`. */
export type CoverageMode = 'full' | 'budget' | 'auto';

export interface SchedulerSettings {
  continuous: boolean;
  paths: readonly Path[];
  protocols: readonly Protocol[];
  durationSeconds: number;
  tcpBitrate: number;
  udpBitrate: number;
  streams: number;
  concurrency: number;
  pauseMs: number;
  /** Latency rounds after each throughput round in the background sweep; 0 = no latency tests. */
  latencyRounds: number;
  latencyDurationSeconds: number;
  latencyMessageSizeBytes: number;
  latencyMessagesPerSecond: number;
  latencyConnectSamples: number;
  /** The settings below are optional: left out, the background sweep is today's full sweep, unbounded. */
  coverage?: CoverageMode;
  /** auto: full coverage up to this many nodes on a path, budget above. */
  coverageFullMaxNodes?: number;
  /** Budget mode: fixed peers in other zones each node is measured against, both ways. */
  referencePeers?: number;
  /** Budget mode: other-zone peers per node in each rotation of the cross-zone sample. */
  crossZonePeers?: number;
  /** Background tests started in any hour across the cluster, paced evenly; 0 = unlimited. */
  testsPerHour?: number;
  /** Bytes through any one node (sent + received) by background tests in any hour; 0 = unlimited. */
  nodeBytesPerHour?: number;
  /** What an uncapped TCP test is assumed to move per second, for the byte budget, until its result says. */
  assumedTcpBitsPerSecond?: number;
  /** A daily UTC window with no background tests. */
  quietHours?: QuietHours | null;
  /** Pauses between background rounds vary at random by up to this many percent either way. */
  pauseJitterPercent?: number;
  /** A node whose idle CPU before a test was above this (%) rests from background tests; 0 = never. */
  busyNodeCpuPercent?: number;
  /** A node whose NIC carried more than this (bits/s, either way) before a test rests too; 0 = never. */
  busyNodeNicBitsPerSecond?: number;
  busyNodeRestSeconds?: number;
}

/** One planned background round, for observation: its size and what planning it cost. */
export interface RoundPlanned {
  kind: TestKind;
  path: Path;
  protocol: Protocol;
  mode: 'full' | 'budget';
  pairs: number;
  /** Wall-clock milliseconds spent choosing the pairs (membership, coverage, budgets). */
  planMs: number;
}

/** Staleness of one kind, path and protocol of the background sweep. */
export type CoverageStaleness = StalenessFigures & { kind: TestKind; path: Path; protocol: Protocol; mode: 'full' | 'budget' };

export interface SchedulerDeps {
  agents: AgentRegistry;
  settings: SchedulerSettings;
  /** The service address in front of a node's pod agent, for the service path. */
  serviceAddress: (node: string) => string | undefined;
  runTest: (plan: TestPlan) => Promise<TestResult>;
  /** A result for a test that could not even start (an agent gone, no address). */
  unrunnable: (
    t: { spec: TestSpec; path: Path; protocol: Protocol; source: string; target: string; runId: string | null; label: string | null },
    f: Failure,
  ) => TestResult;
  onResult: (r: TestResult, durationSeconds: number) => void;
  onSweepCompleted: (path: Path, protocol: Protocol, kind: TestKind) => void;
  /** Called when an on-demand run starts, before its first test (captures its environment). */
  onRunStart?: (run: Run) => Promise<void>;
  sleep: (ms: number) => Promise<void>;
  now: () => Date;
  log: Logger;
  /** A node's place in the cluster: budget mode groups pairs by its zone. Without it every node is a zone of its own. */
  topology?: (node: string) => Topology | null;
  /** Uniform in [0, 1), for jitter; Math.random when left out. */
  random?: () => number;
  /** Called after each background round is planned (the simulation and metrics read it). */
  onRoundPlanned?: (p: RoundPlanned) => void;
}

/** How long the loop waits when there is nothing to do. */
const IDLE_MS = 1000;
/** Tests a round starts before it lets the event loop turn. */
const START_BATCH = 64;
/** Longest single wait, so a clock that jumps or a changed world is noticed within a minute. */
const MAX_WAIT_MS = 60_000;

type Coverage = { kind: TestKind; path: Path; protocol: Protocol } & (
  { mode: 'full'; full: FullCoverage } | { mode: 'budget'; ledger: CoverageLedger }
);

const modeOf = (path: Path): NetworkMode => (path === 'node' ? 'host' : 'pod');
const key = (kind: TestKind, path: Path, protocol: Protocol) => `${kind}/${path}/${protocol}`;

export class Scheduler {
  private stopped = true;
  private loopDone: Promise<void> = Promise.resolve();
  private readonly coverage = new Map<string, Coverage>();
  private readonly tests: TestBudget;
  private readonly bytes: NodeByteBudget;
  /** Byte charges of the background round in progress, by pair, settled when each test's result is in. */
  private readonly charges = new Map<Pair, ByteCharge[]>();
  /** Nodes resting from background tests (busy with real work), until when (ms). */
  private readonly restingUntil = new Map<string, number>();
  /**
   * When each node's last test window closed, by that node's own clock (ms). An idle window
   * that began before it measured the tail of our own test, not the node's work: it is ignored.
   * The agent cannot tell this itself when the previous test ran on the node's other agent.
   */
  private readonly lastTestEndMs = new Map<string, number>();
  /** How long the loop waits next time it has nothing to do. */
  private waitMs = IDLE_MS;
  private readonly order: RoundRobin<{ path: Path; protocol: Protocol }>;
  private readonly latencyOrder: RoundRobin<{ path: Path; protocol: Protocol }>;
  /** Latency rounds still owed before the next throughput round. */
  private latencyDue = 0;
  private readonly runs = new Map<string, Run>();
  private readonly queue: Run[] = [];
  /** Nodes in a test right now; the invariant the rounds guarantee, checked at run time. */
  private readonly busy = new Set<string>();
  private wake: (() => void) | undefined;

  constructor(private readonly d: SchedulerDeps) {
    const keys = d.settings.paths.flatMap((path) => d.settings.protocols.map((protocol) => ({ path, protocol })));
    this.order = new RoundRobin(keys);
    this.latencyOrder = new RoundRobin(keys);
    this.tests = new TestBudget(d.settings.testsPerHour ?? 0);
    this.bytes = new NodeByteBudget(d.settings.nodeBytesPerHour ?? 0);
    const perHour = d.settings.nodeBytesPerHour ?? 0;
    for (const kind of ['throughput', 'latency'] as const) {
      for (const protocol of d.settings.protocols) {
        const bytes = bytesPerNode(this.spec(kind, protocol), this.assumedTcp());
        if (perHour > 0 && bytes > perHour) d.log.warn({ kind, protocol, bytes, perHour }, 'byte budget below one test: none will run');
      }
    }
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.loopDone = this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loopDone;
  }

  /** Queue an on-demand run; it starts at the next round boundary. */
  submit(req: RunRequest): RunSummary {
    const s = this.d.settings;
    const run = new Run(req.label, {
      kinds: req.kinds ?? ['throughput'],
      paths: req.paths ?? [...s.paths],
      protocols: req.protocols ?? [...s.protocols],
      durationSeconds: req.durationSeconds ?? s.durationSeconds,
      repeat: req.repeat ?? 1,
      streams: req.streams ?? s.streams,
      tcpBitrateBitsPerSecond: req.tcpBitrateBitsPerSecond ?? s.tcpBitrate,
      udpBitrateBitsPerSecond: req.udpBitrateBitsPerSecond ?? s.udpBitrate,
      omitSeconds: req.omitSeconds ?? DEFAULT_RUN_OMIT_SECONDS,
    });
    this.runs.set(run.id, run);
    this.queue.push(run);
    this.wake?.();
    return run.summary();
  }

  run(id: string): Run | undefined {
    return this.runs.get(id);
  }

  allRuns(): RunSummary[] {
    return [...this.runs.values()].map((r) => r.summary());
  }

  /**
   * Staleness of the background sweep at `now`, per kind, path and protocol it has planned:
   * the age of the least recently measured candidate pair and of the median one.
   */
  staleness(now: Date = this.d.now()): CoverageStaleness[] {
    return [...this.coverage.values()].map((c) => ({
      kind: c.kind,
      path: c.path,
      protocol: c.protocol,
      mode: c.mode,
      ...(c.mode === 'full' ? c.full.staleness(now.getTime()) : c.ledger.staleness(now.getTime())),
    }));
  }

  /** Nodes resting from background tests now, busy with real work (forgetting rests that are over). */
  restingNodes(now: Date = this.d.now()): number {
    for (const [node, until] of this.restingUntil) if (until <= now.getTime()) this.restingUntil.delete(node);
    return this.restingUntil.size;
  }

  /** Nodes that can take part in `kind` tests on `path` now (latency needs sockperf on the agent). */
  members(path: Path, kind: TestKind = 'throughput'): readonly string[] {
    const mode = modeOf(path);
    let nodes = this.d.agents.nodesWith(mode);
    if (path === 'service') nodes = nodes.filter((n) => this.d.serviceAddress(n) !== undefined);
    if (kind === 'latency') nodes = nodes.filter((n) => Boolean(this.d.agents.find(n, mode)?.identity.sockperfVersion));
    return nodes;
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      const work = await this.next();
      if (!work) {
        await this.idle(Math.min(this.waitMs, MAX_WAIT_MS));
        this.waitMs = IDLE_MS;
        continue;
      }
      try {
        await this.execute(work.round, work.run);
      } catch (e) {
        this.d.log.error({ err: e }, 'round failed');
      } finally {
        for (const p of work.round.pairs) this.charges.delete(p);
      }
      const pause = jittered(this.d.settings.pauseMs, this.d.settings.pauseJitterPercent ?? 0, this.random);
      if (pause > 0 && !this.stopped) await this.idle(pause);
    }
  }

  /** Sleep, but wake early for a new on-demand run or stop. */
  private async idle(ms: number): Promise<void> {
    await Promise.race([this.d.sleep(ms), new Promise<void>((r) => (this.wake = r))]);
    this.wake = undefined;
  }

  private async next(): Promise<{ round: PlannedRound; run?: Run } | undefined> {
    while (this.queue.length > 0) {
      const run = this.queue[0] as Run;
      if (run.status === 'queued') {
        run.start((p, k) => this.members(p, k), this.d.now());
        // At a round boundary nothing runs: the moment to measure every node idle.
        await this.d.onRunStart?.(run).catch((e: unknown) => this.d.log.warn({ err: e, runId: run.id }, 'run environment not captured'));
        this.d.log.info({ runId: run.id, label: run.label, tests: run.summary().total }, 'run started');
      }
      const round = run.nextRound();
      if (round) return { round, run };
      run.finish(this.d.now());
      this.d.log.info({ runId: run.id, label: run.label, failed: run.summary().failed }, 'run finished');
      this.queue.shift();
    }
    if (!this.d.settings.continuous) return undefined;
    const now = this.d.now();
    const quiet = quietMsLeft(this.d.settings.quietHours, now);
    if (quiet > 0) {
      this.waitMs = quiet;
      return undefined;
    }
    const readyAt = this.tests.readyAt(now.getTime());
    if (readyAt > now.getTime()) {
      this.waitMs = jittered(readyAt - now.getTime(), this.d.settings.pauseJitterPercent ?? 0, this.random);
      return undefined;
    }
    if (this.latencyDue > 0) {
      this.latencyDue--;
      const round = this.sweepRound('latency');
      if (round) return { round };
    }
    // Latency members are a subset of throughput members: no throughput round means no latency round.
    const round = this.sweepRound('throughput');
    if (!round) return undefined;
    this.latencyDue = this.d.settings.latencyRounds;
    return { round };
  }

  /** The next round of the background sweep of `kind`, taking its paths and protocols in turn. */
  private sweepRound(kind: TestKind): PlannedRound | undefined {
    if (kind === 'latency' && this.d.settings.latencyRounds === 0) return undefined;
    const order = kind === 'latency' ? this.latencyOrder : this.order;
    const started = performance.now();
    // Looked up once per path: at thousands of nodes a membership list is not free.
    const members = new Map<Path, readonly string[]>();
    const membersOf = (path: Path) => members.get(path) ?? members.set(path, this.members(path, kind)).get(path) ?? [];
    const pick = order.next(({ path }) => membersOf(path).length >= 2);
    if (!pick) return undefined;
    const list = membersOf(pick.path);
    const now = this.d.now().getTime();
    const coverage = this.coverageOf(kind, pick.path, pick.protocol, list.length, now);
    const bytes = bytesPerNode(this.spec(kind, pick.protocol), this.assumedTcp());
    const available = (node: string) => (this.restingUntil.get(node) ?? 0) <= now && this.bytes.fits(node, bytes, now);
    const allowance = this.tests.allowance(now);
    let pairs: Pair[];
    if (coverage.mode === 'full') {
      const next = coverage.full.next(list, available, allowance, now);
      if (next.completed) this.d.onSweepCompleted(pick.path, pick.protocol, kind);
      pairs = next.pairs;
    } else {
      coverage.ledger.sync(
        list.map((node) => ({ node, zone: this.d.topology?.(node)?.zone ?? null })),
        now,
      );
      // A round is one wave of tests: the next is planned with what this one taught (budgets, rests).
      pairs = coverage.ledger.plan(Math.min(this.d.settings.concurrency, allowance), available, now);
      if (coverage.ledger.cycleCompleted(now)) this.d.onSweepCompleted(pick.path, pick.protocol, kind);
    }
    this.tests.record(now, pairs.length);
    for (const p of pairs) this.charges.set(p, [this.bytes.charge(p.source, bytes, now), this.bytes.charge(p.target, bytes, now)]);
    this.d.onRoundPlanned?.({ kind, ...pick, mode: coverage.mode, pairs: pairs.length, planMs: performance.now() - started });
    return pairs.length > 0 ? { kind, ...pick, pairs } : undefined;
  }

  /** The coverage state of a kind, path and protocol, in the mode its membership calls for now. */
  private coverageOf(kind: TestKind, path: Path, protocol: Protocol, nodes: number, now: number): Coverage {
    const s = this.d.settings;
    const setting = s.coverage ?? 'full';
    const mode = setting === 'auto' ? (nodes > (s.coverageFullMaxNodes ?? 20) ? 'budget' : 'full') : setting;
    const k = key(kind, path, protocol);
    const known = this.coverage.get(k);
    if (known?.mode === mode) return known;
    if (known || mode === 'budget') this.d.log.info({ kind, path, protocol, mode, nodes }, 'coverage mode');
    const fresh: Coverage =
      mode === 'full'
        ? { kind, path, protocol, mode, full: new FullCoverage(now) }
        : {
            kind,
            path,
            protocol,
            mode,
            ledger: new CoverageLedger({ referencePeers: s.referencePeers ?? 3, crossZonePeers: s.crossZonePeers ?? 1 }),
          };
    this.coverage.set(k, fresh);
    return fresh;
  }

  private assumedTcp(): number {
    return this.d.settings.assumedTcpBitsPerSecond ?? 10_000_000_000;
  }

  private get random(): () => number {
    return this.d.random ?? Math.random;
  }

  /**
   * After a result: settle the byte charges with what the test moved, and rest a node whose idle
   * CPU or NIC just before the test says it is busy with real work.
   */
  private afterResult(pair: Pair, r: TestResult): void {
    const charges = this.charges.get(pair);
    const moved = r.kind === 'throughput' ? bytesMoved(r.iperf) : 0;
    if (charges && moved > 0) for (const c of charges) this.bytes.settle(c, moved);
    this.charges.delete(pair);
    const s = this.d.settings;
    const limits = { cpuPercent: s.busyNodeCpuPercent ?? 0, nicBitsPerSecond: s.busyNodeNicBitsPerSecond ?? 0 };
    if (limits.cpuPercent <= 0 && limits.nicBitsPerSecond <= 0) return;
    for (const side of [r.source, r.target]) {
      const busy = busyWith(side, this.lastTestEndMs.get(side.node) ?? 0, limits);
      // The CPU test window ends where iperf3 stopped measuring, before its process exited; the
      // NIC window (the whole run, host agents only) and the client's process end (endedAt)
      // cover the rest. endedAt is by the client's clock; the server exits a few ms after it,
      // so on the server's node it is as good as the two nodes' clocks agree.
      const ended = Math.max(side.cpu?.test.endMs ?? 0, side.nic?.test.endMs ?? 0, Date.parse(r.endedAt) || 0);
      if (ended > 0) this.lastTestEndMs.set(side.node, Math.max(ended, this.lastTestEndMs.get(side.node) ?? 0));
      if (!busy) continue;
      const now = this.d.now().getTime();
      const restSeconds = s.busyNodeRestSeconds ?? 600;
      if ((this.restingUntil.get(side.node) ?? 0) < now) this.d.log.info({ node: side.node, ...busy, restSeconds }, 'node busy, resting');
      this.restingUntil.set(side.node, now + restSeconds * 1000);
    }
  }

  private spec(kind: TestKind, protocol: Protocol, run?: Run): { spec: TestSpec } {
    const s = this.d.settings;
    if (kind === 'latency') {
      const spec: LatencySpec = {
        kind: 'latency',
        protocol,
        durationSeconds: s.latencyDurationSeconds,
        messageSizeBytes: s.latencyMessageSizeBytes,
        messagesPerSecond: s.latencyMessagesPerSecond,
        connectSamples: protocol === 'tcp' ? s.latencyConnectSamples : 0,
      };
      return { spec };
    }
    return { spec: this.throughputSpec(protocol, run) };
  }

  /** The background sweep's spec, or an on-demand run's. The sweep omits no seconds (see DEFAULT_RUN_OMIT_SECONDS). */
  private throughputSpec(protocol: Protocol, run?: Run): ThroughputSpec {
    const s = this.d.settings;
    const r = run?.spec;
    const omitSeconds = r?.omitSeconds ?? 0;
    return {
      kind: 'throughput',
      protocol,
      durationSeconds: r?.durationSeconds ?? s.durationSeconds,
      bitrateBitsPerSecond:
        protocol === 'udp' ? (r?.udpBitrateBitsPerSecond ?? s.udpBitrate) : (r?.tcpBitrateBitsPerSecond ?? s.tcpBitrate),
      streams: r?.streams ?? s.streams,
      reverse: false,
      // Left out at 0: agents from before omitSeconds drop their connection on the field.
      ...(omitSeconds > 0 ? { omitSeconds } : {}),
    };
  }

  /** Run a round's pairs, at most `concurrency` at a time. */
  private async execute(round: PlannedRound, run?: Run): Promise<void> {
    const queue = [...round.pairs];
    const worker = async () => {
      for (let pair = queue.shift(); pair && !this.stopped; pair = queue.shift()) {
        await this.one(round.kind, round.path, round.protocol, pair, run);
      }
    };
    const workers: Array<Promise<void>> = [];
    // Counted before the first start: each worker takes its first pair from the queue at once.
    const count = Math.min(this.d.settings.concurrency, queue.length);
    for (let i = 0; i < count; i++) {
      // A round of thousands of tests would otherwise send every serve command in one burst, and
      // /healthz, pings and results wait behind it (1.4 s at 5,000 nodes): yield now and then.
      if (i > 0 && i % START_BATCH === 0) await new Promise((r) => setImmediate(r));
      workers.push(worker());
    }
    await Promise.all(workers);
  }

  private async one(kind: TestKind, path: Path, protocol: Protocol, pair: Pair, run?: Run): Promise<void> {
    if (this.busy.has(pair.source) || this.busy.has(pair.target)) {
      // Rounds are disjoint by construction; reaching here is a bug, not a network condition.
      throw new Error(`node double-booked: ${pair.source} -> ${pair.target}`);
    }
    const planned = this.spec(kind, protocol, run);
    const mode = modeOf(path);
    const client = this.d.agents.find(pair.source, mode);
    const server = this.d.agents.find(pair.target, mode);
    const started = this.d.now().getTime();
    // `planned` is spread last, here and below: in Node 20 a literal that starts with a spread of
    // these two-shaped objects costs ~10 µs (a quarter of the simulated test), one that ends with it ~0.1.
    const ctx = { path, protocol, source: pair.source, target: pair.target, runId: run?.id ?? null, label: run?.label ?? null, ...planned };
    if (run) run.current = { kind, path, protocol, source: pair.source, target: pair.target };
    let result: TestResult;
    if (!client || !server) {
      result = this.d.unrunnable(ctx, failure('agent-lost', `no ${mode} agent on ${client ? pair.target : pair.source}`));
    } else {
      const address = targetAddress(path, server, this.d.serviceAddress);
      const refused = planned.spec.kind === 'throughput' ? omitRefused(planned.spec, [client, server]) : undefined;
      if (!address) {
        result = this.d.unrunnable(ctx, failure('no-target-address', `no service address for ${pair.target}`));
      } else if (refused) {
        result = this.d.unrunnable(ctx, refused);
      } else {
        this.busy.add(pair.source).add(pair.target);
        try {
          result = await this.d.runTest({
            path,
            protocol,
            client,
            server,
            targetAddress: address,
            runId: ctx.runId,
            label: ctx.label,
            ...planned,
          });
        } finally {
          this.busy.delete(pair.source);
          this.busy.delete(pair.target);
        }
      }
    }
    run?.record(result);
    this.afterResult(pair, result);
    this.d.onResult(result, (this.d.now().getTime() - started) / 1000);
  }
}

/**
 * What says a node is busy with real work, from one side of a test: its idle CPU or NIC just
 * before the test above the limit (0 = not checked). Windows that began before `sinceMs`, the
 * end of the node's previous test, are not evidence.
 */
function busyWith(
  side: TestResult['source'],
  sinceMs: number,
  limits: { cpuPercent: number; nicBitsPerSecond: number },
): { idleCpuPercent: number } | { idleNicBitsPerSecond: number } | undefined {
  const cpu = side.cpu?.idle;
  if (limits.cpuPercent > 0 && cpu && cpu.startMs >= sinceMs && cpu.busyPercent > limits.cpuPercent) {
    return { idleCpuPercent: cpu.busyPercent };
  }
  const nic = side.nic?.idle;
  const bits = nic ? Math.max(nic.rxBitsPerSecond, nic.txBitsPerSecond) : 0;
  if (limits.nicBitsPerSecond > 0 && nic && nic.startMs >= sinceMs && bits > limits.nicBitsPerSecond) {
    return { idleNicBitsPerSecond: bits };
  }
  return undefined;
}

/**
 * A refusal on behalf of an agent that predates omitSeconds: sent a spec with it, that agent
 * would drop its connection (its TestSpec is strict) instead of refusing the test.
 */
function omitRefused(spec: ThroughputSpec, agents: readonly AgentSession[]): Failure | undefined {
  for (const a of agents) {
    const f = checkOmit(a.identity.limits, spec);
    if (f) return failure(f.code, `${a.identity.mode} agent on ${a.identity.nodeName}: ${f.message}`);
  }
  return undefined;
}

function targetAddress(path: Path, server: AgentSession, service: (node: string) => string | undefined): string | undefined {
  if (path === 'node') return server.identity.hostIp;
  if (path === 'pod') return server.identity.podIp;
  return service(server.identity.nodeName);
}
