/**
 * compare's arithmetic on results files whose figures are known exactly: medians and p10/p90
 * over pooled tests (shared/stats' interpolated quantile), failures kept out of the figures,
 * CNI overhead ratios, change against the first run, and significance judged both ways.
 */
import { describe, expect, it } from 'vitest';
import {
  change,
  compareRuns,
  isSignificant,
  MIN_SAMPLES_FOR_SIGNIFICANCE,
  runFigures,
  uniqueLabels,
  type Section,
  type ThroughputStats,
} from '../../client/compare/compare.js';
import type { LoadedRun } from '../../client/compare/load.js';
import type { Path, Protocol } from '../../shared/protocol.js';
import { quantile } from '../../shared/stats.js';
import { EBPF, IPTABLES, resultsFile, scenarioFile, testResult } from '../fixtures/results/builder.js';

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

const band = (median: number, p10: number, p90: number, samples = 10): ThroughputStats => ({ median, p10, p90, samples });

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

describe('significance', () => {
  it('is significant when each median lies outside the other run band', () => {
    expect(isSignificant(band(10, 9, 11), band(14, 13, 15))).toBe(true);
    expect(isSignificant(band(14, 13, 15), band(10, 9, 11))).toBe(true);
  });

  it('is not significant when the new median lies inside the first run band', () => {
    // First run is wide and covers 12; the other is narrow and excludes 10: one way only.
    expect(isSignificant(band(10, 6, 14), band(12, 11.5, 12.5))).toBe(false);
  });

  it('is not significant when the first median lies inside the new run band', () => {
    // The other way round: the first run is narrow, the other run is wide and covers 10.
    expect(isSignificant(band(10, 9.5, 10.5), band(12, 8, 16))).toBe(false);
  });

  it('treats a median exactly on a band edge as inside', () => {
    expect(isSignificant(band(10, 9, 11), band(11, 11, 13))).toBe(false);
  });

  it('gives the change in % against the first run and refuses to judge tiny samples', () => {
    expect(change(band(10, 9, 11), band(12.5, 12, 13))).toEqual({ percent: 25, significant: true });
    expect(change(band(10, 9, 11), band(8, 7.5, 8.5))).toEqual({ percent: -20, significant: true });
    expect(change(band(10, 9, 11), band(10.5, 10, 11))).toEqual({ percent: 5, significant: false });
    const few = MIN_SAMPLES_FOR_SIGNIFICANCE - 1;
    expect(change(band(10, 10, 10, few), band(20, 20, 20))).toEqual({ percent: 100, significant: null });
    expect(change(null, band(1, 1, 1))).toBeNull();
    expect(change(band(0, 0, 0), band(1, 1, 1))).toBeNull();
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

  it('measures change from the first run only, and judges it against the spread', () => {
    const svc = section(c.sections, 'service', 'tcp');
    expect(svc.changes[0]).toBeNull();
    expect(svc.changes[1]?.percent).toBeCloseTo(50);
    expect(svc.changes[1]?.significant).toBe(true);
    const pod = section(c.sections, 'pod', 'tcp');
    expect(pod.changes[1]).toEqual({ percent: 0, significant: false });
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
    expect(svc.changes[1]).toBeNull();
    expect(c2.overhead[0]?.serviceOverNode[1]).toBeNull();
  });

  it('shows the iptables -> eBPF service gain on the realistic lab pair, and no change on node-to-node', () => {
    const pair = compareRuns([
      { name: 'iptables.json', file: scenarioFile(IPTABLES) },
      { name: 'ebpf.json', file: scenarioFile(EBPF) },
    ]);
    expect(pair.sections).toHaveLength(6);
    for (const p of ['tcp', 'udp'] as const) {
      expect(section(pair.sections, 'service', p).changes[1]?.significant).toBe(true);
      expect(section(pair.sections, 'service', p).changes[1]?.percent).toBeGreaterThan(10);
      expect(section(pair.sections, 'node', p).changes[1]?.significant).toBe(false);
      // 3 nodes = 6 ordered pairs, 3 repeats.
      expect(section(pair.sections, 'node', p).runs[0]?.tests).toBe(18);
    }
  });
});

describe('uniqueLabels', () => {
  it('keeps distinct labels and numbers repeated ones', () => {
    expect(uniqueLabels([run('a'), run('b')])).toEqual(['a', 'b']);
    expect(uniqueLabels([run('a'), run('b'), run('a')])).toEqual(['a (1)', 'b', 'a (2)']);
  });
});
