/**
 * The latency kind's runner (agent/kind-runner.ts): the one place the agent runs sockperf: argv arrays via sys/exec (never a
 * shell), started so that it dies with the agent as iperf3 is (tool-process.ts), its own
 * wall-clock deadline, and success decided from the parsed report, never from the exit code
 * (3.7 exits 0 on errors).
 *
 * sockperf's server has no one-shot mode: it answers until killed. Its end by cancel or by its
 * lifetime running out is therefore its normal end, not a failure; only dying on its own is.
 */
import { connect } from 'node:net';
import { exec, type ExecResult } from '../sys/exec.js';
import { failure } from '../shared/errors.js';
import { clientDeadlineMs, DEADLINE_MARGIN_MS, serverDeadlineMs } from '../shared/deadlines.js';
import { latencyKind, type LatencySpec } from '../shared/kinds/latency.js';
import {
  connectStats,
  findSockperfError,
  parseSockperfOutput,
  parseSockperfVersion,
  sockperfClientArgs,
  sockperfConnected,
  sockperfServerArgs,
  type LatencyConnect,
} from '../shared/sockperf.js';
import { ToolProcess } from './tool-process.js';
import { runServer, spawnFailure, type KindRunner, type ProbeRun, type RunOutcome, type ServeRun } from './kind-runner.js';

/** What one side of a latency test came to; a client's has `latency` exactly when it has no `failure`. */
export type LatencyOutcome = RunOutcome;
/** A latency test's spec as the runner takes it. */
export type LatencyRunSpec = LatencySpec;
/** Start a sockperf server for one latency test. */
export type SockperfServeCommand = ServeRun<LatencySpec>;
/** Run the ping-pong client of one latency test. */
export type SockperfProbeCommand = ProbeRun<LatencySpec>;

/** How an agent runs sockperf; fixed for the agent's life. */
export interface SockperfRunnerOptions {
  /** The sockperf binary (a path, or a name looked up on PATH). */
  binary: string;
  /** How long a TCP connect may take (each connect sample, and sockperf's own), ms. */
  connectTimeoutMs: number;
  /** Slack over the test's expected run time and connect timeout before the process is killed, ms; default DEADLINE_MARGIN_MS. */
  deadlineMarginMs?: number;
  /** Start sockperf under `setpriv --pdeathsig KILL` if setpriv works here; default true. */
  dieWithAgent?: boolean;
}

const { codes } = latencyKind;

/**
 * Open up to `samples` TCP connections to `target:port` one after another, each closed as soon
 * as it is established, and time them (µs). The whole phase gets `budgetMs`, so a peer that
 * drops SYNs costs one connect timeout, not `samples` of them: connections not tried by then
 * count as neither samples nor failures. Stops early, with what it has, when `signal` aborts.
 */
export async function sampleConnects(
  target: string,
  port: number,
  samples: number,
  budgetMs: number,
  signal: AbortSignal,
): Promise<LatencyConnect> {
  const times: number[] = [];
  let failures = 0;
  const deadline = Date.now() + budgetMs;
  for (let i = 0; i < samples && !signal.aborted && Date.now() < deadline; i++) {
    const micros = await connectOnce(target, port, deadline - Date.now(), signal);
    if (micros === undefined) failures++;
    else times.push(micros);
  }
  return connectStats(times, failures);
}

function connectOnce(target: string, port: number, timeoutMs: number, signal: AbortSignal): Promise<number | undefined> {
  return new Promise((resolve) => {
    const started = process.hrtime.bigint();
    const socket = connect({ host: target, port });
    const done = (micros: number | undefined) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve(micros);
    };
    const onAbort = () => done(undefined);
    const timer = setTimeout(() => done(undefined), timeoutMs);
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => done(Number(process.hrtime.bigint() - started) / 1000));
    socket.once('error', () => done(undefined));
  });
}

/** The latency kind's runner: sockperf servers and ping-pong clients; one instance per agent. */
export class SockperfRunner implements KindRunner<LatencySpec> {
  private readonly tool: ToolProcess;
  private readonly deadlines: { connectTimeoutMs: number; marginMs: number };

  constructor(private readonly o: SockperfRunnerOptions) {
    this.tool = new ToolProcess(o.binary, o.dieWithAgent !== false);
    this.deadlines = { connectTimeoutMs: o.connectTimeoutMs, marginMs: o.deadlineMarginMs ?? DEADLINE_MARGIN_MS };
  }

  /** `sockperf --version`, e.g. "3.7". Rejects when sockperf cannot be run or is not sockperf. */
  async version(): Promise<string> {
    const r = await exec([this.o.binary, '--version'], { timeoutMs: 5000 });
    return parseSockperfVersion(r.stdout + r.stderr);
  }

  /**
   * Run a server until `signal` aborts or its lifetime (idle timeout + the client's deadline)
   * ends; either is a normal end, with no failure and no result. `onListening` is called once
   * its port shows up. A server that exits by itself failed.
   */
  async serve(cmd: SockperfServeCommand, signal: AbortSignal, onListening: () => void): Promise<LatencyOutcome> {
    const startedAtMs = Date.now();
    const { protocol } = cmd.spec;
    const run = await runServer({
      tool: this.tool,
      argv: sockperfServerArgs({ protocol, bindAddress: cmd.bindAddress, port: cmd.port }),
      port: cmd.port,
      transport: latencyKind.readyTransport(cmd.spec),
      exec: { timeoutMs: serverDeadlineMs(cmd.spec, cmd.idleTimeoutSeconds, this.deadlines), signal },
      onReady: onListening,
      spawnFailed: codes.spawnFailed,
    });
    if (!run.started) return run.outcome;
    const r = run.result;
    const endedAtMs = Date.now();
    if (r.aborted || r.timedOut) return { startedAtMs, endedAtMs };
    const output = r.stderr ? `${r.stdout}\n${r.stderr}` : r.stdout;
    const why = r.signal ? `killed by ${r.signal}` : `exit code ${r.exitCode}`;
    return {
      startedAtMs,
      endedAtMs,
      failure: findSockperfError(output) ?? failure(codes.error, `sockperf server ended early (${why}): ${tail(output)}`),
    };
  }

  /**
   * Run the ping-pong client, after timing `connectSamples` TCP connections when asked. The
   * outcome has `latency` exactly when it has no failure. Never rejects for an expected failure.
   */
  async probe(cmd: SockperfProbeCommand, signal: AbortSignal): Promise<LatencyOutcome> {
    const startedAtMs = Date.now();
    const cancelled = (): LatencyOutcome => ({
      startedAtMs,
      endedAtMs: Date.now(),
      failure: failure('cancelled', String(signal.reason ?? 'cancelled')),
    });
    const { spec } = cmd;
    const samples = spec.connectSamples;
    let connect: LatencyConnect | undefined;
    if (spec.protocol === 'tcp' && samples > 0) {
      connect = await sampleConnects(cmd.target, cmd.port, samples, this.o.connectTimeoutMs, signal);
      if (signal.aborted) return cancelled();
    }
    const argv = sockperfClientArgs({ target: cmd.target, port: cmd.port, spec });
    let r: ExecResult;
    try {
      r = await this.tool.run(argv, { timeoutMs: clientDeadlineMs(spec, this.deadlines), signal });
    } catch (e) {
      return spawnFailure(e, startedAtMs, codes.spawnFailed);
    }
    const endedAtMs = Date.now();
    if (r.aborted) return cancelled();
    const output = r.stderr ? `${r.stdout}\n${r.stderr}` : r.stdout;
    if (r.timedOut) {
      // 3.7 has no connect timeout of its own: against a peer that drops SYNs it blocks in connect().
      const stuck = spec.protocol === 'tcp' && !sockperfConnected(output);
      const reason = stuck
        ? failure('connect-timeout', `no TCP connection to ${cmd.target}:${cmd.port}; sockperf killed after ${r.durationMs} ms`)
        : failure(codes.timeout, `sockperf killed after ${r.durationMs} ms (${r.argv.join(' ')})`);
      return { startedAtMs, endedAtMs, failure: reason };
    }
    const parsed = parseSockperfOutput(output, spec.protocol, spec.messageSizeBytes);
    if (!parsed.ok) {
      const { code, message } = parsed.failure;
      const detail = code === codes.badOutput && r.stderr.trim() ? ` (stderr: ${r.stderr.trim().slice(0, 500)})` : '';
      return { startedAtMs, endedAtMs, failure: { code, message: message + detail } };
    }
    return { startedAtMs, endedAtMs, latency: connect ? { ...parsed.result, connect } : parsed.result };
  }
}

/** The last lines of a process's output, for a message. */
function tail(output: string): string {
  const text = output.trim().split('\n').slice(-3).join(' | ');
  return JSON.stringify(text.length > 300 ? `…${text.slice(-300)}` : text);
}
