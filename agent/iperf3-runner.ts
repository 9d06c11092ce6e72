/**
 * The throughput kind's runner: the one place the agent runs iperf3. Argv arrays via sys/exec
 * (never a shell), its own wall-clock deadline from shared/deadlines.ts (a 3.12 client hangs
 * forever against a peer that accepts TCP but never speaks), and success decided from the
 * parsed report, never from the exit code (3.12 exits 0 on errors with -J).
 * It is started so that it dies with the agent (tool-process.ts).
 */
import { exec, type ExecResult } from '../sys/exec.js';
import { ToolProcess } from './tool-process.js';
import { failure } from '../shared/errors.js';
import { clientDeadlineMs, serverDeadlineMs, agentSlackMs, DEADLINE_MARGIN_MS } from '../shared/deadlines.js';
import { iperf3ClientArgs, iperf3ServerArgs, parseIperf3Output, parseIperf3Version } from '../shared/iperf3.js';
import type { IperfResult } from '../shared/iperf3-result.js';
import { measuredWindowMs } from '../shared/iperf3-timing.js';
import { throughputKind, type ThroughputSpec } from '../shared/kinds/throughput.js';
import { runServer, spawnFailure, type KindRunner, type ProbeRun, type RunOutcome, type ServeRun } from './kind-runner.js';

export type { RunOutcome } from './kind-runner.js';

export interface RunnerOptions {
  /** The iperf3 binary (a path, or a name looked up on PATH). */
  binary: string;
  /** How long the client may take to connect, ms. */
  connectTimeoutMs: number;
  /** Slack over run + connect timeout before the process is killed, ms; default DEADLINE_MARGIN_MS. */
  deadlineMarginMs?: number;
  /**
   * Start iperf3 so that the kernel kills it when the agent dies (`setpriv --pdeathsig KILL`),
   * if setpriv works here; default true. false runs the binary directly.
   */
  dieWithAgent?: boolean;
}

const { codes } = throughputKind;

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
      failure: failure(codes.timeout, `iperf3 killed after ${r.durationMs} ms (${r.argv.join(' ')})`),
    };
  }
  if (parsed.ok) return { startedAtMs, endedAtMs, ...reported(parsed.result, endedAtMs) };
  const detail = parsed.failure.code === codes.badOutput && r.stderr.trim() ? ` (stderr: ${r.stderr.trim().slice(0, 500)})` : '';
  return {
    startedAtMs,
    endedAtMs,
    ...reported(parsed.result, endedAtMs),
    failure: { code: parsed.failure.code, message: parsed.failure.message + detail },
  };
}

export class Iperf3Runner implements KindRunner<ThroughputSpec> {
  private readonly tool: ToolProcess;
  private readonly deadlines: { connectTimeoutMs: number; marginMs: number };

  constructor(private readonly o: RunnerOptions) {
    this.tool = new ToolProcess(o.binary, o.dieWithAgent !== false);
    this.deadlines = { connectTimeoutMs: o.connectTimeoutMs, marginMs: o.deadlineMarginMs ?? DEADLINE_MARGIN_MS };
  }

  /** `iperf3 --version`, e.g. "3.12". */
  async version(): Promise<string> {
    const r = await exec([this.o.binary, '--version'], { timeoutMs: 5000 });
    return parseIperf3Version(r.stdout + r.stderr);
  }

  /** Run the client side of a test. Never rejects for an expected failure. */
  async probe(cmd: ProbeRun<ThroughputSpec>, signal: AbortSignal): Promise<RunOutcome> {
    const argv = iperf3ClientArgs({
      target: cmd.target,
      port: cmd.port,
      spec: cmd.spec,
      testId: cmd.testId,
      connectTimeoutMs: this.o.connectTimeoutMs,
    });
    const startedAtMs = Date.now();
    try {
      const r = await this.tool.run(argv, { timeoutMs: clientDeadlineMs(cmd.spec, this.deadlines), signal });
      return outcomeOf(r, startedAtMs, () => String(signal.reason ?? 'cancelled'));
    } catch (e) {
      return spawnFailure(e, startedAtMs, codes.spawnFailed);
    }
  }

  /**
   * Run a one-off server (`-s -1`). `onReady` is called once the port listens. The promise
   * settles when the server exits (after its test, on idle timeout, deadline or cancel).
   */
  async serve(cmd: ServeRun<ThroughputSpec>, signal: AbortSignal, onReady: () => void): Promise<RunOutcome> {
    const startedAtMs = Date.now();
    const argv = iperf3ServerArgs({
      bindAddress: cmd.bindAddress,
      port: cmd.port,
      idleTimeoutSeconds: cmd.idleTimeoutSeconds,
      rcvTimeoutMs: agentSlackMs(this.deadlines),
    });
    const run = await runServer({
      tool: this.tool,
      argv,
      port: cmd.port,
      transport: throughputKind.readyTransport(cmd.spec),
      exec: { timeoutMs: serverDeadlineMs(cmd.spec, cmd.idleTimeoutSeconds, this.deadlines), signal },
      onReady,
      spawnFailed: codes.spawnFailed,
    });
    if (!run.started) return run.outcome;
    const out = outcomeOf(run.result, startedAtMs, () => String(signal.reason ?? 'cancelled'));
    // A server that never got a client exits on its idle timeout with no report at all.
    if (out.failure?.code === codes.badOutput && run.result.stdout.trim() === '') {
      return { ...out, failure: failure('connect-timeout', `no client connected within ${cmd.idleTimeoutSeconds}s`) };
    }
    return out;
  }
}
