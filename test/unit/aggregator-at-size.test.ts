/**
 * The aggregator's state at size: the agent registry's indexes answer as a scan would, the
 * matrix keeps a summary per pair (not the whole result), forgets exactly a leaving node's
 * cells and keeps within its cap, and an on-demand run takes its rounds one at a time in the order a fully planned run had.
 */
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { AgentRegistry, type AgentSession } from '../../aggregator/agents.js';
import { Metrics } from '../../aggregator/metrics.js';
import { ResultStore } from '../../aggregator/results.js';
import { Run, type PlannedRound } from '../../aggregator/planning/runs.js';
import { roundRobinRounds } from '../../aggregator/planning/sweep.js';
import type { NetworkMode, Path, TestKind } from '../../shared/protocol.js';
import { testResult } from '../fixtures/results/builder.js';
import { testIdentity } from '../helpers/identity.js';
import { parseExposition, sampleValue } from '../helpers/prometheus-text.js';

function session(id: string, nodeName: string, mode: NetworkMode): AgentSession {
  return { id, identity: testIdentity({ nodeName, mode }), connectedAt: new Date(0), send: () => true, close: () => undefined };
}

describe('AgentRegistry indexes', () => {
  it('finds, lists and counts agents as they join, are replaced and leave', () => {
    const r = new AgentRegistry();
    r.add(session('b-pod', 'b', 'pod'));
    r.add(session('a-pod', 'a', 'pod'));
    r.add(session('a-host', 'a', 'host'));
    expect(r.nodes()).toEqual(['a', 'b']);
    expect(r.nodesWith('host')).toEqual(['a']);
    expect(r.nodesWith('pod')).toEqual(['a', 'b']);
    expect([r.count('pod'), r.count('host'), r.nodeCount()]).toEqual([2, 1, 2]);

    // A reconnect replaces the node's pod agent; the old session's late leave must not remove the new one.
    const old = r.add(session('a-pod-2', 'a', 'pod'));
    expect(old?.id).toBe('a-pod');
    r.remove('a-pod');
    expect(r.find('a', 'pod')?.id).toBe('a-pod-2');
    expect(r.agentsOf('a').map((s) => s.id)).toEqual(['a-pod-2', 'a-host']);
    expect(r.count('pod')).toBe(2);

    r.remove('b-pod');
    expect(r.hasNode('b')).toBe(false);
    expect(r.nodes()).toEqual(['a']);
    expect(r.nodesWith('pod')).toEqual(['a']);
    r.remove('a-pod-2');
    r.remove('a-host');
    expect([r.nodes(), r.nodeCount(), r.count('pod'), r.count('host')]).toEqual([[], 0, 0, 0]);
  });
});

describe('the matrix at size', () => {
  it('keeps a summary of each result, with the figures the API and /metrics read', () => {
    const store = new ResultStore(10);
    const r = testResult({ path: 'pod', protocol: 'udp', source: 'a', target: 'b', throughput: 9e9, clientCpu: 40, serverCpu: 60 });
    if (r.iperf) r.iperf.udp = { jitterSeconds: 1e-5, lostPackets: 3, packets: 1000, lossRatio: 0.003 };
    store.add(r);
    const [cell] = store.matrix('throughput');
    expect(cell?.lastSuccess).toMatchObject({
      id: r.id,
      throughputBitsPerSecond: 9e9,
      clientBusyPercent: 40,
      serverBusyPercent: 60,
      udpJitterSeconds: 1e-5,
      udpLossRatio: 0.003,
      targetAddress: r.target.address,
    });
    // Not the result itself: no reports, no per-second CPU.
    expect(cell?.latest).not.toHaveProperty('iperf');
    expect(cell?.latest).not.toHaveProperty('source');
  });

  it('keeps the newest results, newest first, however many came', () => {
    const store = new ResultStore(3);
    const ids = (n: number) => store.latest(n).map((r) => r.id);
    const add = (i: number) => store.add({ ...testResult({ path: 'node', protocol: 'tcp', throughput: 1e9, index: i }), id: `r${i}` });
    add(1);
    add(2);
    expect(ids(10)).toEqual(['r2', 'r1']);
    for (let i = 3; i <= 7; i++) add(i);
    expect(ids(10)).toEqual(['r7', 'r6', 'r5']);
    expect(ids(2)).toEqual(['r7', 'r6']);
  });

  it("forgets exactly a leaving node's cells, however many pairs there are", () => {
    const store = new ResultStore(10);
    const nodes = Array.from({ length: 30 }, (_, i) => `n${i}`);
    let i = 0;
    for (const source of nodes)
      for (const target of nodes)
        if (source !== target) store.add(testResult({ path: 'node', protocol: 'tcp', source, target, throughput: 1e9, index: i++ }));
    expect(store.size).toBe(30 * 29);
    const before = store.version;
    store.removeNode('n7');
    expect(store.version).toBeGreaterThan(before);
    expect(store.size).toBe(29 * 28);
    expect(store.matrix().some((c) => c.source === 'n7' || c.target === 'n7')).toBe(false);
    // The node comes back: its cells are indexed again and leave again.
    store.add(testResult({ path: 'node', protocol: 'tcp', source: 'n7', target: 'n8', throughput: 1e9 }));
    store.removeNode('n8');
    expect(store.matrix().some((c) => ['n7', 'n8'].includes(c.source) || ['n7', 'n8'].includes(c.target))).toBe(false);
    expect(store.size).toBe(28 * 27);
  });

  it('keeps at most its cap of cells, forgetting the least recently measured first', () => {
    const store = new ResultStore(10, { maxCells: 3 });
    const add = (source: string, target: string, throughput = 1e9) =>
      store.add(testResult({ path: 'node', protocol: 'tcp', source, target, throughput }));
    const pairs = () => store.matrix().map((c) => `${c.source}>${c.target}`);
    add('a', 'b');
    add('b', 'c');
    add('c', 'd');
    add('a', 'b', 2e9); // measured again: now the newest
    expect(pairs()).toEqual(['b>c', 'c>d', 'a>b']);
    expect(store.evicted).toBe(0);
    add('d', 'e');
    expect(pairs()).toEqual(['c>d', 'a>b', 'd>e']);
    expect(store.evicted).toBe(1);
    expect(store.matrix().find((c) => c.source === 'a')?.latest.throughputBitsPerSecond).toBe(2e9);
    // The per-node index follows: a node whose last cell went is gone from it, the others keep theirs.
    add('e', 'f');
    add('f', 'g');
    const byNode = new Map([...store.nodeCellsView()].map(([node, cells]) => [node, [...cells].map((c) => `${c.source}>${c.target}`)]));
    expect([...byNode.keys()].sort()).toEqual(['d', 'e', 'f', 'g']);
    expect(byNode.get('e')).toEqual(['d>e', 'e>f']);
    expect(store.evicted).toBe(3);
    // A node leaving still takes exactly its own cells.
    store.removeNode('f');
    expect(pairs()).toEqual(['d>e']);
  });

  it('counts the cells it forgot on /metrics', async () => {
    const store = new ResultStore(10, { maxCells: 2 });
    const metrics = new Metrics(new Registry(), store, new AgentRegistry(), { perPair: 'never', perPairMaxNodes: 0 });
    const evicted = async () => sampleValue(parseExposition(await metrics.exposition()), 'netmatrix_matrix_pairs_evicted_total');
    expect(await evicted()).toBe(0);
    for (const target of ['b', 'c', 'd', 'e'])
      store.add(testResult({ path: 'node', protocol: 'tcp', source: 'a', target, throughput: 1e9 }));
    expect(await evicted()).toBe(2);
    expect(sampleValue(parseExposition(await metrics.exposition()), 'netmatrix_pairs_measured', { path: 'node', kind: 'throughput' })).toBe(
      2,
    );
  });
});

describe('on-demand runs', () => {
  const spec = {
    kinds: ['throughput', 'latency'] as TestKind[],
    paths: ['node', 'pod'] as Path[],
    protocols: ['tcp', 'udp'] as Array<'tcp' | 'udp'>,
    durationSeconds: 1,
    repeat: 2,
    streams: 1,
    tcpBitrateBitsPerSecond: 0,
    udpBitrateBitsPerSecond: 0,
    omitSeconds: 0,
  };

  it('takes, round by round, the interleaved passes a fully planned run had', () => {
    // Different member counts per key (odd, even) so keys run out of rounds at different times.
    const members = (path: Path, kind: TestKind) =>
      path === 'node' ? ['a', 'b', 'c', 'd', 'e'] : kind === 'latency' ? ['a', 'b'] : ['a', 'b', 'c', 'd'];
    const run = new Run('x', spec);
    run.start(members, new Date(0));
    const taken: PlannedRound[] = [];
    for (let r = run.nextRound(); r; r = run.nextRound()) taken.push(r);

    const perKey = spec.kinds.flatMap((kind) =>
      spec.paths.flatMap((path) =>
        spec.protocols.map((protocol) => roundRobinRounds(members(path, kind)).map((pairs) => ({ kind, path, protocol, pairs }))),
      ),
    );
    const pass: PlannedRound[] = [];
    for (let i = 0; i < Math.max(...perKey.map((k) => k.length)); i++) for (const k of perKey) if (k[i]) pass.push(k[i] as PlannedRound);
    expect(taken).toEqual([...pass, ...pass]);
    expect(run.summary().total).toBe(taken.reduce((n, r) => n + r.pairs.length, 0));
  });

  it('starts a 5,000-node run without planning its 25 million pairs up front', () => {
    const nodes = Array.from({ length: 5000 }, (_, i) => `node-${i}`);
    const run = new Run('big', { ...spec, kinds: ['throughput'], paths: ['node'], protocols: ['tcp'], repeat: 1 });
    run.start(() => nodes, new Date(0));
    expect(run.summary().total).toBe(5000 * 4999);
    const first = run.nextRound();
    expect(first?.pairs).toHaveLength(2500);
    expect(new Set(first?.pairs.flatMap((p) => [p.source, p.target])).size).toBe(5000);
  });
});
