/**
 * What compare says about the runs before any figure: each run's header with its dataplane
 * settings, and one note per thing that differs (cluster size, node kernels, NIC and pod MTUs,
 * congestion control, CPUs, test spec, each dataplane setting, assumed values marked), naming
 * every run and its value.
 */
import { describe, expect, it } from 'vitest';
import { compareRuns } from '../../client/compare/compare.js';
import { runHeaderLines } from '../../client/compare/describe.js';
import type { LoadedRun } from '../../client/compare/load.js';
import { node, nodes, resultsFile, testResult, type FileOptions } from '../fixtures/results/builder.js';

function run(o: Partial<FileOptions> & { label: string }): LoadedRun {
  const results = [testResult({ path: 'pod', protocol: 'tcp', throughput: 1e9 })];
  return { name: `results/${o.label}.json`, file: resultsFile({ results, ...o }) };
}

describe('differences', () => {
  it('says nothing when only the labels differ', () => {
    expect(compareRuns([run({ label: 'a' }), run({ label: 'b' })]).notes).toEqual([]);
  });

  it('names the node counts of every run', () => {
    const c = compareRuns([run({ label: 'A', nodes: nodes(3) }), run({ label: 'B', nodes: nodes(5) })]);
    expect(c.notes).toEqual(['note: A has 3 nodes, B has 5']);
  });

  it('names the dataplane settings that differ, from the lab profile and the detected dataplane', () => {
    const c = compareRuns([
      run({ label: 'iptables', lab: { podNetwork: 'direct', serviceProxy: 'iptables', linkRate: null } }),
      run({ label: 'ebpf', lab: { podNetwork: 'direct', serviceProxy: 'ebpf', linkRate: null } }),
      run({
        label: 'calico',
        lab: null,
        dataplane: {
          kind: 'calico',
          settings: { bpfEnabled: 'true' },
          provenance: { bpfEnabled: { mark: 'read', from: 'FelixConfiguration default' } },
          source: 'FelixConfiguration default',
        },
      }),
    ]);
    expect(c.notes).toEqual([
      'note: dataplane differs - iptables: lab; ebpf: lab; calico: calico',
      'note: dataplane bpfEnabled differs - iptables: unset; ebpf: unset; calico: true',
      'note: dataplane linkRate differs - iptables: none; ebpf: none; calico: unset',
      'note: dataplane podNetwork differs - iptables: direct; ebpf: direct; calico: unset',
      'note: dataplane serviceProxy differs - iptables: iptables; ebpf: ebpf; calico: unset',
    ]);
  });

  it('names per-node kernel, MTU and CPU model differences, with counts where a run is mixed', () => {
    const a = run({ label: 'a', nodes: nodes(3) });
    const b = run({
      label: 'b',
      nodes: [
        node('n1', { kernel: '6.8.0', mtu: 9000, cpuModel: 'AMD EPYC 9354' }),
        node('n2', { kernel: '6.8.0', mtu: 9000, cpuModel: 'AMD EPYC 9354' }),
        node('n3', { kernel: '6.1.0-37-amd64', mtu: 9000, cpuModel: 'AMD EPYC 9354' }),
      ],
    });
    expect(compareRuns([a, b]).notes).toEqual([
      'note: kernel differs - a: 6.1.0-37-amd64; b: 6.1.0-37-amd64 (1 node), 6.8.0 (2 nodes)',
      'note: MTU differs - a: 1500; b: 9000',
      'note: CPU model differs - a: Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz; b: AMD EPYC 9354',
    ]);
  });

  it("names the pod MTU and the TCP congestion control that differ, the node's and the pod's apart", () => {
    const a = run({ label: 'native', nodes: nodes(3) });
    const b = run({ label: 'vxlan', nodes: nodes(3, { podMtu: 1450, congestionControl: 'bbr', podCongestionControl: 'bbr' }) });
    const c = run({ label: 'mixed', nodes: [node('n1'), node('n2', { podCongestionControl: 'bbr' }), node('n3')] });
    expect(compareRuns([a, b, c]).notes).toEqual([
      'note: pod MTU differs - native: 1500; vxlan: 1450; mixed: 1500',
      'note: congestion control differs - native: cubic; vxlan: bbr; mixed: cubic',
      'note: pod congestion control differs - native: cubic; vxlan: bbr; mixed: bbr (1 node), cubic (2 nodes)',
    ]);
  });

  it('compares a run that recorded no pod MTU or congestion control (older files, or no such agent) with nothing', () => {
    const unrecorded = { mtu: null, podMtu: null, congestionControl: null, podCongestionControl: null };
    const old = run({ label: 'old', nodes: nodes(3, unrecorded) });
    const now = run({ label: 'now', nodes: nodes(3, { podMtu: 1450 }) });
    const later = run({ label: 'later', nodes: nodes(3, { podMtu: 8950 }) });
    expect(compareRuns([old, now]).notes).toEqual([]);
    expect(compareRuns([old, now, later]).notes).toEqual(['note: pod MTU differs - now: 1450; later: 8950']);
    // A node of a run without the value is "unknown" beside those with it.
    const partly = run({ label: 'partly', nodes: [node('n1', { podMtu: null }), node('n2'), node('n3')] });
    expect(compareRuns([now, partly]).notes).toEqual(['note: pod MTU differs - now: 1450; partly: 1500 (2 nodes), unknown (1 node)']);
  });

  it('lists every dataplane field that differs, "(assumed)" beside an assumed value, and calls read and assumed alike no difference', () => {
    const calico = (label: string, settings: Record<string, [string, 'read' | 'assumed']>) =>
      run({
        label,
        lab: null,
        dataplane: {
          kind: 'calico',
          settings: Object.fromEntries(Object.entries(settings).map(([k, [v]]) => [k, v])),
          provenance: Object.fromEntries(
            Object.entries(settings).map(([k, [, mark]]) => [
              k,
              mark === 'read' ? { mark, from: 'FelixConfiguration default' } : { mark, because: 'a default' },
            ]),
          ),
          source: 'test',
        },
      });
    const iptables = calico('iptables', {
      bpfEnabled: ['false', 'assumed'],
      kubeProxyMode: ['iptables', 'assumed'],
      kubeProxyRunning: ['true', 'read'],
    });
    const ebpf = calico('ebpf', {
      bpfEnabled: ['true', 'read'],
      bpfExternalServiceMode: ['Tunnel', 'assumed'],
      kubeProxyMode: ['iptables', 'read'],
      kubeProxyRunning: ['false', 'read'],
    });
    const c = compareRuns([iptables, ebpf]);
    expect(c.notes).toEqual([
      'note: dataplane bpfEnabled differs - iptables: false (assumed); ebpf: true',
      'note: dataplane bpfExternalServiceMode differs - iptables: unset; ebpf: Tunnel (assumed)',
      'note: dataplane kubeProxyRunning differs - iptables: true; ebpf: false',
    ]);
    expect(runHeaderLines(c.runs[1] as (typeof c.runs)[number])[1]).toBe(
      'dataplane: calico  bpfEnabled=true bpfExternalServiceMode=Tunnel (assumed) kubeProxyMode=iptables kubeProxyRunning=false',
    );
  });

  it('shows no mark for the settings of a file from before provenance', () => {
    const old = run({
      label: 'old',
      lab: null,
      dataplane: { kind: 'kube-proxy', settings: { kubeProxyMode: 'iptables' }, source: 'test' },
    });
    const now = run({
      label: 'now',
      lab: null,
      dataplane: {
        kind: 'kube-proxy',
        settings: { kubeProxyMode: 'nftables' },
        provenance: { kubeProxyMode: { mark: 'read', from: 'ConfigMap kube-system/kube-proxy' } },
        source: 'test',
      },
    });
    expect(compareRuns([old, now]).notes).toEqual([
      'note: dataplane kubeProxyMode differs - old: iptables; now: nftables',
      'note: old was written by an older netmatrix: its dataplane settings carry no read/assumed marks, and what it did ' +
        'not record (pod MTU, congestion control, per-core and measured CPU windows, omitted seconds) reads as missing (-) or its default',
    ]);
  });

  it('does not call a bigger cluster of the same nodes a kernel difference', () => {
    const notes = compareRuns([run({ label: 'a', nodes: nodes(3) }), run({ label: 'b', nodes: nodes(5) })]).notes;
    expect(notes.some((n) => n.includes('kernel'))).toBe(false);
  });

  it('names test spec differences: duration, omitted seconds, streams, repeat', () => {
    const c = compareRuns([
      run({ label: 'a' }),
      run({ label: 'b', spec: { durationSeconds: 30, omitSeconds: 2, streams: 4, repeat: 3, tcpBitrateBitsPerSecond: 5e9 } }),
    ]);
    expect(c.notes).toEqual([
      'note: test duration differs - a: 10 s; b: 30 s',
      'note: omitted seconds differs - a: 0 s; b: 2 s',
      'note: streams differs - a: 1; b: 4',
      'note: repeat differs - a: 1; b: 3',
      'note: TCP bitrate differs - a: unlimited; b: 5.00 Gbit/s',
    ]);
  });

  it('says which files share a label and a run without results', () => {
    const c = compareRuns([run({ label: 'x' }), { name: 'empty.json', file: resultsFile({ label: 'x', results: [] }) }]);
    expect(c.runs.map((r) => r.label)).toEqual(['x (1)', 'x (2)']);
    expect(c.notes).toContain('note: several files are labelled "x": shown as x (1) for results/x.json, x (2) for empty.json');
    expect(c.notes).toContain('note: x (2) has no test results');
  });
});

describe('run header', () => {
  it('shows the file, the cluster size, the dataplane settings being compared and the test spec', () => {
    const c = compareRuns([run({ label: 'ebpf', lab: { podNetwork: 'vxlan', serviceProxy: 'ebpf', linkRate: '1gbit' } })]);
    expect(runHeaderLines(c.runs[0] as (typeof c.runs)[number])).toEqual([
      'results/ebpf.json, started 2025-06-02T10:00:00.000Z, 3 nodes',
      'dataplane: lab  linkRate=1gbit podNetwork=vxlan serviceProxy=ebpf',
      'tests: 10 s, 1 stream, repeat 1; pod tcp',
    ]);
  });
});
