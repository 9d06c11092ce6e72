/**
 * Latency tests on the 3-node lab, with real agents, real sockperf and real network namespaces:
 * every path and protocol measured; a rate cap (tc tbf) and a packet drop (nftables) on one
 * node's pod link show in that node's pairs and in no other; a refused port is a failure with
 * its reason, never a zero latency; and in a background sweep of both kinds, no latency test
 * ever shares a node with a throughput test.
 */
import pino from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildAggregator, type Aggregator } from '../../aggregator/app.js';
import { loadAggregatorConfig } from '../../aggregator/config.js';
import type { AgentProcesses } from '../../lab/agents.js';
import { labDown, labUp } from '../../lab/lab.js';
import { planLab, podLinkName, type LabNode } from '../../lab/plan.js';
import type { Path, Protocol, TestKind } from '../../shared/protocol.js';
import type { TestResult } from '../../shared/result.js';
import { execChecked } from '../../sys/exec.js';
import { runOnDemand as runLabRun, startLabAgents } from '../helpers/lab-runs.js';
import { describeWith, waitFor } from '../helpers/requirements.js';

const TOKEN = 'latency-test-token';

/** Figures measured here, printed at the end. */
const measured: Record<string, unknown> = {};

describeWith({ root: true, binaries: ['ip', 'iptables', 'iperf3', 'sockperf', 'tc', 'nft'] }, 'latency tests on a 3-node lab', () => {
  const plan = planLab(3);
  const [, node2] = plan.nodes as [LabNode, LabNode, LabNode];
  let agg: Aggregator;
  let agents: AgentProcesses;

  beforeAll(async () => {
    await labUp(plan);
    const config = loadAggregatorConfig(
      {
        NETMATRIX_TOKEN: TOKEN,
        NETMATRIX_LISTEN_HOST: plan.aggregatorIp,
        NETMATRIX_LISTEN_PORT: '0',
        // The background sweep (both kinds) runs throughout; on-demand runs go ahead of it.
        NETMATRIX_CONTINUOUS: 'true',
        NETMATRIX_PATHS: 'node,pod,service',
        NETMATRIX_PROTOCOLS: 'tcp,udp',
        NETMATRIX_TEST_DURATION_SECONDS: '1',
        NETMATRIX_UDP_BITRATE_BITS_PER_SECOND: '100000000',
        NETMATRIX_ROUND_PAUSE_MS: '100',
        NETMATRIX_LATENCY_DURATION_SECONDS: '1',
        NETMATRIX_LATENCY_CONNECT_SAMPLES: '10',
        NETMATRIX_IDLE_SAMPLE_MS: '0',
        NETMATRIX_SERVICE_ADDRESSES: plan.nodes.map((n) => `${n.name}=${n.serviceIp}`).join(','),
      },
      [],
    );
    agg = await buildAggregator({ config, log: pino({ level: 'silent' }) });
    await agg.listen();
    agents = await startLabAgents(plan, agg, TOKEN);
  }, 180_000);

  afterAll(async () => {
    await agents?.stop();
    await agg?.close();
    await labDown();
    console.log(`latency measurements: ${JSON.stringify(measured, null, 1)}`);
  }, 60_000);

  const runOnDemand = (label: string, kinds: TestKind[], paths: Path[], protocols: Protocol[]) =>
    runLabRun(agg, TOKEN, { label, kinds, paths, protocols });
  const pairName = (r: TestResult) => `${r.path}/${r.protocol} ${r.source.node}->${r.target.node}`;
  const involves = (r: TestResult, node: string) => r.source.node === node || r.target.node === node;
  const failures = (rs: TestResult[]) => rs.filter((r) => !r.ok).map((r) => `${pairName(r)}: ${r.error?.code} ${r.error?.message}`);
  const p50 = (r: TestResult) => r.latency?.rttMicroseconds.p50 ?? NaN;

  it('measures round-trip latency on every path and protocol, with connection setup times on TCP', async () => {
    const rs = await runOnDemand('all-paths', ['latency'], ['node', 'pod', 'service'], ['tcp', 'udp']);
    expect(rs).toHaveLength(36);
    expect(failures(rs)).toEqual([]);
    for (const r of rs) {
      expect(r.kind).toBe('latency');
      const rtt = r.latency?.rttMicroseconds;
      expect(rtt, pairName(r)).toBeDefined();
      // Loopback-speed veths on one machine: tens to hundreds of µs, never zero, never seconds.
      expect(rtt?.p50, pairName(r)).toBeGreaterThan(1);
      expect(rtt?.p50, pairName(r)).toBeLessThan(50_000);
      expect(rtt?.min).toBeLessThanOrEqual(rtt?.p50 ?? 0);
      expect(rtt?.p50).toBeLessThanOrEqual(rtt?.p99 ?? 0);
      expect(r.latency?.observations, pairName(r)).toBeGreaterThan(100);
      if (r.protocol === 'tcp') expect(r.latency?.connect?.samples, pairName(r)).toBe(10);
      else expect(r.latency?.connect).toBeUndefined();
      expect(r.throughputBitsPerSecond).toBeNull();
    }
    const byPath: Record<string, number[]> = {};
    for (const r of rs) (byPath[`${r.path}/${r.protocol}`] ??= []).push(Math.round(p50(r)));
    measured.p50MicrosecondsByPath = byPath;
    // /api/matrix carries the latest percentiles of every pair.
    const matrix = (await agg.app.inject({ method: 'GET', url: '/api/matrix' })).json<{
      latency: Array<{ path: string; protocol: string; ok: boolean; rttMicroseconds: { p50: number; p99: number } | null }>;
    }>();
    expect(matrix.latency).toHaveLength(36);
    expect(matrix.latency.every((c) => c.ok && (c.rttMicroseconds?.p50 ?? 0) > 0)).toBe(true);
  }, 240_000);

  it("a rate cap (tc tbf) on one node's pod link raises that node's pod and service round trips, and no other pair's", async () => {
    const victim = node2;
    // Latency traffic (64 B at 1000/s each way, ~0.8 Mbit/s on the wire) over a 400 kbit/s cap:
    // the queue fills to tbf's 20 ms limit, so every exchange through it waits.
    await execChecked([
      'tc',
      '-n',
      victim.netns,
      'qdisc',
      'replace',
      'dev',
      podLinkName(victim),
      'root',
      'tbf',
      'rate',
      '400kbit',
      'burst',
      '1600',
      'latency',
      '20ms',
    ]);
    try {
      const rs = await runOnDemand('tbf', ['latency'], ['pod', 'service'], ['tcp']);
      const hit = rs.filter((r) => involves(r, victim.name));
      const spared = rs.filter((r) => !involves(r, victim.name));
      expect(hit).toHaveLength(8);
      expect(failures(spared)).toEqual([]);
      const slowestSpared = Math.max(...spared.map(p50));
      measured.tbf = { victimP50: hit.map((r) => `${pairName(r)} ${Math.round(p50(r))} µs`), slowestSparedP50: Math.round(slowestSpared) };
      for (const r of hit) {
        // A TCP test whose queue drops enough may fail outright; a measured one must show the cap.
        if (r.ok) expect(p50(r), pairName(r)).toBeGreaterThan(Math.max(2000, 5 * slowestSpared));
      }
      expect(hit.filter((r) => r.ok).length).toBeGreaterThan(0);
    } finally {
      await execChecked(['tc', '-n', victim.netns, 'qdisc', 'del', 'dev', podLinkName(victim), 'root']);
    }
  }, 240_000);

  it("20% of packets dropped into one pod: its UDP pairs lose about that share, its TCP pairs' p99 shows retransmits, the others are clean", async () => {
    const victim = node2;
    const nft = (script: string) => execChecked(['ip', 'netns', 'exec', victim.podNetns, 'nft', script]);
    await nft('add table inet nmlatency');
    try {
      await nft('add chain inet nmlatency in { type filter hook input priority 0 ; }');
      // Requests (to the victim's server) and replies (to the victim's client) alike; data only, so
      // TCP's handshake and the control connection are not what is measured.
      await nft('add rule inet nmlatency in meta l4proto { tcp, udp } meta length > 80 numgen random mod 100 < 20 drop');
      const rs = await runOnDemand('drop', ['latency'], ['pod', 'service'], ['udp', 'tcp']);
      const dropped = (r: TestResult) => (r.latency ? r.latency.droppedMessages / Math.max(1, r.latency.sentMessages) : NaN);
      const loss: Record<string, number> = {};
      for (const r of rs.filter((x) => x.protocol === 'udp')) {
        loss[pairName(r)] = Number(dropped(r).toFixed(3));
        expect(r.ok, `${pairName(r)}: ${r.error?.message}`).toBe(true);
        if (involves(r, victim.name)) {
          expect(dropped(r), pairName(r)).toBeGreaterThan(0.08);
          expect(dropped(r), pairName(r)).toBeLessThan(0.4);
        } else {
          expect(dropped(r), pairName(r)).toBeLessThan(0.02);
        }
      }
      measured.udpDroppedRatio = loss;
      const tcp = rs.filter((x) => x.protocol === 'tcp');
      const spared = tcp.filter((r) => !involves(r, victim.name));
      expect(failures(spared)).toEqual([]);
      const p99 = (r: TestResult) => r.latency?.rttMicroseconds.p99 ?? NaN;
      const worstSpared = Math.max(...spared.map(p99));
      // A dropped TCP segment waits for a retransmission timeout (200 ms minimum on Linux).
      // Failed outright is possible too (too few exchanges got through for sockperf's percentiles).
      for (const r of tcp.filter((x) => involves(x, victim.name) && !x.ok))
        expect(['sockperf-error', 'no-replies']).toContain(r.error?.code);
      const hitP99 = tcp.filter((r) => involves(r, victim.name) && r.ok).map(p99);
      measured.tcpP99 = { victimMicroseconds: hitP99.map(Math.round), worstSparedMicroseconds: Math.round(worstSpared) };
      expect(hitP99.length).toBeGreaterThan(0);
      for (const v of hitP99) expect(v).toBeGreaterThan(Math.max(100_000, 10 * worstSpared));
    } finally {
      await nft('delete table inet nmlatency');
    }
  }, 240_000);

  it('a refused port is a failed latency test with its reason, never a zero latency', async () => {
    const victim = node2;
    const rule = ['-p', 'tcp', '--dport', '5201', '-j', 'REJECT', '--reject-with', 'tcp-reset'];
    await execChecked(['ip', 'netns', 'exec', victim.podNetns, 'iptables', '-I', 'INPUT', ...rule]);
    try {
      const rs = await runOnDemand('refused', ['latency'], ['pod'], ['tcp']);
      const toVictim = rs.filter((r) => r.target.node === victim.name);
      expect(toVictim).toHaveLength(2);
      for (const r of toVictim) {
        expect(r.ok).toBe(false);
        expect(r.error?.code, r.error?.message).toBe('connection-refused');
        expect(r.latency).toBeNull();
      }
      expect(failures(rs.filter((r) => r.target.node !== victim.name))).toEqual([]);
      const matrix = (await agg.app.inject({ method: 'GET', url: '/api/matrix' })).json<{
        latency: Array<{ path: string; protocol: string; target: string; ok: boolean; error: { code: string } | null }>;
      }>();
      const cells = matrix.latency.filter((c) => c.path === 'pod' && c.protocol === 'tcp' && c.target === victim.name);
      expect(cells.map((c) => [c.ok, c.error?.code])).toEqual([
        [false, 'connection-refused'],
        [false, 'connection-refused'],
      ]);
    } finally {
      await execChecked(['ip', 'netns', 'exec', victim.podNetns, 'iptables', '-D', 'INPUT', ...rule]);
    }
  }, 240_000);

  it('no latency test ever shared a node with a throughput test, and the background sweep ran more latency tests than throughput tests', async () => {
    const background = () => agg.store.latest(10_000).filter((r) => r.runId === null);
    await waitFor(() => background().filter((r) => r.kind === 'throughput').length >= 8, 180_000, 'eight background throughput tests', 250);
    await agg.scheduler.stop();
    const all = agg.store.latest(10_000);
    const latency = all.filter((r) => r.kind === 'latency');
    const throughput = all.filter((r) => r.kind === 'throughput');
    const span = (r: TestResult) => [Date.parse(r.startedAt), Date.parse(r.endedAt)] as const;
    const overlaps: string[] = [];
    for (const l of latency) {
      const [ls, le] = span(l);
      for (const t of throughput) {
        const [ts, te] = span(t);
        const shared = [l.source.node, l.target.node].some((n) => involves(t, n));
        if (shared && ls < te && ts < le) overlaps.push(`${pairName(l)} overlaps ${pairName(t)}`);
      }
    }
    expect(overlaps).toEqual([]);
    // Two latency rounds after each throughput round (the default).
    const bl = background().filter((r) => r.kind === 'latency').length;
    const bt = background().filter((r) => r.kind === 'throughput').length;
    expect(bl).toBeGreaterThanOrEqual(bt);
    measured.backgroundSweep = { latencyTests: bl, throughputTests: bt, allTests: all.length };
  }, 240_000);
});
