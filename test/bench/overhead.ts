/**
 * `npm run bench:overhead`: what does netmatrix cost in throughput? On a 2-node lab it runs, in
 * one invocation, bare iperf3 and netmatrix (aggregator + agents + CPU sampling) over the same
 * path, and prints the ratio of the throughput netmatrix reports to bare iperf3's.
 *
 * A benchmark, not a test: it asserts nothing, it measures. Needs root (the lab).
 *
 * Each repetition measures both, A then B on even repetitions and B then A on odd ones (ABBA),
 * so a drift of the machine (thermal, another job) weighs on both sides equally. The figures are
 * medians over the repetitions; the min/max of the per-repetition ratios show the noise.
 *
 *   npm run bench:overhead -- [--repeat K] [--duration S] [--paths node,pod,service] [--protocols tcp,udp] [--smoke] [--replace-lab]
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { buildAggregator, type Aggregator } from '../../aggregator/app.js';
import { loadAggregatorConfig } from '../../aggregator/config.js';
import { AgentProcesses, labAgentSpecs } from '../../lab/agents.js';
import { checkLabSupport, labDown, labStatus, labUp } from '../../lab/lab.js';
import { netnsExec, planLab, type LabNode, type LabPlan } from '../../lab/plan.js';
import type { RunSummary } from '../../shared/api.js';
import { parseIperf3Output } from '../../shared/iperf3.js';
import { PATHS, PROTOCOLS, type Path, type Protocol } from '../../shared/protocol.js';
import type { TestResult } from '../../shared/result.js';
import { exec, execChecked } from '../../sys/exec.js';
import { waitFor } from '../helpers/requirements.js';

/** The port the lab's Services forward (planLab's default), so the service path works for bare iperf3 too. */
const PORT = 5201;
/** iperf3 -b for UDP, bits/s: netmatrix's default UDP rate, passed to both sides explicitly. */
const UDP_BITRATE = 1_000_000_000;

interface Options {
  repeat: number;
  durationSeconds: number;
  paths: Path[];
  protocols: Protocol[];
  replaceLab: boolean;
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
      smoke: { type: 'boolean', default: false },
      'replace-lab': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return 'help';
  return {
    repeat: values.smoke ? 1 : positiveInt('repeat', values.repeat),
    durationSeconds: values.smoke ? 1 : positiveInt('duration', values.duration),
    paths: listOf('paths', values.paths, PATHS),
    protocols: listOf('protocols', values.protocols, PROTOCOLS),
    replaceLab: values['replace-lab'],
  };
}

const USAGE = `usage: npm run bench:overhead -- [--repeat K] [--duration S] [--paths node,pod,service] [--protocols tcp,udp] [--smoke] [--replace-lab]
  --repeat K      repetitions, each one bare iperf3 and one netmatrix test per path and protocol (default 5)
  --duration S    seconds per test (default 5)
  --paths         node, pod, service (default node)
  --protocols     tcp, udp (default tcp; UDP runs at ${UDP_BITRATE / 1e6} Mbit/s on both sides)
  --smoke         1 repetition of 1 s, to check the bench still runs
  --replace-lab   tear down a lab that is already up (by default the bench refuses to touch it)`;

/** Where a test from node1 to node2 runs on each path: client and server namespaces, addresses. */
function endpoints(path: Path, n1: LabNode, n2: LabNode) {
  if (path === 'node') return { clientNetns: n1.netns, serverNetns: n2.netns, bind: n2.hostIp, target: n2.hostIp };
  return { clientNetns: n1.podNetns, serverNetns: n2.podNetns, bind: n2.podIp, target: path === 'pod' ? n2.podIp : n2.serviceIp };
}

async function listening(netns: string): Promise<boolean> {
  // iperf3's control connection is TCP even for a UDP test.
  const out = await execChecked(netnsExec(netns, ['ss', '-ltnH', `sport = :${PORT}`]), { timeoutMs: 5_000 });
  return out.trim().length > 0;
}

/** Bare iperf3 from node1 to node2 on `path`: the receiver's rate, bits/s. */
async function bare(path: Path, protocol: Protocol, o: Options, n1: LabNode, n2: LabNode): Promise<number> {
  const e = endpoints(path, n1, n2);
  const deadlineMs = o.durationSeconds * 1000 + 30_000;
  const stopServer = new AbortController();
  const serving = exec(netnsExec(e.serverNetns, ['iperf3', '-s', '-1', '-B', e.bind, '-p', String(PORT)]), {
    timeoutMs: deadlineMs,
    signal: stopServer.signal,
  });
  let rate: number;
  try {
    await waitFor(() => listening(e.serverNetns), 5_000, `bare iperf3 server in ${e.serverNetns}`, 20);
    const udp = protocol === 'udp' ? ['-u', '-b', String(UDP_BITRATE)] : [];
    const client = await exec(
      netnsExec(e.clientNetns, ['iperf3', '-c', e.target, '-p', String(PORT), '-J', '-t', String(o.durationSeconds), ...udp]),
      {
        timeoutMs: deadlineMs,
      },
    );
    // iperf3 3.12 exits 0 on many failures: judge by the document.
    const outcome = parseIperf3Output(client.stdout);
    if (!outcome.ok) throw new Error(`bare iperf3 ${path}/${protocol} failed: ${outcome.failure.code}: ${outcome.failure.message}`);
    rate = outcome.result.receivedBitsPerSecond;
  } catch (err) {
    // The one-off server would otherwise wait out its deadline for a client that never comes.
    stopServer.abort();
    await serving;
    throw err;
  }
  const s = await serving;
  // A server that could not bind (a leftover listener) means the client measured someone else.
  if (s.exitCode !== 0)
    throw new Error(`bare iperf3 server in ${e.serverNetns} exited ${s.exitCode ?? s.signal}: ${s.stderr.trim() || s.stdout.trim()}`);
  return rate;
}

/** One netmatrix on-demand run of `path`/`protocol`: node1 -> node2's reported rate, bits/s. */
async function netmatrix(agg: Aggregator, token: string, path: Path, protocol: Protocol, o: Options, label: string): Promise<number> {
  const posted = await agg.app.inject({
    method: 'POST',
    url: '/api/runs',
    headers: { authorization: `Bearer ${token}` },
    payload: { label, paths: [path], protocols: [protocol], durationSeconds: o.durationSeconds, udpBitrateBitsPerSecond: UDP_BITRATE },
  });
  if (posted.statusCode !== 202) throw new Error(`POST /api/runs answered ${posted.statusCode}: ${posted.body}`);
  const { id } = posted.json<RunSummary>();
  // A 2-node run is both directions: two tests of the duration each, plus setup.
  const run = await waitFor(
    async () => {
      const r = (await agg.app.inject({ method: 'GET', url: `/api/runs/${id}` })).json<RunSummary & { results: TestResult[] }>();
      return r.status === 'done' ? r : undefined;
    },
    2 * (o.durationSeconds * 1000 + 30_000),
    `netmatrix run ${label}`,
    100,
  );
  const r = run.results.find((x) => x.source.node === 'node1' && x.target.node === 'node2');
  if (!r) throw new Error(`netmatrix run ${label} has no node1 -> node2 result`);
  if (!r.ok || r.throughputBitsPerSecond === null)
    throw new Error(`netmatrix ${path}/${protocol} failed: ${r.error?.code}: ${r.error?.message}`);
  return r.throughputBitsPerSecond;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

const gbit = (bps: number) => `${(bps / 1e9).toFixed(2)} Gbit/s`;

interface Series {
  path: Path;
  protocol: Protocol;
  bare: number[];
  netmatrix: number[];
}

function report(series: Series[], o: Options): string[] {
  const head = ['path', 'protocol', 'median bare', 'median netmatrix', 'ratio of medians', 'per-rep ratio min..max'];
  const rows = series.map((s) => {
    const ratios = s.netmatrix.map((n, i) => n / (s.bare[i] as number));
    return [
      s.path,
      s.protocol,
      gbit(median(s.bare)),
      gbit(median(s.netmatrix)),
      (median(s.netmatrix) / median(s.bare)).toFixed(3),
      `${Math.min(...ratios).toFixed(3)}..${Math.max(...ratios).toFixed(3)}`,
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] as number))
      .join('  ')
      .trimEnd();
  return [
    line(head),
    ...rows.map(line),
    '',
    ...series.map(
      (s) =>
        `overhead: netmatrix/bare = ${(median(s.netmatrix) / median(s.bare)).toFixed(2)} (${s.protocol.toUpperCase()} ${s.path} path, ${o.repeat} x ${o.durationSeconds} s, median)`,
    ),
  ];
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

  const series: Series[] = o.paths.flatMap((path) => o.protocols.map((protocol) => ({ path, protocol, bare: [], netmatrix: [] })));
  for (let rep = 0; rep < o.repeat; rep++) {
    for (const s of series) {
      const a = async () => void s.bare.push(await bare(s.path, s.protocol, o, n1, n2));
      const b = async () => void s.netmatrix.push(await netmatrix(agg, token, s.path, s.protocol, o, `overhead-${rep + 1}`));
      for (const step of rep % 2 === 0 ? [a, b] : [b, a]) await step();
      const i = s.bare.length - 1;
      console.error(
        `rep ${rep + 1}/${o.repeat} ${s.path}/${s.protocol}: bare ${gbit(s.bare[i] as number)}, netmatrix ${gbit(s.netmatrix[i] as number)}, ratio ${((s.netmatrix[i] as number) / (s.bare[i] as number)).toFixed(3)}`,
      );
    }
  }
  console.log(report(series, o).join('\n'));
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
