/**
 * A rolling upgrade, both halves: the previous release's agents against this aggregator, and
 * this release's agents against the previous release's aggregator. The previous release is
 * checked out of git history into a temporary folder and run from its own sources, so this
 * test proves what a `helm upgrade` meets: the matrix fills for both kinds (iperf3 and
 * sockperf), both protocols and the node and pod paths. Loopback agents (127.0.x.y) keep it
 * out of the lab; the service path differs from the pod path only in the address dialled.
 *
 * When a release changes the protocol, PREVIOUS_RELEASE moves to the last commit of the
 * release before it (shared/protocol.ts has the evolution rule).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pino from 'pino';
import type { AddressInfo } from 'node:net';
import { buildAggregator, type Aggregator } from '../../aggregator/app.js';
import { loadAggregatorConfig } from '../../aggregator/config.js';
import { AgentProcesses, loopbackAgentSpecs, type AgentSpec } from '../../lab/agents.js';
import { describeWith, waitFor } from '../helpers/requirements.js';
import { freeLoopbackPort } from '../helpers/ports.js';

/** The last commit that speaks protocol version 1 only (strict schemas, serve-latency/probe-latency). */
const PREVIOUS_RELEASE = 'a7f9d3e7df20fe249d0569b33adbc74950d37595';
const TOKEN = 'mixed-version-token';
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const NODES = 2;
const PATHS = ['node', 'pod'] as const;
const PROTOCOLS = ['tcp', 'udp'] as const;

/** Both agents of each node on their own loopback addresses and iperf3 ports, away from 5201-5210, inside the agents' default range. */
function agentSpecs(): AgentSpec[] {
  return loopbackAgentSpecs(NODES).map((s, i) => ({ ...s, iperf3Port: 5291 + i }));
}

/** The aggregator settings of both halves: short tests, both kinds, the node and pod paths. */
const AGGREGATOR_ENV: Record<string, string> = {
  NETMATRIX_TOKEN: TOKEN,
  NETMATRIX_LISTEN_HOST: '127.0.0.1',
  NETMATRIX_TEST_DURATION_SECONDS: '1',
  NETMATRIX_ROUND_PAUSE_MS: '100',
  NETMATRIX_UDP_BITRATE_BITS_PER_SECOND: '100000000',
  NETMATRIX_PATHS: PATHS.join(','),
  NETMATRIX_LATENCY_ROUNDS: '1',
  NETMATRIX_LATENCY_DURATION_SECONDS: '1',
  NETMATRIX_LATENCY_CONNECT_SAMPLES: '2',
  // Loopback agents dial from 127.0.0.1, not from the address they measure on.
  NETMATRIX_AGENT_ADDRESS_CHECK: 'off',
  NETMATRIX_KUBERNETES: 'off',
};

/** The previous release's sources, with this checkout's node_modules (the same pinned dependencies). */
function checkOutPreviousRelease(): string {
  const dir = mkdtempSync(join(tmpdir(), 'netmatrix-previous-'));
  try {
    execFileSync('git', ['-C', REPO, 'cat-file', '-e', `${PREVIOUS_RELEASE}^{commit}`], { stdio: 'ignore' });
  } catch {
    throw new Error(`the previous release ${PREVIOUS_RELEASE} is not in this clone's history (a shallow clone?): git fetch --unshallow`);
  }
  execFileSync('sh', ['-c', `git -C "${REPO}" archive ${PREVIOUS_RELEASE} | tar -x -C "${dir}"`]);
  symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

/** The argv that runs the CLI of the checkout in `dir` from its sources. */
function cliOf(dir: string): string[] {
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  return [process.execPath, '--import', tsx, join(dir, 'cli/main.ts')];
}

type Cell = { path: string; protocol: string; source: string; target: string; lastSuccessAt: string | null };
interface Matrix {
  cells: Cell[];
  latency: Cell[];
}

/** Which cells of the full matrix (both kinds, every ordered pair, path and protocol) have no success yet. */
function missingCells(m: Matrix): string[] {
  const nodes = Array.from({ length: NODES }, (_, i) => `local${i + 1}`);
  const missing: string[] = [];
  for (const path of PATHS)
    for (const protocol of PROTOCOLS)
      for (const source of nodes)
        for (const target of nodes) {
          if (source === target) continue;
          const measured = (c: Cell) =>
            c.path === path && c.protocol === protocol && c.source === source && c.target === target && c.lastSuccessAt !== null;
          if (!m.cells.some(measured)) missing.push(`throughput ${path}/${protocol} ${source}->${target}`);
          if (!m.latency.some(measured)) missing.push(`latency ${path}/${protocol} ${source}->${target}`);
        }
  return missing;
}

async function fullMatrix(read: () => Promise<Matrix>): Promise<void> {
  let missing: string[] = ['everything'];
  await waitFor(
    async () => {
      missing = missingCells(await read());
      return missing.length === 0;
    },
    150_000,
    'the full matrix',
    1000,
  ).catch((e: unknown) => {
    throw new Error(`${(e as Error).message}; still missing: ${missing.join(', ')}`);
  });
}

describeWith({ binaries: ['git', 'tar', 'iperf3', 'sockperf'] }, 'a rolling upgrade between the previous release and this one', () => {
  let previous: string;

  beforeAll(() => {
    previous = checkOutPreviousRelease();
  });

  afterAll(() => {
    if (previous) rmSync(previous, { recursive: true, force: true });
  });

  describe("the previous release's agents and this aggregator", () => {
    let agg: Aggregator;
    let agents: AgentProcesses;

    beforeAll(async () => {
      agg = await buildAggregator({
        config: loadAggregatorConfig({ ...AGGREGATOR_ENV, NETMATRIX_LISTEN_PORT: '0' }, []),
        log: pino({ level: 'silent' }),
      });
      await agg.listen();
      const port = (agg.app.server.address() as AddressInfo).port;
      agents = new AgentProcesses({ aggregatorUrl: `ws://127.0.0.1:${port}/ws/agent`, token: TOKEN, command: cliOf(previous) });
      agents.start(agentSpecs());
      await waitFor(() => agg.agents.all().length === 2 * NODES, 60_000, 'the old agents to connect');
    }, 90_000);

    afterAll(async () => {
      await agents?.stop();
      await agg?.close();
    });

    it('fills the matrix: both kinds, both protocols, node and pod paths, every ordered pair', async () => {
      await fullMatrix(async () => (await agg.app.inject({ method: 'GET', url: '/api/matrix' })).json<Matrix>());
    }, 160_000);
  });

  describe("this release's agents and the previous release's aggregator", () => {
    let aggregator: ChildProcess;
    let agents: AgentProcesses;
    let port: number;
    const read = async () => (await fetch(`http://127.0.0.1:${port}/api/matrix`)).json() as Promise<Matrix>;

    beforeAll(async () => {
      port = await freeLoopbackPort();
      const [bin, ...args] = cliOf(previous);
      aggregator = spawn(bin as string, [...args, 'aggregator'], {
        stdio: ['ignore', 'ignore', 'inherit'],
        env: { ...process.env, ...AGGREGATOR_ENV, NETMATRIX_LISTEN_PORT: String(port), NETMATRIX_LOG_LEVEL: 'error' },
      });
      await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).ok, 60_000, 'the old aggregator to listen', 250);
      agents = new AgentProcesses({ aggregatorUrl: `ws://127.0.0.1:${port}/ws/agent`, token: TOKEN });
      agents.start(agentSpecs());
    }, 90_000);

    afterAll(async () => {
      await agents?.stop();
      aggregator?.kill('SIGTERM');
    });

    it('fills the matrix: both kinds, both protocols, node and pod paths, every ordered pair', async () => {
      await fullMatrix(read);
      expect(missingCells(await read())).toEqual([]);
    }, 160_000);
  });
});
