/**
 * Runs the aggregator's commands, one test at a time. Owns the single running test (its
 * abort controller and CPU window); checks every command against the agent's own limits
 * before anything is spawned.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { failure, type Failure } from '../shared/errors.js';
import { checkLatencySpec, checkPort, checkSpec, checkTarget } from '../shared/limits.js';
import {
  ProbeLatencySchema,
  ProbeSchema,
  ServeLatencySchema,
  ServeSchema,
  type AgentLimits,
  type ProbeCommand,
  type ProbeLatencyCommand,
  type ResultMessage,
  type ServeCommand,
  type ServeLatencyCommand,
} from '../shared/protocol.js';
import type { CpuReport } from '../shared/cpu.js';
import type { NicReport } from '../shared/nic.js';
import type { CpuSampler } from './cpu-sampler.js';
import type { NicSampler } from './nic-sampler.js';
import type { Iperf3Runner, RunOutcome } from './iperf3-runner.js';
import type { SockperfRunner } from './sockperf-runner.js';

export interface ExecutorDeps {
  limits: AgentLimits;
  sampler: Pick<CpuSampler, 'begin'>;
  /** The node NIC's traffic around each test; null when this agent measures no NIC (pod agents). */
  nic: Pick<NicSampler, 'begin'> | null;
  runner: Pick<Iperf3Runner, 'client' | 'server'>;
  /** Runs latency tests; null when this node has no sockperf (every latency command is then refused). */
  latencyRunner: Pick<SockperfRunner, 'probe' | 'serve'> | null;
  /** A finished result (kept until acknowledged by the caller's outbox). */
  onResult: (r: ResultMessage) => void;
  /** The server of `testId` listens. */
  onReady: (testId: string) => void;
  log: Logger;
}

/**
 * Commands normally arrive parsed (shared/protocol.ts), but the executor is the last line
 * before a process starts, so it checks the shape again: a NaN port or a zero stream count
 * would pass the limit comparisons and then throw inside the runner, after the test started.
 */
function malformed(parsed: { success: boolean; error?: { issues: { path: PropertyKey[]; message: string }[] } }): Failure | undefined {
  if (parsed.success) return undefined;
  const first = parsed.error?.issues[0];
  return failure('spec-refused', `malformed command: ${first ? `${first.path.map(String).join('.')}: ${first.message}` : 'invalid'}`);
}

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

  serve(cmd: ServeCommand): void {
    const refused = malformed(ServeSchema.safeParse(cmd)) ?? checkPort(this.d.limits, cmd.port) ?? checkSpec(this.d.limits, cmd.spec);
    this.start(cmd.testId, 'server', refused, (signal) => this.d.runner.server(cmd, signal, () => this.d.onReady(cmd.testId)));
  }

  probe(cmd: ProbeCommand): void {
    const refused =
      malformed(ProbeSchema.safeParse(cmd)) ??
      checkPort(this.d.limits, cmd.port) ??
      checkSpec(this.d.limits, cmd.spec) ??
      checkTarget(this.d.limits, cmd.target);
    this.start(cmd.testId, 'client', refused, (signal) => this.d.runner.client(cmd, signal));
  }

  serveLatency(cmd: ServeLatencyCommand): void {
    const refused =
      malformed(ServeLatencySchema.safeParse(cmd)) ??
      this.noSockperf() ??
      checkPort(this.d.limits, cmd.port) ??
      checkLatencySpec(this.d.limits, cmd.spec);
    this.start(cmd.testId, 'server', refused, (signal) =>
      (this.d.latencyRunner as SockperfRunner).serve(cmd, signal, () => this.d.onReady(cmd.testId)),
    );
  }

  probeLatency(cmd: ProbeLatencyCommand): void {
    const refused =
      malformed(ProbeLatencySchema.safeParse(cmd)) ??
      this.noSockperf() ??
      checkPort(this.d.limits, cmd.port) ??
      checkLatencySpec(this.d.limits, cmd.spec) ??
      checkTarget(this.d.limits, cmd.target);
    this.start(cmd.testId, 'client', refused, (signal) => (this.d.latencyRunner as SockperfRunner).probe(cmd, signal));
  }

  private noSockperf(): Failure | undefined {
    return this.d.latencyRunner ? undefined : failure('spec-refused', 'this agent has no sockperf: it takes no latency tests');
  }

  /** Kill the running test if it is `testId` (or any, when testId is undefined). No result is sent. */
  cancel(testId: string | undefined, reason: string): void {
    if (this.running && (testId === undefined || this.running.testId === testId)) {
      this.running.controller.abort(reason);
    }
  }

  private start(
    testId: string,
    role: 'client' | 'server',
    refused: Failure | undefined,
    run: (signal: AbortSignal) => Promise<RunOutcome>,
  ): void {
    const now = Date.now();
    const fail = (f: Failure) =>
      this.d.onResult({ type: 'result', resultId: randomUUID(), testId, role, startedAtMs: now, endedAtMs: now, ok: false, error: f });
    if (refused) {
      this.d.log.warn({ testId, role, reason: refused.message }, 'command refused');
      return fail(refused);
    }
    if (this.running) {
      // A cancelled test is already on its way out (its process being killed): the next command
      // waits for it rather than failing. The aggregator cancels a latency server as soon as its
      // client reports and may send this node its next test at once.
      if (this.running.controller.signal.aborted) {
        void this.running.done.then(() => this.start(testId, role, refused, run));
        return;
      }
      return fail(failure('agent-busy', `agent is busy with test ${this.running.testId}`));
    }
    const controller = new AbortController();
    const log = this.d.log.child({ testId, role });
    log.debug('test started');
    this.running = { testId, controller, done: this.execute(testId, role, controller, run, log) };
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
