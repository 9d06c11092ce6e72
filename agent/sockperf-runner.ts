/**
 * The one place the agent runs sockperf, for latency tests: argv arrays via sys/exec (never a
 * shell), started so that it dies with the agent as iperf3 is (tool-process.ts), its own
 * wall-clock deadline, and success decided from the parsed report, never from the exit code
 * (3.7 exits 0 on errors).
 *
 * sockperf's server has no one-shot mode: it answers until killed. Its end by cancel or by its
 * lifetime running out is therefore its normal end, not a failure; only dying on its own is.
 */
import { connect } from 'node:net';
import { readFile } from 'node:fs/promises';
import { exec, ExecError, type ExecResult } from '../sys/exec.js';
import { failure, type Failure } from '../shared/errors.js';
import {
  connectStats,
  findSockperfError,
  parseSockperfOutput,
  parseSockperfVersion,
  SOCKPERF_CLIENT_OVERHEAD_MS,
  sockperfClientArgs,
  sockperfConnected,
  sockperfServerArgs,
  type LatencyConnect,
  type LatencyResult,
  type SockperfSpec,
} from '../shared/sockperf.js';
import { ToolProcess } from './tool-process.js';
import { isListening } from './listening.js';

/** What one side of a latency test came to; a client's has `latency` exactly when it has no `failure`. */
export interface LatencyOutcome {
  startedAtMs: number;
  endedAtMs: number;
  latency?: LatencyResult;
  failure?: Failure;
}

/** A latency test's spec as the runner needs it; `connectSamples` (TCP only) overrides the runner's default. */
export interface LatencyRunSpec extends SockperfSpec {
  connectSamples?: number;
}

/** Start a sockperf server for one latency test. */
export interface SockperfServeCommand {
  testId: string;
  bindAddress: string;
  port: number;
  spec: LatencyRunSpec;
  /** How long the server waits for its client, s; with the duration it bounds the server's life. */
  idleTimeoutSeconds: number;
}

/** Run the ping-pong client of one latency test. */
export interface SockperfProbeCommand {
  testId: string;
  target: string;
  port: number;
  spec: LatencyRunSpec;
}

/** How an agent runs sockperf; fixed for the agent's life. */
export interface SockperfRunnerOptions {
  /** The sockperf binary (a path, or a name looked up on PATH). */
  binary: string;
  /** How long a TCP connect may take (each connect sample, and sockperf's own), ms. */
  connectTimeoutMs: number;
  /** Slack over the test's expected run time before the process is killed, ms. */
  deadlineMarginMs: number;
  /** Start sockperf under `setpriv --pdeathsig KILL` if setpriv works here; default true. */
  dieWithAgent?: boolean;
  /** TCP connections to time before each probe when its spec does not say; default 0 (none). */
  connectSamples?: number;
}

/** How long the server gets to show up in /proc/net before the runner stops looking, ms. */
const LISTEN_WATCH_MS = 5000;

/** True when a socket bound to local `port` and connected to no one (st 07) appears in a /proc/net/udp text. */
export function hasUdpListener(procNetUdp: string, port: number): boolean {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  for (const line of procNetUdp.split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    // A connected client socket (st 01) on that port would not be answering requests.
    if (cols[1]?.endsWith(`:${hexPort}`) && /^0+:0000$/.test(cols[2] ?? '') && cols[3] === '07') return true;
  }
  return false;
}

/** Is a UDP socket bound to `port` in this network namespace? UDP has no LISTEN state to look for. */
export async function isUdpListening(port: number): Promise<boolean> {
  for (const file of ['/proc/net/udp', '/proc/net/udp6']) {
    const text = await readFile(file, 'utf8').catch(() => '');
    if (hasUdpListener(text, port)) return true;
  }
  return false;
}

function listening(protocol: 'tcp' | 'udp', port: number): Promise<boolean> {
  return protocol === 'tcp' ? isListening(port) : isUdpListening(port);
}

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

/** Runs sockperf servers and ping-pong clients for latency tests; one instance per agent. */
export class SockperfRunner {
  private readonly tool: ToolProcess;

  constructor(private readonly o: SockperfRunnerOptions) {
    this.tool = new ToolProcess(o.binary, o.dieWithAgent !== false);
  }

  /** `sockperf --version`, e.g. "3.7". Rejects when sockperf cannot be run or is not sockperf. */
  async version(): Promise<string> {
    const r = await exec([this.o.binary, '--version'], { timeoutMs: 5000 });
    return parseSockperfVersion(r.stdout + r.stderr);
  }

  /**
   * Run a server until `signal` aborts or its lifetime (idle timeout + duration + the client's
   * overhead, connect timeout and margin) ends; either is a normal end, with no failure and no
   * result. `onListening` is called once its port shows up. A server that exits by itself failed.
   */
  async serve(cmd: SockperfServeCommand, signal: AbortSignal, onListening: () => void): Promise<LatencyOutcome> {
    const startedAtMs = Date.now();
    const { protocol } = cmd.spec;
    // Someone else on the port would answer our client and make "listening" a lie.
    if (await listening(protocol, cmd.port)) {
      return {
        startedAtMs,
        endedAtMs: Date.now(),
        failure: failure('port-in-use', `${protocol} port ${cmd.port} is already taken on this network`),
      };
    }
    const argv = sockperfServerArgs({ protocol, bindAddress: cmd.bindAddress, port: cmd.port });
    const lifetimeMs =
      (cmd.idleTimeoutSeconds + cmd.spec.durationSeconds) * 1000 +
      SOCKPERF_CLIENT_OVERHEAD_MS +
      this.o.connectTimeoutMs +
      this.o.deadlineMarginMs;
    let exited = false;
    const watchListening = async () => {
      const deadline = Date.now() + LISTEN_WATCH_MS;
      while (!exited && Date.now() < deadline) {
        if (await listening(protocol, cmd.port)) {
          if (!exited) onListening();
          return;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    try {
      const r = await this.tool.run(argv, { timeoutMs: lifetimeMs, signal, onSpawn: () => void watchListening() });
      exited = true;
      const endedAtMs = Date.now();
      if (r.aborted || r.timedOut) return { startedAtMs, endedAtMs };
      const output = r.stderr ? `${r.stdout}\n${r.stderr}` : r.stdout;
      const why = r.signal ? `killed by ${r.signal}` : `exit code ${r.exitCode}`;
      return {
        startedAtMs,
        endedAtMs,
        failure: findSockperfError(output) ?? failure('sockperf-error', `sockperf server ended early (${why}): ${tail(output)}`),
      };
    } catch (e) {
      exited = true;
      return spawnFailure(e, startedAtMs);
    }
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
    const samples = spec.connectSamples ?? this.o.connectSamples ?? 0;
    let connect: LatencyConnect | undefined;
    if (spec.protocol === 'tcp' && samples > 0) {
      connect = await sampleConnects(cmd.target, cmd.port, samples, this.o.connectTimeoutMs, signal);
      if (signal.aborted) return cancelled();
    }
    const argv = sockperfClientArgs({ target: cmd.target, port: cmd.port, spec });
    const timeoutMs = spec.durationSeconds * 1000 + SOCKPERF_CLIENT_OVERHEAD_MS + this.o.connectTimeoutMs + this.o.deadlineMarginMs;
    let r: ExecResult;
    try {
      r = await this.tool.run(argv, { timeoutMs, signal });
    } catch (e) {
      return spawnFailure(e, startedAtMs);
    }
    const endedAtMs = Date.now();
    if (r.aborted) return cancelled();
    const output = r.stderr ? `${r.stdout}\n${r.stderr}` : r.stdout;
    if (r.timedOut) {
      // 3.7 has no connect timeout of its own: against a peer that drops SYNs it blocks in connect().
      const stuck = spec.protocol === 'tcp' && !sockperfConnected(output);
      const reason = stuck
        ? failure('connect-timeout', `no TCP connection to ${cmd.target}:${cmd.port}; sockperf killed after ${r.durationMs} ms`)
        : failure('sockperf-timeout', `sockperf killed after ${r.durationMs} ms (${r.argv.join(' ')})`);
      return { startedAtMs, endedAtMs, failure: reason };
    }
    const parsed = parseSockperfOutput(output, spec.protocol, spec.messageSizeBytes);
    if (!parsed.ok) {
      const { code, message } = parsed.failure;
      const detail = code === 'sockperf-bad-output' && r.stderr.trim() ? ` (stderr: ${r.stderr.trim().slice(0, 500)})` : '';
      return { startedAtMs, endedAtMs, failure: { code, message: message + detail } };
    }
    return { startedAtMs, endedAtMs, latency: connect ? { ...parsed.result, connect } : parsed.result };
  }
}

function spawnFailure(e: unknown, startedAtMs: number): LatencyOutcome {
  if (e instanceof ExecError) return { startedAtMs, endedAtMs: Date.now(), failure: failure('sockperf-spawn-failed', e.message) };
  throw e;
}

/** The last lines of a process's output, for a message. */
function tail(output: string): string {
  const text = output.trim().split('\n').slice(-3).join(' | ');
  return JSON.stringify(text.length > 300 ? `…${text.slice(-300)}` : text);
}
