/**
 * On-demand runs: a full matrix over the chosen paths and protocols, its members fixed when the
 * run starts, executed ahead of the background sweep, reported by run id.
 */
import { randomUUID } from 'node:crypto';
import type { RunSummary } from '../../shared/api.js';
import type { Environment } from '../../shared/environment.js';
import type { RunSpec } from '../../shared/results-file.js';
import type { Path, Protocol, TestKind } from '../../shared/protocol.js';
import type { TestResult } from '../../shared/result.js';
import { roundRobinRound, roundRobinRoundCount, type Pair } from './sweep.js';

/** One round of one kind, path and protocol: disjoint pairs. */
export interface PlannedRound {
  kind: TestKind;
  path: Path;
  protocol: Protocol;
  pairs: Pair[];
}

export class Run {
  readonly id = randomUUID();
  readonly createdAt = new Date();
  status: RunSummary['status'] = 'queued';
  startedAt: Date | null = null;
  endedAt: Date | null = null;
  current: RunSummary['current'] = null;
  readonly results: TestResult[] = [];
  environment: Environment | null = null;
  /** Each kind, path and protocol of the run with its members as they were at the start. */
  private keys: Array<{ kind: TestKind; path: Path; protocol: Protocol; members: readonly string[]; rounds: number }> = [];
  /** The next round: repetition, round index, key index. */
  private cursor = { pass: 0, round: 0, key: 0 };
  private longest = 0;
  private total = 0;

  constructor(
    readonly label: string,
    readonly spec: RunSpec,
  ) {}

  /**
   * Plan every ordered pair of each path's members, for each kind of test, `repeat` times. Rounds of different paths
   * and protocols are interleaved so a partial run already shows every kind of figure, and
   * repetitions are whole passes over the matrix so slow drift spreads over every pair. Rounds
   * are computed when they are taken: the whole plan of a 5,000-node cluster is 25 million
   * pairs for each kind, path and protocol.
   */
  start(members: (path: Path, kind: TestKind) => readonly string[], now: Date): void {
    for (const kind of this.spec.kinds) {
      for (const path of this.spec.paths) {
        for (const protocol of this.spec.protocols) {
          const m = members(path, kind);
          this.keys.push({ kind, path, protocol, members: m, rounds: roundRobinRoundCount(m.length) });
          this.total += this.spec.repeat * m.length * (m.length - 1);
        }
      }
    }
    this.longest = Math.max(0, ...this.keys.map((k) => k.rounds));
    this.status = 'running';
    this.startedAt = now;
  }

  nextRound(): PlannedRound | undefined {
    const c = this.cursor;
    for (; c.pass < this.spec.repeat; c.pass++, c.round = 0) {
      for (; c.round < this.longest; c.round++, c.key = 0) {
        while (c.key < this.keys.length) {
          const k = this.keys[c.key++] as (typeof this.keys)[number];
          if (c.round < k.rounds) return { kind: k.kind, path: k.path, protocol: k.protocol, pairs: roundRobinRound(k.members, c.round) };
        }
      }
    }
    return undefined;
  }

  record(r: TestResult): void {
    this.results.push(r);
  }

  finish(now: Date): void {
    this.status = 'done';
    this.endedAt = now;
    this.current = null;
  }

  summary(): RunSummary {
    return {
      id: this.id,
      label: this.label,
      status: this.status,
      createdAt: this.createdAt.toISOString(),
      startedAt: this.startedAt?.toISOString() ?? null,
      endedAt: this.endedAt?.toISOString() ?? null,
      spec: this.spec,
      environment: this.environment,
      total: this.total,
      done: this.results.length,
      failed: this.results.filter((r) => !r.ok).length,
      current: this.current,
    };
  }
}
