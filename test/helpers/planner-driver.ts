/**
 * Drives the pure planner (aggregator/planning/planner.ts) on virtual time, synchronously: each
 * wait moves the clock on by its length, each round's tests finish at once with a result the
 * test shapes, so a table of cases can state what the planner decides over hours in
 * milliseconds, with no timers, sessions or event loop.
 */
import { Planner, type Decision, type Membership } from '../../aggregator/planning/planner.js';
import type { SchedulerSettings } from '../../aggregator/planning/settings.js';
import type { Pair } from '../../aggregator/planning/sweep.js';
import type { Path, Protocol, TestKind } from '../../shared/protocol.js';
import type { TestResult } from '../../shared/result.js';
import { testResult } from '../fixtures/results/builder.js';
import { schedulerTestSettings } from './scheduler-settings.js';

export const nodeNames = (n: number): string[] => Array.from({ length: n }, (_, i) => `node${i + 1}`);
export const orderedPairs = (nodes: readonly string[]): string[] =>
  nodes.flatMap((s) => nodes.filter((t) => t !== s).map((t) => `${s}->${t}`));
export const pairOf = (p: Pair): string => `${p.source}->${p.target}`;

/** Every path's members: `nodes` for throughput, those not in `withoutSockperf` for latency; zones from `zoneOf`. */
export function members(nodes: readonly string[], o: { withoutSockperf?: string[]; zoneOf?: (n: string) => string } = {}): Membership {
  const latency = nodes.filter((n) => !(o.withoutSockperf ?? []).includes(n));
  const paths: Path[] = ['node', 'pod', 'service'];
  return {
    throughput: Object.fromEntries(paths.map((p) => [p, nodes])),
    latency: Object.fromEntries(paths.map((p) => [p, latency])),
    zones: new Map(o.zoneOf ? nodes.map((n) => [n, o.zoneOf?.(n) ?? '']) : []),
  };
}

/** One test the planner had run, when (virtual ms). */
export interface Ran {
  at: number;
  kind: TestKind;
  key: string;
  pair: string;
  runId: string | null;
  /** Index of the round it was in. */
  round: number;
}

/** What happened, in order: the tests run, the waits and the notes. */
export interface Trace {
  ran: Ran[];
  waits: Array<{ at: number; ms: number; reason: string }>;
  /** `kind:path/protocol` of each completed sweep, with the tests run before it. */
  completed: Array<{ key: string; afterTests: number }>;
  decisions: Decision[];
  now: number;
}

export interface DriveOptions {
  settings?: Partial<SchedulerSettings>;
  /** Membership at each decision (it may change as the drive goes on). */
  members: (now: number, trace: Trace) => Membership;
  start?: number;
  random?: () => number;
  /** The result of a test at `now`; a successful 9.4 Gbit/s one by default. */
  result?: (pair: Pair, kind: TestKind, now: number) => TestResult;
  /** Stop when this says so (checked before each decision), or after `maxDecisions`. */
  until: (trace: Trace) => boolean;
  maxDecisions?: number;
  /** Called before each decision (to queue a run, say). */
  before?: (planner: Planner, trace: Trace) => void;
}

/** Run the planner until `until`; returns it with the trace. */
export function drive(o: DriveOptions): { planner: Planner; trace: Trace } {
  const planner = new Planner(schedulerTestSettings(o.settings));
  const trace: Trace = { ran: [], waits: [], completed: [], decisions: [], now: o.start ?? Date.UTC(2026, 0, 1, 12) };
  let rounds = 0;
  for (let i = 0; i < (o.maxDecisions ?? 100_000) && !o.until(trace); i++) {
    o.before?.(planner, trace);
    const d = planner.next({ now: trace.now, members: o.members(trace.now, trace), random: o.random ?? (() => 0.5) });
    trace.decisions.push(d);
    for (const n of d.notes) {
      if (n.type === 'sweep-completed') trace.completed.push({ key: `${n.kind}:${n.path}/${n.protocol}`, afterTests: trace.ran.length });
    }
    if (d.type === 'wait') {
      trace.waits.push({ at: trace.now, ms: d.ms, reason: d.reason });
      trace.now += d.ms;
    } else if (d.type === 'round') {
      const { kind, path, protocol } = d.round;
      for (const pair of d.round.pairs) {
        trace.ran.push({ at: trace.now, kind, key: `${path}/${protocol}`, pair: pairOf(pair), runId: d.run?.id ?? null, round: rounds });
        const r = o.result?.(pair, kind, trace.now) ?? okResult(pair, path, protocol, trace.now);
        d.run?.record(r);
        planner.recordResult(pair, r, trace.now);
      }
      planner.roundDone(d.round);
      rounds++;
    }
  }
  return { planner, trace };
}

/** A successful throughput result between `pair` ending at `now`, that moved `bytes` each way (none: a failed test). */
export function okResult(pair: Pair, path: Path, protocol: Protocol, now: number, bytes?: number): TestResult {
  const r = testResult({ path, protocol, source: pair.source, target: pair.target, throughput: bytes === 0 ? null : 9.4e9 });
  const moved = bytes === undefined || r.iperf === null ? r.iperf : { ...r.iperf, sentBytes: bytes, receivedBytes: bytes };
  return { ...r, runId: null, endedAt: new Date(now).toISOString(), iperf: moved };
}

/** Most tests started in any trailing hour. */
export const busiestHour = (ats: readonly number[]): number =>
  Math.max(0, ...ats.map((t) => ats.filter((a) => a > t - 3_600_000 && a <= t).length));
