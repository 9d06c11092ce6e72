import { afterAll, beforeAll, expect, it } from 'vitest';
import { checkLabSupport, labDown, labStatus, labUp, netnsExec, planLab, serviceCounters, type LabPlan } from '../../lab/lab.js';
import { exec, execChecked } from '../../sys/exec.js';
import { describeWith, waitFor } from '../helpers/requirements.js';

const PORT = 5201;

async function ping(netns: string, ip: string): Promise<boolean> {
  const r = await exec(netnsExec(netns, ['ping', '-c1', '-W1', ip]), { timeoutMs: 5_000 });
  return r.exitCode === 0;
}

async function listening(netns: string, port: number): Promise<boolean> {
  const out = await execChecked(netnsExec(netns, ['ss', '-ltnH', `sport = :${port}`]), { timeoutMs: 5_000 });
  return out.trim().length > 0;
}

async function dnatPackets(nodeNetns: string, serviceIp: string, protocol: 'tcp' | 'udp'): Promise<number> {
  const rule = (await serviceCounters(nodeNetns)).find((c) => c.serviceIp === serviceIp && c.protocol === protocol && c.port === PORT);
  if (!rule) throw new Error(`no ${protocol} rule for ${serviceIp} in ${nodeNetns}`);
  return rule.packets;
}

interface IperfDoc {
  error?: string;
  end?: { sum_received?: { bytes: number }; sum?: { bytes: number } };
}

/** One real iperf3 test: a one-off server in `server.netns`, a 1 s client in `clientNetns`. */
async function iperf3(server: { netns: string; bindIp: string }, clientNetns: string, target: string, udp: boolean): Promise<number> {
  const serving = exec(netnsExec(server.netns, ['iperf3', '-s', '-1', '-p', String(PORT), '-B', server.bindIp]), { timeoutMs: 20_000 });
  try {
    await waitFor(() => listening(server.netns, PORT), 5_000, `iperf3 server in ${server.netns}`);
    const udpArgs = udp ? ['-u', '-b', '10M'] : [];
    const client = await exec(netnsExec(clientNetns, ['iperf3', '-c', target, '-p', String(PORT), '-t', '1', '-J', ...udpArgs]), {
      timeoutMs: 20_000,
    });
    // iperf3 3.12 exits 0 on some failures: judge by the document.
    const doc = JSON.parse(client.stdout) as IperfDoc;
    expect(doc.error).toBeUndefined();
    return (udp ? doc.end?.sum?.bytes : doc.end?.sum_received?.bytes) ?? 0;
  } finally {
    const s = await serving;
    expect(s.timedOut).toBe(false);
  }
}

function node(plan: LabPlan, index: number) {
  const n = plan.nodes[index - 1];
  if (!n) throw new Error(`no node ${index}`);
  return n;
}

describeWith({ root: true, binaries: ['ip', 'iptables', 'iperf3', 'ping', 'ss'] }, 'lab', () => {
  const plan = planLab(3);
  const [n1, n2, n3] = [node(plan, 1), node(plan, 2), node(plan, 3)];

  beforeAll(async () => {
    await labUp(plan);
  });

  afterAll(async () => {
    await labDown();
  });

  it('reports that this machine can run the lab', async () => {
    expect(await checkLabSupport()).toEqual({ ok: true });
  });

  it('reports three nodes up with their node and pod IPs, and the default profile from the state file', async () => {
    expect(await labStatus()).toEqual({
      up: true,
      nodes: plan.nodes.map((n) => ({ name: n.name, netns: n.netns, hostIp: n.hostIp, podIp: n.podIp })),
      profile: { podNetwork: 'direct', serviceProxy: 'iptables', linkRate: null },
    });
  });

  it('routes node to node, pod to pod across nodes, and pod to the aggregator on the bridge', async () => {
    expect(await ping(n1.netns, n2.hostIp)).toBe(true);
    expect(await ping(n1.podNetns, n3.podIp)).toBe(true);
    expect(await ping(n2.podNetns, plan.aggregatorIp)).toBe(true);
  });

  it('blackholes the benchmarking range in the root namespace, so nothing unrouted leaves', async () => {
    expect(await execChecked(['ip', '-4', 'route', 'show', 'type', 'blackhole'])).toMatch(/^blackhole 198\.18\.0\.0\/15\b/m);
    expect(await ping(n1.podNetns, '198.18.200.99')).toBe(false);
  });

  it.each([
    ['tcp', false],
    ['udp', true],
  ] as const)('carries %s from pod1 through the ClusterIP of pod2 via the DNAT rule', async (protocol, udp) => {
    const before = await dnatPackets(n1.netns, n2.serviceIp, protocol);
    const bytes = await iperf3({ netns: n2.podNetns, bindIp: n2.podIp }, n1.podNetns, n2.serviceIp, udp);
    expect(bytes).toBeGreaterThan(0);
    expect(await dnatPackets(n1.netns, n2.serviceIp, protocol)).toBeGreaterThan(before);
  });

  it('carries host-network traffic through a ClusterIP (the OUTPUT chain)', async () => {
    const before = await dnatPackets(n1.netns, n3.serviceIp, 'tcp');
    expect(await iperf3({ netns: n3.podNetns, bindIp: n3.podIp }, n1.netns, n3.serviceIp, false)).toBeGreaterThan(0);
    expect(await dnatPackets(n1.netns, n3.serviceIp, 'tcp')).toBeGreaterThan(before);
  });

  it('lets a pod reach its own Service (hairpin)', async () => {
    expect(await iperf3({ netns: n1.podNetns, bindIp: n1.podIp }, n1.podNetns, n1.serviceIp, false)).toBeGreaterThan(0);
  });

  it('cleans up and names the failing command when labUp fails midway', async () => {
    const broken: LabPlan = { ...plan, nodes: plan.nodes.map((n) => (n.index === 2 ? { ...n, podGateway: '198.19.2.300' } : n)) };
    await expect(labUp(broken)).rejects.toThrow(/lab up failed: ip -n nm-node2 -batch .* at line "addr add 198\.19\.2\.300\/24/);
    expect(await labStatus()).toEqual({ up: false, nodes: [] });
  });

  it('comes up over a half-built lab and twice in a row, and goes down twice leaving nothing', async () => {
    await execChecked(['ip', 'netns', 'add', 'nm-pod2']);
    await execChecked(['ip', 'link', 'add', 'nmbr0', 'type', 'bridge']);
    await labUp(plan);
    await labUp(plan);
    expect((await labStatus()).up).toBe(true);
    expect(await ping(n1.podNetns, n3.podIp)).toBe(true);
    // A process left in a namespace would keep it alive after `ip netns del`: labDown ends it.
    const leftover = exec(netnsExec(n2.podNetns, ['iperf3', '-s', '-p', String(PORT)]), { timeoutMs: 20_000 });
    await waitFor(() => listening(n2.podNetns, PORT), 5_000, 'leftover iperf3 server');

    await labDown();
    expect((await leftover).signal).toBe('SIGKILL');
    await labDown();
    expect(await execChecked(['ip', 'netns', 'list'])).not.toMatch(/\bnm-/);
    expect(await execChecked(['ip', '-o', 'link', 'show'])).not.toMatch(/: (nm-|nmbr0)/);
    expect(await execChecked(['ip', '-4', 'route', 'show'])).not.toMatch(/198\.1[89]\./);
    expect(await execChecked(['iptables', '-S', 'FORWARD'])).not.toMatch(/netmatrix/);
    expect(await labStatus()).toEqual({ up: false, nodes: [] });
  });
});
