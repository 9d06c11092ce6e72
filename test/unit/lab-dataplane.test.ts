import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectDataplane } from '../../aggregator/dataplane.js';
import { countDnatRules } from '../../lab/counters.js';
import { nodeScript, podScript } from '../../lab/namespaces.js';
import { planLab, type LabNode, type LabPlan } from '../../lab/plan.js';
import { direct } from '../../lab/pod-networks/direct.js';
import { overlayFdbLines, overlayLines, vxlan } from '../../lab/pod-networks/vxlan.js';
import { bpfMapBatch, mountPoints, parseServiceHits, svcBackendHex, svcKeyHex } from '../../lab/service-proxies/ebpf-maps.js';
import { nftServiceScript, parseNftServiceCounters } from '../../lab/service-proxies/nftables.js';
import { rateBitsPerSecond, tbfArgv, tbfBurstBytes } from '../../lab/shaping.js';
import { labStateOf } from '../../lab/state.js';
import { DataplaneSchema } from '../../shared/environment.js';
import { LabStateSchema } from '../../shared/lab-profile.js';

function node(plan: LabPlan, index: number): LabNode {
  const n = plan.nodes[index - 1];
  if (!n) throw new Error(`no node ${index}`);
  return n;
}

describe('pod network lines', () => {
  it('routes the other pod /24s straight over eth0 with podNetwork direct', () => {
    const plan = planLab(3);
    const routes = ['route add 198.19.2.0/24 via 198.18.0.12 dev eth0', 'route add 198.19.3.0/24 via 198.18.0.13 dev eth0'];
    expect(direct.nodeLines(plan, node(plan, 1))).toEqual(routes);
    // No overlay: nothing beyond ip is needed, the node script ends with the routes and sets no MTU.
    expect(direct.tools).toEqual([]);
    expect(nodeScript(plan, node(plan, 1)).trim().split('\n').slice(-2)).toEqual(routes);
    expect(nodeScript(plan, node(plan, 1))).not.toMatch(/mtu|vxlan/);
  });

  it('builds a VXLAN device with static peers and routes the other pod /24s through it with podNetwork vxlan', () => {
    const plan = planLab(3, { profile: { podNetwork: 'vxlan' } });
    const n2 = node(plan, 2);
    expect(vxlan.nodeLines(plan, n2)).toEqual([
      'link add nm-vxlan type vxlan id 42 dstport 4789 local 198.18.0.12 dev eth0 nolearning',
      'link set nm-vxlan address 02:6e:6d:00:00:02 addrgenmode none',
      'addr add 198.18.1.12/24 dev nm-vxlan',
      'link set nm-vxlan up',
      'neigh add 198.18.1.11 lladdr 02:6e:6d:00:00:01 dev nm-vxlan nud permanent',
      'route add 198.19.1.0/24 via 198.18.1.11 dev nm-vxlan',
      'neigh add 198.18.1.13 lladdr 02:6e:6d:00:00:03 dev nm-vxlan nud permanent',
      'route add 198.19.3.0/24 via 198.18.1.13 dev nm-vxlan',
    ]);
    expect(overlayFdbLines(plan, n2)).toEqual([
      'fdb add 02:6e:6d:00:00:01 dev nm-vxlan dst 198.18.0.11 self permanent',
      'fdb add 02:6e:6d:00:00:03 dev nm-vxlan dst 198.18.0.13 self permanent',
    ]);
    // Pods get the overlay's MTU, so nothing they send is too big to encapsulate.
    expect(podScript(plan, n2)).toContain('link set eth0 addrgenmode none mtu 1450');
    expect(nodeScript(plan, n2)).toContain('link set nm-p2 addrgenmode none mtu 1450');
  });

  it('keeps every overlay address, outer or inner, inside 198.18.0.0/15', () => {
    const plan = planLab(50, { profile: { podNetwork: 'vxlan' } });
    const text = plan.nodes.flatMap((n) => [...overlayLines(plan, n), ...overlayFdbLines(plan, n)]).join('\n');
    const ips = text.match(/\b\d+\.\d+\.\d+\.\d+\b/g) ?? [];
    expect(ips.length).toBeGreaterThan(0);
    expect(ips.filter((ip) => !/^198\.1[89]\./.test(ip))).toEqual([]);
  });
});

describe('nftServiceScript', () => {
  it('maps ClusterIP . protocol . port to a counting DNAT chain, from prerouting and output, with a hairpin masquerade', () => {
    const plan = planLab(2, [5201, 5202]);
    const script = nftServiceScript(plan, node(plan, 1));
    expect(script).toMatch(/^table ip netmatrix \{$/m);
    expect(script).toContain('type ipv4_addr . inet_proto . inet_service : verdict');
    expect(script).toContain('198.18.200.12 . udp . 5202 : goto service-node2/udp/p5202');
    expect(script.match(/ counter dnat to /g)).toHaveLength(2 * 2 * 2);
    expect(script).toContain('meta l4proto udp counter dnat to 198.19.2.2:5202 comment "netmatrix/node2-agent:5202/udp"');
    expect(script).toContain('ip daddr . meta l4proto . th dport vmap @service-ips');
    expect(script).toMatch(/type nat hook prerouting priority dstnat;[^\n]*\n\t\tjump services/);
    expect(script).toMatch(/type nat hook output priority -100;[^\n]*\n\t\tjump services/);
    expect(script).toContain('ip saddr 198.19.1.2 ip daddr 198.19.1.2 masquerade');
  });
});

// Captured from `ip netns exec nm-node1 nft -j list table ip netmatrix` (nftables 1.0.6) on a
// 2-node lab (nftables proxy) after one TCP iperf3 test from pod1 to 198.18.200.12.
const NFT_CAPTURED = `{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}, {"table": {"family": "ip", "name": "netmatrix", "handle": 1}}, {"map": {"family": "ip", "name": "service-ips", "table": "netmatrix", "type": ["ipv4_addr", "inet_proto", "inet_service"], "handle": 9, "map": "verdict", "elem": [[{"concat": ["198.18.200.11", "tcp", 5201]}, {"goto": {"target": "service-node1/tcp/p5201"}}], [{"concat": ["198.18.200.12", "tcp", 5201]}, {"goto": {"target": "service-node2/tcp/p5201"}}], [{"concat": ["198.18.200.11", "udp", 5201]}, {"goto": {"target": "service-node1/udp/p5201"}}], [{"concat": ["198.18.200.12", "udp", 5201]}, {"goto": {"target": "service-node2/udp/p5201"}}]]}}, {"chain": {"family": "ip", "table": "netmatrix", "name": "service-node1/tcp/p5201", "handle": 1}}, {"chain": {"family": "ip", "table": "netmatrix", "name": "service-node1/udp/p5201", "handle": 2}}, {"chain": {"family": "ip", "table": "netmatrix", "name": "service-node2/tcp/p5201", "handle": 3}}, {"chain": {"family": "ip", "table": "netmatrix", "name": "service-node2/udp/p5201", "handle": 4}}, {"chain": {"family": "ip", "table": "netmatrix", "name": "services", "handle": 5}}, {"chain": {"family": "ip", "table": "netmatrix", "name": "nat-prerouting", "handle": 6, "type": "nat", "hook": "prerouting", "prio": -100, "policy": "accept"}}, {"chain": {"family": "ip", "table": "netmatrix", "name": "nat-output", "handle": 7, "type": "nat", "hook": "output", "prio": -100, "policy": "accept"}}, {"chain": {"family": "ip", "table": "netmatrix", "name": "nat-postrouting", "handle": 8, "type": "nat", "hook": "postrouting", "prio": 100, "policy": "accept"}}, {"rule": {"family": "ip", "table": "netmatrix", "chain": "service-node1/tcp/p5201", "handle": 10, "comment": "netmatrix/node1-agent:5201/tcp", "expr": [{"match": {"op": "==", "left": {"meta": {"key": "l4proto"}}, "right": "tcp"}}, {"counter": {"packets": 0, "bytes": 0}}, {"dnat": {"addr": "198.19.1.2", "port": 5201}}]}}, {"rule": {"family": "ip", "table": "netmatrix", "chain": "service-node1/udp/p5201", "handle": 11, "comment": "netmatrix/node1-agent:5201/udp", "expr": [{"match": {"op": "==", "left": {"meta": {"key": "l4proto"}}, "right": "udp"}}, {"counter": {"packets": 0, "bytes": 0}}, {"dnat": {"addr": "198.19.1.2", "port": 5201}}]}}, {"rule": {"family": "ip", "table": "netmatrix", "chain": "service-node2/tcp/p5201", "handle": 12, "comment": "netmatrix/node2-agent:5201/tcp", "expr": [{"match": {"op": "==", "left": {"meta": {"key": "l4proto"}}, "right": "tcp"}}, {"counter": {"packets": 2, "bytes": 120}}, {"dnat": {"addr": "198.19.2.2", "port": 5201}}]}}, {"rule": {"family": "ip", "table": "netmatrix", "chain": "service-node2/udp/p5201", "handle": 13, "comment": "netmatrix/node2-agent:5201/udp", "expr": [{"match": {"op": "==", "left": {"meta": {"key": "l4proto"}}, "right": "udp"}}, {"counter": {"packets": 0, "bytes": 0}}, {"dnat": {"addr": "198.19.2.2", "port": 5201}}]}}, {"rule": {"family": "ip", "table": "netmatrix", "chain": "services", "handle": 14, "expr": [{"vmap": {"key": {"concat": [{"payload": {"protocol": "ip", "field": "daddr"}}, {"meta": {"key": "l4proto"}}, {"payload": {"protocol": "th", "field": "dport"}}]}, "data": "@service-ips"}}]}}, {"rule": {"family": "ip", "table": "netmatrix", "chain": "nat-prerouting", "handle": 15, "expr": [{"jump": {"target": "services"}}]}}, {"rule": {"family": "ip", "table": "netmatrix", "chain": "nat-output", "handle": 16, "expr": [{"jump": {"target": "services"}}]}}, {"rule": {"family": "ip", "table": "netmatrix", "chain": "nat-postrouting", "handle": 17, "comment": "netmatrix hairpin", "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": "198.19.1.2"}}, {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": "198.19.1.2"}}, {"masquerade": null}]}}]}`;

describe('parseNftServiceCounters', () => {
  it('reads one counter per Service port from captured nft -j output', () => {
    const counters = parseNftServiceCounters(NFT_CAPTURED);
    expect(counters).toHaveLength(4);
    expect(counters).toContainEqual({ serviceIp: '198.18.200.12', protocol: 'tcp', port: 5201, packets: 2, bytes: 120 });
    expect(counters.filter((c) => c.packets > 0)).toHaveLength(1);
  });

  it('throws on a Service chain without a counter rather than reporting zero', () => {
    const doc = JSON.parse(NFT_CAPTURED) as { nftables: Array<{ rule?: { expr: Array<Record<string, unknown>> } }> };
    for (const item of doc.nftables) if (item.rule) item.rule.expr = item.rule.expr.filter((e) => !('counter' in e));
    expect(() => parseNftServiceCounters(JSON.stringify(doc))).toThrow(/no counter in nft rule of chain service-node1\/tcp\/p5201/);
  });

  it('throws on what is not nft -j output', () => {
    expect(() => parseNftServiceCounters('{"tables": []}')).toThrow(/not nft -j output/);
  });
});

describe('countDnatRules', () => {
  it('counts native dnat rules and iptables-nft xt DNAT targets, not masquerade or jumps', () => {
    expect(countDnatRules(NFT_CAPTURED)).toBe(4);
    const xt = {
      nftables: [
        { rule: { expr: [{ counter: { packets: 0, bytes: 0 } }, { xt: { type: 'target', name: 'DNAT' } }] } },
        { rule: { expr: [{ xt: { type: 'match', name: 'comment' } }] } },
      ],
    };
    expect(countDnatRules(JSON.stringify(xt))).toBe(1);
    expect(countDnatRules('{"nftables": [{"metainfo": {"version": "1.0.6"}}]}')).toBe(0);
  });
});

describe('eBPF map bytes', () => {
  it('encodes a Service key and a backend in network byte order', () => {
    // 198.18.200.12 = c6 12 c8 0c, port 5201 = 0x1451, TCP = 6, UDP = 17.
    expect(svcKeyHex('198.18.200.12', 5201, 'tcp')).toBe('c6 12 c8 0c 14 51 06 00');
    expect(svcKeyHex('198.18.200.12', 5201, 'udp')).toBe('c6 12 c8 0c 14 51 11 00');
    expect(svcBackendHex('198.19.2.2', 5201)).toBe('c6 13 02 02 14 51 00 00');
    expect(() => svcKeyHex('198.18.300.1', 1, 'tcp')).toThrow(RangeError);
  });

  it('fills the Service map, a zero counter per Service port, and the reverse map for UDP', () => {
    const plan = planLab(2, [5201, 5202]);
    const lines = bpfMapBatch(plan, '/sys/fs/bpf/netmatrix/maps');
    expect(lines.filter((l) => l.includes('/nm_services '))).toHaveLength(2 * 2 * 2);
    expect(lines.filter((l) => l.includes('/nm_svc_hits '))).toHaveLength(2 * 2 * 2);
    expect(lines.filter((l) => l.includes('/nm_backends '))).toHaveLength(2 * 2);
    expect(lines).toContain(
      'map update pinned /sys/fs/bpf/netmatrix/maps/nm_services key hex c6 12 c8 0b 14 52 11 00 value hex c6 13 01 02 14 52 00 00',
    );
    expect(lines).toContain(
      'map update pinned /sys/fs/bpf/netmatrix/maps/nm_backends key hex c6 13 01 02 14 52 11 00 value hex c6 12 c8 0b 14 52 00 00',
    );
  });
});

// Captured from `bpftool -j map dump pinned /sys/fs/bpf/netmatrix/maps/nm_svc_hits` on a 2-node
// lab (ebpf proxy) after one TCP iperf3 test from pod1 to 198.18.200.12: control and data
// connections, two connect() calls.
const HITS_CAPTURED = `[{"key":["0xc6","0x12","0xc8","0x0b","0x14","0x51","0x06","0x00"],"value":["0x00","0x00","0x00","0x00","0x00","0x00","0x00","0x00","0x00","0x00","0x00","0x00","0x00","0x00","0x00","0x00"],"formatted":{"key":{"ip":197661382,"port":20756,"proto":6,"pad":0},"value":{"connect":0,"sendmsg":0}}},{"key":["0xc6","0x12","0xc8","0x0c","0x14","0x51","0x11","0x00"],"value":["0x00","0x00","0x00","0x00","0x00","0x00","0x00","0x00","0x00","0x00","0x00","0x00","0x00","0x00","0x00","0x00"],"formatted":{"key":{"ip":214438598,"port":20756,"proto":17,"pad":0},"value":{"connect":0,"sendmsg":0}}},{"key":["0xc6","0x12","0xc8","0x0b","0x14","0x51","0x11","0x00"],"value":["0x00","0x00","0x00","0x00","0x00","0x00","0x00","0x00","0x00","0x00","0x00","0x00","0x00","0x00","0x00","0x00"],"formatted":{"key":{"ip":197661382,"port":20756,"proto":17,"pad":0},"value":{"connect":0,"sendmsg":0}}},{"key":["0xc6","0x12","0xc8","0x0c","0x14","0x51","0x06","0x00"],"value":["0x02","0x00","0x00","0x00","0x00","0x00","0x00","0x00","0x00","0x00","0x00","0x00","0x00","0x00","0x00","0x00"],"formatted":{"key":{"ip":214438598,"port":20756,"proto":6,"pad":0},"value":{"connect":2,"sendmsg":0}}}]`;

describe('parseServiceHits', () => {
  it('reads the raw key and value bytes of captured bpftool output', () => {
    const hits = parseServiceHits(HITS_CAPTURED);
    expect(hits).toHaveLength(4);
    expect(hits).toContainEqual({ serviceIp: '198.18.200.12', protocol: 'tcp', port: 5201, connect: 2, sendmsg: 0 });
    expect(hits.filter((h) => h.connect + h.sendmsg > 0)).toHaveLength(1);
  });

  it('reads 64-bit little-endian counters and refuses malformed entries', () => {
    const value = ['0x01', '0x01', '0', '0', '0', '0', '0', '0', '0xff', '0xff', '0xff', '0xff', '0', '0', '0', '0'];
    const key = ['0xc6', '0x12', '0xc8', '0x0b', '0x00', '0x35', '0x11', '0x00'];
    expect(parseServiceHits(JSON.stringify([{ key, value }]))).toEqual([
      { serviceIp: '198.18.200.11', protocol: 'udp', port: 53, connect: 257, sendmsg: 4294967295 },
    ]);
    expect(() => parseServiceHits(JSON.stringify([{ key: key.slice(1), value }]))).toThrow(/expected 8 bytes/);
    expect(() => parseServiceHits(JSON.stringify([{ key: [...key.slice(0, 6), '0x01', '0x00'], value }]))).toThrow(/unknown protocol 1/);
    expect(() => parseServiceHits('{}')).toThrow(/expected an array/);
  });
});

describe('mountPoints', () => {
  // Lines of this machine's /proc/self/mountinfo.
  const MOUNTINFO = [
    '35 30 0:30 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu',
    '40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
    '42 22 0:38 / /sys/fs/bpf rw,relatime - bpf bpf rw',
    '43 22 0:39 / /mnt/with\\040space rw shared:7 - cgroup2 cgroup2 rw',
  ].join('\n');

  it('finds the mount points of a filesystem type, optional fields and escapes included', () => {
    expect(mountPoints(MOUNTINFO, 'cgroup2')).toEqual(['/sys/fs/cgroup/unified', '/mnt/with space']);
    expect(mountPoints(MOUNTINFO, 'bpf')).toEqual(['/sys/fs/bpf']);
    expect(mountPoints(MOUNTINFO, 'tracefs')).toEqual([]);
  });
});

describe('link rate', () => {
  it('reads tc rates in decimal units', () => {
    expect(rateBitsPerSecond('200mbit')).toBe(200e6);
    expect(rateBitsPerSecond('1.5gbit')).toBe(1.5e9);
    expect(rateBitsPerSecond('64kbit')).toBe(64e3);
    expect(() => rateBitsPerSecond('200Mbps')).toThrow(RangeError);
    expect(() => rateBitsPerSecond('0mbit')).toThrow(/above zero/);
  });

  it('sizes the bucket at 5 ms of traffic, at least 16 KiB', () => {
    expect(tbfBurstBytes('200mbit')).toBe(125_000);
    expect(tbfBurstBytes('1mbit')).toBe(16_384);
  });

  it('caps the egress of the node eth0', () => {
    expect(tbfArgv('nm-node1', '200mbit')).toEqual([
      'tc',
      '-n',
      'nm-node1',
      'qdisc',
      'replace',
      'dev',
      'eth0',
      'root',
      'tbf',
      'rate',
      '200mbit',
      'burst',
      '125000',
      'latency',
      '50ms',
    ]);
  });
});

describe('labStateOf', () => {
  it("records the node count, the profile and the pods' MTU in the state file schema", () => {
    const plan = planLab(3, { profile: { serviceProxy: 'nftables', linkRate: '1gbit' } });
    const state = labStateOf(plan, new Date('2026-01-02T03:04:05.000Z'));
    expect(state).toEqual({
      kind: 'netmatrix-lab',
      nodes: 3,
      profile: { podNetwork: 'direct', serviceProxy: 'nftables', linkRate: '1gbit' },
      podMtu: 1500,
      createdAt: '2026-01-02T03:04:05.000Z',
    });
    expect(LabStateSchema.parse(JSON.parse(JSON.stringify(state)))).toEqual(state);
  });

  it('records the MTU the pod links are given on the overlay', () => {
    const plan = planLab(2, { profile: { podNetwork: 'vxlan' } });
    expect(labStateOf(plan, new Date(0)).podMtu).toBe(1450);
    expect(podScript(plan, node(plan, 1))).toContain('mtu 1450');
  });
});

describe("the aggregator's lab dataplane", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'netmatrix-lab-state-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const stateFile = async (name: string, state: unknown) => {
    const file = join(dir, name);
    await writeFile(file, JSON.stringify(state));
    return file;
  };

  it('reads the profile and the pod MTU from the state file `lab up` wrote, every setting marked read', async () => {
    const plan = planLab(3, { profile: { podNetwork: 'vxlan', serviceProxy: 'ebpf' } });
    const file = await stateFile('vxlan.json', labStateOf(plan, new Date(0)));
    const { dataplane, lab } = await detectDataplane(file);
    expect(DataplaneSchema.parse(dataplane)).toEqual({
      kind: 'lab',
      settings: { podNetwork: 'vxlan', serviceProxy: 'ebpf', linkRate: 'none', podMtu: '1450' },
      provenance: {
        podNetwork: { mark: 'read', from: `lab state ${file}` },
        serviceProxy: { mark: 'read', from: `lab state ${file}` },
        linkRate: { mark: 'read', from: `lab state ${file}` },
        podMtu: { mark: 'read', from: `lab state ${file}` },
      },
      source: file,
    });
    expect(lab).toEqual({ podNetwork: 'vxlan', serviceProxy: 'ebpf', linkRate: null });
  });

  it("marks the lab's defaults assumed where an older state file leaves profile fields out, and records no pod MTU it lacks", async () => {
    const file = await stateFile('old.json', { kind: 'netmatrix-lab', nodes: 3, profile: {}, createdAt: '2026-01-02T03:04:05.000Z' });
    const { dataplane } = await detectDataplane(file);
    expect(dataplane.settings).toEqual({ podNetwork: 'direct', serviceProxy: 'iptables', linkRate: 'none' });
    expect(dataplane.provenance?.podNetwork).toEqual({
      mark: 'assumed',
      because: "the lab's default when the state file has no podNetwork",
    });
  });

  it('says why there is no dataplane without a state file, or with a broken one', async () => {
    const absent = await detectDataplane(join(dir, 'absent.json'));
    expect(absent.dataplane).toMatchObject({ kind: 'unknown', settings: {}, provenance: {} });
    expect(absent.dataplane.source).toMatch(/^no lab state at /);
    const broken = await detectDataplane(await stateFile('broken.json', { kind: 'something-else' }));
    expect(broken.dataplane.source).toMatch(/is not a valid lab state file$/);
  });
});
