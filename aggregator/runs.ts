/**
 * On-demand runs: a full matrix over the chosen paths and protocols, planned when the run
 * starts, executed ahead of the background sweep, reported by run id.
 */
import { randomUUID } from 'node:crypto';
import type { RunSummary } from '../shared/api.js';
import type { Environment } from '../shared/environment.js';
import type { RunSpec } from '../shared/results-file.js';
import type { Path, Protocol, TestKind } from '../shared/protocol.js';
import type { TestResult } from '../shared/result.js';
import { roundRobinRounds, type Pair } from './sweep.js';

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
  private rounds: PlannedRound[] = [];
  private total = 0;

  constructor(
    readonly label: string,
    readonly spec: RunSpec,
  ) {}

  /**
   * Plan every ordered pair of each path's members, for each kind of test, `repeat` times. Rounds of different paths
   * and protocols are interleaved so a partial run already shows every kind of figure, and
   * repetitions are whole passes over the matrix so slow drift spreads over every pair.
   */
  start(members: (path: Path, kind: TestKind) => string[], now: Date): void {
    const perKey: PlannedRound[][] = [];
    for (const kind of this.spec.kinds) {
      for (const path of this.spec.paths) {
        for (const protocol of this.spec.protocols) {
          perKey.push(roundRobinRounds(members(path, kind)).map((pairs) => ({ kind, path, protocol, pairs })));
        }
      }
    }
    const longest = Math.max(0, ...perKey.map((k) => k.length));
    const pass: PlannedRound[] = [];
    for (let i = 0; i < longest; i++) for (const k of perKey) if (k[i]) pass.push(k[i] as PlannedRound);
    for (let r = 0; r < this.spec.repeat; r++) this.rounds.push(...pass);
    this.total = this.rounds.reduce((n, r) => n + r.pairs.length, 0);
    this.status = 'running';
    this.startedAt = now;
  }

  nextRound(): PlannedRound | undefined {
    return this.rounds.shift();
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
