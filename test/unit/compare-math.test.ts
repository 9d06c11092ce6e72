/**
 * compare's arithmetic on results files whose figures are known exactly: medians and p10/p90
 * over pooled tests (shared/stats' interpolated quantile), failures kept out of the figures,
 * CNI overhead ratios, figures by pair and pass, and each figure judged against the first run.
 */
import { describe, expect, it } from 'vitest';
import {
  compareRuns,
  pairRuns,
  pairValues,
  runFigures,
  uniqueLabels,
  type FigureAnalysis,
  type Section,
} from '../../client/compare/compare.js';
import { FIGURES } from '../../client/compare/figures.js';
import type { LoadedRun } from '../../client/compare/load.js';
import type { Path, Protocol } from '../../shared/protocol.js';
import { quantile } from '../../shared/stats.js';
import { EBPF, IPTABLES, node, resultsFile, scenarioFile, testResult } from '../fixtures/results/builder.js';

const G = 1e9;

function run(label: string, results = [testResult({ path: 'pod', protocol: 'tcp', throughput: G })]): LoadedRun {
  return { name: `${label}.json`, file: resultsFile({ label, results }) };
}

/** Tests of one path/protocol with these throughputs (bits/s) and CPU. */
function tests(path: Path, protocol: Protocol, throughputs: (number | null)[], cpu?: { client: number; server: number }) {
  return throughputs.map((t, index) =>
    testResult({ path, protocol, throughput: t, index, clientCpu: cpu?.client ?? null, serverCpu: cpu?.server ?? null }),
  );
}

function section(sections: readonly Section[], path: Path, protocol: Protocol): Section {
  const s = sections.find((x) => x.path === path && x.protocol === protocol);
  if (!s) throw new Error(`no section ${path} ${protocol}`);
  return s;
}

/** The analysis of one figure of a section. */
function figure(s: Section, id: string): FigureAnalysis {
  const f = s.figures.find((x) => x.figure.id === id);
  if (!f) throw new Error(`no figure ${id}`);
  return f;
}

/** `repeat` passes over the ordered pairs of 3 nodes, each test's throughput from `value(pair, pass)`. */
function matrix(path: Path, value: (pair: number, pass: number) => number) {
  const names = ['node-1', 'node-2', 'node-3'];
  const pairs = names.flatMap((s) => names.filter((t) => t !== s).map((t) => [s, t] as const));
  const out = [];
  for (let pass = 0; pass < 3; pass++) {
    for (const [i, [source, target]] of pairs.entries()) {
      out.push(testResult({ path, protocol: 'tcp', throughput: value(i, pass), source, target, index: pass * 10 + i }));
    }
  }
  return out;
}

describe('runFigures', () => {
  it('takes median, p10 and p90 over every successful test with shared/stats quantile', () => {
    const xs = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((g) => g * G);
    const f = runFigures(tests('pod', 'tcp', xs));
    expect(f.throughput).toEqual({
      median: 5.5 * G,
      p10: quantile(xs, 0.1),
      p90: quantile(xs, 0.9),
      samples: 10,
    });
    // Linear interpolation between the 1st and 2nd smallest: 1 + 0.9 * (2 - 1).
    expect(f.throughput?.p10).toBeCloseTo(1.9 * G);
    expect(f.throughput?.p90).toBeCloseTo(9.1 * G);
  });

  it('counts failures but keeps them out of throughput and CPU', () => {
    const f = runFigures(tests('pod', 'tcp', [2 * G, null, 4 * G, null], { client: 30, server: 40 }));
    expect(f.tests).toBe(4);
    expect(f.failures).toBe(2);
    expect(f.throughput?.median).toBe(3 * G);
    expect(f.throughput?.samples).toBe(2);
    expect(f.clientCpuBusyPercent).toBe(30);
    expect(f.serverCpuBusyPercent).toBe(40);
  });

  it('takes the median CPU busy % and CPU-seconds per GB of each side', () => {
    const ts = [10, 20, 60].map((busy, index) =>
      testResult({ path: 'node', protocol: 'tcp', throughput: 8 * G, clientCpu: busy, serverCpu: busy + 5, index }),
    );
    const f = runFigures(ts);
    expect(f.clientCpuBusyPercent).toBe(20);
    expect(f.serverCpuBusyPercent).toBe(25);
    // 20 % of 4 cores for 10 s = 8 CPU-s, over 8 Gbit/s * 10 s = 10 GB.
    expect(f.clientCpuSecondsPerGigabyte).toBeCloseTo(0.8);
    expect(f.serverCpuSecondsPerGigabyte).toBeCloseTo(1.0);
  });

  it('gives null figures when nothing succeeded or no side sent CPU', () => {
    const f = runFigures(tests('pod', 'udp', [null, null]));
    expect(f).toEqual({
      tests: 2,
      failures: 2,
      throughput: null,
      clientCpuBusyPercent: null,
      serverCpuBusyPercent: null,
      clientCpuSecondsPerGigabyte: null,
      serverCpuSecondsPerGigabyte: null,
    });
    expect(runFigures(tests('pod', 'udp', [G])).clientCpuBusyPercent).toBeNull();
  });
});

describe('pairValues', () => {
  it("orders each pair's tests by start time into passes, with a failed test as an empty pass", () => {
    const t = FIGURES.find((f) => f.id === 'throughput');
    if (!t) throw new Error('no throughput figure');
    const ts = [
      testResult({ path: 'pod', protocol: 'tcp', throughput: 3 * G, index: 2 }),
      testResult({ path: 'pod', protocol: 'tcp', throughput: 1 * G, index: 0 }),
      testResult({ path: 'pod', protocol: 'tcp', throughput: null, index: 1 }),
      testResult({ path: 'pod', protocol: 'tcp', throughput: 5 * G, index: 0, source: 'node-2', target: 'node-1' }),
    ];
    expect(pairValues(ts, t)).toEqual(
      new Map([
        ['node-1>node-2', [1 * G, null, 3 * G]],
        ['node-2>node-1', [5 * G]],
      ]),
    );
  });
});

describe('pairRuns', () => {
  it('judges every run against the first, and a repeated label against its own first file as drift', () => {
    expect(pairRuns([run('a'), run('b'), run('a')])).toEqual([
      { baseline: 0, run: 1, drift: false },
      { baseline: 0, run: 2, drift: true },
    ]);
    expect(pairRuns([run('a'), run('b'), run('b')])).toEqual([
      { baseline: 0, run: 1, drift: false },
      { baseline: 0, run: 2, drift: false },
      { baseline: 1, run: 2, drift: true },
    ]);
  });
});

describe('compareRuns', () => {
  const base = run('iptables', [
    ...tests('node', 'tcp', [9 * G, 10 * G, 11 * G]),
    ...tests('pod', 'tcp', [7 * G, 8 * G, 9 * G]),
    ...tests('service', 'tcp', [5 * G, 6 * G, 7 * G]),
  ]);
  const other = run('ebpf', [
    ...tests('node', 'tcp', [9 * G, 10 * G, 11 * G]),
    ...tests('pod', 'tcp', [7.5 * G, 8 * G, 8.5 * G]),
    ...tests('service', 'tcp', [8 * G, 9 * G, 10 * G]),
  ]);
  const c = compareRuns([base, other]);

  it('has a section per measured path and protocol, node/pod/service in order', () => {
    expect(c.sections.map((s) => `${s.path}-${s.protocol}`)).toEqual(['node-tcp', 'pod-tcp', 'service-tcp']);
    expect(c.runs.map((r) => r.label)).toEqual(['iptables', 'ebpf']);
  });

  it('calls a 10 % gain on every pair changed, with its interval around it, and a steady path equivalent', () => {
    // Pairs 4..9 Gbit/s, passes within +-1 %; the other run has every pair 10 % faster.
    const wobble = [1, 1.01, 0.99];
    const speed = (pair: number, pass: number) => (4 + pair) * G * (wobble[(pair + pass) % 3] as number);
    const a = run('a', [...matrix('pod', speed), ...matrix('node', speed)]);
    const b = run('b', [...matrix('pod', (p, r) => 1.1 * speed(p, r)), ...matrix('node', speed)]);
    const cmp = compareRuns([a, b]);
    const pod = figure(section(cmp.sections, 'pod', 'tcp'), 'throughput').comparisons[0];
    expect(pod?.method).toBe('paired');
    expect(pod?.pairsA).toBe(6);
    expect(pod?.repeatsA).toBe(3);
    expect(pod?.estimate).toBeCloseTo(10, 5);
    expect(pod?.low).toBeLessThan(10);
    expect(pod?.high).toBeGreaterThan(10);
    expect(pod?.verdict).toBe('changed');
    const node = figure(section(cmp.sections, 'node', 'tcp'), 'throughput').comparisons[0];
    expect(node?.estimate).toBeCloseTo(0, 5);
    expect(node?.verdict).toBe('equivalent');
    // The run's figure is the median over pairs of each pair's median: pairs 4..9 -> 6.5 Gbit/s.
    expect(figure(section(cmp.sections, 'node', 'tcp'), 'throughput').runs[0]).toEqual({ value: 6.5 * G, pairs: 6, values: 18 });
  });

  it('gives no verdict on one test per pair, and says why', () => {
    const svc = figure(section(c.sections, 'service', 'tcp'), 'throughput').comparisons[0];
    expect(svc?.verdict).toBeNull();
    expect(svc?.estimate).toBeCloseTo(50);
    expect(svc?.reason).toMatch(/too few repetitions/);
  });

  it('gives CNI overhead as median pod or service over median node, per run', () => {
    expect(c.overhead).toHaveLength(1);
    const o = c.overhead[0];
    expect(o?.protocol).toBe('tcp');
    expect(o?.podOverNode[0]).toBeCloseTo(0.8);
    expect(o?.serviceOverNode[0]).toBeCloseTo(0.6);
    expect(o?.serviceOverNode[1]).toBeCloseTo(0.9);
  });

  it('keeps a row for a run that did not measure a path, with empty figures', () => {
    const nodeOnly = run('node-only', tests('node', 'tcp', [10 * G]));
    const c2 = compareRuns([base, nodeOnly]);
    const svc = section(c2.sections, 'service', 'tcp');
    expect(svc.runs[1]).toMatchObject({ tests: 0, throughput: null });
    expect(figure(svc, 'throughput').comparisons[0]?.verdict).toBeNull();
    expect(figure(svc, 'throughput').comparisons[0]?.reason).toMatch(/no usable values in this run/);
    expect(c2.overhead[0]?.serviceOverNode[1]).toBeNull();
  });

  it('shows the iptables -> eBPF service gain on the realistic lab pair, and no change on node-to-node', () => {
    const pair = compareRuns([
      { name: 'iptables.json', file: scenarioFile(IPTABLES) },
      { name: 'ebpf.json', file: scenarioFile(EBPF) },
    ]);
    expect(pair.sections).toHaveLength(6);
    for (const p of ['tcp', 'udp'] as const) {
      const service = figure(section(pair.sections, 'service', p), 'throughput').comparisons[0];
      expect(service?.verdict).toBe('changed');
      expect(service?.estimate).toBeGreaterThan(10);
      expect(service?.low).toBeGreaterThan(0);
      expect(figure(section(pair.sections, 'node', p), 'throughput').comparisons[0]?.verdict).not.toBe('changed');
      // 3 nodes = 6 ordered pairs, 3 repeats.
      expect(section(pair.sections, 'node', p).runs[0]?.tests).toBe(18);
    }
  });
});

describe('a pod agent that does not see its node', () => {
  it("says so in a note naming the run and the node, and only where the pod agent's /proc/stat is not the node's", () => {
    const env = (podProcStatIsNodes: boolean | null) => ({
      nodes: [node('n1', { podProcStatIsNodes }), node('n2')],
    });
    const a = { name: 'a.json', file: resultsFile({ label: 'a', results: [], ...env(false) }) };
    const b = { name: 'b.json', file: resultsFile({ label: 'b', results: [], ...env(null) }) };
    const notes = compareRuns([a, b]).notes.filter((n) => n.includes('/proc/stat'));
    expect(notes).toEqual([
      "note: in a, the pod agent of n1 does not read its node's /proc/stat (LXCFS, gVisor or Kata?): pod and service path CPU figures there are not the node's",
    ]);
  });
});

describe('uniqueLabels', () => {
  it('keeps distinct labels and numbers repeated ones', () => {
    expect(uniqueLabels([run('a'), run('b')])).toEqual(['a', 'b']);
    expect(uniqueLabels([run('a'), run('b'), run('a')])).toEqual(['a (1)', 'b', 'a (2)']);
  });
});
