/**
 * The environment a results file records: which agent each node fact comes from (the node NIC
 * and its congestion control from the host agent, the pod MTU and the pod's congestion control
 * from the pod agent), how the agent reads its congestion control, and that results files from
 * before these fields and before provenance still load, their new fields null.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCongestionControl, readCongestionControl } from '../../agent/facts.js';
import { AgentRegistry, type AgentSession } from '../../aggregator/agents.js';
import { Broker } from '../../aggregator/broker.js';
import type { DataplaneInfo } from '../../aggregator/dataplane.js';
import { captureEnvironment } from '../../aggregator/environment.js';
import { DataplaneSchema } from '../../shared/environment.js';
import type { NetworkMode, NodeFacts } from '../../shared/protocol.js';
import { ResultsFileSchema } from '../../shared/results-file.js';
import { resultsFile, testResult } from '../fixtures/results/builder.js';
import { testIdentity } from '../helpers/identity.js';

function session(nodeName: string, mode: NetworkMode, facts: Partial<NodeFacts>): AgentSession {
  const identity = testIdentity({ nodeName, mode });
  return {
    id: `${nodeName}-${mode}`,
    identity: { ...identity, facts: { ...identity.facts, ...facts } },
    connectedAt: new Date(0),
    send: () => true,
    close: () => undefined,
  };
}

const noDataplane = (): Promise<DataplaneInfo> =>
  Promise.resolve({ dataplane: { kind: 'unknown', settings: {}, provenance: {}, source: 'test' }, lab: null });

describe('captureEnvironment', () => {
  it("takes the NIC, its MTU and congestion control from the host agent, the pod's from the pod agent", async () => {
    const agents = new AgentRegistry();
    agents.add(session('node-1', 'host', { nic: 'ens5', mtu: 9001, congestionControl: 'bbr' }));
    agents.add(session('node-1', 'pod', { nic: 'eth0', mtu: 8951, congestionControl: 'cubic' }));
    // Only a pod agent: its interface is the pod's, not the node's NIC.
    agents.add(session('node-2', 'pod', { nic: 'eth0', mtu: 1450, congestionControl: 'cubic' }));
    // Agents from before congestion control was reported.
    agents.add(session('node-3', 'host', { nic: 'ens5', mtu: 1500 }));
    agents.add(session('node-3', 'pod', { nic: 'eth0', mtu: 1500 }));

    const env = await captureEnvironment(agents, new Broker(), noDataplane, () => null, 0);
    const facts = env.nodes.map((n) => [n.name, n.nic, n.mtu, n.podMtu, n.congestionControl, n.podCongestionControl, n.kernel]);
    expect(facts).toEqual([
      ['node-1', 'ens5', 9001, 8951, 'bbr', 'cubic', '6.1.0'],
      ['node-2', null, null, 1450, null, 'cubic', '6.1.0'],
      ['node-3', 'ens5', 1500, 1500, null, null, '6.1.0'],
    ]);
  });

  it("says whether each pod agent reads its node's /proc/stat, from both agents' hello readings", async () => {
    // A 2-core node up since btime, read by its host agent and, 1 s later, by a pod agent.
    const host = { btime: 1_795_000_000, cores: 2, totalTicks: 2_000_000, busyTicks: 500_000, atMs: 1_000_000 };
    const same = { ...host, totalTicks: host.totalTicks + 200, busyTicks: host.busyTicks + 50, atMs: host.atMs + 1000 };
    // LXCFS: the node's btime, but the container's own busy time.
    const lxcfs = { ...same, busyTicks: 1_000 };
    const agents = new AgentRegistry();
    agents.add(session('node-1', 'host', { procStat: host }));
    agents.add(session('node-1', 'pod', { procStat: same }));
    agents.add(session('node-2', 'host', { procStat: host }));
    agents.add(session('node-2', 'pod', { procStat: lxcfs }));
    // An agent from before the reading: nothing to tell from.
    agents.add(session('node-3', 'host', { procStat: host }));
    agents.add(session('node-3', 'pod', {}));
    const env = await captureEnvironment(agents, new Broker(), noDataplane, () => null, 0);
    expect(env.nodes.map((n) => [n.name, n.podProcStatIsNodes])).toEqual([
      ['node-1', true],
      ['node-2', false],
      ['node-3', null],
    ]);
  });
});

describe("the agent's congestion control", () => {
  it("is the sysctl file's one name, and nothing for anything else", () => {
    expect(parseCongestionControl('cubic\n')).toBe('cubic');
    expect(parseCongestionControl('bbr')).toBe('bbr');
    expect(parseCongestionControl('')).toBeUndefined();
    expect(parseCongestionControl('reno cubic\n')).toBeUndefined();
  });

  it('is read from the file, and is undefined when there is none', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'netmatrix-cc-'));
    try {
      await writeFile(join(dir, 'tcp_congestion_control'), 'bbr\n');
      expect(await readCongestionControl(join(dir, 'tcp_congestion_control'))).toBe('bbr');
      expect(await readCongestionControl(join(dir, 'absent'))).toBeUndefined();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('results files from before', () => {
  const captured = (name: string) =>
    JSON.parse(readFileSync(new URL(`../fixtures/results/captured/${name}`, import.meta.url), 'utf8')) as unknown;

  it.each(['loopback-v1.json', 'loopback-latency.json'])('%s (captured before them) loads, the new fields null', (name) => {
    const file = ResultsFileSchema.parse(captured(name));
    expect(file.environment.dataplane.provenance).toBeNull();
    for (const n of file.environment.nodes) {
      expect([n.podMtu, n.congestionControl, n.podCongestionControl]).toEqual([null, null, null]);
      expect(n.mtu).toBe(1400);
    }
  });

  it('loads a file without provenance or the new node fields, and keeps its settings', () => {
    const now = resultsFile({ label: 'now', results: [testResult({ path: 'pod', protocol: 'tcp', throughput: 1e9 })] });
    const old = JSON.parse(JSON.stringify(now)) as {
      environment: { dataplane: Record<string, unknown>; nodes: Record<string, unknown>[] };
    };
    delete old.environment.dataplane.provenance;
    for (const n of old.environment.nodes) {
      delete n.podMtu;
      delete n.congestionControl;
      delete n.podCongestionControl;
    }
    const file = ResultsFileSchema.parse(old);
    expect(file.environment.dataplane).toEqual({ ...now.environment.dataplane, provenance: null });
    expect(file.environment.nodes[0]).toMatchObject({ mtu: 1500, podMtu: null, congestionControl: null, podCongestionControl: null });
  });
});

describe('dataplane provenance', () => {
  const dataplane = { kind: 'calico', settings: { bpfEnabled: 'true', bpfExternalServiceMode: 'Tunnel' }, source: 'test' };

  it('marks each setting read, from something, or assumed, because of something', () => {
    const d = DataplaneSchema.parse({
      ...dataplane,
      provenance: {
        bpfEnabled: { mark: 'read', from: 'FelixConfiguration default' },
        bpfExternalServiceMode: { mark: 'assumed', because: "Felix's default" },
      },
    });
    expect(d.provenance?.bpfExternalServiceMode).toEqual({ mark: 'assumed', because: "Felix's default" });
  });

  it('refuses provenance that does not mark exactly the settings, or marks with anything else', () => {
    const missing = DataplaneSchema.safeParse({ ...dataplane, provenance: { bpfEnabled: { mark: 'read', from: 'x' } } });
    expect(missing.success).toBe(false);
    expect(missing.error?.issues[0]?.message).toBe('must mark exactly the settings (bpfEnabled, bpfExternalServiceMode), not bpfEnabled');
    const extra = { bpfEnabled: { mark: 'read', from: 'x' }, bpfExternalServiceMode: { mark: 'read', from: 'x' } };
    expect(DataplaneSchema.safeParse({ ...dataplane, provenance: { ...extra, other: { mark: 'read', from: 'x' } } }).success).toBe(false);
    expect(DataplaneSchema.safeParse({ ...dataplane, provenance: { ...extra, bpfEnabled: { mark: 'guessed', from: 'x' } } }).success).toBe(
      false,
    );
    expect(DataplaneSchema.safeParse({ ...dataplane, provenance: { ...extra, bpfEnabled: { mark: 'read' } } }).success).toBe(false);
  });
});
