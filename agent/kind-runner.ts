/**
 * What the agent needs of a test kind's tool (agent/iperf3-runner.ts, agent/sockperf-runner.ts):
 * one runner per kind with a `serve` and a `probe`, and the parts every runner shares, written
 * once: the port check before a server starts, the wait for it to listen, and a failed spawn
 * as a coded failure.
 */
import { ExecError, type ExecOptions, type ExecResult } from '../sys/exec.js';
import { failure, type ErrorCode, type Failure } from '../shared/errors.js';
import type { Protocol } from '../shared/kinds/common.js';
import type { IperfResult } from '../shared/iperf3-result.js';
import type { LatencyResult } from '../shared/sockperf.js';
import type { MeasuredInterval } from '../shared/cpu.js';
import type { ToolProcess } from './tool-process.js';
import { isPortReady } from './listening.js';

/** What one side of a test produced; a runner fills in its own kind's report. */
export interface RunOutcome {
  startedAtMs: number;
  endedAtMs: number;
  iperf?: IperfResult;
  latency?: LatencyResult;
  failure?: Failure;
  /**
   * When the tool measured, on this node's clock; the CPU window is trimmed to it. Absent when
   * the tool's report does not say (sockperf, an iperf3 report without timestamps).
   */
  measured?: MeasuredInterval;
}

/** Start the server of one test (the fields of a `serve` the runner needs). */
export interface ServeRun<S> {
  testId: string;
  bindAddress: string;
  port: number;
  spec: S;
  /** How long the server waits for its client, s; with the run it bounds the server's life. */
  idleTimeoutSeconds: number;
}

/** Run the client of one test (the fields of a `probe` the runner needs). */
export interface ProbeRun<S> {
  testId: string;
  target: string;
  port: number;
  spec: S;
}

/** One kind's tool on the agent. Neither method rejects for an expected failure. */
export interface KindRunner<S> {
  /** The tool's version, e.g. "3.12"; rejects when the tool cannot be run. */
  version(): Promise<string>;
  /** Run the server until it ends; `onReady` is called once its port is ready. */
  serve(cmd: ServeRun<S>, signal: AbortSignal, onReady: () => void): Promise<RunOutcome>;
  /** Run the client. */
  probe(cmd: ProbeRun<S>, signal: AbortSignal): Promise<RunOutcome>;
}

/** How long a server gets to show up in /proc/net before the runner stops looking, ms. */
const LISTEN_WATCH_MS = 5000;

/** What a server run came to: the tool's exit, or a failure before or at its start. */
export type ServerRun = { started: true; result: ExecResult } | { started: false; outcome: RunOutcome };

/**
 * Run a server process of `transport` on `port`: refused with port-in-use when something
 * already holds the port (it would answer our client and make "ready" a lie), `onReady` called
 * once the port shows up (never after the process exited), a failed spawn coded `spawnFailed`.
 */
export async function runServer(o: {
  tool: ToolProcess;
  argv: string[];
  port: number;
  transport: Protocol;
  exec: ExecOptions;
  onReady: () => void;
  spawnFailed: ErrorCode;
}): Promise<ServerRun> {
  const startedAtMs = Date.now();
  if (await isPortReady(o.port, o.transport)) {
    const what = o.transport === 'tcp' ? `port ${o.port} is already listening` : `udp port ${o.port} is already taken`;
    return { started: false, outcome: { startedAtMs, endedAtMs: Date.now(), failure: failure('port-in-use', `${what} on this network`) } };
  }
  let exited = false;
  const watchReady = async () => {
    const deadline = Date.now() + LISTEN_WATCH_MS;
    while (!exited && Date.now() < deadline) {
      if (await isPortReady(o.port, o.transport)) {
        if (!exited) o.onReady();
        return;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  try {
    const result = await o.tool.run(o.argv, { ...o.exec, onSpawn: () => void watchReady() });
    return { started: true, result };
  } catch (e) {
    return { started: false, outcome: spawnFailure(e, startedAtMs, o.spawnFailed) };
  } finally {
    exited = true;
  }
}

/** A tool that could not be started, as a coded failure; anything else is a bug and rethrown. */
export function spawnFailure(e: unknown, startedAtMs: number, code: ErrorCode): RunOutcome {
  if (e instanceof ExecError) return { startedAtMs, endedAtMs: Date.now(), failure: failure(code, e.message) };
  throw e;
}
