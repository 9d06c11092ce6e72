/**
 * `npm run bench:load`: the aggregator at size. One aggregator (the real one, `cli/main.ts
 * aggregator`, as its own process so its RSS and CPU are its own) takes 1,000 to 10,000
 * SIMULATED agents on loopback from a load generator process (load-agents.ts): fakes that answer
 * every command at once with modelled results (load-frames.ts), so the aggregator's scheduler
 * sets the pace and what is measured is the whole pipeline: scheduler -> broker -> store ->
 * metrics. No iperf3, no lab, no root needed (root only lets it raise the fd limit).
 *
 * At each size, two phases, each with its own aggregator and generator (all four start at once):
 *  - idle: the background sweep off; connect every agent; RSS with all connected.
 *  - load: the sweep on, with the aggregator's default coverage, paths, protocols and kinds;
 *    connect every agent while it runs (a rollout: tests take their own duration until all
 *    have joined, then --test-ms, by default 0); after a warm-up, a window of `--seconds`
 *    in which it samples RSS each second and GET /healthz twice a second (the route does
 *    nothing: its time is how long the event loop kept it waiting), and reads the tests
 *    answered and the CPU times at both ends; then five timed GET /metrics; then every agent
 *    vanishes at once (the generator is killed) and it times how long the aggregator takes to
 *    forget them.
 *
 * A benchmark, not a test: it prints each figure beside the issue's target with PASS/MISS and
 * fails (exit 1) only when it could not measure (the aggregator died, agents could not connect,
 * nothing was recorded, or the aggregator refused our frames).
 *
 *   npm run bench:load -- [--agents 1000,2000,10000] [--seconds S] [--warmup S] [--modes host,pod] [--test-ms MS] [--join-pace spec|instant] [--runtime dist|tsx] [--connect-timeout S] [--heap-mib N] [--cpu-prof DIR] [--json FILE] [--smoke]
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { median } from '../../shared/stats.js';
import { NetworkModeSchema, type NetworkMode } from '../../shared/protocol.js';
import { MAX_SIMULATED_NODES, simulatedNode } from './load-frames.js';
import { aggregatorEntry, AggregatorProcess, Generator, get, killAll, proc, sleep, sum } from './load-processes.js';
import { summaryRows, table, type Figures } from './load-report.js';
import { writeSummary } from './summary.js';

const REPO = new URL('../../', import.meta.url).pathname;

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    killAll();
    process.exit(sig === 'SIGINT' ? 130 : 143);
  });
}

interface Options {
  agents: number[];
  /** How the aggregator runs: compiled by tsc as the image runs it, or from the sources with tsx. */
  runtime: 'dist' | 'tsx';
  modes: NetworkMode[];
  seconds: number;
  warmupSeconds: number;
  testDelayMs: number;
  joinPace: 'spec' | 'instant';
  /** Longest wait for every agent to be welcomed, ms. */
  connectTimeoutMs: number;
  /** V8's heap ceiling for the aggregators (--max-old-space-size), MiB; undefined: V8's own. */
  heapMiB: number | undefined;
  /** Where the load-phase aggregator writes its V8 CPU profile, if anywhere. */
  cpuProfDir: string | undefined;
  smoke: boolean;
  /** Where to write the summary rows, if anywhere. */
  json: string | undefined;
}

class UsageError extends Error {}

const USAGE = `usage: npm run bench:load -- [--agents 1000,2000,10000] [--seconds S] [--warmup S] [--modes host,pod] [--test-ms MS] [--join-pace spec|instant] [--runtime dist|tsx] [--connect-timeout S] [--heap-mib N] [--cpu-prof DIR] [--smoke]
  --agents N,..   sizes to measure, in agent connections (default 1000,2000,10000)
  --modes         agents per simulated node: host,pod as the chart deploys them (default), or one of them
  --seconds S     steady-state window at each size (default 30)
  --warmup S      sweep time between the last agent connecting and the window (default 15: the
                  tests started while joining take up to 10 s, see --join-pace)
  --test-ms MS    modelled test time once all agents are connected: they answer a command after MS
                  (default 0: at once, so the aggregator sets the pace)
  --join-pace P   modelled test time while agents join: spec, the test's own duration as in a real
                  rollout (default); instant, at once (the aggregator saturated while it accepts
                  connections; the default with --smoke)
  --connect-timeout S  longest wait for every agent to connect (default 300)
  --heap-mib N    the aggregators' V8 heap ceiling (node --max-old-space-size=N), as in a pod: there
                  Node sets it to half the container's memory limit by itself (a 1 GiB limit gives
                  512). Default: V8's own for this machine, which lets the heap grow to a few times
                  its live size between full collections
  --cpu-prof DIR  write the load-phase aggregator's V8 CPU profile into DIR (open it in Chrome DevTools)
  --runtime       dist: compile with tsc first and run node on the output, as the image does (default);
                  tsx: run the sources with tsx (its loader adds about 100 MiB of RSS; the default with --smoke)
  --json FILE     also write the figures as npm run bench's summary rows (test/bench/summary.ts)
  --smoke         50 agents for a few seconds, to check the bench still runs`;

function parseOptions(argv: string[]): Options | 'help' {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      agents: { type: 'string', default: '1000,2000,10000' },
      modes: { type: 'string', default: 'host,pod' },
      seconds: { type: 'string', default: '30' },
      warmup: { type: 'string', default: '15' },
      'test-ms': { type: 'string', default: '0' },
      'join-pace': { type: 'string' },
      runtime: { type: 'string' },
      'connect-timeout': { type: 'string', default: '300' },
      'heap-mib': { type: 'string' },
      'cpu-prof': { type: 'string' },
      json: { type: 'string' },
      smoke: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return 'help';
  const number = (name: string, v: string, min: number) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer >= ${min}, got "${v}"`);
    return n;
  };
  const modes = [...new Set(values.modes.split(',').map((m) => m.trim()))];
  if (modes.length === 0 || !modes.every((m) => NetworkModeSchema.safeParse(m).success))
    throw new UsageError(`--modes takes host, pod or host,pod; got "${values.modes}"`);
  const agents = values.smoke ? [50] : values.agents.split(',').map((a) => number('agents', a.trim(), 2 * modes.length));
  for (const a of agents) {
    if (a % modes.length !== 0) throw new UsageError(`--agents ${a} is not a whole number of nodes of ${modes.length} agents`);
    if (a / modes.length > MAX_SIMULATED_NODES) throw new UsageError(`--agents ${a}: at most ${MAX_SIMULATED_NODES} nodes`);
  }
  const runtime = values.runtime ?? (values.smoke ? 'tsx' : 'dist');
  const joinPace = values['join-pace'] ?? (values.smoke ? 'instant' : 'spec');
  if (joinPace !== 'spec' && joinPace !== 'instant') throw new UsageError(`--join-pace takes spec or instant; got "${joinPace}"`);
  if (runtime !== 'dist' && runtime !== 'tsx') throw new UsageError(`--runtime takes dist or tsx; got "${runtime}"`);
  return {
    agents,
    runtime,
    modes: modes as NetworkMode[],
    seconds: values.smoke ? 2 : number('seconds', values.seconds, 1),
    warmupSeconds: values.smoke ? 0 : number('warmup', values.warmup, 0),
    testDelayMs: number('test-ms', values['test-ms'], 0),
    joinPace,
    connectTimeoutMs: number('connect-timeout', values['connect-timeout'], 1) * 1000,
    heapMiB: values['heap-mib'] === undefined ? undefined : number('heap-mib', values['heap-mib'], 64),
    cpuProfDir: values['cpu-prof'],
    json: values.json,
    smoke: values.smoke,
  };
}

// ---------------------------------------------------------------- one size

function aggregatorSettings(nodes: number, modes: NetworkMode[], continuous: boolean, token: string): Record<string, string> {
  const services = modes.includes('pod')
    ? Array.from({ length: nodes }, (_, i) => `${simulatedNode(i).name}=${simulatedNode(i).serviceIp}`).join(',')
    : '';
  return {
    NETMATRIX_TOKEN: token,
    NETMATRIX_LISTEN_HOST: '127.0.0.1',
    NETMATRIX_LISTEN_PORT: '0',
    // Every simulated agent connects from 127.0.0.1 whatever address it announces.
    NETMATRIX_AGENT_ADDRESS_CHECK: 'off',
    NETMATRIX_KUBERNETES: 'off',
    NETMATRIX_CONTINUOUS: String(continuous),
    // As many tests at once as a round has pairs, and no pause: the aggregator sets the pace.
    NETMATRIX_CONCURRENCY: '10000',
    NETMATRIX_ROUND_PAUSE_MS: '0',
    NETMATRIX_IDLE_SAMPLE_MS: '0',
    ...(services ? { NETMATRIX_SERVICE_ADDRESSES: services } : {}),
  };
}

async function measure(agents: number, o: Options, dir: string, entry: string[]): Promise<Figures> {
  const nodes = agents / o.modes.length;
  const f: Figures = { agents, nodes };
  const token = randomBytes(16).toString('hex');
  const start = { token, nodes, modes: o.modes, testDelayMs: o.testDelayMs, joinPace: o.joinPace, connectConcurrency: 100, cores: 8 };
  const say = (what: string) => console.error(`bench:load: ${agents} agents: ${what}`);
  const live: Array<AggregatorProcess | Generator> = [];
  const cleanup = async () => {
    for (const p of live.splice(0).reverse()) {
      if (p instanceof Generator) p.kill();
      else await p.stop();
    }
  };
  try {
    // Both aggregators and both generators start at once: a start is seconds of module loading.
    const heap = o.heapMiB === undefined ? [] : [`--max-old-space-size=${o.heapMiB}`];
    const started = await Promise.allSettled([
      AggregatorProcess.start([...heap, ...entry], aggregatorSettings(nodes, o.modes, false, token), dir, `${agents}-idle`),
      AggregatorProcess.start(
        [...heap, ...(o.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${o.cpuProfDir}`] : []), ...entry],
        aggregatorSettings(nodes, o.modes, true, token),
        dir,
        `${agents}-load`,
      ),
    ]);
    for (const s of started) if (s.status === 'fulfilled') live.push(s.value);
    for (const s of started) if (s.status === 'rejected') throw s.reason;
    const [idle, agg] = live as [AggregatorProcess, AggregatorProcess];
    const g1 = new Generator();
    const gen = new Generator();
    // Every 10 s, so a slow join is visible as it happens.
    for (const g of [g1, gen]) {
      let shown = 0;
      g.onProgress = (r) => {
        if (Date.now() - shown < 10_000) return;
        shown = Date.now();
        say(`${r.welcomed} of ${r.total} connected, ${r.retries} retries${r.lastError ? ` (last: ${r.lastError})` : ''}`);
      };
    }
    live.push(gen, g1);

    // ----- idle: connections only, the background sweep off
    await sleep(1000);
    f.startRssBytes = proc(idle.pid).rssBytes;
    say('connecting, sweep off');
    const c1 = await g1.connect({ ...start, url: `${idle.url.replace('http', 'ws')}/ws/agent` }, idle, o.connectTimeoutMs);
    f.connectIdleMs = c1.elapsedMs;
    // A few seconds for the connection storm's garbage to be collected; the median of 3 samples.
    const idleRss: number[] = [];
    for (let i = 0; i < (o.smoke ? 1 : 3); i++) {
      await sleep(1000);
      idleRss.push(proc(idle.pid).rssBytes);
    }
    f.idleRssBytes = median(idleRss);
    // Nothing more to learn from it: no need to wait for it to process 10,000 goodbyes.
    g1.kill();
    idle.kill();

    // ----- load: the background sweep over the simulated agents, joining while it runs
    say('connecting, sweep running');
    const joining = watch(agg);
    const c2 = await gen.connect({ ...start, url: `${agg.url.replace('http', 'ws')}/ws/agent` }, agg, o.connectTimeoutMs).finally(() => {
      f.joinedAgents = gen.welcomed;
      return joining.stop().then((w) => (f.maxHealthzJoiningMs = maxOf(w.healthzMs)));
    });
    f.joinedAgents = agents;
    f.connectLoadMs = c2.elapsedMs;
    f.retries = c1.retries + c2.retries;
    await sleep(o.warmupSeconds * 1000);

    say(`steady window of ${o.seconds} s`);
    // The window's tests are counted where they are answered, the generator's client results:
    // a count read at an instant, where a /metrics scrape of a large matrix takes seconds (and
    // would load the window). The aggregator's own counter checks it over the whole phase.
    const s0 = await gen.stats(agg);
    const a0 = proc(agg.pid);
    const g0 = proc(gen.pid);
    const t0 = performance.now();
    const window = watch(agg);
    await sleep(o.seconds * 1000);
    const { rssBytes: rss, healthzMs: healthz } = await window.stop();
    if (agg.gone) throw new Error(`the aggregator ${agg.gone} during the window`);
    const s1 = await gen.stats(agg);
    const elapsed = (performance.now() - t0) / 1000;
    const a1 = proc(agg.pid);
    const g1End = proc(gen.pid);
    const done = s1.clientResults - s0.clientResults;
    f.windowSeconds = elapsed;
    f.testsInWindow = done;
    f.testsPerSecond = done / elapsed;
    f.cpuSecondsPer1000 = done > 0 ? ((a1.cpuSeconds - a0.cpuSeconds) / done) * 1000 : undefined;
    f.aggregatorCores = (a1.cpuSeconds - a0.cpuSeconds) / elapsed;
    f.generatorCores = (g1End.cpuSeconds - g0.cpuSeconds) / elapsed;
    f.loadRssMaxBytes = maxOf(rss);
    f.maxHealthzMs = maxOf(healthz);
    f.loadRssPeakBytes = a1.peakRssBytes;

    say('timing /metrics');
    const scrapes: Array<{ body: string; ms: number }> = [];
    for (let i = 0; i < 5; i++) scrapes.push(await get(`${agg.url}/metrics`));
    const first = (scrapes[0] as { body: string }).body;
    const last = (scrapes[scrapes.length - 1] as { body: string }).body;
    const sEnd = await gen.stats(agg);
    f.scrapeMs = scrapes.map((s) => s.ms);
    f.scrapeMedianMs = median(f.scrapeMs);
    f.metricsBytes = Buffer.byteLength(last);
    const samples = last.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
    f.series = samples.length;
    const families = new Map<string, number>();
    for (const l of samples) {
      const name = (/^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(l)?.[0] ?? '?').replace(/_(bucket|sum|count)$/, '');
      families.set(name, (families.get(name) ?? 0) + 1);
    }
    f.seriesByFamily = [...families].sort((a, b) => b[1] - a[1]).slice(0, 8);
    // Counted by the first scrape, the nearest to the window's RSS samples.
    f.pairsMeasured = sum(first, 'netmatrix_pairs_measured').total;
    f.scrapeRssPeakBytes = proc(agg.pid).peakRssBytes;
    const tests = sum(last, 'netmatrix_tests_total', 'outcome');
    f.recordedTests = tests.total;
    f.answeredTests = sEnd.clientResults;
    f.failedTests = tests.by.failure ?? 0;
    // A scrape holds the event loop: tests in flight meanwhile can miss their deadlines.
    f.failedDuringScrapes = f.failedTests - (sum(first, 'netmatrix_tests_total', 'outcome').by.failure ?? 0);
    f.failureReasons = Object.fromEntries(Object.entries(sum(last, 'netmatrix_test_failures_total', 'reason').by).filter(([, n]) => n > 0));
    f.protocolErrors = sum(last, 'netmatrix_protocol_errors_total').total;
    f.dropped = sEnd.dropped;
    f.dropCodes = sEnd.dropCodes;

    say('every agent vanishes at once');
    gen.kill();
    live.splice(live.indexOf(gen), 1);
    const t1 = performance.now();
    // GET /api/agents, not /metrics: a scrape of the matrix the leaving nodes empty would slow it.
    for (;;) {
      if (agg.gone) throw new Error(`the aggregator ${agg.gone} while its agents left`);
      if ((await get(`${agg.url}/api/agents`)).body === '[]') break;
      if (performance.now() - t1 > 600_000) throw new Error('agents still listed 10 min after they all left');
      await sleep(250);
    }
    f.massDisconnectSeconds = (performance.now() - t1) / 1000;
  } catch (e) {
    f.error = e instanceof Error ? e.message : String(e);
    say(`stopped: ${f.error}`);
  } finally {
    await cleanup();
  }
  return f;
}

const maxOf = (xs: number[]) => (xs.length > 0 ? Math.max(...xs) : undefined);

/**
 * Sample the aggregator until stopped: its RSS each second, and the time GET /healthz takes twice
 * a second (the route does nothing, so its time is how long the event loop kept it waiting).
 */
function watch(agg: AggregatorProcess): { stop(): Promise<{ rssBytes: number[]; healthzMs: number[] }> } {
  let on = true;
  const rssBytes: number[] = [];
  const healthzMs: number[] = [];
  const sampler = (async () => {
    while (on && !agg.gone) {
      rssBytes.push(proc(agg.pid).rssBytes);
      await sleep(1000);
    }
  })();
  const prober = (async () => {
    while (on && !agg.gone) {
      healthzMs.push((await get(`${agg.url}/healthz`)).ms);
      await sleep(500);
    }
  })();
  return {
    async stop() {
      on = false;
      await Promise.all([sampler, prober.catch(() => undefined)]);
      return { rssBytes, healthzMs };
    },
  };
}

/** Whether the bench itself worked at this size (what it measured is the report's business). */
function sane(f: Figures): string | undefined {
  if (f.error) return f.error;
  if (!f.testsInWindow) return 'no test was recorded in the window';
  if (f.protocolErrors) return `the aggregator counted ${f.protocolErrors} protocol errors: the simulated agents' frames are wrong`;
  return undefined;
}

/** The 1-minute load average: the machine is shared, and the figures are only as quiet as it was. */
function loadAverage(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ')[0] ?? '?';
}

/** Which code was measured: the commit, and whether the aggregator's sources differ from it. */
function treeState(): string {
  const git = (args: string[]) => execFileSync('git', args, { cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  try {
    const dirty = git(['status', '--porcelain', '--', 'aggregator', 'shared', 'cli']).length > 0;
    return `commit ${git(['rev-parse', '--short', 'HEAD'])}${dirty ? ' with uncommitted changes in aggregator/, shared/ or cli/' : ''}`;
  } catch {
    return 'not a git checkout';
  }
}

/** Raise the fd limit children inherit (root may; otherwise the hard limit must do). */
function raiseFdLimit(agents: number): string | undefined {
  try {
    execFileSync('prlimit', [`--pid=${process.pid}`, '--nofile=65536:65536'], { stdio: 'ignore' });
  } catch {
    // Not root: fall through and check what we have.
  }
  const hard = Number(/^Max open files\s+\S+\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1] ?? 0);
  // Node raises its soft limit to the hard one; each side needs a descriptor per agent and some.
  return hard >= agents + 1000
    ? undefined
    : `the open-file limit is ${hard}; ${agents} agents need ${agents + 1000} (run as root, or raise ulimit -Hn)`;
}

async function main(): Promise<number> {
  let o: Options | 'help';
  try {
    o = parseOptions(process.argv.slice(2));
  } catch (e) {
    console.error(`bench:load: ${e instanceof Error ? e.message : String(e)}\n${USAGE}`);
    return 2;
  }
  if (o === 'help') {
    console.log(USAGE);
    return 0;
  }
  const limit = raiseFdLimit(Math.max(...o.agents));
  if (limit) {
    console.error(`bench:load: ${limit}`);
    return 2;
  }
  const dir = mkdtempSync(join(tmpdir(), 'netmatrix-bench-load-'));
  console.error(
    `bench:load: simulated agents (${o.modes.join('+')} per node) at ${o.agents.join(', ')}; window ${o.seconds} s after ${o.warmupSeconds} s; modelled test time ${o.testDelayMs} ms (joining: ${o.joinPace}); logs in ${dir}`,
  );
  let entry: string[];
  try {
    entry = aggregatorEntry(o.runtime, dir);
  } catch (e) {
    console.error(`bench:load: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
  const loadBefore = loadAverage();
  const all: Figures[] = [];
  for (const agents of o.agents) all.push(await measure(agents, o, dir, entry));
  console.log(
    [
      `bench:load ${new Date().toISOString()}: ${treeState()}; node ${process.version}, ${availableParallelism()} cores; load average ${loadBefore} at start, ${loadAverage()} at end`,
      `simulated agents (${o.modes.join(' + ')} per node), aggregator run by ${o.runtime} with ${o.heapMiB === undefined ? "V8's own heap ceiling" : `a ${o.heapMiB} MiB heap ceiling`}, window ${o.seconds} s after ${o.warmupSeconds} s, modelled test time ${o.testDelayMs} ms (while joining: ${o.joinPace === 'spec' ? "the test's duration" : 'none'})`,
      '',
      ...table(all),
    ].join('\n'),
  );
  if (o.json) writeSummary(o.json, summaryRows(all));
  const broken = all.flatMap((f) => {
    const why = sane(f);
    return why ? [`${f.agents} agents: ${why}`] : [];
  });
  if (broken.length > 0) {
    console.error(`bench:load: could not measure: ${broken.join('; ')} (logs kept in ${dir})`);
    return 1;
  }
  rmSync(dir, { recursive: true, force: true });
  return 0;
}

process.exitCode = await main();
