/**
 * The background sweep rests a node whose NIC is busy with real work, on the 3-node lab with
 * real agents and real iperf3: the host agents report their node's NIC traffic around every
 * test, and when a bare iperf3 outside netmatrix loads node3's link to the bridge, the
 * aggregator sees it in the idle window before node3's next test, rests node3, and goes on
 * measuring node1 and node2.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import pino from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildAggregator, type Aggregator } from '../../aggregator/app.js';
import { loadAggregatorConfig } from '../../aggregator/config.js';
import type { AgentProcesses } from '../../lab/agents.js';
import { labDown, labUp } from '../../lab/lab.js';
import { planLab } from '../../lab/plan.js';
import type { TestResult } from '../../shared/result.js';
import { isListening } from '../../agent/listening.js';
import { startLabAgents } from '../helpers/lab-runs.js';
import { describeWith, waitFor } from '../helpers/requirements.js';

const TOKEN = 'busy-node-test-token';
/** The limit: 50 Mbit/s. Test traffic is capped at 20 Mbit/s, the other traffic runs at 200. */
const BUSY_BITS_PER_SECOND = 50_000_000;
/** The bare iperf3 outside netmatrix, from node3 to the aggregator's address on the bridge. */
const OTHER_PORT = 5390;

describeWith({ root: true, binaries: ['ip', 'iptables', 'iperf3'] }, 'a node busy with real work on a 3-node lab', () => {
  const plan = planLab(3);
  let agg: Aggregator;
  let agents: AgentProcesses;
  const results: TestResult[] = [];
  const logs: Array<Record<string, unknown>> = [];
  const others: ChildProcess[] = [];

  const involves = (r: TestResult, node: string) => r.source.node === node || r.target.node === node;

  beforeAll(async () => {
    await labUp(plan);
    const config = loadAggregatorConfig(
      {
        NETMATRIX_TOKEN: TOKEN,
        NETMATRIX_LISTEN_HOST: plan.aggregatorIp,
        NETMATRIX_LISTEN_PORT: '0',
        NETMATRIX_CONTINUOUS: 'true',
        NETMATRIX_PATHS: 'node',
        NETMATRIX_PROTOCOLS: 'tcp',
        NETMATRIX_TEST_DURATION_SECONDS: '1',
        NETMATRIX_TCP_BITRATE_BITS_PER_SECOND: '20000000',
        // Long enough that the idle window before a test starts after the previous test ended.
        NETMATRIX_ROUND_PAUSE_MS: '2000',
        NETMATRIX_LATENCY_ROUNDS: '0',
        NETMATRIX_BUSY_NODE_NIC_BITS_PER_SECOND: String(BUSY_BITS_PER_SECOND),
        NETMATRIX_BUSY_NODE_REST_SECONDS: '3600',
      },
      [],
    );
    const log = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
    agg = await buildAggregator({ config, log });
    agg.store.onResult((r) => void results.push(r));
    await agg.listen();
    agents = await startLabAgents(plan, agg, TOKEN);
  }, 180_000);

  afterAll(async () => {
    for (const p of others) p.kill('SIGKILL');
    await agents?.stop();
    await agg?.close();
    await labDown();
  });

  it("reports each node's NIC traffic, its link to the bridge, from the host agents", async () => {
    const first = await waitFor(
      () => results.find((r) => r.ok && r.source.nic?.idle && r.target.nic?.idle),
      60_000,
      'a test with both idle NIC windows',
    );
    for (const side of [first.source, first.target]) {
      expect(side.nic?.interface).toMatch(/\S/);
      // Quiet before the test; during it, at least the test's own traffic each way it went.
      expect(Math.max(side.nic?.idle?.rxBitsPerSecond ?? Infinity, side.nic?.idle?.txBitsPerSecond ?? Infinity)).toBeLessThan(
        BUSY_BITS_PER_SECOND,
      );
    }
    const moved = first.iperf?.receivedBytes ?? 0;
    const sent = first.source.nic?.test;
    expect(sent && (sent.txBitsPerSecond / 8) * ((sent.endMs - sent.startMs) / 1000)).toBeGreaterThanOrEqual(moved);
    expect(logs.filter((l) => l.msg === 'node busy, resting')).toEqual([]);
  }, 70_000);

  it('rests node3 once other traffic loads its NIC, and keeps measuring node1 and node2', async () => {
    const node3 = plan.nodes[2];
    if (!node3) throw new Error('no node3 in the plan');
    const server = spawn('iperf3', ['-s', '-1', '-B', plan.aggregatorIp, '-p', String(OTHER_PORT)], { stdio: 'ignore' });
    others.push(server);
    await waitFor(() => isListening(OTHER_PORT), 5000, 'the other iperf3 server to listen');
    const loadStart = Date.now();
    const client = spawn(
      'ip',
      ['netns', 'exec', node3.netns, 'iperf3', '-c', plan.aggregatorIp, '-p', String(OTHER_PORT), '-t', '300', '-b', '200M'],
      { stdio: 'ignore' },
    );
    others.push(client);

    const rest = await waitFor(() => logs.find((l) => l.msg === 'node busy, resting'), 60_000, 'the aggregator to rest a node');
    expect(rest).toMatchObject({ node: 'node3', restSeconds: 3600 });
    expect(rest.idleNicBitsPerSecond).toBeGreaterThan(BUSY_BITS_PER_SECOND);
    const restedAt = Date.now();
    const evidence = results.find((r) => involves(r, 'node3') && Date.parse(r.startedAt) >= loadStart);
    expect(evidence, 'a node3 test after the load began').toBeDefined();

    // node1 and node2 go on (both directions), and node3 starts nothing more.
    await waitFor(
      () => results.filter((r) => r.ok && Date.parse(r.startedAt) > restedAt && !involves(r, 'node3')).length >= 3,
      60_000,
      'three more node1-node2 tests',
    );
    expect(results.filter((r) => Date.parse(r.startedAt) > restedAt && involves(r, 'node3'))).toEqual([]);
    expect(logs.filter((l) => l.msg === 'node busy, resting').map((l) => l.node)).toEqual(['node3']);
    const metrics = (await agg.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(/^netmatrix_nodes_resting 1$/m);
  }, 150_000);
});
