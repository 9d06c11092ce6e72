/**
 * The one way netmatrix runs another program: an argument array (never a shell), a deadline,
 * kill on abort, and an error that keeps the argv, the exit status and stderr.
 */
import { spawn } from 'node:child_process';

export interface ExecOptions {
  /** Kill the process after this many ms (SIGTERM, then SIGKILL after `killGraceMs`). */
  timeoutMs?: number;
  /** Kill the process when this signal aborts. */
  signal?: AbortSignal;
  killGraceMs?: number;
  env?: NodeJS.ProcessEnv;
  /** Cap on captured stdout/stderr each, in bytes; the rest is dropped. */
  maxOutputBytes?: number;
  /** Called once the process has been spawned (e.g. to start polling for a listening port). */
  onSpawn?: (pid: number) => void;
}

export interface ExecResult {
  argv: readonly string[];
  /** null when the process was killed by a signal. */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  aborted: boolean;
  durationMs: number;
}

/** A command that could not be started, or (from execChecked) exited non-zero. */
export class ExecError extends Error {
  override readonly name = 'ExecError';
  constructor(
    message: string,
    readonly argv: readonly string[],
    readonly exitCode: number | null,
    readonly stderr: string,
    readonly stdout: string = '',
  ) {
    super(message);
  }
}

/**
 * Run argv[0] with argv[1..]. Resolves with the outcome whatever the exit code; rejects with
 * ExecError only when the program cannot be started (e.g. not installed).
 */
export function exec(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
  const [file, ...args] = argv;
  if (!file) return Promise.reject(new ExecError('empty argv', argv, null, ''));
  const maxBytes = options.maxOutputBytes ?? 16 * 1024 * 1024;
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], env: options.env ?? process.env });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    let timedOut = false;
    let aborted = false;
    let killTimer: NodeJS.Timeout | undefined;
    let spawnFailed = false;

    const kill = () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), options.killGraceMs ?? 2000);
    };
    const deadline = options.timeoutMs !== undefined ? setTimeout(() => ((timedOut = true), kill()), options.timeoutMs) : undefined;
    const onAbort = () => {
      aborted = true;
      kill();
    };
    if (options.signal?.aborted) onAbort();
    options.signal?.addEventListener('abort', onAbort, { once: true });

    child.stdout.on('data', (b: Buffer) => {
      if (outBytes < maxBytes) out.push(b);
      outBytes += b.length;
    });
    child.stderr.on('data', (b: Buffer) => {
      if (errBytes < maxBytes) err.push(b);
      errBytes += b.length;
    });
    child.on('spawn', () => {
      if (child.pid !== undefined) options.onSpawn?.(child.pid);
    });
    child.on('error', (e) => {
      // 'error' without a spawn means the program could not be started at all.
      if (child.pid === undefined) {
        spawnFailed = true;
        cleanup();
        reject(new ExecError(`cannot run ${file}: ${e.message}`, argv, null, ''));
      }
    });
    child.on('close', (exitCode, signal) => {
      if (spawnFailed) return;
      cleanup();
      resolve({
        argv,
        exitCode,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        timedOut,
        aborted,
        durationMs: Date.now() - started,
      });
    });
    function cleanup() {
      if (deadline) clearTimeout(deadline);
      if (killTimer) clearTimeout(killTimer);
      options.signal?.removeEventListener('abort', onAbort);
    }
  });
}

/** Like exec, but rejects with ExecError unless the program exits 0. Resolves with stdout. */
export async function execChecked(argv: readonly string[], options: ExecOptions = {}): Promise<string> {
  const r = await exec(argv, options);
  if (r.exitCode !== 0) {
    const why = r.timedOut ? 'timed out' : r.signal ? `killed by ${r.signal}` : `exited ${r.exitCode}`;
    const detail = r.stderr.trim().split('\n').slice(-3).join(' | ');
    throw new ExecError(`${argv.join(' ')} ${why}${detail ? `: ${detail}` : ''}`, argv, r.exitCode, r.stderr, r.stdout);
  }
  return r.stdout;
}
