/**
 * The latency figures of /metrics (sockperf's full round trips), as exact exposition text: what
 * each gauge exports from the latest successful latency test of each pair, that a failed test
 * never shows as a 0 s round trip, the per-pair rule, the per-node aggregates, the series of a
 * node that leaves, the `kind` label of the event counters, and the size of /metrics at 1,000
 * nodes. Results come from the results-file builder, whose output passes the results schema.
 */
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { AgentRegistry } from '../../aggregator/agents.js';
import { Metrics, type MetricsOptions } from '../../aggregator/metrics.js';
import { ResultStore } from '../../aggregator/results.js';
import type { NetworkMode, Path, Protocol } from '../../shared/protocol.js';
import { TestResultSchema, type TestResult } from '../../shared/result.js';
import { latencyResult, testResult, type LatencyOptions } from '../fixtures/results/builder.js';
import { testIdentity } from '../helpers/identity.js';
import { familySamples, parseExposition } from '../helpers/prometheus-text.js';

interface Harness {
  registry: Registry;
  store: ResultStore;
  agents: AgentRegistry;
  metrics: Metrics;
  /** Exposition text of one metric family (its HELP and TYPE lines dropped), as Prometheus scrapes it. */
  text(name: string): Promise<string>;
  /** Record a result as the aggregator does: into the store, then the event counters. */
  add(r: TestResult, durationSeconds?: number): void;
}

function harness(o: Partial<MetricsOptions> = {}): Harness {
  const registry = new Registry();
  const store = new ResultStore(100_000);
  const agents = new AgentRegistry();
  const metrics = new Metrics(registry, store, agents, { perPair: 'always', perPairMaxNodes: 10, ...o });
  return {
    registry,
    store,
    agents,
    metrics,
    text: async (name) => familySamples(await metrics.exposition(), name),
    add: (r, durationSeconds = 5) => {
      // The builder must make results the aggregator could have recorded.
      store.add(TestResultSchema.parse(r));
      metrics.recordResult(r, durationSeconds);
    },
  };
}

let n = 0;
/** A latency test with a unique id (the store keeps the newest per pair). */
const latency = (o: LatencyOptions) => ({ ...latencyResult(o), id: `l${++n}` });

function connectAgent(agents: AgentRegistry, node: string, mode: NetworkMode): void {
  const identity = testIdentity({ nodeName: node, mode });
  agents.add({ id: `${node}/${mode}`, identity, connectedAt: new Date(0), send: () => true, close: () => undefined });
}

describe('latency gauges', () => {
  it('export percentiles of full round trips per path, per node and per pair, in seconds', async () => {
    const h = harness();
    // rttP50/P99 in µs; the builder derives p90 = p50 + 0.3 (p99 - p50) and p99.9 = 1.6 p99.
    h.add(latency({ path: 'pod', protocol: 'tcp', source: 'a', target: 'b', rttP50: 100, rttP99: 200, connectP50: 50 }));
    h.add(latency({ path: 'pod', protocol: 'tcp', source: 'b', target: 'a', rttP50: 300, rttP99: 1000, connectP50: 70 }));
    h.add(latency({ path: 'pod', protocol: 'tcp', source: 'a', target: 'c', rttP50: 200, rttP99: 400, connectP50: 150 }));

    expect(await h.text('netmatrix_path_rtt_seconds')).toBe(
      [
        'netmatrix_path_rtt_seconds{path="pod",protocol="tcp",percentile="50",stat="min"} 0.0001',
        'netmatrix_path_rtt_seconds{path="pod",protocol="tcp",percentile="50",stat="median"} 0.0002',
        'netmatrix_path_rtt_seconds{path="pod",protocol="tcp",percentile="50",stat="max"} 0.0003',
        'netmatrix_path_rtt_seconds{path="pod",protocol="tcp",percentile="90",stat="min"} 0.00013',
        'netmatrix_path_rtt_seconds{path="pod",protocol="tcp",percentile="90",stat="median"} 0.00026',
        'netmatrix_path_rtt_seconds{path="pod",protocol="tcp",percentile="90",stat="max"} 0.00051',
        'netmatrix_path_rtt_seconds{path="pod",protocol="tcp",percentile="99",stat="min"} 0.0002',
        'netmatrix_path_rtt_seconds{path="pod",protocol="tcp",percentile="99",stat="median"} 0.0004',
        'netmatrix_path_rtt_seconds{path="pod",protocol="tcp",percentile="99",stat="max"} 0.001',
        'netmatrix_path_rtt_seconds{path="pod",protocol="tcp",percentile="99.9",stat="min"} 0.00032',
        'netmatrix_path_rtt_seconds{path="pod",protocol="tcp",percentile="99.9",stat="median"} 0.00064',
        'netmatrix_path_rtt_seconds{path="pod",protocol="tcp",percentile="99.9",stat="max"} 0.0016',
        '',
      ].join('\n'),
    );
    // Each node is the median of the pairs it is in, at either end: a = {a→b, b→a, a→c}.
    expect(await h.text('netmatrix_node_rtt_seconds')).toBe(
      [
        'netmatrix_node_rtt_seconds{path="pod",protocol="tcp",node="a",percentile="50"} 0.0002',
        'netmatrix_node_rtt_seconds{path="pod",protocol="tcp",node="a",percentile="99"} 0.0004',
        'netmatrix_node_rtt_seconds{path="pod",protocol="tcp",node="b",percentile="50"} 0.0002',
        'netmatrix_node_rtt_seconds{path="pod",protocol="tcp",node="b",percentile="99"} 0.0006',
        'netmatrix_node_rtt_seconds{path="pod",protocol="tcp",node="c",percentile="50"} 0.0002',
        'netmatrix_node_rtt_seconds{path="pod",protocol="tcp",node="c",percentile="99"} 0.0004',
        '',
      ].join('\n'),
    );
    expect(await h.text('netmatrix_pair_rtt_seconds')).toBe(
      [
        'netmatrix_pair_rtt_seconds{path="pod",protocol="tcp",source="a",target="b",percentile="50"} 0.0001',
        'netmatrix_pair_rtt_seconds{path="pod",protocol="tcp",source="a",target="b",percentile="99"} 0.0002',
        'netmatrix_pair_rtt_seconds{path="pod",protocol="tcp",source="b",target="a",percentile="50"} 0.0003',
        'netmatrix_pair_rtt_seconds{path="pod",protocol="tcp",source="b",target="a",percentile="99"} 0.001',
        'netmatrix_pair_rtt_seconds{path="pod",protocol="tcp",source="a",target="c",percentile="50"} 0.0002',
        'netmatrix_pair_rtt_seconds{path="pod",protocol="tcp",source="a",target="c",percentile="99"} 0.0004',
        '',
      ].join('\n'),
    );
    expect(await h.text('netmatrix_path_connect_seconds')).toBe(
      [
        'netmatrix_path_connect_seconds{path="pod",stat="median"} 0.00007',
        'netmatrix_path_connect_seconds{path="pod",stat="max"} 0.00015',
        '',
      ].join('\n'),
    );
    // TCP tests drop nothing by construction: the dropped ratio is a UDP figure only.
    expect(await h.text('netmatrix_node_latency_dropped_ratio')).toBe('');
  });

  it("shows a lossy node by its worst path: the median over that path's UDP pairs", async () => {
    const h = harness();
    const udp = (path: Path, source: string, target: string, droppedRatio: number) =>
      h.add(latency({ path, protocol: 'udp', source, target, rttP50: 100, droppedRatio }));
    // Node c drops a fifth of the pod path's requests; on the node path nothing is lost.
    udp('pod', 'a', 'c', 0.2);
    udp('pod', 'c', 'b', 0.2);
    udp('pod', 'a', 'b', 0);
    udp('node', 'a', 'c', 0);
    udp('node', 'c', 'b', 0);
    expect(await h.text('netmatrix_node_latency_dropped_ratio')).toBe(
      [
        'netmatrix_node_latency_dropped_ratio{node="a"} 0.1',
        'netmatrix_node_latency_dropped_ratio{node="c"} 0.2',
        'netmatrix_node_latency_dropped_ratio{node="b"} 0.1',
        '',
      ].join('\n'),
    );
    // No TCP latency test, so no connection setup figure.
    expect(await h.text('netmatrix_path_connect_seconds')).toBe('');
  });

  it('never exports a 0 s round trip for a failed test: a pair keeps its last success, or has no series', async () => {
    const h = harness();
    // a→b succeeded once, then failed twice; a→c never succeeded.
    h.add(latency({ path: 'service', protocol: 'udp', source: 'a', target: 'b', rttP50: 400, rttP99: 800 }));
    h.add(latency({ path: 'service', protocol: 'udp', source: 'a', target: 'b', rttP50: null }));
    h.add(latency({ path: 'service', protocol: 'udp', source: 'a', target: 'b', rttP50: null }));
    h.add(latency({ path: 'service', protocol: 'udp', source: 'a', target: 'c', rttP50: null }));

    const samples = parseExposition(await h.metrics.exposition());
    const rtt = samples.filter((s) => /^netmatrix_(path|node|pair)_rtt_seconds$/.test(s.name));
    expect(rtt.length).toBeGreaterThan(0);
    expect(rtt.filter((s) => s.value === 0)).toEqual([]);
    expect(rtt.filter((s) => s.labels.node === 'c' || s.labels.target === 'c')).toEqual([]);
    expect(await h.text('netmatrix_pair_rtt_seconds')).toBe(
      [
        'netmatrix_pair_rtt_seconds{path="service",protocol="udp",source="a",target="b",percentile="50"} 0.0004',
        'netmatrix_pair_rtt_seconds{path="service",protocol="udp",source="a",target="b",percentile="99"} 0.0008',
        '',
      ].join('\n'),
    );
    // The failures show where NetmatrixPairFailing reads them, by kind.
    expect(await h.text('netmatrix_pair_consecutive_failures')).toBe(
      [
        'netmatrix_pair_consecutive_failures{path="service",protocol="udp",kind="latency",source="a",target="b"} 2',
        'netmatrix_pair_consecutive_failures{path="service",protocol="udp",kind="latency",source="a",target="c"} 1',
        '',
      ].join('\n'),
    );
    // Only successes are observed by the RTT histograms.
    expect(await h.text('netmatrix_rtt_p50_seconds')).toContain('netmatrix_rtt_p50_seconds_count{path="service",protocol="udp"} 1\n');
  });

  it('exports per-pair RTT series under the per-pair rule of the throughput ones, and per-node ones always', async () => {
    const pairSeries = async (o: Partial<MetricsOptions>, nodes: number) => {
      const h = harness(o);
      for (let i = 1; i <= nodes; i++) for (const mode of ['pod', 'host'] as const) connectAgent(h.agents, `n${i}`, mode);
      h.add(latency({ path: 'node', protocol: 'tcp', source: 'n1', target: 'n2', rttP50: 50 }));
      h.add(testResult({ path: 'node', protocol: 'tcp', source: 'n1', target: 'n2', throughput: 8e9 }));
      const s = parseExposition(await h.metrics.exposition());
      const count = (name: string) => s.filter((x) => x.name === name).length;
      expect(count('netmatrix_node_rtt_seconds'), 'per-node series whatever the rule').toBe(4);
      // The latency and throughput per-pair series follow one rule.
      expect(count('netmatrix_pair_rtt_seconds') > 0).toBe(count('netmatrix_pair_throughput_bytes_per_second') > 0);
      return count('netmatrix_pair_rtt_seconds');
    };
    expect(await pairSeries({ perPair: 'auto', perPairMaxNodes: 3 }, 3)).toBe(2);
    expect(await pairSeries({ perPair: 'auto', perPairMaxNodes: 3 }, 4)).toBe(0);
    expect(await pairSeries({ perPair: 'always', perPairMaxNodes: 3 }, 4)).toBe(2);
    expect(await pairSeries({ perPair: 'never', perPairMaxNodes: 3 }, 2)).toBe(0);
  });

  it('drops every latency series of a node that leaves at the next scrape; the histograms keep their counts', async () => {
    const h = harness();
    h.add(latency({ path: 'pod', protocol: 'udp', source: 'a', target: 'b', rttP50: 100, droppedRatio: 0.1 }));
    h.add(latency({ path: 'pod', protocol: 'udp', source: 'c', target: 'd', rttP50: 300, droppedRatio: 0 }));
    h.add(latency({ path: 'pod', protocol: 'tcp', source: 'b', target: 'c', rttP50: 200, connectP50: 40 }));
    const mentions = async (node: string) =>
      parseExposition(await h.metrics.exposition()).filter((s) => [s.labels.node, s.labels.source, s.labels.target].includes(node));
    expect(new Set((await mentions('b')).map((s) => s.name))).toEqual(
      new Set(['netmatrix_node_rtt_seconds', 'netmatrix_pair_rtt_seconds', 'netmatrix_node_latency_dropped_ratio']),
    );

    h.store.removeNode('b');
    expect(await mentions('b')).toEqual([]);
    // Nothing of the pairs b was in is left in the path figures either.
    expect(await h.text('netmatrix_path_rtt_seconds')).toContain(
      'netmatrix_path_rtt_seconds{path="pod",protocol="udp",percentile="50",stat="max"} 0.0003\n',
    );
    expect(await h.text('netmatrix_path_rtt_seconds')).not.toContain('protocol="tcp"');
    expect(await h.text('netmatrix_path_connect_seconds')).toBe('');
    expect(await h.text('netmatrix_node_latency_dropped_ratio')).toBe(
      ['netmatrix_node_latency_dropped_ratio{node="c"} 0', 'netmatrix_node_latency_dropped_ratio{node="d"} 0', ''].join('\n'),
    );
    // Histograms have no node label: the tests observed stay counted.
    expect(await h.text('netmatrix_rtt_p99_seconds')).toContain('netmatrix_rtt_p99_seconds_count{path="pod",protocol="udp"} 2\n');
  });
});

describe('latency and throughput side by side', () => {
  it('keeps throughput gauges to throughput tests and counts tests, failures and durations by kind', async () => {
    const h = harness();
    h.add(latency({ path: 'node', protocol: 'tcp', source: 'a', target: 'b', rttP50: 60, rttP99: 90, clientCpu: 50 }), 4.6);
    h.add(latency({ path: 'node', protocol: 'tcp', source: 'b', target: 'a', rttP50: null }), 4.2);

    // A latency test's client CPU (a busy-waiting sockperf) is no throughput test's CPU.
    for (const name of [
      'netmatrix_path_throughput_bytes_per_second',
      'netmatrix_node_throughput_bytes_per_second',
      'netmatrix_pair_throughput_bytes_per_second',
      'netmatrix_path_cpu_busy_ratio',
      'netmatrix_node_cpu_busy_ratio',
      'netmatrix_node_last_success_timestamp_seconds',
    ]) {
      expect(await h.text(name), name).toBe('');
    }
    expect(await h.text('netmatrix_pairs_measured')).toBe('netmatrix_pairs_measured{path="node",protocol="tcp",kind="latency"} 1\n');

    h.add(testResult({ path: 'node', protocol: 'tcp', source: 'a', target: 'b', throughput: 8e9, clientCpu: 20, serverCpu: 30 }), 12);
    expect(await h.text('netmatrix_pairs_measured')).toBe(
      [
        'netmatrix_pairs_measured{path="node",protocol="tcp",kind="throughput"} 1',
        'netmatrix_pairs_measured{path="node",protocol="tcp",kind="latency"} 1',
        '',
      ].join('\n'),
    );
    expect(await h.text('netmatrix_path_cpu_busy_ratio')).toBe(
      [
        'netmatrix_path_cpu_busy_ratio{path="node",protocol="tcp",side="client"} 0.2',
        'netmatrix_path_cpu_busy_ratio{path="node",protocol="tcp",side="server"} 0.3',
        '',
      ].join('\n'),
    );
    expect(await h.text('netmatrix_tests_total')).toBe(
      [
        'netmatrix_tests_total{path="node",protocol="tcp",kind="latency",outcome="success"} 1',
        'netmatrix_tests_total{path="node",protocol="tcp",kind="latency",outcome="failure"} 1',
        'netmatrix_tests_total{path="node",protocol="tcp",kind="throughput",outcome="success"} 1',
        '',
      ].join('\n'),
    );
    expect(await h.text('netmatrix_test_failures_total')).toBe(
      'netmatrix_test_failures_total{path="node",protocol="tcp",kind="latency",reason="no-replies"} 1\n',
    );
    const duration = await h.text('netmatrix_test_duration_seconds');
    expect(duration).toContain('netmatrix_test_duration_seconds_bucket{le="4",path="node",protocol="tcp",kind="latency"} 0\n');
    expect(duration).toContain('netmatrix_test_duration_seconds_bucket{le="5",path="node",protocol="tcp",kind="latency"} 2\n');
    expect(duration).toContain('netmatrix_test_duration_seconds_bucket{le="10",path="node",protocol="tcp",kind="throughput"} 0\n');
    expect(duration).toContain('netmatrix_test_duration_seconds_count{path="node",protocol="tcp",kind="throughput"} 1\n');
  });

  it('observes each successful latency test once in the p50 and p99 histograms, from 25 µs to 1 s', async () => {
    const h = harness();
    h.add(latency({ path: 'pod', protocol: 'udp', source: 'a', target: 'b', rttP50: 60, rttP99: 2000 }));
    expect(await h.text('netmatrix_rtt_p99_seconds')).toBe(
      [
        ...[
          ['0.000025', 0],
          ['0.00005', 0],
          ['0.000075', 0],
          ['0.0001', 0],
          ['0.00015', 0],
          ['0.0002', 0],
          ['0.0003', 0],
          ['0.0005', 0],
          ['0.00075', 0],
          ['0.001', 0],
          ['0.0015', 0],
          ['0.002', 1],
          ['0.003', 1],
          ['0.005', 1],
          ['0.01', 1],
          ['0.025', 1],
          ['0.05', 1],
          ['0.1', 1],
          ['0.25', 1],
          ['0.5', 1],
          ['1', 1],
          ['+Inf', 1],
        ].map(([le, v]) => `netmatrix_rtt_p99_seconds_bucket{le="${le}",path="pod",protocol="udp"} ${v}`),
        'netmatrix_rtt_p99_seconds_sum{path="pod",protocol="udp"} 0.002',
        'netmatrix_rtt_p99_seconds_count{path="pod",protocol="udp"} 1',
        '',
      ].join('\n'),
    );
    expect(await h.text('netmatrix_rtt_p50_seconds')).toContain(
      'netmatrix_rtt_p50_seconds_bucket{le="0.000075",path="pod",protocol="udp"} 1\n',
    );
    expect(await h.text('netmatrix_rtt_p50_seconds')).toContain(
      'netmatrix_rtt_p50_seconds_bucket{le="0.00005",path="pod",protocol="udp"} 0\n',
    );
  });
});

describe('/metrics at 1,000 nodes', () => {
  it('stays under 50,000 series with every path, protocol and kind measured and per-pair series off by the node limit', async () => {
    const nodes = 1000;
    const h = harness({ perPair: 'auto', perPairMaxNodes: 10 });
    const name = (i: number) => `node-${String(i).padStart(4, '0')}`;
    for (let i = 0; i < nodes; i++) for (const mode of ['pod', 'host'] as const) connectAgent(h.agents, name(i), mode);
    const paths: Path[] = ['node', 'pod', 'service'];
    const protocols: Protocol[] = ['tcp', 'udp'];
    // Every node as client and server of one pair per path and protocol: every per-node series exists.
    for (let i = 0; i < nodes; i++) {
      const source = name(i);
      const target = name((i + 1) % nodes);
      for (const path of paths) {
        for (const protocol of protocols) {
          const t = testResult({ path, protocol, source, target, throughput: 9e9, clientCpu: 40, serverCpu: 30 });
          const iperf = t.iperf && {
            ...t.iperf,
            ...(protocol === 'udp'
              ? { udp: { jitterSeconds: 1e-5, lostPackets: 1, packets: 1000, lossRatio: 0.001 } }
              : { tcp: { retransmits: 3, rttMinSeconds: 1e-4, rttMeanSeconds: 2e-4, rttMaxSeconds: 3e-4 } }),
          };
          h.add({ ...t, id: `t${++n}`, iperf }, 12);
          h.add(latency({ path, protocol, source, target, rttP50: 80, droppedRatio: 0.01, connectP50: 40 }), 4.6);
        }
      }
    }
    // A cluster-wide outage's failures too: capped counts and every reason of a kind.
    for (let i = 0; i < 200; i++) h.add(latency({ path: 'pod', protocol: 'udp', source: name(i), target: name(i + 500), rttP50: null }));

    const samples = parseExposition(await h.metrics.exposition());
    const perNode = samples.filter((s) => s.labels.node === name(7)).length;
    // 36 throughput series per node, 13 latency ones (12 RTT, 1 dropped ratio).
    expect(perNode).toBe(49);
    expect(samples.filter((s) => s.labels.source !== undefined && s.name !== 'netmatrix_pair_consecutive_failures')).toEqual([]);
    expect(samples.length).toBeLessThan(50_000);
  });
});

describe('netmatrix_pair_staleness_seconds and netmatrix_pairs_never_measured', () => {
  it("export the scheduler's staleness figures as they are at scrape time", async () => {
    let maxSeconds = 120;
    const h = harness({
      staleness: () => [{ kind: 'latency', path: 'pod', protocol: 'udp', maxSeconds, medianSeconds: 30, neverMeasured: 4 }],
    });
    expect(await h.text('netmatrix_pair_staleness_seconds')).toBe(
      'netmatrix_pair_staleness_seconds{kind="latency",path="pod",protocol="udp",stat="max"} 120\n' +
        'netmatrix_pair_staleness_seconds{kind="latency",path="pod",protocol="udp",stat="median"} 30\n',
    );
    expect(await h.text('netmatrix_pairs_never_measured')).toBe(
      'netmatrix_pairs_never_measured{kind="latency",path="pod",protocol="udp"} 4\n',
    );
    maxSeconds = 5;
    expect(await h.text('netmatrix_pair_staleness_seconds')).toContain('stat="max"} 5\n');
  });
});
