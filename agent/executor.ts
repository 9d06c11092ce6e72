/**
 * Runs the aggregator's commands, one test at a time, with the runner of each command's kind.
 * Owns the single running test (its abort controller and CPU window); checks every command
 * against the agent's own limits (shared/limits.ts, the kind's policy) before anything is spawned.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { failure, type Failure } from '../shared/errors.js';
import { checkPort, checkTarget } from '../shared/limits.js';
import { kindOf, type SpecOf, type TestKind, type TestSpec } from '../shared/kinds/index.js';
import type { AgentLimits, ProbeCommand, ResultMessage, ServeCommand } from '../shared/protocol.js';
import type { CpuReport } from '../shared/cpu.js';
import type { NicReport } from '../shared/nic.js';
import type { CpuSampler } from './cpu-sampler.js';
import type { NicSampler } from './nic-sampler.js';
import type { KindRunner, RunOutcome } from './kind-runner.js';

/** The runner of each kind this agent can run; a kind left out (no sockperf here) is refused. */
export type KindRunners = { readonly [K in TestKind]?: Pick<KindRunner<SpecOf<K>>, 'serve' | 'probe'> | null };

export interface ExecutorDeps {
  limits: AgentLimits;
  sampler: Pick<CpuSampler, 'begin'>;
  /** The node NIC's traffic around each test; null when this agent measures no NIC (pod agents). */
  nic: Pick<NicSampler, 'begin'> | null;
  runners: KindRunners;
  /** A finished result (kept until acknowledged by the caller's outbox). */
  onResult: (r: ResultMessage) => void;
  /** The server of `testId` listens. */
  onReady: (testId: string) => void;
  log: Logger;
}

type Runner = Pick<KindRunner<TestSpec>, 'serve' | 'probe'>;
/** What a command comes to: why it is refused, or the run of its process. */
type Job = Failure | ((signal: AbortSignal) => Promise<RunOutcome>);

interface Running {
  testId: string;
  controller: AbortController;
  /** Settles when the test's process has exited and the slot is free. */
  done: Promise<void>;
}

export class Executor {
  private running: Running | undefined;

  constructor(private readonly d: ExecutorDeps) {}

  get busyWith(): string | undefined {
    return this.running?.testId;
  }

  /** Start the server of `cmd.spec`'s kind; `ready` once it listens, then a result if the kind owes one. */
  serve(cmd: ServeCommand): void {
    const runner = this.runnerOf(cmd.spec);
    if (!runner.run) return this.start(cmd.testId, 'server', runner.refused);
    const { run } = runner;
    this.start(
      cmd.testId,
      'server',
      this.refusal(cmd.spec, cmd.port) ?? ((signal) => run.serve(cmd, signal, () => this.d.onReady(cmd.testId))),
    );
  }

  /** Run the client of `cmd.spec`'s kind against `cmd.target`; a result of role client. */
  probe(cmd: ProbeCommand): void {
    const runner = this.runnerOf(cmd.spec);
    if (!runner.run) return this.start(cmd.testId, 'client', runner.refused);
    const { run } = runner;
    const refused = this.refusal(cmd.spec, cmd.port) ?? checkTarget(this.d.limits, cmd.target);
    this.start(cmd.testId, 'client', refused ?? ((signal) => run.probe(cmd, signal)));
  }

  /** The runner of a spec's kind (the registry holds each kind's runner under its own kind), or why there is none. */
  private runnerOf(spec: TestSpec): { run: Runner; refused?: undefined } | { run?: undefined; refused: Failure } {
    const run = this.d.runners[spec.kind];
    if (run) return { run };
    return { refused: failure('spec-refused', `this agent has no ${kindOf(spec).tool}: it takes no ${spec.kind} tests`) };
  }

  /** The agent's limits policy on a command: its port, then its kind's limits on the spec. */
  private refusal(spec: TestSpec, port: number): Failure | undefined {
    return checkPort(this.d.limits, port) ?? kindOf(spec).checkLimits(this.d.limits, spec);
  }

  /** Kill the running test if it is `testId` (or any, when testId is undefined). No result is sent. */
  cancel(testId: string | undefined, reason: string): void {
    if (this.running && (testId === undefined || this.running.testId === testId)) {
      this.running.controller.abort(reason);
    }
  }

  private start(testId: string, role: 'client' | 'server', job: Job): void {
    const now = Date.now();
    const fail = (f: Failure) =>
      this.d.onResult({ type: 'result', resultId: randomUUID(), testId, role, startedAtMs: now, endedAtMs: now, ok: false, error: f });
    if (typeof job !== 'function') {
      this.d.log.warn({ testId, role, reason: job.message }, 'command refused');
      return fail(job);
    }
    if (this.running) {
      // A cancelled test is already on its way out (its process being killed): the next command
      // waits for it rather than failing. The aggregator cancels a latency server as soon as its
      // client reports and may send this node its next test at once.
      if (this.running.controller.signal.aborted) {
        void this.running.done.then(() => this.start(testId, role, job));
        return;
      }
      return fail(failure('agent-busy', `agent is busy with test ${this.running.testId}`));
    }
    const controller = new AbortController();
    const log = this.d.log.child({ testId, role });
    log.debug('test started');
    this.running = { testId, controller, done: this.execute(testId, role, controller, job, log) };
  }

  private async execute(
    testId: string,
    role: 'client' | 'server',
    controller: AbortController,
    run: (signal: AbortSignal) => Promise<RunOutcome>,
    log: Logger,
  ): Promise<void> {
    let cpu: CpuReport | undefined;
    let nic: NicReport | undefined;
    try {
      const [window, nicWindow] = await Promise.all([
        this.d.sampler.begin().catch((e: unknown) => {
          log.warn({ err: e }, 'cpu sampling unavailable');
          return undefined;
        }),
        this.d.nic?.begin().catch((e: unknown) => {
          log.warn({ err: e }, 'nic sampling unavailable');
          return undefined;
        }),
      ]);
      const outcome = await run(controller.signal);
      [cpu, nic] = await Promise.all([window?.stop(outcome.measured).catch(() => undefined), nicWindow?.stop().catch(() => undefined)]);
      if (controller.signal.aborted) {
        log.debug({ reason: String(controller.signal.reason) }, 'test cancelled');
        return;
      }
      const ok = !outcome.failure;
      this.d.onResult({
        type: 'result',
        resultId: randomUUID(),
        testId,
        role,
        startedAtMs: outcome.startedAtMs,
        endedAtMs: outcome.endedAtMs,
        ok,
        ...(outcome.failure ? { error: outcome.failure } : {}),
        ...(outcome.iperf ? { iperf: outcome.iperf } : {}),
        ...(outcome.latency ? { latency: outcome.latency } : {}),
        ...(cpu ? { cpu } : {}),
        ...(nic ? { nic } : {}),
      });
      log.debug({ ok, code: outcome.failure?.code }, 'test finished');
    } finally {
      if (this.running?.testId === testId) this.running = undefined;
    }
  }
}
