/**
 * `npm start`: a lab, the aggregator on :8080, the agents, and the continuous matrix, with one
 * line per finished test. Ctrl-C (or a crash) tears it all down. Without root or network
 * namespaces: a loopback demo with local agent processes (node and pod paths only).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { buildAggregator, type Aggregator } from '../aggregator/app.js';
import { loadAggregatorConfig } from '../aggregator/config.js';
import { receiverUdp, type TestResult } from '../shared/result.js';
import { createLogger } from '../sys/log.js';
import { AgentProcesses, labAgentSpecs, loopbackAgentSpecs, type AgentSpec } from './agents.js';
import { checkLabSupport, labDown, labUp } from './lab.js';
import { planLab } from './plan.js';
import type { LabProfile } from '../shared/lab-profile.js';

const PORT = 8080;
/** Where the demo leaves its token for `netmatrix run` (readable by its owner only). */
export const DEMO_TOKEN_FILE = '/run/netmatrix/demo-token';

async function writeTokenFile(token: string): Promise<string> {
  // /run needs root; the loopback demo of an ordinary user keeps it in its temp folder.
  for (const file of [DEMO_TOKEN_FILE, join(tmpdir(), 'netmatrix-demo-token')]) {
    try {
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, token, { mode: 0o600 });
      return file;
    } catch {
      // try the next place
    }
  }
  throw new Error('cannot write the demo token file');
}

function gbit(bps: number | null): string {
  return bps === null ? '-' : `${(bps / 1e9).toFixed(2)} Gbit/s`;
}

/** One line per test, for a terminal. */
export function describeResult(r: TestResult): string {
  const head = `${r.path.padEnd(7)} ${r.protocol} ${`${r.source.node} -> ${r.target.node}`.padEnd(18)}`;
  if (!r.ok) return `${head} FAILED ${r.error?.code ?? ''}: ${r.error?.message ?? ''}`;
  if (r.latency) {
    const t = r.latency.rttMicroseconds;
    const us = (v: number) => (v < 1000 ? `${v.toFixed(0)} µs` : `${(v / 1000).toFixed(2)} ms`);
    const dropped =
      r.protocol === 'udp' ? `  dropped ${((r.latency.droppedMessages / Math.max(1, r.latency.sentMessages)) * 100).toFixed(2)}%` : '';
    return `${head} ${`rtt p50 ${us(t.p50)}`.padStart(13)}  p99 ${us(t.p99)}${dropped}`;
  }
  const cpu = (p: number | undefined) => (p === undefined ? '-' : `${p.toFixed(0)}%`);
  const loss = receiverUdp(r)?.lossRatio;
  const udp = loss === undefined ? '' : `  loss ${(loss * 100).toFixed(2)}%`;
  return `${head} ${gbit(r.throughputBitsPerSecond).padStart(13)}  node CPU client ${cpu(r.source.cpu?.test.busyPercent)} server ${cpu(r.target.cpu?.test.busyPercent)}${udp}`;
}

export async function runDemo(o: { nodes: number; profile: LabProfile; loopback?: boolean }): Promise<void> {
  const support = o.loopback ? { ok: false as const, reason: 'loopback demo requested' } : await checkLabSupport();
  const lab = support.ok;
  if (!support.ok) {
    console.log(`netmatrix: ${support.reason}; running the loopback demo instead (local agents, node and pod paths only)`);
  }
  const plan = planLab(o.nodes, { profile: o.profile });
  const token = process.env.NETMATRIX_TOKEN ?? randomBytes(16).toString('hex');
  const tokenFile = await writeTokenFile(token);
  const env = {
    NETMATRIX_TEST_DURATION_SECONDS: '2',
    NETMATRIX_ROUND_PAUSE_MS: '200',
    NETMATRIX_UDP_BITRATE_BITS_PER_SECOND: '500000000',
    NETMATRIX_LOG_FORMAT: 'pretty',
    NETMATRIX_LOG_LEVEL: 'warn',
    ...(lab ? { NETMATRIX_SERVICE_ADDRESSES: plan.nodes.map((n) => `${n.name}=${n.serviceIp}`).join(',') } : {}),
    NETMATRIX_LISTEN_PORT: String(PORT),
    ...process.env,
    NETMATRIX_TOKEN: token,
  };
  const config = loadAggregatorConfig(env, []);
  const log = createLogger({ level: config.logLevel, format: config.logFormat, name: 'netmatrix' });

  let aggregator: Aggregator | undefined;
  let agents: AgentProcesses | undefined;
  let tornDown = false;
  let quiet = () => {};
  const teardown = async () => {
    if (tornDown) return;
    tornDown = true;
    quiet();
    console.log(`\nstopping: ${lab ? 'lab, ' : ''}agents, aggregator`);
    // The lab first: it is what a half-finished teardown must not leave behind (labDown also
    // kills the agents and iperf3 processes inside it).
    if (lab) await labDown();
    await rm(tokenFile, { force: true });
    await agents?.stop();
    await aggregator?.close();
  };
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => void teardown().then(() => process.exit(0)));
  process.on('uncaughtException', (e) => {
    console.error(e);
    void teardown().finally(() => process.exit(1));
  });

  try {
    let specs: AgentSpec[];
    let aggregatorUrl: string;
    if (lab) {
      console.log(`building a ${o.nodes}-node lab (network namespaces, 198.18.0.0/15)...`);
      await labUp(plan);
      specs = labAgentSpecs(plan);
      aggregatorUrl = `ws://${plan.aggregatorIp}:${config.port}/ws/agent`;
    } else {
      specs = loopbackAgentSpecs(o.nodes);
      aggregatorUrl = `ws://127.0.0.1:${config.port}/ws/agent`;
    }
    aggregator = await buildAggregator({ config, log });
    quiet = aggregator.store.onResult((r) => console.log(describeResult(r)));
    await aggregator.listen();
    agents = new AgentProcesses({ aggregatorUrl, token });
    agents.start(specs);
    console.log(`
netmatrix is measuring ${o.nodes} nodes: node-to-node, pod-to-pod${lab ? ', pod-to-service' : ''}, TCP and UDP, ${config.durationSeconds} s tests.${
      lab
        ? `\nlab profile: pod network ${o.profile.podNetwork}, service proxy ${o.profile.serviceProxy}${o.profile.linkRate ? `, links ${o.profile.linkRate}` : ''}`
        : ''
    }
  page     http://localhost:${config.port}/   (the live matrix)
  matrix   curl -s localhost:${config.port}/api/matrix
  metrics  curl -s localhost:${config.port}/metrics | grep '^netmatrix_path'
  results  curl -s 'localhost:${config.port}/api/results?limit=5'
  agents   curl -s localhost:${config.port}/api/agents
  a run    NETMATRIX_TOKEN=$(cat ${tokenFile}) npx tsx cli/main.ts run --label mine --out mine.json
Ctrl-C stops everything${lab ? ' and removes the lab' : ''}.
`);
  } catch (e) {
    await teardown();
    throw e;
  }
}
