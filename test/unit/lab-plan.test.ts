import { describe, expect, it } from 'vitest';
import { cgroupExec, MAX_LAB_NODES, netnsExec, planLab } from '../../lab/plan.js';
import { overlayIp, overlayMac } from '../../lab/pod-networks/vxlan.js';
import { natTableScript, parseServiceCounters } from '../../lab/service-proxies/iptables.js';

/** 198.18.0.0/15 is 198.18.0.0 - 198.19.255.255. */
function inBenchmarkRange(ip: string): boolean {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) return false;
  return parts[0] === 198 && (parts[1] === 18 || parts[1] === 19);
}

function addressesOf(nodeCount: number): string[] {
  const plan = planLab(nodeCount);
  return [plan.aggregatorIp, ...plan.nodes.flatMap((n) => [n.hostIp, n.podIp, n.podGateway, n.serviceIp, overlayIp(n)])];
}

describe('planLab', () => {
  it.each([1, 3, MAX_LAB_NODES])('puts every address of a %i-node lab inside 198.18.0.0/15, each once', (n) => {
    const addresses = addressesOf(n);
    expect(addresses.filter((a) => !inBenchmarkRange(a))).toEqual([]);
    expect(new Set(addresses).size).toBe(addresses.length);
  });

  it('names nodes, namespaces and addresses by index', () => {
    const plan = planLab(3);
    expect(plan.bridge).toBe('nmbr0');
    expect(plan.aggregatorIp).toBe('198.18.0.1');
    expect(plan.servicePorts).toEqual([5201]);
    expect(plan.nodes[1]).toEqual({
      index: 2,
      name: 'node2',
      netns: 'nm-node2',
      hostIp: '198.18.0.12',
      podNetns: 'nm-pod2',
      podIp: '198.19.2.2',
      podGateway: '198.19.2.1',
      serviceIp: '198.18.200.12',
    });
  });

  it('gives every namespace a unique name', () => {
    const names = planLab(MAX_LAB_NODES).nodes.flatMap((n) => [n.netns, n.podNetns]);
    expect(new Set(names).size).toBe(2 * MAX_LAB_NODES);
  });

  it.each([0, -1, MAX_LAB_NODES + 1, 1.5, Number.NaN])('refuses %s nodes', (n) => {
    expect(() => planLab(n)).toThrow(RangeError);
  });

  it('takes a port list and refuses empty, out-of-range or repeated ports, naming each problem', () => {
    expect(planLab(2, [5201, 5202]).servicePorts).toEqual([5201, 5202]);
    expect(() => planLab(2, [])).toThrow(/at least one/);
    expect(() => planLab(2, [0, 70000])).toThrow(/got 0.*got 70000/);
    expect(() => planLab(2, [5201, 5201])).toThrow(/distinct/);
    expect(() => planLab(0, [0])).toThrow(/node count.*service port/);
  });

  it('returns a frozen plan', () => {
    const plan = planLab(2);
    expect(Object.isFrozen(plan) && Object.isFrozen(plan.nodes) && Object.isFrozen(plan.nodes[0]) && Object.isFrozen(plan.profile)).toBe(
      true,
    );
  });

  it('carries the default profile and no cgroup unless told otherwise', () => {
    const plan = planLab(2);
    expect(plan.profile).toEqual({ podNetwork: 'direct', serviceProxy: 'iptables', linkRate: null });
    expect(plan.cgroup).toBeNull();
  });

  it('takes ports and a partial profile as options, filling the rest with defaults', () => {
    const plan = planLab(2, { servicePorts: [5201, 5202], profile: { podNetwork: 'vxlan', linkRate: '200mbit' } });
    expect(plan.servicePorts).toEqual([5201, 5202]);
    expect(plan.profile).toEqual({ podNetwork: 'vxlan', serviceProxy: 'iptables', linkRate: '200mbit' });
  });

  it('gives the ebpf proxy a cgroup folder under the cgroup2 mount', () => {
    expect(planLab(1, { profile: { serviceProxy: 'ebpf' } }).cgroup).toBe('/sys/fs/cgroup/unified/netmatrix-lab');
    expect(planLab(1, { profile: { serviceProxy: 'ebpf' }, cgroupRoot: '/sys/fs/cgroup/' }).cgroup).toBe('/sys/fs/cgroup/netmatrix-lab');
  });

  it('refuses a bad profile together with the other problems', () => {
    expect(() => planLab(0, { profile: { podNetwork: 'ipip' as 'vxlan', linkRate: 'fast' } })).toThrow(
      /node count.*profile podNetwork: .*profile linkRate: a tc rate such as 500mbit or 1gbit/,
    );
    expect(() => planLab(1, { cgroupRoot: 'sys/fs/cgroup' })).toThrow(/absolute path/);
  });

  it('gives each node a distinct overlay address and a locally administered MAC', () => {
    const nodes = planLab(MAX_LAB_NODES).nodes;
    expect(new Set(nodes.map(overlayIp)).size).toBe(MAX_LAB_NODES);
    expect(nodes.map(overlayMac).filter((m) => !/^02:6e:6d:00:00:[0-9a-f]{2}$/.test(m))).toEqual([]);
    expect(new Set(nodes.map(overlayMac)).size).toBe(MAX_LAB_NODES);
  });
});

describe('netnsExec', () => {
  it('prefixes ip netns exec', () => {
    expect(netnsExec('nm-pod1', ['iperf3', '-s'])).toEqual(['ip', 'netns', 'exec', 'nm-pod1', 'iperf3', '-s']);
  });
});

describe('cgroupExec', () => {
  it('passes the cgroup and the command as arguments of a fixed shell script', () => {
    const argv = cgroupExec('/sys/fs/cgroup/unified/netmatrix-lab', ['iperf3', '-c', '198.18.200.12']);
    expect(argv.slice(0, 2)).toEqual(['sh', '-c']);
    expect(argv.slice(3)).toEqual(['sh', '/sys/fs/cgroup/unified/netmatrix-lab', 'iperf3', '-c', '198.18.200.12']);
    expect(argv[2]).not.toContain('netmatrix-lab');
  });
});

describe('natTableScript', () => {
  it('DNATs every Service, protocol and port to its pod, from PREROUTING and OUTPUT', () => {
    const plan = planLab(2, [5201, 5202]);
    const node = plan.nodes[0];
    if (!node) throw new Error('no node');
    const script = natTableScript(plan, node);
    const dnat = script.split('\n').filter((l) => l.includes('-j DNAT'));
    expect(dnat).toHaveLength(2 * 2 * 2);
    expect(dnat).toContain(
      '-A NETMATRIX-SERVICES -d 198.18.200.12/32 -p udp -m comment --comment "netmatrix/node2-agent:5202/udp" -m udp --dport 5202 -j DNAT --to-destination 198.19.2.2:5202',
    );
    expect(script).toMatch(/^-A PREROUTING .*-j NETMATRIX-SERVICES$/m);
    expect(script).toMatch(/^-A OUTPUT .*-j NETMATRIX-SERVICES$/m);
    expect(script).toMatch(/-s 198\.19\.1\.2\/32 -d 198\.19\.1\.2\/32 -j MASQUERADE/);
    expect(script.trimEnd().endsWith('COMMIT')).toBe(true);
  });
});

// Captured from `ip netns exec nm-node1 iptables -t nat -S NETMATRIX-SERVICES -v` (iptables
// 1.8.9, nf_tables) on a 3-node lab after one TCP iperf3 test from pod1 to 198.18.200.12.
const CAPTURED = `-N NETMATRIX-SERVICES
-A NETMATRIX-SERVICES -d 198.18.200.11/32 -p tcp -m comment --comment "netmatrix/node1-agent:5201/tcp" -m tcp --dport 5201 -c 0 0 -j DNAT --to-destination 198.19.1.2:5201
-A NETMATRIX-SERVICES -d 198.18.200.11/32 -p udp -m comment --comment "netmatrix/node1-agent:5201/udp" -m udp --dport 5201 -c 0 0 -j DNAT --to-destination 198.19.1.2:5201
-A NETMATRIX-SERVICES -d 198.18.200.12/32 -p tcp -m comment --comment "netmatrix/node2-agent:5201/tcp" -m tcp --dport 5201 -c 2 120 -j DNAT --to-destination 198.19.2.2:5201
-A NETMATRIX-SERVICES -d 198.18.200.12/32 -p udp -m comment --comment "netmatrix/node2-agent:5201/udp" -m udp --dport 5201 -c 0 0 -j DNAT --to-destination 198.19.2.2:5201
-A NETMATRIX-SERVICES -d 198.18.200.13/32 -p tcp -m comment --comment "netmatrix/node3-agent:5201/tcp" -m tcp --dport 5201 -c 0 0 -j DNAT --to-destination 198.19.3.2:5201
-A NETMATRIX-SERVICES -d 198.18.200.13/32 -p udp -m comment --comment "netmatrix/node3-agent:5201/udp" -m udp --dport 5201 -c 0 0 -j DNAT --to-destination 198.19.3.2:5201
`;

describe('parseServiceCounters', () => {
  it('reads one counter per DNAT rule from captured iptables -S -v output', () => {
    const counters = parseServiceCounters(CAPTURED);
    expect(counters).toHaveLength(6);
    expect(counters[2]).toEqual({ serviceIp: '198.18.200.12', protocol: 'tcp', port: 5201, packets: 2, bytes: 120 });
    expect(counters.filter((c) => c.packets > 0)).toHaveLength(1);
  });

  it('accepts protocol numbers and skips lines that are not Service rules', () => {
    const text = [
      '-P PREROUTING ACCEPT -c 5 300',
      '-A PREROUTING -m comment --comment "netmatrix service portals" -c 9 540 -j NETMATRIX-SERVICES',
      '-A NETMATRIX-SERVICES -d 198.18.200.11/32 -p 17 -m comment --comment "a b" -m udp --dport 5201 -c 3 12345678901 -j DNAT --to-destination 198.19.1.2:5201',
    ].join('\n');
    expect(parseServiceCounters(text)).toEqual([
      { serviceIp: '198.18.200.11', protocol: 'udp', port: 5201, packets: 3, bytes: 12345678901 },
    ]);
  });

  it('throws on a Service rule without counters rather than reporting zero', () => {
    const withoutCounters = CAPTURED.replaceAll(/ -c \d+ \d+/g, '');
    expect(() => parseServiceCounters(withoutCounters)).toThrow(/no counters/);
  });
});
