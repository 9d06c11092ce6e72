/**
 * `npm run bench:overhead`: what does measuring cost? On a 2-node lab it runs, in one
 * invocation, bare iperf3 and netmatrix (aggregator + agents + CPU sampling) over the same path,
 * and prints the ratio of the throughput netmatrix reports to bare iperf3's (bound: >= 0.97);
 * and, for every netmatrix test, the client's and the server's agent's own CPU, its iperf3
 * excluded, in % of one core (bound: < 2).
 *
 * A benchmark, not a test: it prints PASS/MISS beside each bound and exits 0 whenever it
 * measured; 1 when it could not. Needs root (the lab).
 *
 * Each repetition measures both, A then B on even repetitions and B then A on odd ones (ABBA),
 * so a drift of the machine (thermal, another job) weighs on both sides equally. The figures are
 * medians over the repetitions; the min/max of the per-repetition ratios show the noise.
 *
 *   npm run bench:overhead -- [--repeat K] [--duration S] [--paths node,pod,service] [--protocols tcp,udp] [--json FILE] [--smoke] [--replace-lab]
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { buildAggregator, type Aggregator } from '../../aggregator/app.js';
import { loadAggregatorConfig } from '../../aggregator/config.js';
import { AgentProcesses, labAgentSpecs } from '../../lab/agents.js';
import { checkLabSupport, labDown, labStatus, labUp } from '../../lab/lab.js';
import { planLab, type LabPlan } from '../../lab/plan.js';
import type { RunSummary } from '../../shared/api.js';
import { PATHS, PROTOCOLS, type NetworkMode, type Path, type Protocol } from '../../shared/protocol.js';
import type { TestResult } from '../../shared/result.js';
import { exec } from '../../sys/exec.js';
import { waitFor } from '../helpers/requirements.js';
import { bare, UDP_BITRATE } from './bare-iperf3.js';
import { gbit, report, summaryRows, type Series } from './overhead-report.js';
import { processCpuSeconds } from './process-cpu.js';
import { writeSummary } from './summary.js';

interface Options {
  repeat: number;
  durationSeconds: number;
  paths: Path[];
  protocols: Protocol[];
  replaceLab: boolean;
  /** Where to write the summary rows for `npm run bench` (all.ts), if anywhere. */
  json: string | undefined;
}

class UsageError extends Error {}

function positiveInt(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be a positive integer, got "${value}"`);
  return n;
}

function listOf<T extends string>(name: string, value: string, allowed: readonly T[]): T[] {
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = items.filter((i) => !(allowed as readonly string[]).includes(i));
  if (items.length === 0 || bad.length > 0)
    throw new UsageError(`--${name} takes a comma-separated list of ${allowed.join(', ')}; got "${value}"`);
  return [...new Set(items)] as T[];
}

function parseOptions(argv: string[]): Options | 'help' {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      repeat: { type: 'string', default: '5' },
      duration: { type: 'string', default: '5' },
      paths: { type: 'string', default: 'node' },
      protocols: { type: 'string', default: 'tcp' },
      json: { type: 'string' },
      smoke: { type: 'boolean', default: false },
      'replace-lab': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return 'help';
  if (values.json === '') throw new UsageError('--json takes a file name');
  return {
    repeat: values.smoke ? 1 : positiveInt('repeat', values.repeat),
    durationSeconds: values.smoke ? 1 : positiveInt('duration', values.duration),
    paths: listOf('paths', values.paths, PATHS),
    protocols: listOf('protocols', values.protocols, PROTOCOLS),
    replaceLab: values['replace-lab'],
    json: values.json,
  };
}

const USAGE = `usage: npm run bench:overhead -- [--repeat K] [--duration S] [--paths node,pod,service] [--protocols tcp,udp] [--json FILE] [--smoke] [--replace-lab]
  --repeat K      repetitions, each one bare iperf3 and one netmatrix test per path and protocol (default 5)
  --duration S    seconds per test (default 5)
  --paths         node, pod, service (default node)
  --protocols     tcp, udp (default tcp; UDP runs at ${UDP_BITRATE / 1e6} Mbit/s on both sides)
  --json FILE     also write the figures as summary rows (for npm run bench)
  --smoke         1 repetition of 1 s, to check the bench still runs
  --replace-lab   tear down a lab that is already up (by default the bench refuses to touch it)`;

/** Reads an agent's own CPU seconds: the `mode` agent of `node`. */
type AgentCpu = (node: string, mode: NetworkMode) => number;

interface NetmatrixOutcome {
  /** node1 -> node2's reported rate, bits/s. */
  rate: number;
  /** Per test of the run: the client's and the server's agent's own CPU, % of one core. */
  clientCpu: number[];
  serverCpu: number[];
  /** Per test: its CPU window, s. */
  windowSeconds: number[];
}

/**
 * One netmatrix on-demand run of `path`/`protocol` (both directions, one test after the other).
 * Each test's window runs from the previous mark (the POST, or the previous test's result) to its
 * result: the aggregator records a result once both agents have reported, and the next test is
 * only then planned, so a window holds one whole test (server start, readiness, client, both
 * reports) and nothing of another.
 */
async function netmatrix(
  agg: Aggregator,
  token: string,
  path: Path,
  protocol: Protocol,
  o: Options,
  label: string,
  cpuOf: AgentCpu,
): Promise<NetmatrixOutcome> {
  const mode: NetworkMode = path === 'node' ? 'host' : 'pod';
  const mark = () => ({ atMs: performance.now(), cpu: new Map(['node1', 'node2'].map((n) => [n, cpuOf(n, mode)])) });
  const out: NetmatrixOutcome = { rate: Number.NaN, clientCpu: [], serverCpu: [], windowSeconds: [] };
  let last = mark();
  // Synchronous, in the aggregator's own process: the mark is taken as the result is recorded.
  const unsubscribe = agg.store.onResult((r) => {
    const now = mark();
    const seconds = (now.atMs - last.atMs) / 1000;
    const percent = (node: string) => (((now.cpu.get(node) ?? Number.NaN) - (last.cpu.get(node) ?? Number.NaN)) / seconds) * 100;
    out.clientCpu.push(percent(r.source.node));
    out.serverCpu.push(percent(r.target.node));
    out.windowSeconds.push(seconds);
    last = now;
  });
  let run: RunSummary & { results: TestResult[] };
  try {
    const posted = await agg.app.inject({
      method: 'POST',
      url: '/api/runs',
      headers: { authorization: `Bearer ${token}` },
      // No omitted seconds: bare iperf3 runs without -O, and the two must measure the same thing.
      payload: {
        label,
        paths: [path],
        protocols: [protocol],
        durationSeconds: o.durationSeconds,
        udpBitrateBitsPerSecond: UDP_BITRATE,
        omitSeconds: 0,
      },
    });
    if (posted.statusCode !== 202) throw new Error(`POST /api/runs answered ${posted.statusCode}: ${posted.body}`);
    const { id } = posted.json<RunSummary>();
    // A 2-node run is both directions: two tests of the duration each, plus setup.
    run = await waitFor(
      async () => {
        const r = (await agg.app.inject({ method: 'GET', url: `/api/runs/${id}` })).json<RunSummary & { results: TestResult[] }>();
        return r.status === 'done' ? r : undefined;
      },
      2 * (o.durationSeconds * 1000 + 30_000),
      `netmatrix run ${label}`,
      100,
    );
  } finally {
    unsubscribe();
  }
  const r = run.results.find((x) => x.source.node === 'node1' && x.target.node === 'node2');
  if (!r) throw new Error(`netmatrix run ${label} has no node1 -> node2 result`);
  if (!r.ok || r.throughputBitsPerSecond === null)
    throw new Error(`netmatrix ${path}/${protocol} failed: ${r.error?.code}: ${r.error?.message}`);
  if (out.clientCpu.length !== run.results.length)
    throw new Error(`netmatrix run ${label}: ${run.results.length} results but ${out.clientCpu.length} recorded while it ran`);
  out.rate = r.throughputBitsPerSecond;
  return out;
}

async function bench(o: Options, plan: LabPlan, onTeardown: (f: () => Promise<void>) => void): Promise<void> {
  const [n1, n2] = plan.nodes;
  if (!n1 || !n2) throw new Error('the bench needs a 2-node lab');
  const token = randomBytes(16).toString('hex');
  const config = loadAggregatorConfig(
    {
      NETMATRIX_TOKEN: token,
      NETMATRIX_CONTINUOUS: 'false',
      // Only the agents (on the bridge) need to reach it; the bench itself uses inject.
      NETMATRIX_LISTEN_HOST: plan.aggregatorIp,
      NETMATRIX_LISTEN_PORT: '0',
      NETMATRIX_ROUND_PAUSE_MS: '0',
      // No idle CPU sample before each run: it is not a test, and it would sit in the first
      // test's CPU window (see netmatrix()). It does not touch the tests' throughput.
      NETMATRIX_IDLE_SAMPLE_MS: '0',
      NETMATRIX_SERVICE_ADDRESSES: plan.nodes.map((n) => `${n.name}=${n.serviceIp}`).join(','),
      NETMATRIX_LOG_LEVEL: 'warn',
    },
    [],
  );
  // Logs to stderr: stdout is the report.
  const log = pino({ name: 'netmatrix', level: config.logLevel }, pino.destination(2));
  const agg = await buildAggregator({ config, log });
  // Assigned after the teardown is registered, so a failure while starting still tears down.
  // eslint-disable-next-line prefer-const
  let agents: AgentProcesses | undefined;
  onTeardown(async () => {
    await agents?.stop();
    await agg.close();
  });
  await agg.listen();
  const port = (agg.app.server.address() as AddressInfo).port;
  agents = new AgentProcesses({ aggregatorUrl: `ws://${plan.aggregatorIp}:${port}/ws/agent`, token });
  agents.start(labAgentSpecs(plan));
  await waitFor(() => agg.agents.count('host') === 2 && agg.agents.count('pod') === 2, 60_000, 'the 4 lab agents to connect', 100);

  const running = agents;
  const cpuOf: AgentCpu = (node, mode) => {
    const pid = running.pid(node, mode);
    if (pid === undefined) throw new Error(`the ${mode} agent of ${node} has exited`);
    return processCpuSeconds(pid);
  };

  const series: Series[] = o.paths.flatMap((path) =>
    o.protocols.map((protocol) => ({ path, protocol, bare: [], netmatrix: [], clientAgentCpu: [], serverAgentCpu: [] })),
  );
  for (let rep = 0; rep < o.repeat; rep++) {
    for (const s of series) {
      let cpu = '';
      const a = async () => void s.bare.push(await bare(s.path, s.protocol, o.durationSeconds, n1, n2));
      const b = async () => {
        const n = await netmatrix(agg, token, s.path, s.protocol, o, `overhead-${rep + 1}`, cpuOf);
        s.netmatrix.push(n.rate);
        s.clientAgentCpu.push(...n.clientCpu);
        s.serverAgentCpu.push(...n.serverCpu);
        cpu = `agent CPU % client ${n.clientCpu.map((x) => x.toFixed(2)).join('/')}, server ${n.serverCpu.map((x) => x.toFixed(2)).join('/')} over ${n.windowSeconds.map((x) => x.toFixed(1)).join('/')} s`;
      };
      for (const step of rep % 2 === 0 ? [a, b] : [b, a]) await step();
      const i = s.bare.length - 1;
      console.error(
        `rep ${rep + 1}/${o.repeat} ${s.path}/${s.protocol}: bare ${gbit(s.bare[i] as number)}, netmatrix ${gbit(s.netmatrix[i] as number)}, ratio ${((s.netmatrix[i] as number) / (s.bare[i] as number)).toFixed(3)}; ${cpu}`,
      );
    }
  }
  console.log(report(series, o.repeat, o.durationSeconds).join('\n'));
  if (o.json) writeSummary(o.json, summaryRows(series));
}

async function main(): Promise<number> {
  let o: Options | 'help';
  try {
    o = parseOptions(process.argv.slice(2));
  } catch (e) {
    console.error(`bench:overhead: ${e instanceof Error ? e.message : String(e)}\n${USAGE}`);
    return 2;
  }
  if (o === 'help') {
    console.log(USAGE);
    return 0;
  }
  if (process.getuid?.() !== 0) {
    console.error('bench:overhead: needs root (it builds the network-namespace lab); run it with sudo');
    return 2;
  }
  const support = await checkLabSupport();
  if (!support.ok) {
    console.error(`bench:overhead: ${support.reason}`);
    return 2;
  }
  if ((await exec(['iperf3', '--version']).catch(() => undefined))?.exitCode !== 0) {
    console.error('bench:overhead: needs iperf3 on PATH');
    return 2;
  }

  // labUp replaces any lab, killing what runs in it: never someone else's demo or test run.
  const existing = await labStatus();
  if (existing.nodes.length > 0 && !o.replaceLab) {
    console.error(
      'bench:overhead: a lab is already up (another demo or test?); pass --replace-lab, or remove it with `npx tsx cli/main.ts lab down`',
    );
    return 2;
  }

  const plan = planLab(2);
  const teardowns: Array<() => Promise<void>> = [];
  let tornDown: Promise<void> | undefined;
  // Once only, whichever comes first: the end of the bench, an error or Ctrl-C.
  const teardown = () =>
    (tornDown ??= (async () => {
      for (const f of teardowns.reverse()) await f().catch((e: unknown) => console.error('bench:overhead: teardown:', e));
      await labDown();
    })());
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      console.error(`\nbench:overhead: ${sig}, tearing down the lab`);
      void teardown().finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
    });
  }

  console.error(
    `bench:overhead: 2-node lab, ${o.repeat} x ${o.durationSeconds} s, paths ${o.paths.join(',')}, protocols ${o.protocols.join(',')}`,
  );
  try {
    await labUp(plan);
    await bench(o, plan, (f) => teardowns.push(f));
    return 0;
  } catch (e) {
    console.error(`bench:overhead: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  } finally {
    await teardown();
  }
}

process.exitCode = await main();
