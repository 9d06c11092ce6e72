/**
 * The lab's dataplane profiles on real namespaces with real iperf3: for each pod network x
 * Service proxy, TCP and UDP from pod1 through pod2's ClusterIP work, and the profile's own
 * evidence shows the path (DNAT counters, nftables counters, the eBPF counter map with no DNAT
 * rule anywhere, VXLAN device counters); a link rate caps throughput; a profile the machine
 * cannot do fails before anything is built; down leaves nothing of any profile.
 * (iptables + direct, the default, is test/integration/lab.test.ts.)
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { AgentProcesses, labAgentSpecs } from '../../lab/agents.js';
import {
  cgroupExec,
  checkLabSupport,
  labDown,
  labPodNetworkEvidence,
  labServiceProxyEvidence,
  labStatus,
  labUp,
  netnsExec,
  planLab,
  serviceCounters,
  type LabPlan,
  type LabProfile,
  type PodNetworkEvidence,
  type ServiceProxyEvidence,
} from '../../lab/lab.js';
import { readServiceHits } from '../../lab/service-proxies/ebpf.js';
import type { ServiceHits } from '../../lab/service-proxies/ebpf-maps.js';
import { startLabSession, type LabSession } from '../../lab/session.js';
import { LAB_STATE_FILE } from '../../shared/lab-profile.js';
import type { TestResult } from '../../shared/result.js';
import { exec, execChecked } from '../../sys/exec.js';
import { describeWith, waitFor } from '../helpers/requirements.js';

const PORT = 5201;
const BASE_BINARIES = ['ip', 'iptables', 'iperf3', 'ss', 'nft'];

function node(plan: LabPlan, index: number) {
  const n = plan.nodes[index - 1];
  if (!n) throw new Error(`no node ${index}`);
  return n;
}

async function listening(netns: string, port: number, udp = false): Promise<boolean> {
  const out = await execChecked(netnsExec(netns, ['ss', udp ? '-lunH' : '-ltnH', `sport = :${port}`]), { timeoutMs: 5_000 });
  return out.trim().length > 0;
}

interface IperfDoc {
  error?: string;
  end?: { sum_received?: { bits_per_second: number; bytes: number }; sum?: { bytes: number } };
}

/**
 * One real iperf3 test: a one-off server in `server.netns`, a 1 s client in `clientNetns` (in the
 * lab cgroup when the plan has one, as the lab's agents are). Returns bytes and bits/s received.
 */
async function iperf3(plan: LabPlan, server: { netns: string; bindIp: string }, clientNetns: string, target: string, udp: boolean) {
  const serving = exec(netnsExec(server.netns, ['iperf3', '-s', '-1', '-p', String(PORT), '-B', server.bindIp]), { timeoutMs: 20_000 });
  try {
    await waitFor(() => listening(server.netns, PORT), 5_000, `iperf3 server in ${server.netns}`);
    const udpArgs = udp ? ['-u', '-b', '100M'] : [];
    const argv = netnsExec(clientNetns, ['iperf3', '-c', target, '-p', String(PORT), '-t', '1', '-J', ...udpArgs]);
    const client = await exec(plan.cgroup ? cgroupExec(plan.cgroup, argv) : argv, { timeoutMs: 20_000 });
    // iperf3 3.12 exits 0 on some failures: judge by the document.
    const doc = JSON.parse(client.stdout) as IperfDoc;
    expect(doc.error).toBeUndefined();
    const bytes = (udp ? doc.end?.sum?.bytes : doc.end?.sum_received?.bytes) ?? 0;
    return { bytes, bitsPerSecond: doc.end?.sum_received?.bits_per_second ?? 0 };
  } finally {
    const s = await serving;
    expect(s.timedOut).toBe(false);
  }
}

function translations(e: ServiceProxyEvidence, serviceIp: string, protocol: 'tcp' | 'udp'): number {
  const s = e.services.find((c) => c.serviceIp === serviceIp && c.protocol === protocol && c.port === PORT);
  if (!s) throw new Error(`no ${protocol} Service ${serviceIp}:${PORT} in the ${e.proxy} evidence`);
  return s.translations;
}

/** The pod network's device counters of node namespace `netns`. */
function deviceOf(e: PodNetworkEvidence, netns: string): { txBytes: number; rxBytes: number } {
  const d = e.devices.find((x) => x.netns === netns);
  if (!d) throw new Error(`no ${e.podNetwork} device in ${netns} in the evidence`);
  return d;
}

/** Bytes a link in a namespace has sent and received. */
async function linkBytes(netns: string, dev: string): Promise<{ tx: number; rx: number }> {
  const out = await execChecked(['ip', '-n', netns, '-j', '-s', 'link', 'show', 'dev', dev], { timeoutMs: 5_000 });
  const [link] = JSON.parse(out) as Array<{ stats64: { tx: { bytes: number }; rx: { bytes: number } } }>;
  if (!link) throw new Error(`no ${dev} in ${netns}`);
  return { tx: link.stats64.tx.bytes, rx: link.stats64.rx.bytes };
}

/** Everything any profile can leave behind; empty after labDown. */
async function leftovers(): Promise<string[]> {
  const left: string[] = [];
  if (/\bnm-/.test(await execChecked(['ip', 'netns', 'list']))) left.push('namespaces');
  if (/: (nm-|nmbr0)/.test(await execChecked(['ip', '-o', 'link', 'show']))) left.push('links');
  if (/198\.1[89]\./.test(await execChecked(['ip', '-4', 'route', 'show']))) left.push('routes');
  if (/netmatrix/.test(await execChecked(['iptables', '-S', 'FORWARD']))) left.push('FORWARD rule');
  if (/\bnetmatrix\b/.test(await execChecked(['nft', 'list', 'tables']))) left.push('nft table');
  if (/\bnm_(connect4|sendmsg4|recvmsg4)\b/.test((await exec(['bpftool', 'prog', 'show'])).stdout)) left.push('bpf programs');
  for (const p of ['/sys/fs/bpf/netmatrix', '/sys/fs/cgroup/unified/netmatrix-lab', LAB_STATE_FILE]) if (existsSync(p)) left.push(p);
  return left;
}

const PROFILES: Array<Pick<LabProfile, 'podNetwork' | 'serviceProxy'>> = [
  { podNetwork: 'direct', serviceProxy: 'nftables' },
  { podNetwork: 'direct', serviceProxy: 'ebpf' },
  { podNetwork: 'vxlan', serviceProxy: 'iptables' },
  { podNetwork: 'vxlan', serviceProxy: 'nftables' },
  { podNetwork: 'vxlan', serviceProxy: 'ebpf' },
];

for (const profile of PROFILES) {
  const binaries = [
    ...BASE_BINARIES,
    ...(profile.podNetwork === 'vxlan' ? ['bridge'] : []),
    ...(profile.serviceProxy === 'ebpf' ? ['clang', 'bpftool'] : []),
  ];
  describeWith({ root: true, binaries }, `lab profile ${profile.podNetwork} + ${profile.serviceProxy}`, () => {
    const plan = planLab(2, { profile });
    const [n1, n2] = [node(plan, 1), node(plan, 2)];
    const ebpf = profile.serviceProxy === 'ebpf';
    const vxlan = profile.podNetwork === 'vxlan';

    beforeAll(async () => {
      await labUp(plan);
    });

    afterAll(async () => {
      await labDown();
    });

    it('records the profile in the state file and reports it in lab status', async () => {
      const status = await labStatus();
      expect(status.up).toBe(true);
      expect(status.profile).toEqual({ ...profile, linkRate: null });
    });

    it.each([
      ['tcp', false],
      ['udp', true],
    ] as const)('carries %s from pod1 through the ClusterIP of pod2, and the proxy of the profile counts it', async (protocol, udp) => {
      const before = await labServiceProxyEvidence();
      const hitsBefore = ebpf ? await readServiceHits() : undefined;
      const tunnel = vxlan ? { tx: await linkBytes(n1.netns, 'nm-vxlan'), rx: await linkBytes(n2.netns, 'nm-vxlan') } : undefined;
      const podPathBefore = await labPodNetworkEvidence();
      const { bytes } = await iperf3(plan, { netns: n2.podNetns, bindIp: n2.podIp }, n1.podNetns, n2.serviceIp, udp);
      expect(bytes).toBeGreaterThan(0);
      const after = await labServiceProxyEvidence();
      expect(after.proxy).toBe(profile.serviceProxy);
      // TCP: the control and the data connection; UDP: the data flow (its control is TCP).
      expect(
        translations(after, n2.serviceIp, protocol) - translations(before, n2.serviceIp, protocol),
        after.source,
      ).toBeGreaterThanOrEqual(udp ? 1 : 2);
      if (hitsBefore) {
        // iperf3 3.12 connect()s its UDP socket too, so connect4 alone translates the flow.
        const hit = (h: ServiceHits[] | undefined) =>
          h?.find((x) => x.serviceIp === n2.serviceIp && x.protocol === protocol && x.port === PORT);
        const [was, now] = [hit(hitsBefore), hit(await readServiceHits())];
        expect((now?.connect ?? 0) - (was?.connect ?? 0)).toBe(udp ? 1 : 2);
        expect(now?.sendmsg).toBe(was?.sendmsg);
      }
      // The pod network's own evidence: its device on node1 sent, and on node2 received, what iperf3 carried.
      const podPath = await labPodNetworkEvidence();
      expect(podPath.podNetwork).toBe(profile.podNetwork);
      expect(podPath.devices.map((d) => d.device)).toEqual([vxlan ? 'nm-vxlan' : 'eth0', vxlan ? 'nm-vxlan' : 'eth0']);
      expect(deviceOf(podPath, n1.netns).txBytes - deviceOf(podPathBefore, n1.netns).txBytes, podPath.source).toBeGreaterThanOrEqual(bytes);
      expect(deviceOf(podPath, n2.netns).rxBytes - deviceOf(podPathBefore, n2.netns).rxBytes, podPath.source).toBeGreaterThanOrEqual(bytes);
      if (tunnel) {
        // Encapsulated: node1's VXLAN device sent, and node2's received, at least what iperf3 carried.
        expect((await linkBytes(n1.netns, 'nm-vxlan')).tx - tunnel.tx.tx).toBeGreaterThanOrEqual(bytes);
        expect((await linkBytes(n2.netns, 'nm-vxlan')).rx - tunnel.rx.rx).toBeGreaterThanOrEqual(bytes);
      }
    });

    it(
      ebpf ? 'translates at connect() with no DNAT rule in any node namespace' : 'translates with DNAT rules in every node namespace',
      async () => {
        const e = await labServiceProxyEvidence();
        // Two Services x TCP and UDP, in each of the two node namespaces.
        expect(e.dnatRules).toBe(ebpf ? 0 : 2 * 2 * 2);
        if (ebpf) expect(await serviceCounters(n1.netns)).toEqual([]);
        else expect(await serviceCounters(n1.netns)).toHaveLength(2 * 2);
      },
    );

    it('carries host-network traffic through a ClusterIP', async () => {
      const before = translations(await labServiceProxyEvidence(), n2.serviceIp, 'tcp');
      expect((await iperf3(plan, { netns: n2.podNetns, bindIp: n2.podIp }, n1.netns, n2.serviceIp, false)).bytes).toBeGreaterThan(0);
      expect(translations(await labServiceProxyEvidence(), n2.serviceIp, 'tcp')).toBeGreaterThan(before);
    });

    if (!vxlan) {
      it('routes pods directly, without an overlay device', async () => {
        expect((await exec(['ip', '-n', n1.netns, 'link', 'show', 'nm-vxlan'])).exitCode).not.toBe(0);
      });
    }

    if (ebpf) {
      it('translates unconnected UDP with sendmsg4, and replies come from the ClusterIP (recvmsg4)', async () => {
        const node = process.execPath;
        const serverJs = `const s=require('dgram').createSocket('udp4');s.on('message',(m,r)=>s.send('pong '+m+' from '+r.address,r.port,r.address,()=>s.close()));s.bind(${PORT},'${n2.podIp}')`;
        // send() with an address on an unconnected socket: sendmsg(2) with msg_name, no connect().
        const clientJs = `const s=require('dgram').createSocket('udp4');s.on('message',(m,r)=>{console.log(JSON.stringify({reply:String(m),from:r.address+':'+r.port}));s.close()});s.send('ping',${PORT},'${n2.serviceIp}');setTimeout(()=>process.exit(3),5000).unref()`;
        const before = (await labServiceProxyEvidence()).total;
        const serving = exec(netnsExec(n2.podNetns, [node, '-e', serverJs]), { timeoutMs: 15_000 });
        await waitFor(() => listening(n2.podNetns, PORT, true), 5_000, 'UDP echo server in pod2');
        const client = await execChecked(cgroupExec(plan.cgroup ?? '', netnsExec(n1.podNetns, [node, '-e', clientJs])), {
          timeoutMs: 15_000,
        });
        expect((await serving).exitCode).toBe(0);
        expect(JSON.parse(client)).toEqual({ reply: `pong ping from ${n1.podIp}`, from: `${n2.serviceIp}:${PORT}` });
        expect((await labServiceProxyEvidence()).total).toBe(before + 1);
      });

      it('puts the lab agents into the cgroup of the Service program', async () => {
        const specs = labAgentSpecs(plan);
        expect(specs.map((s) => s.cgroup)).toEqual(specs.map(() => plan.cgroup));
        const agents = new AgentProcesses({ aggregatorUrl: `ws://${plan.aggregatorIp}:9/ws/agent`, token: 'unused' });
        try {
          agents.start(specs.filter((s) => s.mode === 'pod').slice(0, 1));
          const [pid] = agents.pids;
          expect(await execChecked(['cat', `/proc/${pid}/cgroup`])).toMatch(/^0::\/netmatrix-lab$/m);
        } finally {
          await agents.stop();
        }
      });
    }

    it('goes down leaving nothing of the profile, twice', async () => {
      await labDown();
      await labDown();
      expect(await leftovers()).toEqual([]);
      expect(await labStatus()).toEqual({ up: false, nodes: [] });
    });
  });
}

describeWith({ root: true, binaries: [...BASE_BINARIES, 'tc', 'clang', 'bpftool'] }, 'lab link rate and unsupported profiles', () => {
  const plan = planLab(2, { profile: { linkRate: '200mbit' } });
  const [n1, n2] = [node(plan, 1), node(plan, 2)];

  beforeAll(async () => {
    await labUp(plan);
  });

  afterAll(async () => {
    await labDown();
  });

  it('caps node-to-node throughput at the link rate', async () => {
    expect(await execChecked(['tc', '-n', n1.netns, 'qdisc', 'show', 'dev', 'eth0'])).toMatch(/^qdisc tbf \S+ root .*rate 200Mbit/m);
    const { bitsPerSecond } = await iperf3(plan, { netns: n2.netns, bindIp: n2.hostIp }, n1.netns, n2.hostIp, false);
    expect(bitsPerSecond).toBeGreaterThan(0.5 * 200e6);
    expect(bitsPerSecond).toBeLessThan(1.1 * 200e6);
  });

  it('refuses a profile whose tools are missing in one line, before touching the lab there', async () => {
    // A PATH with everything the ebpf check looks for but bpftool.
    const ebpfPlan = planLab(2, { profile: { serviceProxy: 'ebpf' } });
    expect(await checkLabSupport(ebpfPlan)).toEqual({ ok: true });
    const bin = await mkdtemp(join(tmpdir(), 'netmatrix-path-'));
    const path = process.env.PATH;
    try {
      for (const tool of ['ip', 'iptables', 'iptables-restore', 'clang', 'tc', 'nft', 'bridge']) {
        const real = (await execChecked(['sh', '-c', `command -v ${tool}`])).trim();
        await symlink(real, join(bin, tool));
      }
      process.env.PATH = bin;
      const reason = 'the ebpf service proxy needs bpftool on PATH (install bpftool)';
      expect(await checkLabSupport(ebpfPlan)).toEqual({ ok: false, reason });
      await expect(labUp(ebpfPlan)).rejects.toMatchObject({ name: 'LabUnsupportedError', message: `lab up: ${reason}` });
    } finally {
      process.env.PATH = path;
      await rm(bin, { recursive: true, force: true });
    }
    const status = await labStatus();
    expect(status.up).toBe(true);
    expect(status.profile).toEqual({ podNetwork: 'direct', serviceProxy: 'iptables', linkRate: '200mbit' });
  });
});

describeWith({ root: true, binaries: [...BASE_BINARIES, 'bridge', 'clang', 'bpftool'] }, 'a measured run on the vxlan + ebpf lab', () => {
  const plan = planLab(2, { profile: { podNetwork: 'vxlan', serviceProxy: 'ebpf' } });
  let session: LabSession | undefined;

  beforeAll(async () => {
    session = await startLabSession(plan, pino({ level: 'silent' }), { NETMATRIX_TEST_DURATION_SECONDS: '1' });
  }, 90_000);

  afterAll(async () => {
    await session?.stop();
  });

  it('measures the service path through the eBPF program from the agents in its cgroup, and records the profile', async () => {
    const agg = session?.aggregator;
    if (!agg) throw new Error('no session');
    const before = await labServiceProxyEvidence();
    const res = await agg.app.inject({
      method: 'POST',
      url: '/api/runs',
      headers: { authorization: `Bearer ${session?.token}` },
      payload: { label: 'vxlan-ebpf', paths: ['service'], protocols: ['tcp', 'udp'], durationSeconds: 1 },
    });
    expect(res.statusCode).toBe(202);
    const { id } = res.json<{ id: string }>();
    const run = await waitFor(
      async () => {
        const r = (await agg.app.inject({ method: 'GET', url: `/api/runs/${id}` })).json<{
          status: string;
          total: number;
          results: TestResult[];
          environment: { lab: unknown } | null;
        }>();
        return r.status === 'done' ? r : undefined;
      },
      60_000,
      'the run to finish',
      200,
    );

    expect(run.total).toBe(2 * 2);
    expect(
      run.results.filter((r) => !r.ok).map((r) => `${r.protocol} ${r.source.node}->${r.target.node}: ${r.error?.code} ${r.error?.message}`),
    ).toEqual([]);
    expect(run.environment?.lab).toEqual({ podNetwork: 'vxlan', serviceProxy: 'ebpf', linkRate: null });
    const after = await labServiceProxyEvidence();
    expect(after.dnatRules).toBe(0);
    for (const r of run.results) {
      // Each test dialled a ClusterIP; the program rewrote at least its data connection or flow.
      expect(translations(after, r.target.address, r.protocol) - translations(before, r.target.address, r.protocol)).toBeGreaterThanOrEqual(
        1,
      );
    }
  }, 70_000);
});
