/**
 * The processes of `bench:load` and how it reads them: the aggregator (`cli/main.ts aggregator`,
 * compiled or under tsx), the load generator (load-agents.ts, over an IPC channel), their
 * memory and CPU from /proc, and their HTTP endpoints.
 */
import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, createWriteStream, existsSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { USER_HZ } from '../../shared/cpu.js';
import { parseExposition } from '../helpers/prometheus-text.js';
import type { LoadAgentsReport, LoadAgentsStart, LoadAgentsStats } from './load-agents.js';

const REPO = new URL('../../', import.meta.url).pathname;

/** Every child started, so that an interrupted bench can leave no aggregator behind. */
const children = new Set<ChildProcess>();

/** Kill every child still running, at once (an interrupted bench). */
export function killAll(): void {
  for (const c of children) c.kill('SIGKILL');
}

/** RSS, peak RSS (bytes) and CPU time (user + system, seconds) of a process, from /proc. */
export function proc(pid: number): { rssBytes: number; peakRssBytes: number; cpuSeconds: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  // Fields after the parenthesised command name; utime and stime are the 14th and 15th of the line.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { rssBytes: kb('VmRSS'), peakRssBytes: kb('VmHWM'), cpuSeconds: (Number(rest[11]) + Number(rest[12])) / USER_HZ };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** A timer that loses a race without keeping the process alive once the race is won. */
const deadline = (ms: number) => new Promise((r) => setTimeout(r, ms).unref());

export class AggregatorProcess {
  private exit: string | undefined;
  private constructor(
    readonly child: ChildProcess,
    readonly url: string,
  ) {
    child.once('exit', (code, signal) => (this.exit = `exited with ${code ?? signal}`));
  }

  get pid(): number {
    return this.child.pid as number;
  }

  /** Why it is gone, if it is. */
  get gone(): string | undefined {
    return this.exit;
  }

  /**
   * `node --env-file ... cli/main.ts aggregator`: the settings go through a file, not the
   * environment, because the service address map of thousands of nodes is longer than one
   * environment string may be (128 KiB).
   */
  static async start(entry: string[], settings: Record<string, string>, dir: string, name: string): Promise<AggregatorProcess> {
    const envFile = join(dir, `${name}.env`);
    writeFileSync(
      envFile,
      Object.entries(settings)
        .map(([k, v]) => `${k}=${v}\n`)
        .join(''),
      { mode: 0o600 },
    );
    const child = spawn(process.execPath, [`--env-file=${envFile}`, ...entry, 'aggregator'], {
      cwd: REPO,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    child.once('exit', () => children.delete(child));
    const log = createWriteStream(join(dir, `${name}.log`));
    // Both streams into one file, which neither may end.
    child.stderr.pipe(log, { end: false });
    const address = new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout }).on('line', (line) => {
        log.write(`${line}\n`);
        if (line.includes('"aggregator listening"')) resolve((JSON.parse(line) as { address: string }).address);
      });
      child.once('exit', (code, signal) => reject(new Error(`the aggregator exited with ${code ?? signal} before listening; see ${dir}`)));
    });
    const timeout = deadline(60_000).then(() => {
      throw new Error('the aggregator did not listen within 60 s');
    });
    const url = await Promise.race([address, timeout]).catch((e: unknown) => {
      child.kill('SIGKILL');
      throw e;
    });
    return new AggregatorProcess(child, url);
  }

  kill(): void {
    this.child.kill('SIGKILL');
  }

  async stop(): Promise<void> {
    if (this.exit) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGTERM');
    if ((await Promise.race([exited.then(() => true), deadline(30_000).then(() => false)])) === false) {
      this.child.kill('SIGKILL');
      await exited;
    }
  }
}

export class Generator {
  private readonly child: ChildProcess;
  private readonly waiters = new Set<(r: LoadAgentsReport) => void>();
  /** Welcomed agents, as last reported. */
  welcomed = 0;
  /** Told of the connection progress, once a second while connecting. */
  onProgress: ((r: Extract<LoadAgentsReport, { type: 'progress' }>) => void) | undefined;
  /** Settles once the generator listens: a message sent before would be lost. */
  private readonly up: Promise<unknown>;

  constructor() {
    this.child = fork(join(REPO, 'test/bench/load-agents.ts'), [], {
      cwd: REPO,
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    children.add(this.child);
    this.child.once('exit', () => children.delete(this.child));
    this.child.on('message', (r: LoadAgentsReport) => {
      if (r.type === 'progress') {
        this.welcomed = r.welcomed;
        this.onProgress?.(r);
      }
      for (const w of this.waiters) w(r);
    });
    this.up = this.next(['up'], 60_000, () => undefined);
    // Awaited by connect(), which rethrows; until then a failure must not crash the bench.
    this.up.catch(() => undefined);
  }

  get pid(): number {
    return this.child.pid as number;
  }

  private next<T extends LoadAgentsReport['type']>(types: T[], timeoutMs: number, alive: () => string | undefined) {
    return new Promise<Extract<LoadAgentsReport, { type: T }>>((resolve, reject) => {
      const done = (f: () => void) => {
        this.waiters.delete(onReport);
        clearInterval(watch);
        f();
      };
      const onReport = (r: LoadAgentsReport) => {
        if ((types as string[]).includes(r.type)) done(() => resolve(r as Extract<LoadAgentsReport, { type: T }>));
      };
      const deadline = Date.now() + timeoutMs;
      const watch = setInterval(() => {
        const gone = alive();
        if (gone) done(() => reject(new Error(`the aggregator ${gone}`)));
        else if (Date.now() > deadline)
          done(() => reject(new Error(`no ${types.join('/')} from the load generator within ${timeoutMs} ms`)));
      }, 200);
      this.waiters.add(onReport);
    });
  }

  /** Connect every agent; resolves with the time it took and the retries. */
  async connect(
    start: Omit<LoadAgentsStart, 'type'>,
    agg: AggregatorProcess,
    timeoutMs: number,
  ): Promise<{ elapsedMs: number; retries: number }> {
    await this.up;
    const reply = this.next(['connected', 'failed'], timeoutMs, () => agg.gone);
    this.child.send({ type: 'start', ...start } satisfies LoadAgentsStart);
    const r = await reply.catch((e: unknown) => {
      throw new Error(`${e instanceof Error ? e.message : String(e)} (${this.welcomed} of ${start.nodes * start.modes.length} welcomed)`);
    });
    if (r.type === 'failed') throw new Error(`agents could not connect: ${r.message}`);
    return r;
  }

  async stats(agg: AggregatorProcess): Promise<LoadAgentsStats> {
    const reply = this.next(['stats'], 30_000, () => agg.gone);
    this.child.send({ type: 'stats' });
    return (await reply).stats;
  }

  kill(): void {
    this.child.kill('SIGKILL');
  }
}

export async function get(url: string): Promise<{ body: string; ms: number }> {
  const t0 = performance.now();
  const res = await fetch(url, { signal: AbortSignal.timeout(600_000) });
  const body = await res.text();
  if (!res.ok) throw new Error(`GET ${url} answered ${res.status}: ${body.slice(0, 200)}`);
  return { body, ms: performance.now() - t0 };
}

export function sum(text: string, name: string, by?: string): { total: number; by: Record<string, number> } {
  const out = { total: 0, by: {} as Record<string, number> };
  for (const s of parseExposition(text)) {
    if (s.name !== name) continue;
    out.total += s.value;
    const k = by ? (s.labels[by] ?? '') : '';
    out.by[k] = (out.by[k] ?? 0) + s.value;
  }
  return out;
}

/**
 * The node arguments that run `cli/main.ts`. For dist, tsc compiles the tree into `dir` (about
 * 15 s) with the page's files beside it and node_modules linked, as the image lays it out.
 */
export function aggregatorEntry(runtime: 'dist' | 'tsx', dir: string): string[] {
  if (runtime === 'tsx') return ['--import', 'tsx', 'cli/main.ts'];
  const out = join(dir, 'dist');
  console.error('bench:load: compiling the aggregator (tsc -p tsconfig.build.json)');
  try {
    execFileSync(
      process.execPath,
      [join(REPO, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', out, '--sourceMap', 'false'],
      {
        cwd: REPO,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
  } catch (e) {
    // tsc still emits on type errors (someone's edit in progress elsewhere): run what it emitted.
    const output = String((e as { stdout?: Buffer }).stdout ?? '');
    if (!existsSync(join(out, 'cli/main.js'))) throw new Error(`tsc emitted nothing: ${output.slice(0, 2000)}`);
    console.error(`bench:load: tsc reported errors but emitted the aggregator; running it:\n${output.slice(0, 2000)}`);
  }
  cpSync(join(REPO, 'aggregator/page'), join(out, 'aggregator/page'), { recursive: true });
  writeFileSync(join(out, 'package.json'), '{"type":"module"}\n');
  symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'));
  return [join(out, 'cli/main.js')];
}
