/**
 * The core loop end to end on the lab: real agents in real network namespaces, real iperf3,
 * the real aggregator. Every path x protocol of a 3-node lab must produce positive throughput
 * and CPU figures in /api/matrix and /metrics, and pod-to-service traffic must go through the
 * lab's DNAT rules (their packet counters move).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import pino from 'pino';
import type { AddressInfo } from 'node:net';
import { buildAggregator, type Aggregator } from '../../aggregator/app.js';
import { loadAggregatorConfig } from '../../aggregator/config.js';
import { AgentProcesses, labAgentSpecs } from '../../lab/agents.js';
import { labDown, labUp, serviceCounters } from '../../lab/lab.js';
import { planLab } from '../../lab/plan.js';
import { PATHS, PROTOCOLS } from '../../shared/protocol.js';
import type { Environment } from '../../shared/environment.js';
import type { TestResult } from '../../shared/result.js';
import { exec } from '../../sys/exec.js';
import { parseExposition, sampleValue } from '../helpers/prometheus-text.js';
import { describeWith, waitFor } from '../helpers/requirements.js';

const TOKEN = 'integration-test-token';

describeWith({ root: true, binaries: ['ip', 'iptables', 'iperf3'] }, 'the measurement loop on a 3-node lab', () => {
  const plan = planLab(3);
  let agg: Aggregator;
  let agents: AgentProcesses;

  const get = async <T>(url: string): Promise<T> => (await agg.app.inject({ method: 'GET', url })).json<T>();
  const dnatPackets = async () => {
    let total = 0;
    for (const n of plan.nodes) for (const c of await serviceCounters(n.netns)) total += c.packets;
    return total;
  };

  beforeAll(async () => {
    await labUp(plan);
    const config = loadAggregatorConfig(
      {
        NETMATRIX_TOKEN: TOKEN,
        NETMATRIX_LISTEN_HOST: plan.aggregatorIp,
        NETMATRIX_LISTEN_PORT: '0',
        NETMATRIX_TEST_DURATION_SECONDS: '1',
        NETMATRIX_ROUND_PAUSE_MS: '100',
        NETMATRIX_UDP_BITRATE_BITS_PER_SECOND: '200000000',
        NETMATRIX_SERVICE_ADDRESSES: plan.nodes.map((n) => `${n.name}=${n.serviceIp}`).join(','),
        // The throughput sweep alone; latency rounds are test/integration/latency.test.ts's.
        NETMATRIX_LATENCY_ROUNDS: '0',
      },
      [],
    );
    agg = await buildAggregator({ config, log: pino({ level: 'silent' }) });
    await agg.listen();
    const port = (agg.app.server.address() as AddressInfo).port;
    agents = new AgentProcesses({ aggregatorUrl: `ws://${plan.aggregatorIp}:${port}/ws/agent`, token: TOKEN });
    agents.start(labAgentSpecs(plan));
    await waitFor(() => agg.agents.all().length === 6, 30_000, 'six agents to connect');
  }, 90_000);

  afterAll(async () => {
    await agents?.stop();
    await agg?.close();
    await labDown();
  });

  it('shows a result for every path and protocol early in the continuous sweep (rounds are interleaved)', async () => {
    await waitFor(
      () =>
        PATHS.every((p) =>
          PROTOCOLS.every((q) => agg.store.matrix('throughput').some((c) => c.path === p && c.protocol === q && c.lastSuccess)),
        ),
      60_000,
      'a successful result for each path and protocol',
    );
  }, 70_000);

  it('runs an on-demand labelled run over all 36 ordered pairs x paths x protocols, through the service DNAT', async () => {
    const dnatBefore = await dnatPackets();
    const res = await agg.app.inject({
      method: 'POST',
      url: '/api/runs',
      headers: { authorization: `Bearer ${TOKEN}` },
      payload: { label: 'it-run' },
    });
    expect(res.statusCode).toBe(202);
    const { id } = res.json<{ id: string }>();
    const run = await waitFor(
      async () => {
        const r = await get<{
          status: string;
          total: number;
          done: number;
          failed: number;
          results: TestResult[];
          environment: Environment | null;
        }>(`/api/runs/${id}`);
        return r.status === 'done' ? r : undefined;
      },
      150_000,
      'the run to finish',
      500,
    );

    expect(run.total).toBe(3 * 2 * 3 * 2);
    // The run recorded its environment: each node measured idle before the first test, and the lab's profile.
    expect(run.environment?.nodes.map((n) => n.name)).toEqual(['node1', 'node2', 'node3']);
    for (const n of run.environment?.nodes ?? []) expect(n.idleCpu?.cores).toBeGreaterThan(0);
    expect(run.environment?.dataplane).toMatchObject({ kind: 'lab', settings: { serviceProxy: 'iptables', podNetwork: 'direct' } });
    expect(run.done).toBe(run.total);
    const failed = run.results
      .filter((r) => !r.ok)
      .map((r) => `${r.path}/${r.protocol} ${r.source.node}->${r.target.node}: ${r.error?.code} ${r.error?.message}`);
    expect(failed).toEqual([]);
    for (const r of run.results) {
      expect(r.label).toBe('it-run');
      expect(r.throughputBitsPerSecond).toBeGreaterThan(0);
      expect(r.source.cpu?.test.busyPercent).toBeGreaterThan(0);
      expect(r.target.cpu?.test.busyPercent).toBeGreaterThan(0);
      expect(r.source.cpuSecondsPerGigabyte).toBeGreaterThan(0);
    }
    // The service path dialled the ClusterIPs; the DNAT rules counted those connections.
    const service = run.results.filter((r) => r.path === 'service');
    expect(new Set(service.map((r) => r.target.address))).toEqual(new Set(plan.nodes.map((n) => n.serviceIp)));
    expect(await dnatPackets()).toBeGreaterThanOrEqual(dnatBefore + service.length);
  }, 180_000);

  it("exposes every cell in /api/matrix with throughput and both sides' CPU", async () => {
    const m = await get<{ nodes: unknown[]; cells: Array<Record<string, unknown>> }>('/api/matrix');
    expect(m.nodes).toHaveLength(3);
    expect(m.cells).toHaveLength(36);
    for (const c of m.cells) {
      expect(c.throughputBitsPerSecond).toBeGreaterThan(0);
      expect(c.clientCpuBusyPercent).toBeGreaterThan(0);
      expect(c.serverCpuBusyPercent).toBeGreaterThan(0);
    }
  });

  it('exports throughput, CPU, UDP loss and TCP figures per path in /metrics', async () => {
    const s = parseExposition((await agg.app.inject({ method: 'GET', url: '/metrics' })).body);
    expect(sampleValue(s, 'netmatrix_agents_connected', { mode: 'pod' })).toBe(3);
    expect(sampleValue(s, 'netmatrix_agents_connected', { mode: 'host' })).toBe(3);
    for (const path of PATHS) {
      for (const protocol of PROTOCOLS) {
        expect(
          sampleValue(s, 'netmatrix_path_throughput_bytes_per_second', { path, protocol, stat: 'median' }),
          `${path}/${protocol}`,
        ).toBeGreaterThan(0);
        expect(sampleValue(s, 'netmatrix_path_cpu_busy_ratio', { path, protocol, side: 'server' })).toBeGreaterThan(0);
        expect(sampleValue(s, 'netmatrix_pairs_measured', { path, protocol, kind: 'throughput' })).toBe(6);
        expect(sampleValue(s, 'netmatrix_tests_total', { path, protocol, kind: 'throughput', outcome: 'success' })).toBeGreaterThanOrEqual(
          6,
        );
      }
      expect(sampleValue(s, 'netmatrix_path_udp_loss_ratio', { path })).toBeGreaterThanOrEqual(0);
      expect(sampleValue(s, 'netmatrix_path_tcp_rtt_seconds', { path })).toBeGreaterThan(0);
    }
    // 3 nodes is under the default per-pair limit: pair series are there.
    expect(
      sampleValue(s, 'netmatrix_pair_throughput_bytes_per_second', { path: 'pod', protocol: 'tcp', source: 'node1', target: 'node2' }),
    ).toBeGreaterThan(0);
  });

  it("forgets a node's series when its agents leave", async () => {
    const leaving = agg.agents.all().filter((a) => a.identity.nodeName === 'node3');
    for (const a of leaving) a.close(1000, 'test');
    await waitFor(() => !agg.agents.nodes().includes('node3'), 10_000, 'node3 to leave');
    const text = (await agg.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(text).not.toContain('node="node3"');
    expect(text).not.toContain('target="node3"');
    // The agents reconnect by themselves (backoff) and are measured again.
    await waitFor(() => agg.agents.nodes().includes('node3'), 30_000, 'node3 to come back');
  }, 45_000);

  it('leaves no iperf3 process behind in the lab', async () => {
    await agg.scheduler.stop();
    await waitFor(
      async () => {
        for (const n of plan.nodes) {
          for (const ns of [n.netns, n.podNetns]) {
            const pids = (await exec(['ip', 'netns', 'pids', ns])).stdout.trim().split('\n').filter(Boolean);
            for (const pid of pids) {
              const comm = (await exec(['cat', `/proc/${pid}/comm`])).stdout.trim();
              if (comm === 'iperf3') return false;
            }
          }
        }
        return true;
      },
      20_000,
      'no iperf3 processes in lab namespaces',
    );
  }, 30_000);
});
