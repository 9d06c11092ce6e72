/**
 * The one place the agent runs iperf3: argv arrays via sys/exec (never a shell), its own
 * wall-clock deadline (a 3.12 client hangs forever against a peer that accepts TCP but never
 * speaks), and success decided from the parsed report, never from the exit code (3.12 exits
 * 0 on errors with -J).
 * It is started so that it dies with the agent (tool-process.ts).
 */
import { exec, ExecError, type ExecResult } from '../sys/exec.js';
import { ToolProcess } from './tool-process.js';
import { failure, type Failure } from '../shared/errors.js';
import { iperf3ClientArgs, iperf3RunSeconds, iperf3ServerArgs, parseIperf3Output, parseIperf3Version } from '../shared/iperf3.js';
import type { IperfResult } from '../shared/iperf3-result.js';
import { measuredWindowMs } from '../shared/iperf3-timing.js';
import type { MeasuredInterval } from '../shared/cpu.js';
import type { LatencyResult } from '../shared/sockperf.js';
import type { ProbeCommand, ServeCommand } from '../shared/protocol.js';
import { isListening } from './listening.js';

/** What one side of a test produced; a measuring unit fills in its own report (iperf3's or sockperf's). */
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

export interface RunnerOptions {
  /** The iperf3 binary (a path, or a name looked up on PATH). */
  binary: string;
  /** How long the client may take to connect, ms. */
  connectTimeoutMs: number;
  /** Slack over the test duration before the process is killed, ms. */
  deadlineMarginMs: number;
  /**
   * Start iperf3 so that the kernel kills it when the agent dies (`setpriv --pdeathsig KILL`),
   * if setpriv works here; default true. false runs the binary directly.
   */
  dieWithAgent?: boolean;
}

/** Slack over duration + connect timeout before the agent kills a test's process, ms. */
export const DEADLINE_MARGIN_MS = 5000;

/**
 * The report with, when it has timing, the interval it measured on this node's wall clock: its
 * own report's, so a server's window is placed by the server's report and exit, not the client's.
 */
function reported(result: IperfResult | undefined, endedAtMs: number): Pick<RunOutcome, 'iperf' | 'measured'> {
  if (!result) return {};
  return result.timing ? { iperf: result, measured: measuredWindowMs(result.timing, endedAtMs) } : { iperf: result };
}

function outcomeOf(r: ExecResult, startedAtMs: number, cancelReason: () => string): RunOutcome {
  // The exit as seen here, which measuredWindowMs counts back from: taken before parsing.
  const endedAtMs = Date.now();
  if (r.aborted) return { startedAtMs, endedAtMs, failure: failure('cancelled', cancelReason()) };
  const parsed = parseIperf3Output(r.stdout);
  if (r.timedOut) {
    return {
      startedAtMs,
      endedAtMs,
      ...reported(parsed.ok ? parsed.result : undefined, endedAtMs),
      failure: failure('iperf3-timeout', `iperf3 killed after ${r.durationMs} ms (${r.argv.join(' ')})`),
    };
  }
  if (parsed.ok) return { startedAtMs, endedAtMs, ...reported(parsed.result, endedAtMs) };
  const detail = parsed.failure.code === 'iperf3-bad-output' && r.stderr.trim() ? ` (stderr: ${r.stderr.trim().slice(0, 500)})` : '';
  return {
    startedAtMs,
    endedAtMs,
    ...reported(parsed.result, endedAtMs),
    failure: { code: parsed.failure.code, message: parsed.failure.message + detail },
  };
}

async function spawnFailure(e: unknown, startedAtMs: number): Promise<RunOutcome> {
  if (e instanceof ExecError) {
    return { startedAtMs, endedAtMs: Date.now(), failure: failure('iperf3-spawn-failed', e.message) };
  }
  throw e;
}

export class Iperf3Runner {
  private readonly tool: ToolProcess;

  constructor(private readonly o: RunnerOptions) {
    this.tool = new ToolProcess(o.binary, o.dieWithAgent !== false);
  }

  /** `iperf3 --version`, e.g. "3.12". */
  async version(): Promise<string> {
    const r = await exec([this.o.binary, '--version'], { timeoutMs: 5000 });
    return parseIperf3Version(r.stdout + r.stderr);
  }

  /** Run the client side of a test. Never rejects for an expected failure. */
  async client(cmd: ProbeCommand, signal: AbortSignal): Promise<RunOutcome> {
    const argv = iperf3ClientArgs({
      target: cmd.target,
      port: cmd.port,
      spec: cmd.spec,
      testId: cmd.testId,
      connectTimeoutMs: this.o.connectTimeoutMs,
    });
    const startedAtMs = Date.now();
    // iperf3 runs the omitted seconds before the measured ones.
    const timeoutMs = iperf3RunSeconds(cmd.spec) * 1000 + this.o.connectTimeoutMs + this.o.deadlineMarginMs;
    try {
      const r = await this.tool.run(argv, { timeoutMs, signal });
      return outcomeOf(r, startedAtMs, () => String(signal.reason ?? 'cancelled'));
    } catch (e) {
      return spawnFailure(e, startedAtMs);
    }
  }

  /**
   * Run a one-off server (`-s -1`). `onReady` is called once the port listens. The promise
   * settles when the server exits (after its test, on idle timeout, deadline or cancel).
   */
  async server(cmd: ServeCommand, signal: AbortSignal, onReady: () => void): Promise<RunOutcome> {
    const startedAtMs = Date.now();
    // Someone else on the port would answer our client and make "ready" a lie.
    if (await isListening(cmd.port)) {
      return {
        startedAtMs,
        endedAtMs: Date.now(),
        failure: failure('port-in-use', `port ${cmd.port} is already listening on this network`),
      };
    }
    const argv = iperf3ServerArgs({
      bindAddress: cmd.bindAddress,
      port: cmd.port,
      idleTimeoutSeconds: cmd.idleTimeoutSeconds,
      rcvTimeoutMs: this.o.connectTimeoutMs + this.o.deadlineMarginMs,
    });
    const timeoutMs = (cmd.idleTimeoutSeconds + iperf3RunSeconds(cmd.spec)) * 1000 + this.o.connectTimeoutMs + this.o.deadlineMarginMs;
    let exited = false;
    const watchReady = async () => {
      const deadline = Date.now() + 5000;
      while (!exited && Date.now() < deadline) {
        if (await isListening(cmd.port)) return onReady();
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    try {
      const r = await this.tool.run(argv, { timeoutMs, signal, onSpawn: () => void watchReady() });
      exited = true;
      const out = outcomeOf(r, startedAtMs, () => String(signal.reason ?? 'cancelled'));
      // A server that never got a client exits on its idle timeout with no report at all.
      if (out.failure?.code === 'iperf3-bad-output' && r.stdout.trim() === '') {
        return { ...out, failure: failure('connect-timeout', `no client connected within ${cmd.idleTimeoutSeconds}s`) };
      }
      return out;
    } catch (e) {
      exited = true;
      return spawnFailure(e, startedAtMs);
    }
  }
}
