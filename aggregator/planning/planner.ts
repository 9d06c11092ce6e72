/**
 * Decides what the scheduler does next, without doing it: run the next round of the on-demand
 * run at the head of the queue, else of the background sweep (its paths and protocols in turn,
 * `latencyRounds` latency rounds after each throughput round), or wait, and for how long and
 * why (the pause between rounds, quiet hours, the tests-per-hour pace, nothing to do).
 *
 * Pure: no I/O, no timers, no awaits. Each call is given the time, the membership (plain data)
 * and the random source; it changes only its own state and the runs it was given, and returns
 * what happened as notes for the caller to log and pass on.
 */
import type { Path, Protocol, TestKind } from '../../shared/protocol.js';
import type { TestResult } from '../../shared/result.js';
import type { PlannedRound, Run } from './runs.js';
import { BackgroundSweep, type CoverageStaleness, type SweepNote } from './background.js';
import { jittered, quietMsLeft } from './pacing.js';
import { Rests, type RestStarted } from './rests.js';
import type { SchedulerSettings } from './settings.js';
import type { Pair } from './sweep.js';

/** Who can take part in tests now, by kind and path, and each node's zone (budget mode groups by it). */
export interface Membership {
  throughput: Readonly<Partial<Record<Path, readonly string[]>>>;
  /** A subset of `throughput`'s: latency tests need sockperf on the agent. */
  latency: Readonly<Partial<Record<Path, readonly string[]>>>;
  /** Nodes left out have no known zone: each is a zone of its own. */
  zones: ReadonlyMap<string, string>;
}

/** What a decision is made from. */
export interface World {
  /** ms since the epoch. */
  now: number;
  members: Membership;
  /** Uniform in [0, 1), for jitter. */
  random: () => number;
}

export type WaitReason = 'pause' | 'quiet-hours' | 'test-budget' | 'idle';

export type RunNote = { type: 'run-finished'; run: Run };

/** One planned background round, for observation: its size and what planning it cost. */
export type RoundPlanned = Omit<Extract<SweepNote, { type: 'round-planned' }>, 'type'> & {
  /** Wall-clock milliseconds spent deciding (membership, coverage, budgets), measured by the caller: the planner reads no clock. */
  planMs: number;
};
export type Note = SweepNote | RunNote;

/** What to do next: start a queued run (its environment is captured first), run a round, or wait. */
export type Decision =
  | { type: 'start-run'; run: Run; notes: Note[] }
  | { type: 'round'; round: PlannedRound; run: Run | null; notes: Note[] }
  | { type: 'wait'; ms: number; reason: WaitReason; notes: Note[] };

/** How long to wait when there is nothing to do. */
export const IDLE_MS = 1000;
/** Longest single wait, so a clock that jumps or a changed world is noticed within a minute. */
export const MAX_WAIT_MS = 60_000;

export class Planner {
  private readonly queue: Run[] = [];
  private readonly background: BackgroundSweep;
  private readonly rests: Rests;
  /** Latency rounds still owed before the next throughput round. */
  private latencyDue = 0;
  /** A round has just ended: the pause between rounds comes next. */
  private pauseDue = false;

  constructor(private readonly s: SchedulerSettings) {
    this.background = new BackgroundSweep(s);
    this.rests = new Rests({
      cpuPercent: s.busyNodeCpuPercent,
      nicBitsPerSecond: s.busyNodeNicBitsPerSecond,
      restSeconds: s.busyNodeRestSeconds,
    });
  }

  /** Queue an on-demand run; it starts at the next round boundary. */
  submit(run: Run): void {
    this.queue.push(run);
  }

  /** The next thing to do. */
  next(w: World): Decision {
    const notes: Note[] = [];
    if (this.pauseDue) {
      this.pauseDue = false;
      const ms = jittered(this.s.pauseMs, this.s.pauseJitterPercent, w.random);
      if (ms > 0) return { type: 'wait', ms, reason: 'pause', notes };
    }
    for (let run = this.queue[0]; run; run = this.queue[0]) {
      if (run.status === 'queued') {
        run.start((path, kind) => w.members[kind][path] ?? [], new Date(w.now));
        return { type: 'start-run', run, notes };
      }
      const round = run.nextRound();
      if (round) return { type: 'round', round, run, notes };
      run.finish(new Date(w.now));
      notes.push({ type: 'run-finished', run });
      this.queue.shift();
    }
    return this.backgroundRound(w, notes);
  }

  /** A round is over: forget its charges, and pause before the next. */
  roundDone(round: PlannedRound): void {
    this.background.roundDone(round);
    this.pauseDue = true;
  }

  /** A test's result is in: settle its byte charges, and rest its nodes if they were busy with real work. */
  recordResult(pair: Pair, r: TestResult, now: number): RestStarted[] {
    this.background.settle(pair, r);
    return this.rests.record(r, now);
  }

  /** Staleness of the background sweep at `now` (ms), per kind, path and protocol it has planned. */
  staleness(now: number): CoverageStaleness[] {
    return this.background.staleness(now);
  }

  /** Nodes resting from background tests at `now` (ms). */
  restingNodes(now: number): number {
    return this.rests.resting(now);
  }

  /** Each kind and protocol whose one test is charged more bytes than a node may move in an hour: none of them will run. */
  byteBudgetBelowOneTest(): Array<{ kind: TestKind; protocol: Protocol; bytes: number; perHour: number }> {
    const perHour = this.s.nodeBytesPerHour;
    const kinds = (['throughput', 'latency'] as const).flatMap((kind) => this.s.protocols.map((protocol) => ({ kind, protocol })));
    const charged = kinds.map((k) => ({ ...k, bytes: this.background.bytesPerTest(k.kind, k.protocol), perHour }));
    return perHour > 0 ? charged.filter((k) => k.bytes > perHour) : [];
  }

  private backgroundRound(w: World, notes: Note[]): Decision {
    const idle = (ms: number, reason: WaitReason): Decision => ({ type: 'wait', ms: Math.min(ms, MAX_WAIT_MS), reason, notes });
    if (!this.s.continuous) return idle(IDLE_MS, 'idle');
    const quiet = quietMsLeft(this.s.quietHours, new Date(w.now));
    if (quiet > 0) return idle(quiet, 'quiet-hours');
    const readyAt = this.background.readyAt(w.now);
    if (readyAt > w.now) return idle(jittered(readyAt - w.now, this.s.pauseJitterPercent, w.random), 'test-budget');
    if (this.latencyDue > 0) {
      this.latencyDue--;
      const round = this.sweepRound('latency', w, notes);
      if (round) return { type: 'round', round, run: null, notes };
    }
    // Latency members are a subset of throughput members: no throughput round means no latency round.
    const round = this.sweepRound('throughput', w, notes);
    if (!round) return idle(IDLE_MS, 'idle');
    this.latencyDue = this.s.latencyRounds;
    return { type: 'round', round, run: null, notes };
  }

  private sweepRound(kind: TestKind, w: World, notes: Note[]): PlannedRound | undefined {
    if (kind === 'latency' && this.s.latencyRounds === 0) return undefined;
    return this.background.round(
      kind,
      (path) => w.members[kind][path] ?? [],
      (node) => w.members.zones.get(node) ?? null,
      (node) => this.rests.available(node, w.now),
      w.now,
      (n) => notes.push(n),
    );
  }
}
