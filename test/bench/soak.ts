/**
 * `npm run bench:soak`: does a long continuous sweep leak? A 3-node lab sweeps every path and
 * protocol with short tests for `--minutes` (10 by default), while the aggregator's and every
 * agent's resident memory and open file descriptors are sampled. It prints the samples, then
 * compares the median of the last fifth of the run with the median of the first fifth (after a
 * one-minute warm-up, or the first sample in a short run) against stated bounds, and checks that
 * no iperf3 is left once the sweep stops. Exit 1 when a bound is broken.
 *
 * A benchmark, not a test: the bounds are what we promise; the figures are what it measured.
 * Needs root (the lab).
 *
 *   npm run bench:soak -- [--minutes M] [--json FILE] [--smoke]
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { buildAggregator, type Aggregator } from '../../aggregator/app.js';
import { loadAggregatorConfig } from '../../aggregator/config.js';
import { AgentProcesses, labAgentSpecs } from '../../lab/agents.js';
import { checkLabSupport, labDown, labStatus, labUp } from '../../lab/lab.js';
import { planLab } from '../../lab/plan.js';
import { median } from '../../shared/stats.js';
import { exec } from '../../sys/exec.js';
import { waitFor } from '../helpers/requirements.js';
import { writeSummary, type SummaryRow } from './summary.js';

/** The promises: growth from the start of the soak to its end. */
export const BOUNDS = {
  aggregatorRssMiB: 64,
  agentRssMiB: 32,
  fds: 8,
};

interface Sample {
  atSeconds: number;
  tests: number;
  aggregatorRssMiB: number;
  aggregatorFds: number;
  /** Largest agent RSS and fd count (any agent). */
  agentRssMiB: number;
  agentFds: number;
}

const MiB = 1024 * 1024;

function rssMiB(pid: number | 'self'): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

function fds(pid: number | 'self'): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

function sample(startMs: number, tests: number, agents: AgentProcesses): Sample {
  const pids = agents.pids;
  return {
    atSeconds: Math.round((Date.now() - startMs) / 1000),
    tests,
    aggregatorRssMiB: process.memoryUsage().rss / MiB,
    aggregatorFds: fds('self'),
    agentRssMiB: Math.max(...pids.map((p) => rssMiB(p))),
    agentFds: Math.max(...pids.map((p) => fds(p))),
  };
}

async function soak(minutes: number, intervalSeconds: number, json: string | undefined): Promise<number> {
  const plan = planLab(3);
  const token = randomBytes(16).toString('hex');
  await labUp(plan);
  let agg: Aggregator | undefined;
  let agents: AgentProcesses | undefined;
  try {
    const config = loadAggregatorConfig(
      {
        NETMATRIX_TOKEN: token,
        NETMATRIX_LISTEN_HOST: plan.aggregatorIp,
        NETMATRIX_LISTEN_PORT: '0',
        NETMATRIX_TEST_DURATION_SECONDS: '1',
        NETMATRIX_ROUND_PAUSE_MS: '100',
        NETMATRIX_UDP_BITRATE_BITS_PER_SECOND: '200000000',
        NETMATRIX_RESULTS_KEPT: '2000',
        NETMATRIX_SERVICE_ADDRESSES: plan.nodes.map((n) => `${n.name}=${n.serviceIp}`).join(','),
      },
      [],
    );
    agg = await buildAggregator({ config, log: pino({ level: 'silent' }) });
    await agg.listen();
    const port = (agg.app.server.address() as AddressInfo).port;
    agents = new AgentProcesses({ aggregatorUrl: `ws://${plan.aggregatorIp}:${port}/ws/agent`, token });
    agents.start(labAgentSpecs(plan));
    // The clock starts once every agent is connected: start-up (compiling, loading) is not a leak.
    await waitFor(() => agg?.agents.all().length === plan.nodes.length * 2, 90_000, 'every lab agent to connect');

    let tests = 0;
    agg.store.onResult(() => tests++);
    const start = Date.now();
    const samples: Sample[] = [];
    console.log('   s  tests  aggregator RSS MiB  fds  max agent RSS MiB  fds');
    while (Date.now() - start < minutes * 60_000) {
      await new Promise((r) => setTimeout(r, intervalSeconds * 1000));
      const s = sample(start, tests, agents);
      samples.push(s);
      console.log(
        `${String(s.atSeconds).padStart(4)}  ${String(s.tests).padStart(5)}  ${s.aggregatorRssMiB.toFixed(1).padStart(18)}  ${String(s.aggregatorFds).padStart(3)}  ${s.agentRssMiB.toFixed(1).padStart(17)}  ${String(s.agentFds).padStart(3)}`,
      );
    }
    await agg.scheduler.stop();
    // Every test has ended; nothing may be left running.
    const leftover = (await exec(['pgrep', '-x', 'iperf3'])).stdout.trim();

    const warm = samples.filter((s) => s.atSeconds >= 60);
    const body = warm.length >= 5 ? warm : samples;
    const fifth = Math.max(1, Math.floor(body.length / 5));
    const first = body.slice(0, fifth);
    const last = body.slice(-fifth);
    const growth = (f: (s: Sample) => number) => (median(last.map(f)) as number) - (median(first.map(f)) as number);
    const checks: Array<[string, number, number]> = [
      ['aggregator RSS growth, MiB', growth((s) => s.aggregatorRssMiB), BOUNDS.aggregatorRssMiB],
      ['largest agent RSS growth, MiB', growth((s) => s.agentRssMiB), BOUNDS.agentRssMiB],
      ['aggregator fd growth', growth((s) => s.aggregatorFds), BOUNDS.fds],
      ['largest agent fd growth', growth((s) => s.agentFds), BOUNDS.fds],
    ];
    console.log(`\n${tests} tests in ${minutes} min (results kept: the newest 2000)`);
    let ok = true;
    const rows: SummaryRow[] = [];
    for (const [what, value, bound] of checks) {
      const pass = value <= bound;
      ok &&= pass;
      console.log(`${pass ? 'ok  ' : 'FAIL'} ${what}: ${value.toFixed(1)} (bound ${bound})`);
      rows.push({ bench: 'soak', figure: `${what}, ${minutes} min`, value: value.toFixed(1), bound: `<= ${bound}`, pass });
    }
    rows.push({
      bench: 'soak',
      figure: 'iperf3 left after the sweep stopped',
      value: String(leftover ? leftover.split('\n').length : 0),
      bound: '= 0',
      pass: !leftover,
    });
    rows.push({ bench: 'soak', figure: 'tests run', value: String(tests), bound: '> 0', pass: tests > 0 });
    if (json) writeSummary(json, rows);
    if (leftover) {
      ok = false;
      console.log(`FAIL iperf3 processes left after the sweep stopped: ${leftover.split('\n').join(' ')}`);
    } else console.log('ok   no iperf3 left after the sweep stopped');
    if (tests === 0) {
      ok = false;
      console.log('FAIL no test ran');
    }
    return ok ? 0 : 1;
  } finally {
    await agents?.stop();
    await agg?.close();
    await labDown();
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: { minutes: { type: 'string', default: '10' }, json: { type: 'string' }, smoke: { type: 'boolean', default: false } },
  });
  if (values.json === '') {
    console.error('bench:soak: --json takes a file name');
    return 2;
  }
  const minutes = values.smoke ? 0.5 : Number(values.minutes);
  if (!(minutes > 0)) {
    console.error(`bench:soak: --minutes must be a positive number, got "${values.minutes}"`);
    return 2;
  }
  if (process.getuid?.() !== 0) {
    console.error('bench:soak: needs root (it builds the network-namespace lab); run it with sudo');
    return 2;
  }
  const support = await checkLabSupport();
  if (!support.ok) {
    console.error(`bench:soak: ${support.reason}`);
    return 2;
  }
  if ((await labStatus()).nodes.length > 0) {
    console.error('bench:soak: a lab is already up (another demo or test?); remove it with `npx tsx cli/main.ts lab down`');
    return 2;
  }
  console.error(`bench:soak: 3-node lab, continuous sweep of 1 s tests for ${minutes} min`);
  return soak(minutes, values.smoke ? 5 : 15, values.json);
}

process.exitCode = await main();
