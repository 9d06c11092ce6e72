/**
 * How the agent starts a measuring tool (iperf3, sockperf): argv arrays via sys/exec (never a
 * shell), through `setpriv --pdeathsig KILL` when this machine has it (util-linux, in every
 * Debian image). An agent killed with SIGKILL (OOM killer, `kubectl delete --force`, a crash)
 * cannot kill its child, and Node has no prctl; without the wrapper an orphaned iperf3 kept
 * serving (or holding the port) until its own idle timeout, so the restarted agent's next test on
 * that port failed with port-in-use (test/integration/faults.test.ts).
 */
import { exec, ExecError, type ExecOptions, type ExecResult } from '../sys/exec.js';

/** The argv prefix that makes the kernel SIGKILL the program when its parent (the agent) dies. */
export const PARENT_DEATH_PREFIX: readonly string[] = Object.freeze(['setpriv', '--pdeathsig', 'KILL', '--']);

/** setpriv's exit codes when it cannot exec the program (util-linux: 126 failed, 127 not found). */
const WRAPPER_EXEC_FAILED = new Set([126, 127]);

export class ToolProcess {
  private prefix: Promise<readonly string[]> | undefined;

  /** `dieWithAgent` false runs the binary directly (no setpriv). */
  constructor(
    private readonly binary: string,
    private readonly dieWithAgent = true,
  ) {}

  /** PARENT_DEATH_PREFIX if setpriv can set it here (checked once), else nothing. */
  private wrapper(): Promise<readonly string[]> {
    if (!this.dieWithAgent) return Promise.resolve([]);
    this.prefix ??= exec([...PARENT_DEATH_PREFIX, 'true'], { timeoutMs: 5000 }).then(
      (r) => (r.exitCode === 0 ? PARENT_DEATH_PREFIX : []),
      () => [],
    );
    return this.prefix;
  }

  /** Run the tool's `argv` (argv[0] replaced by the binary) under the wrapper; ExecError as exec's. */
  async run(argv: string[], options: ExecOptions): Promise<ExecResult> {
    argv[0] = this.binary;
    const prefix = await this.wrapper();
    const r = await exec([...prefix, ...argv], options);
    // The wrapper started but could not exec the tool: the same as exec failing to spawn it.
    if (prefix.length > 0 && r.exitCode !== null && WRAPPER_EXEC_FAILED.has(r.exitCode) && r.stdout.trim() === '') {
      throw new ExecError(`cannot run ${this.binary}: ${r.stderr.trim().split('\n')[0] ?? ''}`, argv, r.exitCode, r.stderr);
    }
    return { ...r, argv };
  }
}
