/**
 * Decides what runs next and runs it. One round at a time: a round is a set of disjoint
 * pairs, so a node is never in two tests at once, across all paths. On-demand runs go first;
 * otherwise the background sweep takes the next round of the next path and protocol in turn
 * (interleaved, so every kind of figure appears within the first few rounds). Time is a
 * parameter (`sleep`), and so is the test runner, so the loop can be tested without iperf3.
 */
import type { Logger } from 'pino';
import { failure, type Failure } from '../shared/errors.js';
import type { RunRequest, RunSummary } from '../shared/api.js';
import type { NetworkMode, Path, Protocol, TestSpec } from '../shared/protocol.js';
import type { TestResult } from '../shared/result.js';
import type { AgentRegistry, AgentSession } from './agents.js';
import { Run, type PlannedRound } from './runs.js';
import { RoundRobin, Sweep, type Pair } from './sweep.js';
import type { TestPlan } from './test-runner.js';

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
}

export interface SchedulerDeps {
  agents: AgentRegistry;
  settings: SchedulerSettings;
  /** The service address in front of a node's pod agent, for the service path. */
  serviceAddress: (node: string) => string | undefined;
  runTest: (plan: TestPlan) => Promise<TestResult>;
  /** A result for a test that could not even start (an agent gone, no address). */
  unrunnable: (
    t: { path: Path; protocol: Protocol; spec: TestSpec; source: string; target: string; runId: string | null; label: string | null },
    f: Failure,
  ) => TestResult;
  onResult: (r: TestResult, durationSeconds: number) => void;
  onSweepCompleted: (path: Path, protocol: Protocol) => void;
  /** Called when an on-demand run starts, before its first test (captures its environment). */
  onRunStart?: (run: Run) => Promise<void>;
  sleep: (ms: number) => Promise<void>;
  now: () => Date;
  log: Logger;
}

const modeOf = (path: Path): NetworkMode => (path === 'node' ? 'host' : 'pod');
const key = (path: Path, protocol: Protocol) => `${path}/${protocol}`;

export class Scheduler {
  private stopped = true;
  private loopDone: Promise<void> = Promise.resolve();
  private readonly sweeps = new Map<string, Sweep>();
  private readonly order: RoundRobin<{ path: Path; protocol: Protocol }>;
  private readonly runs = new Map<string, Run>();
  private readonly queue: Run[] = [];
  /** Nodes in a test right now; the invariant the rounds guarantee, checked at run time. */
  private readonly busy = new Set<string>();
  private wake: (() => void) | undefined;

  constructor(private readonly d: SchedulerDeps) {
    this.order = new RoundRobin(d.settings.paths.flatMap((path) => d.settings.protocols.map((protocol) => ({ path, protocol }))));
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
      paths: req.paths ?? [...s.paths],
      protocols: req.protocols ?? [...s.protocols],
      durationSeconds: req.durationSeconds ?? s.durationSeconds,
      repeat: req.repeat ?? 1,
      streams: req.streams ?? s.streams,
      tcpBitrateBitsPerSecond: req.tcpBitrateBitsPerSecond ?? s.tcpBitrate,
      udpBitrateBitsPerSecond: req.udpBitrateBitsPerSecond ?? s.udpBitrate,
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

  /** Nodes that can take part in `path` now. */
  members(path: Path): string[] {
    const nodes = this.d.agents.nodesWith(modeOf(path));
    return path === 'service' ? nodes.filter((n) => this.d.serviceAddress(n) !== undefined) : nodes;
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      const work = await this.next();
      if (!work) {
        await this.idle(1000);
        continue;
      }
      try {
        await this.execute(work.round, work.run);
      } catch (e) {
        this.d.log.error({ err: e }, 'round failed');
      }
      if (this.d.settings.pauseMs > 0 && !this.stopped) await this.idle(this.d.settings.pauseMs);
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
        run.start((p) => this.members(p), this.d.now());
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
    const pick = this.order.next(({ path }) => this.members(path).length >= 2);
    if (!pick) return undefined;
    const members = this.members(pick.path);
    const k = key(pick.path, pick.protocol);
    let sweep = this.sweeps.get(k) ?? new Sweep(members);
    let pairs = sweep.nextRound(members);
    if (pairs.length === 0) {
      if (this.sweeps.has(k)) this.d.onSweepCompleted(pick.path, pick.protocol);
      sweep = new Sweep(members);
      pairs = sweep.nextRound(members);
    }
    this.sweeps.set(k, sweep);
    return { round: { ...pick, pairs } };
  }

  private spec(protocol: Protocol, run?: Run): TestSpec {
    const s = this.d.settings;
    const r = run?.spec;
    return {
      protocol,
      durationSeconds: r?.durationSeconds ?? s.durationSeconds,
      bitrateBitsPerSecond:
        protocol === 'udp' ? (r?.udpBitrateBitsPerSecond ?? s.udpBitrate) : (r?.tcpBitrateBitsPerSecond ?? s.tcpBitrate),
      streams: r?.streams ?? s.streams,
      reverse: false,
    };
  }

  /** Run a round's pairs, at most `concurrency` at a time. */
  private async execute(round: PlannedRound, run?: Run): Promise<void> {
    const queue = [...round.pairs];
    const worker = async () => {
      for (let pair = queue.shift(); pair && !this.stopped; pair = queue.shift()) {
        await this.one(round.path, round.protocol, pair, run);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.d.settings.concurrency, queue.length) }, worker));
  }

  private async one(path: Path, protocol: Protocol, pair: Pair, run?: Run): Promise<void> {
    if (this.busy.has(pair.source) || this.busy.has(pair.target)) {
      // Rounds are disjoint by construction; reaching here is a bug, not a network condition.
      throw new Error(`node double-booked: ${pair.source} -> ${pair.target}`);
    }
    const spec = this.spec(protocol, run);
    const mode = modeOf(path);
    const client = this.d.agents.find(pair.source, mode);
    const server = this.d.agents.find(pair.target, mode);
    const started = this.d.now().getTime();
    const ctx = { path, protocol, spec, source: pair.source, target: pair.target, runId: run?.id ?? null, label: run?.label ?? null };
    if (run) run.current = { path, protocol, source: pair.source, target: pair.target };
    let result: TestResult;
    if (!client || !server) {
      result = this.d.unrunnable(ctx, failure('agent-lost', `no ${mode} agent on ${client ? pair.target : pair.source}`));
    } else {
      const address = targetAddress(path, server, this.d.serviceAddress);
      if (!address) {
        result = this.d.unrunnable(ctx, failure('no-target-address', `no service address for ${pair.target}`));
      } else {
        this.busy.add(pair.source).add(pair.target);
        try {
          result = await this.d.runTest({
            path,
            protocol,
            spec,
            client,
            server,
            targetAddress: address,
            runId: ctx.runId,
            label: ctx.label,
          });
        } finally {
          this.busy.delete(pair.source);
          this.busy.delete(pair.target);
        }
      }
    }
    run?.record(result);
    this.d.onResult(result, (this.d.now().getTime() - started) / 1000);
  }
}

function targetAddress(path: Path, server: AgentSession, service: (node: string) => string | undefined): string | undefined {
  if (path === 'node') return server.identity.hostIp;
  if (path === 'pod') return server.identity.podIp;
  return service(server.identity.nodeName);
}
