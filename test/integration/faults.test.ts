/**
 * Fault injection on the 3-node lab, each fault with real processes and real network
 * namespaces: an agent SIGKILLed mid-test, the iperf3 port taken, a node's link cut, packet loss
 * and a rate cap on one node, and the aggregator restarted mid-sweep. Every test undoes its fault,
 * and after every test the lab is quiesced and must hold no iperf3 process and all six agents.
 * What each test proves is in README.md, "What netmatrix promises under faults".
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import pino from 'pino';
import { buildAggregator, type Aggregator } from '../../aggregator/app.js';
import { loadAggregatorConfig } from '../../aggregator/config.js';
import type { AgentProcesses } from '../../lab/agents.js';
import { labDown, labUp } from '../../lab/lab.js';
import { planLab, uplinkName, podLinkName, type LabNode } from '../../lab/plan.js';
import { tbfBurstBytes, rateBitsPerSecond } from '../../lab/shaping.js';
import { DEFAULT_RUN_OMIT_SECONDS } from '../../shared/api.js';
import type { ErrorCode } from '../../shared/errors.js';
import type { Path, Protocol } from '../../shared/protocol.js';
import { receiverUdp, type TestResult } from '../../shared/result.js';
import { exec, execChecked } from '../../sys/exec.js';
import { parseExposition, type Sample } from '../helpers/prometheus-text.js';
import { runOnDemand as runLabRun, startLabAgents } from '../helpers/lab-runs.js';
import { describeWith, waitFor } from '../helpers/requirements.js';

const TOKEN = 'faults-test-token';
const DURATION_SECONDS = 2;
const READY_TIMEOUT_MS = 2000;
// Above the agent's own deadline slack (connect timeout 3 s + 5 s), as the defaults are, so a
// hung iperf3 is killed by its agent (iperf3-timeout) before the aggregator gives up on it.
const RESULT_MARGIN_MS = 10_000;
const HEARTBEAT_MS = 1000;
/**
 * The longest a test may take at the aggregator: ready + omitted seconds (on-demand runs) +
 * duration + margin + the server's late result (test-runner.ts).
 */
const TEST_BOUND_MS = READY_TIMEOUT_MS + (DEFAULT_RUN_OMIT_SECONDS + DURATION_SECONDS) * 1000 + RESULT_MARGIN_MS + 5000;

interface Proc {
  pid: number;
  ppid: number;
  netns: string;
}

/** Numbers measured by the tests, printed at the end (the report quotes them). */
const measured: Record<string, unknown> = {};
/** Per test: how long after the sweep stopped the lab held no iperf3 (ms). */
const idleNoIperf3Ms: number[] = [];
measured.idleNoIperf3Ms = idleNoIperf3Ms;

describeWith({ root: true, binaries: ['ip', 'iptables', 'iperf3', 'tc', 'nft'] }, 'netmatrix under faults on a 3-node lab', () => {
  const plan = planLab(3);
  const [node1, node2, node3] = plan.nodes as [LabNode, LabNode, LabNode];
  const labNamespaces = plan.nodes.flatMap((n) => [n.netns, n.podNetns]);
  let agg: Aggregator;
  let agents: AgentProcesses;
  let port = 0;

  const build = async (listenPort: number): Promise<Aggregator> => {
    const config = loadAggregatorConfig(
      {
        NETMATRIX_TOKEN: TOKEN,
        NETMATRIX_LISTEN_HOST: plan.aggregatorIp,
        NETMATRIX_LISTEN_PORT: String(listenPort),
        NETMATRIX_PATHS: 'pod,node',
        NETMATRIX_PROTOCOLS: 'tcp,udp',
        NETMATRIX_TEST_DURATION_SECONDS: String(DURATION_SECONDS),
        NETMATRIX_ROUND_PAUSE_MS: '100',
        NETMATRIX_UDP_BITRATE_BITS_PER_SECOND: '200000000',
        NETMATRIX_HEARTBEAT_MS: String(HEARTBEAT_MS),
        NETMATRIX_SERVER_READY_TIMEOUT_MS: String(READY_TIMEOUT_MS),
        NETMATRIX_RESULT_TIMEOUT_MARGIN_MS: String(RESULT_MARGIN_MS),
        NETMATRIX_IDLE_SAMPLE_MS: '0',
        // iperf3's faults; latency tests under faults are test/integration/latency.test.ts.
        NETMATRIX_LATENCY_ROUNDS: '0',
        // The lab's service proxy in front of each pod agent: on-demand runs test the service path too.
        NETMATRIX_SERVICE_ADDRESSES: plan.nodes.map((n) => `${n.name}=${n.serviceIp}`).join(','),
      },
      [],
    );
    const a = await buildAggregator({ config, log: pino({ level: 'silent' }) });
    await a.listen();
    return a;
  };

  /** iperf3 processes in the lab's namespaces, with their parents. */
  const iperf3Procs = async (namespaces = labNamespaces): Promise<Proc[]> => {
    const out: Proc[] = [];
    for (const netns of namespaces) {
      const pids = (await exec(['ip', 'netns', 'pids', netns])).stdout.trim().split('\n').filter(Boolean).map(Number);
      for (const pid of pids) {
        let stat: string;
        try {
          stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        } catch {
          continue; // exited meanwhile
        }
        const m = /^\d+ \((.*)\) \S (\d+)/.exec(stat);
        if (m?.[1] === 'iperf3') out.push({ pid, ppid: Number(m[2]), netns });
      }
    }
    return out;
  };
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const metrics = async (): Promise<Sample[]> => parseExposition((await agg.app.inject({ method: 'GET', url: '/metrics' })).body);
  const sum = (s: Sample[], name: string, match: Record<string, string>) =>
    s.filter((x) => x.name === name && Object.entries(match).every(([k, v]) => x.labels[k] === v)).reduce((a, x) => a + x.value, 0);
  const results = () => agg.store.latest(10_000);
  const involves = (r: TestResult, node: string) => r.source.node === node || r.target.node === node;
  const nft = (netns: string, script: string) => execChecked(['ip', 'netns', 'exec', netns, 'nft', script]);

  /** An on-demand run over `paths` x `protocols`, waited to its end; its results. */
  const runOnDemand = (label: string, paths: Path[], protocols: Protocol[], extra: Record<string, number> = {}) =>
    runLabRun(agg, TOKEN, { label, paths, protocols, ...extra });

  beforeAll(async () => {
    await labUp(plan);
    agg = await build(0);
    port = (agg.app.server.address() as AddressInfo).port;
    agents = await startLabAgents(plan, agg, TOKEN, process.env.FAULTS_AGENT_LOG ?? 'error');
  }, 180_000);

  afterAll(async () => {
    await agents?.stop();
    await agg?.close();
    await labDown();
    console.log(`fault measurements: ${JSON.stringify(measured, null, 1)}`);
  }, 60_000);

  // After every fault: stop the sweep (the running round ends, bounded), then the process table
  // must hold no iperf3 in the lab, and all six agents must be back; then sweep again.
  afterEach(async () => {
    await agg.scheduler.stop();
    const t0 = Date.now();
    await waitFor(async () => (await iperf3Procs()).length === 0, 15_000, 'no iperf3 process left in the lab');
    idleNoIperf3Ms.push(Date.now() - t0);
    await waitFor(() => agg.agents.all().length === 6, 60_000, 'all six agents connected');
    agg.scheduler.start();
  }, 90_000);

  it('an agent SIGKILLed mid-test: agent-lost at once, its iperf3 dies with it, the peer is freed, the agent is taken back', async () => {
    const victim = node2;
    const procs = await waitFor(
      async () => {
        const p = await iperf3Procs([victim.podNetns]);
        return p.length > 0 ? p : undefined;
      },
      30_000,
      `a pod test involving ${victim.name}`,
      20,
    );
    const agentPid = agents.pid(victim.name, 'pod');
    // The iperf3 is the agent's own child (setpriv execs it), so it is the one the kill orphans.
    expect(procs.map((p) => p.ppid)).toEqual(procs.map(() => agentPid));
    const killedAt = Date.now();
    await agents.kill(victim.name, 'pod', 'SIGKILL');
    const reapedAt = Date.now();
    measured.agentExitAfterSigkillMs = reapedAt - killedAt;
    // The kernel kills it (pdeathsig) as the agent's threads finish exiting: measured 1-2 s
    // after SIGKILL on this 2-core machine, while a plain child lived on as an orphan.
    await waitFor(() => procs.every((p) => !alive(p.pid)), 5000, 'the killed agent’s iperf3 to die', 5);
    measured.iperf3LifetimeAfterAgentExitMs = Date.now() - reapedAt;

    await waitFor(() => !agg.agents.find(victim.name, 'pod'), 10_000, 'the aggregator to drop the killed agent', 10);
    measured.killDetectionMs = Date.now() - killedAt;
    const lost = await waitFor(
      () =>
        results().find(
          (r) =>
            r.path === 'pod' &&
            involves(r, victim.name) &&
            Date.parse(r.startedAt) < killedAt &&
            Date.parse(r.endedAt) >= killedAt - 1 &&
            !r.ok,
        ),
      TEST_BOUND_MS,
      'the running test to be recorded as failed',
    );
    expect(lost.error?.code).toBe('agent-lost');
    measured.killResultMs = Date.parse(lost.endedAt) - killedAt;
    expect(measured.killResultMs).toBeLessThan(HEARTBEAT_MS * 3);

    // No orphan: the kernel kills the iperf3 with its parent (agent/iperf3-runner.ts).

    // The peer is free: its next pod test (with the third node) succeeds, and the sweep goes on.
    const peer = lost.source.node === victim.name ? lost.target.node : lost.source.node;
    await waitFor(
      () => results().find((r) => r.path === 'pod' && r.ok && involves(r, peer) && Date.parse(r.startedAt) > Date.parse(lost.endedAt)),
      30_000,
      `a successful pod test of the peer ${peer}`,
    );
    expect(sum(await metrics(), 'netmatrix_test_failures_total', { path: 'pod', reason: 'agent-lost' })).toBeGreaterThanOrEqual(1);

    const restartedAt = Date.now();
    agents.restart(victim.name, 'pod');
    await waitFor(() => agg.agents.find(victim.name, 'pod'), 30_000, 'the restarted agent to be taken back');
    measured.restartRejoinMs = Date.now() - restartedAt;
    await waitFor(
      () => results().find((r) => r.path === 'pod' && r.ok && involves(r, victim.name) && Date.parse(r.startedAt) > restartedAt),
      40_000,
      'a successful pod test of the restarted agent',
    );
  }, 120_000);

  it('the iperf3 port taken on a node: port-in-use for tests to it, and after freeing it its tests succeed', async () => {
    const victim = node3;
    // A listener on the pod agent's iperf3 port (5201), in its namespace; a process we own.
    const squatter: ChildProcess = spawn(
      'ip',
      [
        'netns',
        'exec',
        victim.podNetns,
        process.execPath,
        '-e',
        // The sweep may hold the port for a test right now: try again until it is ours.
        `const net = require('net'); const grab = () => { const s = net.createServer((c) => c.destroy()); ` +
          `s.once('error', () => setTimeout(grab, 20)); s.listen(5201, '${victim.podIp}', () => console.log('listening')); }; grab();`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let listening = false;
    squatter.stdout?.on('data', () => (listening = true));
    try {
      await waitFor(() => listening, 10_000, 'the squatter to listen');
      const busy = await runOnDemand('port-taken', ['pod'], ['tcp']);
      expect(busy).toHaveLength(6);
      for (const r of busy) {
        if (r.target.node === victim.name) {
          expect(r.ok, `${r.source.node}->${r.target.node}`).toBe(false);
          expect(r.error?.code).toBe('port-in-use');
          expect(r.error?.message).toContain('5201');
        } else {
          expect(r.ok, `${r.source.node}->${r.target.node}: ${r.error?.code}`).toBe(true);
        }
      }
      expect(sum(await metrics(), 'netmatrix_test_failures_total', { path: 'pod', reason: 'port-in-use' })).toBeGreaterThanOrEqual(2);
    } finally {
      if (squatter.exitCode === null && squatter.signalCode === null) {
        const exited = new Promise((r) => squatter.once('exit', r));
        squatter.kill('SIGKILL');
        await exited;
      }
    }
    const freed = await runOnDemand('port-freed', ['pod'], ['tcp']);
    expect(freed.filter((r) => !r.ok).map((r) => `${r.source.node}->${r.target.node}: ${r.error?.code}`)).toEqual([]);
  }, 120_000);

  it("a node's link cut: its tests fail with a bounded, expected reason, the rest sweeps on, and after restore it is measured again", async () => {
    const victim = node2;
    const link = uplinkName(victim);
    const expected: ErrorCode[] = ['agent-lost', 'connect-timeout', 'server-not-ready', 'test-timeout', 'iperf3-timeout'];
    const failuresBefore = sum(await metrics(), 'netmatrix_test_failures_total', {});
    await waitFor(
      async () => (await iperf3Procs([victim.netns, victim.podNetns])).length > 0,
      30_000,
      `a test involving ${victim.name}`,
      20,
    );
    const cutAt = Date.now();
    try {
      await execChecked(['ip', 'link', 'set', link, 'down']);
      await waitFor(() => !agg.agents.nodes().includes(victim.name), 15_000, `the aggregator to drop ${victim.name}`, 20);
      measured.linkCutDetectionMs = Date.now() - cutAt;
      const failed = await waitFor(
        () => {
          const f = results().filter((r) => involves(r, victim.name) && !r.ok && Date.parse(r.endedAt) >= cutAt);
          return f.length > 0 ? f : undefined;
        },
        TEST_BOUND_MS,
        `a failed test involving ${victim.name}`,
      );
      measured.linkCutReasons = [...new Set(failed.map((r) => r.error?.code))];
      for (const r of failed) {
        expect(expected, `${r.path} ${r.source.node}->${r.target.node}: ${r.error?.message}`).toContain(r.error?.code);
        expect(Date.parse(r.endedAt) - Date.parse(r.startedAt)).toBeLessThanOrEqual(TEST_BOUND_MS);
      }
      const s = await metrics();
      expect(sum(s, 'netmatrix_test_failures_total', {})).toBeGreaterThan(failuresBefore);
      expect(expected.reduce((a, reason) => a + sum(s, 'netmatrix_test_failures_total', { reason }), 0)).toBeGreaterThanOrEqual(
        failed.length,
      );
      // The rest of the cluster is not held up.
      await waitFor(
        () => results().find((r) => r.ok && !involves(r, victim.name) && Date.parse(r.startedAt) > cutAt),
        30_000,
        'a successful test between the other nodes',
      );
    } finally {
      await execChecked(['ip', 'link', 'set', link, 'up']);
    }
    const restoredAt = Date.now();
    await waitFor(
      async () => (await execChecked(['ip', '-j', '-d', 'link', 'show', link])).includes('"state":"forwarding"'),
      10_000,
      'the bridge port to forward',
      10,
    );
    await waitFor(
      () => agg.agents.find(victim.name, 'pod') && agg.agents.find(victim.name, 'host'),
      60_000,
      `both agents of ${victim.name} to reconnect`,
    );
    measured.linkRestoreRejoinMs = Date.now() - restoredAt;
    for (const side of ['source', 'target'] as const) {
      await waitFor(
        () => results().find((r) => r.ok && r[side].node === victim.name && Date.parse(r.startedAt) > restoredAt),
        60_000,
        `a successful test with ${victim.name} as ${side} after the restore`,
      );
    }
  }, 180_000);

  it("20% UDP packet loss injected into one pod: tests to it, direct and through its service, report that loss, and only that node's pairs", async () => {
    const victim = node2;
    await nft(victim.podNetns, 'add table inet nmfault');
    try {
      await nft(victim.podNetns, 'add chain inet nmfault in { type filter hook input priority 0 ; }');
      // Data datagrams only (UDP length > 100 bytes): iperf3 3.12 sets a UDP test up with one
      // 4-byte datagram each way and no retry, so losing that one hangs the client until its
      // deadline (seen here as a failed test, not as loss).
      await nft(victim.podNetns, 'add rule inet nmfault in udp length > 100 numgen random mod 100 < 20 drop');
      // 100 Mbit/s: well below where this shared 2-core machine starts to lose datagrams itself.
      const udp = await runOnDemand('udp-loss', ['pod', 'service'], ['udp'], { udpBitrateBitsPerSecond: 100_000_000 });
      expect(udp.filter((r) => r.path === 'service')).toHaveLength(6);
      expect(udp.filter((r) => !r.ok).map((r) => `${r.source.node}->${r.target.node}: ${r.error?.message}`)).toEqual([]);
      const loss: Record<string, number> = {};
      for (const r of udp) {
        const ratio = receiverUdp(r)?.lossRatio;
        const pair = `${r.path} ${r.source.node}->${r.target.node}`;
        loss[pair] = ratio ?? NaN;
        if (r.target.node === victim.name) {
          expect(ratio, pair).toBeGreaterThan(0.1);
          expect(ratio).toBeLessThan(0.35);
        } else {
          expect(ratio, pair).toBeLessThan(0.1);
        }
      }
      measured.udpLossRatio = loss;
    } finally {
      await nft(victim.podNetns, 'delete table inet nmfault');
    }
  }, 120_000);

  it('a 200 Mbit/s tbf cap on the link into one pod: TCP throughput to it drops to about the cap, the others do not', async () => {
    const victim = node2;
    const rate = '200mbit';
    const cap = rateBitsPerSecond(rate);
    const dev = podLinkName(victim);
    await execChecked([
      'tc',
      '-n',
      victim.netns,
      'qdisc',
      'replace',
      'dev',
      dev,
      'root',
      'tbf',
      'rate',
      rate,
      'burst',
      String(tbfBurstBytes(rate)),
      'latency',
      '50ms',
    ]);
    try {
      const tcp = await runOnDemand('rate-cap', ['pod'], ['tcp']);
      expect(tcp.filter((r) => !r.ok).map((r) => `${r.source.node}->${r.target.node}: ${r.error?.message}`)).toEqual([]);
      const bps: Record<string, number> = {};
      for (const r of tcp) {
        const t = r.throughputBitsPerSecond ?? 0;
        bps[`${r.source.node}->${r.target.node}`] = Math.round(t / 1e6);
        if (r.target.node === victim.name) {
          expect(t, `${r.source.node}->${r.target.node}`).toBeGreaterThan(cap / 3);
          expect(t).toBeLessThan(cap * 1.2);
        } else {
          expect(t, `${r.source.node}->${r.target.node}`).toBeGreaterThan(cap * 2);
        }
      }
      measured.tcpMbitPerSecondWithCap = bps;
    } finally {
      await execChecked(['tc', '-n', victim.netns, 'qdisc', 'del', 'dev', dev, 'root']);
    }
  }, 120_000);

  it('an iperf3 that hangs (the target accepts TCP but never speaks), direct and through its service: killed at the agent deadline, iperf3-timeout, the rest unaffected', async () => {
    const victim = node3;
    await nft(victim.podNetns, 'add table inet nmhang');
    try {
      await nft(victim.podNetns, 'add chain inet nmhang in { type filter hook input priority 0 ; }');
      // The handshake passes (SYN and bare ACKs are at most 60 bytes); every segment with data
      // (iperf3's cookie first) is dropped, so the client waits for an answer that never comes.
      await nft(victim.podNetns, 'add rule inet nmhang in tcp dport 5201 ip length > 64 drop');
      const tcp = await runOnDemand('hang', ['pod', 'service'], ['tcp']);
      const hung = tcp.filter((r) => r.target.node === victim.name);
      expect(hung.map((r) => r.path).sort()).toEqual(['pod', 'pod', 'service', 'service']);
      measured.hangReasons = hung.map((r) => `${r.error?.code} after ${Date.parse(r.endedAt) - Date.parse(r.startedAt)} ms`);
      for (const r of hung) {
        expect(r.ok).toBe(false);
        expect(['iperf3-timeout', 'connect-timeout']).toContain(r.error?.code);
        expect(Date.parse(r.endedAt) - Date.parse(r.startedAt)).toBeLessThanOrEqual(TEST_BOUND_MS);
      }
      expect(tcp.filter((r) => r.target.node !== victim.name && !r.ok).map((r) => r.error?.message)).toEqual([]);
    } finally {
      await nft(victim.podNetns, 'delete table inet nmhang');
    }
  }, 120_000);

  it('the aggregator restarted mid-sweep: agents come back with jittered backoff, a held result is re-sent once, the sweep resumes', async () => {
    const holder = node1;
    const block = (verb: 'add' | 'delete') =>
      verb === 'add'
        ? nft(
            holder.podNetns,
            `add table inet nmagg { chain out { type filter hook output priority 0 ; ip daddr ${plan.aggregatorIp} tcp dport ${port} drop ; } ; chain in { type filter hook input priority 0 ; ip saddr ${plan.aggregatorIp} tcp sport ${port} drop ; } ; }`,
          )
        : nft(holder.podNetns, 'delete table inet nmagg');
    // Cut the holder's link to the aggregator (only that TCP connection) while it is in a test:
    // the test ends on the agent's side, and its result waits, unacknowledged, in the agent.
    const procs = await waitFor(
      async () => {
        const p = await iperf3Procs([holder.podNetns]);
        return p.length > 0 ? p : undefined;
      },
      30_000,
      `a pod test involving ${holder.name}`,
      20,
    );
    await block('add');
    let blocked = true;
    try {
      await waitFor(() => procs.every((p) => !alive(p.pid)), 20_000, 'the held test to end on the agent');
      const old = agg;
      const oldIds = new Set(old.store.latest(10_000).map((r) => r.id));
      await old.scheduler.stop();
      await old.close();
      agg = await build(port);
      const upAt = Date.now();
      await block('delete');
      blocked = false;
      await waitFor(() => agg.agents.all().length === 6, 60_000, 'all six agents to reconnect to the new aggregator');
      const others = agg.agents.all().filter((a) => !(a.identity.nodeName === holder.name && a.identity.mode === 'pod'));
      const delays = others.map((a) => a.connectedAt.getTime() - upAt);
      const spread = Math.max(...delays) - Math.min(...delays);
      measured.reconnectAfterRestartMs = { min: Math.min(...delays), max: Math.max(...delays), spread, all: delays };
      measured.heldAgentReconnectMs = (agg.agents.find(holder.name, 'pod')?.connectedAt.getTime() ?? NaN) - upAt;
      // Full jitter: the agents do not come back in lockstep (two may still land in the same
      // millisecond by chance, so only the spread is asserted).
      expect(spread).toBeGreaterThan(0);

      // The held result reached the new aggregator, which acknowledged it (so the agent forgets
      // it) and did not record it: it does not know that test.
      await waitFor(
        async () => sum(await metrics(), 'netmatrix_results_ignored_total', { reason: 'unknown-test' }) >= 1,
        30_000,
        'the held result to be re-sent to the new aggregator',
      );
      const s = await metrics();
      measured.resultsIgnoredAfterRestart = {
        unknownTest: sum(s, 'netmatrix_results_ignored_total', { reason: 'unknown-test' }),
        duplicate: sum(s, 'netmatrix_results_ignored_total', { reason: 'duplicate' }),
      };
      // Sent once: a second delivery of the same result id would count as a duplicate.
      expect(sum(s, 'netmatrix_results_ignored_total', { reason: 'duplicate' })).toBe(0);

      // The sweep resumes on the new aggregator, which stores each test once and none of the old ones.
      const fresh = await waitFor(
        () => {
          const r = results().filter((x) => x.ok);
          return r.length >= 3 ? r : undefined;
        },
        60_000,
        'new results after the restart',
      );
      measured.firstResultAfterRestartMs = Math.min(...fresh.map((r) => Date.parse(r.endedAt))) - upAt;
      const ids = results().map((r) => r.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids.filter((id) => oldIds.has(id))).toEqual([]);
    } finally {
      if (blocked) await block('delete');
    }
  }, 180_000);
});
