/**
 * Runs what the planner (aggregator/planning/planner.ts) decides, one round at a time: a round
 * is a set of disjoint pairs, so a node is never in two tests at once, across all paths and
 * kinds. This loop takes a decision, runs the round's tests through a pool of `concurrency`
 * workers (checking that no node is double-booked), and fans each result out: to the run, to
 * the planner (budgets, rests) and to `onResult`. Time (`sleep`, `now`), randomness and the test
 * runner are parameters, so the loop can be tested without iperf3.
 */
import type { Logger } from 'pino';
import type { Failure } from '../shared/errors.js';
import type { RunRequest, RunSummary } from '../shared/api.js';
import type { Path, Protocol, TestKind } from '../shared/protocol.js';
import type { TestResult } from '../shared/result.js';
import type { CoverageStaleness } from './planning/background.js';
import { Planner, type Decision, type Note, type RoundPlanned } from './planning/planner.js';
import type { SchedulerSettings } from './planning/settings.js';
import { runSpecOf, specFor, type KindAndSpec } from './planning/spec.js';
import type { Pair } from './planning/sweep.js';
import { Run, type PlannedRound } from './planning/runs.js';
import { membersOf, membership, planTest, type SchedulerWorld, type TestPlace } from './scheduler-agents.js';
import type { TestPlan } from './test-runner.js';

export type { CoverageStaleness } from './planning/background.js';
export type { RoundPlanned } from './planning/planner.js';
export type { CoverageMode, SchedulerSettings } from './planning/settings.js';

export interface SchedulerDeps extends SchedulerWorld {
  settings: SchedulerSettings;
  runTest: (plan: TestPlan) => Promise<TestResult>;
  /** A result for a test that could not even start (an agent gone, no address). */
  unrunnable: (t: TestPlace & KindAndSpec, f: Failure) => TestResult;
  onResult: (r: TestResult, durationSeconds: number) => void;
  onSweepCompleted: (path: Path, protocol: Protocol, kind: TestKind) => void;
  /** Called when an on-demand run starts, before its first test (captures its environment). */
  onRunStart?: (run: Run) => Promise<void>;
  sleep: (ms: number) => Promise<void>;
  now: () => Date;
  log: Logger;
  /** Uniform in [0, 1), for jitter; Math.random when left out. */
  random?: () => number;
  /** Called after each background round is planned (the simulation and metrics read it). */
  onRoundPlanned?: (p: RoundPlanned) => void;
}

/** Tests a round starts before it lets the event loop turn. */
const START_BATCH = 64;

export class Scheduler {
  private stopped = true;
  private loopDone: Promise<void> = Promise.resolve();
  private readonly planner: Planner;
  private readonly runs = new Map<string, Run>();
  /** Nodes in a test right now; the invariant the rounds guarantee, checked at run time. */
  private readonly busy = new Set<string>();
  private wake: (() => void) | undefined;

  constructor(private readonly d: SchedulerDeps) {
    this.planner = new Planner(d.settings);
    for (const k of this.planner.byteBudgetBelowOneTest()) d.log.warn(k, 'byte budget below one test: none will run');
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
    const run = new Run(req.label, runSpecOf(req, this.d.settings));
    this.runs.set(run.id, run);
    this.planner.submit(run);
    this.wake?.();
    return run.summary();
  }

  run(id: string): Run | undefined {
    return this.runs.get(id);
  }

  allRuns(): RunSummary[] {
    return [...this.runs.values()].map((r) => r.summary());
  }

  /** Staleness of the background sweep at `now`, per kind, path and protocol it has planned. */
  staleness(now: Date = this.d.now()): CoverageStaleness[] {
    return this.planner.staleness(now.getTime());
  }

  /** Nodes resting from background tests now, busy with real work. */
  restingNodes(now: Date = this.d.now()): number {
    return this.planner.restingNodes(now.getTime());
  }

  /** Nodes that can take part in `kind` tests on `path` now. */
  members(path: Path, kind: TestKind = 'throughput'): readonly string[] {
    return membersOf(this.d, path, kind);
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      const next = this.decide();
      if (next.type === 'wait') {
        await this.idle(next.ms);
      } else if (next.type === 'start-run') {
        // At a round boundary nothing runs: the moment to measure every node idle.
        await this.d
          .onRunStart?.(next.run)
          .catch((e: unknown) => this.d.log.warn({ err: e, runId: next.run.id }, 'run environment not captured'));
        this.d.log.info({ runId: next.run.id, label: next.run.label, tests: next.run.summary().total }, 'run started');
      } else {
        await this.execute(next.round, next.run ?? undefined)
          .catch((e: unknown) => this.d.log.error({ err: e }, 'round failed'))
          .finally(() => this.planner.roundDone(next.round));
      }
    }
  }

  /** Ask the planner, and pass on what it noted. */
  private decide(): Decision {
    const began = performance.now();
    const decision = this.planner.next({ now: this.d.now().getTime(), members: membership(this.d), random: this.d.random ?? Math.random });
    const planMs = performance.now() - began;
    for (const note of decision.notes) this.noted(note, planMs);
    return decision;
  }

  private noted(n: Note, planMs: number): void {
    if (n.type === 'run-finished') this.d.log.info({ runId: n.run.id, label: n.run.label, failed: n.run.summary().failed }, 'run finished');
    else if (n.type === 'sweep-completed') this.d.onSweepCompleted(n.path, n.protocol, n.kind);
    else if (n.type === 'coverage-mode')
      this.d.log.info({ kind: n.kind, path: n.path, protocol: n.protocol, mode: n.mode, nodes: n.nodes }, 'coverage mode');
    else this.d.onRoundPlanned?.({ kind: n.kind, path: n.path, protocol: n.protocol, mode: n.mode, pairs: n.pairs, planMs });
  }

  /** Sleep, but wake early for a new on-demand run or stop. */
  private async idle(ms: number): Promise<void> {
    await Promise.race([this.d.sleep(ms), new Promise<void>((r) => (this.wake = r))]);
    this.wake = undefined;
  }

  /** Run a round's pairs, at most `concurrency` at a time. */
  private async execute(round: PlannedRound, run?: Run): Promise<void> {
    const queue = [...round.pairs];
    const worker = async () => {
      for (let pair = queue.shift(); pair && !this.stopped; pair = queue.shift()) await this.one(round, pair, run);
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

  private async one({ kind, path, protocol }: PlannedRound, pair: Pair, run?: Run): Promise<void> {
    const { source, target } = pair;
    // Rounds are disjoint by construction; reaching here is a bug, not a network condition.
    if (this.busy.has(source) || this.busy.has(target)) throw new Error(`node double-booked: ${source} -> ${target}`);
    const planned = specFor(kind, protocol, this.d.settings, run?.spec);
    const at = { path, protocol, source, target, runId: run?.id ?? null, label: run?.label ?? null };
    const started = this.d.now().getTime();
    if (run) run.current = { kind, path, protocol, source, target };
    const test = planTest(this.d, at, planned);
    let result: TestResult;
    if ('refused' in test) result = this.d.unrunnable({ ...at, ...planned }, test.refused);
    else {
      this.busy.add(source).add(target);
      result = await this.d.runTest(test.plan).finally(() => [source, target].forEach((n) => this.busy.delete(n)));
    }
    run?.record(result);
    for (const rest of this.planner.recordResult(pair, result, this.d.now().getTime())) {
      if (rest.fresh) this.d.log.info({ node: rest.node, ...rest.busy, restSeconds: rest.restSeconds }, 'node busy, resting');
    }
    this.d.onResult(result, (this.d.now().getTime() - started) / 1000);
  }
}
