/**
 * Builds and tears down the lab (see plan.ts) with iproute2 and tc, calling the profile's pod
 * network and Service proxy plug-ins (pod-networks/, service-proxies/) for their parts. Each
 * namespace is configured by one batch (`ip -batch`, `iptables-restore`, `nft -f`) rather than
 * one process per address, route and rule, so a 50-node lab takes seconds, not minutes.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LabProfile } from '../shared/lab-profile.js';
import { exec, execChecked, ExecError } from '../sys/exec.js';
import { LAB_LINK_PATTERN, LAB_NETNS_PATTERN, LAB_RANGE, netnsExec, podLinkName, type LabNode, type LabPlan } from './addresses.js';
import { LAB_COMMAND_TIMEOUT_MS as TIMEOUT_MS, runScript } from './batch.js';
import { nodeScript, podScript, ROOT_FORWARD_RULE, rootScript } from './namespaces.js';
import { POD_NETWORKS, podNetworkOf } from './pod-networks/index.js';
import { checkProfileSupport } from './profile-check.js';
import { SERVICE_PROXIES, serviceProxyOf } from './service-proxies/index.js';
import { tbfArgv } from './shaping.js';
import { LAB_STATE_FILE, labStateOf, readLabState, removeLabState, writeLabState } from './state.js';

export { planLab, netnsExec, cgroupExec, type LabNode, type LabPlan, type LabPlanOptions, type LabProfile } from './plan.js';
export {
  labPodNetworkEvidence,
  labServiceProxyEvidence,
  serviceCounters,
  type PodNetworkEvidence,
  type ServiceCounter,
  type ServiceProxyEvidence,
  type ServiceTranslations,
} from './counters.js';

/** A profile this machine cannot build; the message is one line naming what is missing. */
export class LabUnsupportedError extends Error {
  override readonly name = 'LabUnsupportedError';
}

/** Every plug-in of both families: labDown removes what any of them made, whatever lab is there. */
const ALL_PARTS = [...Object.values(POD_NETWORKS), ...Object.values(SERVICE_PROXIES)];

async function setUpNode(plan: LabPlan, n: LabNode, dir: string): Promise<void> {
  await runScript(['ip', '-n', n.netns, '-batch', join(dir, `${n.netns}.ip`)], nodeScript(plan, n));
  await runScript(['ip', '-n', n.podNetns, '-batch', join(dir, `${n.podNetns}.ip`)], podScript(plan, n));
  await podNetworkOf(plan.profile.podNetwork).up(plan, n, dir);
  // Forwarding makes the node a router for its pod. No ICMP redirects: in the hairpin case a
  // packet leaves by the interface it came in on, and the pod must not learn a "shortcut".
  const link = podLinkName(n);
  await execChecked(
    netnsExec(n.netns, [
      'sysctl',
      '-q',
      '-w',
      'net.ipv4.ip_forward=1',
      'net.ipv4.conf.all.send_redirects=0',
      `net.ipv4.conf.${link}.send_redirects=0`,
    ]),
    { timeoutMs: TIMEOUT_MS },
  );
  await serviceProxyOf(plan.profile.serviceProxy).nodeUp(plan, n, dir);
  if (plan.profile.linkRate !== null) await execChecked(tbfArgv(n.netns, plan.profile.linkRate), { timeoutMs: TIMEOUT_MS });
}

/**
 * Build the lab of `plan` with its profile, replacing any lab already there and ending what runs
 * in it (so running it twice, or over a half-built lab, ends in the same state), then write
 * LAB_STATE_FILE. A profile this machine cannot do is refused first, with a LabUnsupportedError
 * naming the missing piece, and any lab there is left as it was. On a failure while building it
 * removes what it made and throws an ExecError naming the command (and batch line) that failed.
 */
export async function labUp(plan: LabPlan): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'netmatrix-lab-'));
  try {
    const support = await checkProfileSupport(plan, dir);
    if (!support.ok) throw new LabUnsupportedError(`lab up: ${support.reason}`);
    await labDown();
    try {
      await runScript(['ip', '-batch', join(dir, 'root.ip')], rootScript(plan));
      // Two cores: one node after another is as fast as racing them, and errors stay readable.
      for (const n of plan.nodes) await setUpNode(plan, n, dir);
      await serviceProxyOf(plan.profile.serviceProxy).up(plan, dir);
      await execChecked(['iptables', '-I', 'FORWARD', '1', ...ROOT_FORWARD_RULE], { timeoutMs: TIMEOUT_MS });
      await waitBridgeForwarding(plan);
      await writeLabState(labStateOf(plan, new Date()));
    } catch (e) {
      await labDown().catch(() => undefined);
      if (e instanceof ExecError) throw new ExecError(`lab up failed: ${e.message}`, e.argv, e.exitCode, e.stderr, e.stdout);
      throw e;
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * A bridge port reaches the forwarding state on a timer even with STP off, so the lab is not
 * usable the instant the last command returns: wait for every port (a few ms, not a fixed sleep).
 */
async function waitBridgeForwarding(plan: LabPlan, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const out = await execChecked(['ip', '-j', '-d', 'link', 'show', 'master', plan.bridge], { timeoutMs: TIMEOUT_MS });
    const ports = JSON.parse(out) as Array<{ linkinfo?: { info_slave_data?: { state?: string } } }>;
    const forwarding = ports.filter((p) => p.linkinfo?.info_slave_data?.state === 'forwarding').length;
    if (forwarding === plan.nodes.length) return;
    if (Date.now() > deadline)
      throw new Error(`lab up failed: ${forwarding} of ${plan.nodes.length} bridge ports forwarding after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function listLabNetns(): Promise<string[]> {
  const out = await execChecked(['ip', 'netns', 'list'], { timeoutMs: TIMEOUT_MS });
  return out
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((name) => LAB_NETNS_PATTERN.test(name));
}

async function listLabLinks(): Promise<string[]> {
  const out = await execChecked(['ip', '-o', 'link', 'show'], { timeoutMs: TIMEOUT_MS });
  // "7: nm-n1@if2: <BROADCAST,..." -> nm-n1
  return out
    .split('\n')
    .map((l) => (l.split(': ')[1] ?? '').split('@')[0] ?? '')
    .filter((name) => LAB_LINK_PATTERN.test(name));
}

async function listLabRoutes(): Promise<string[]> {
  const out = await execChecked(['ip', '-4', 'route', 'show', 'root', LAB_RANGE], { timeoutMs: TIMEOUT_MS });
  return out
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
}

/**
 * Kill what still runs inside the lab's namespaces (iperf3 servers, agents): a namespace with a
 * process in it outlives `ip netns del`, detached and out of reach. Matches by namespace inode.
 */
async function killLabProcesses(netnsNames: string[]): Promise<void> {
  // Only a live bind mount of a namespace is on nsfs; a stale file's inode means nothing.
  const nsfs = (await stat('/proc/self/ns/net')).dev;
  const inodes = new Set<string>();
  for (const name of netnsNames) {
    const s = await stat(join('/run/netns', name)).catch(() => undefined);
    if (s?.dev === nsfs) inodes.add(`net:[${s.ino}]`);
  }
  if (inodes.size === 0) return;
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    const ns = await readlink(`/proc/${pid}/ns/net`).catch(() => undefined);
    if (ns !== undefined && inodes.has(ns)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }
}

/**
 * Remove everything any lab made, whatever its size and profile: processes in and namespaces
 * named nm-node*, nm-pod*, nm-probe (and with the namespaces what lives in them: nft tables,
 * VXLAN devices, tc qdiscs); the nm-* links and the bridge; every route inside 198.18.0.0/15 (the
 * blackhole included); the root FORWARD rule; what every profile plug-in made outside the
 * namespaces (the ebpf proxy's cgroup folder, programs and maps); LAB_STATE_FILE. Idempotent;
 * throws only if something remains.
 */
export async function labDown(): Promise<void> {
  const netns = await listLabNetns();
  await killLabProcesses(netns);
  for (const part of ALL_PARTS) await part.down();
  // Root links first: deleting a veth end removes its peer at once, while namespace teardown is
  // asynchronous in the kernel.
  const lines = [...(await listLabLinks()).map((l) => `link del ${l}`), ...netns.map((n) => `netns del ${n}`)];
  if (lines.length > 0) await runDownBatch(lines);
  const routes = (await listLabRoutes()).map((r) => {
    const [first, second] = r.split(/\s+/);
    return /^(blackhole|unreachable|prohibit|throw)$/.test(first ?? '') ? `route del ${first} ${second}` : `route del ${first}`;
  });
  if (routes.length > 0) await runDownBatch(routes);
  for (let i = 0; i < 10; i++) {
    const r = await exec(['iptables', '-D', 'FORWARD', ...ROOT_FORWARD_RULE], { timeoutMs: TIMEOUT_MS }).catch(() => undefined);
    if (r?.exitCode !== 0) break;
  }
  await removeLabState();
  const left = [...(await listLabNetns()), ...(await listLabLinks()), ...(await listLabRoutes())];
  for (const part of ALL_PARTS) left.push(...(await part.leftovers()));
  if (existsSync(LAB_STATE_FILE)) left.push(LAB_STATE_FILE);
  if (left.length > 0) throw new Error(`lab down left behind: ${left.join(', ')}`);
}

/** `ip -force -batch`: go on past errors such as "already gone"; what is left is checked after. */
async function runDownBatch(lines: string[]): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'netmatrix-lab-'));
  try {
    const file = join(dir, 'down.ip');
    await writeFile(file, lines.join('\n') + '\n');
    await exec(['ip', '-force', '-batch', file], { timeoutMs: TIMEOUT_MS });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function eth0Address(netns: string): Promise<string | undefined> {
  const r = await exec(['ip', '-n', netns, '-4', '-o', 'addr', 'show', 'dev', 'eth0'], { timeoutMs: TIMEOUT_MS });
  return r.exitCode === 0 ? /\sinet (\S+)\//.exec(r.stdout)?.[1] : undefined;
}

/** What `labStatus` reports. */
export interface LabStatus {
  /** The bridge exists and every node namespace has its node and pod IPs. */
  up: boolean;
  nodes: Array<{ name: string; netns: string; hostIp?: string; podIp?: string }>;
  /** The profile `lab up` recorded in LAB_STATE_FILE; absent when there is no state file. */
  profile?: LabProfile;
}

/**
 * What lab is there now: the node namespaces with their node and pod IPs, read from the system,
 * and the profile, read from LAB_STATE_FILE.
 */
export async function labStatus(): Promise<LabStatus> {
  const all = await listLabNetns();
  const indexes = all
    .flatMap((n) => /^nm-node(\d+)$/.exec(n)?.[1] ?? [])
    .map(Number)
    .sort((a, b) => a - b);
  const nodes = await Promise.all(
    indexes.map(async (i) => {
      const netns = `nm-node${i}`;
      const hostIp = await eth0Address(netns);
      const podIp = all.includes(`nm-pod${i}`) ? await eth0Address(`nm-pod${i}`) : undefined;
      return { name: `node${i}`, netns, ...(hostIp ? { hostIp } : {}), ...(podIp ? { podIp } : {}) };
    }),
  );
  const bridge = (await listLabLinks()).includes('nmbr0');
  const state = await readLabState();
  return { up: bridge && nodes.length > 0 && nodes.every((n) => n.hostIp && n.podIp), nodes, ...(state ? { profile: state.profile } : {}) };
}

const PROBE = 'nm-probe';

/**
 * Can this machine run the lab? Checks root, iproute2, iptables, and that a throwaway namespace
 * (nm-probe) can be made with a veth, a bridge and a nat table; given a plan, also what its
 * profile needs (the check `labUp` makes first). The reason is one line for a user.
 */
export async function checkLabSupport(plan?: LabPlan): Promise<{ ok: true } | { ok: false; reason: string }> {
  const base = await checkBaseSupport();
  if (!base.ok || !plan) return base;
  const dir = await mkdtemp(join(tmpdir(), 'netmatrix-lab-'));
  try {
    const profile = await checkProfileSupport(plan, dir);
    return profile.ok ? { ok: true } : profile;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function checkBaseSupport(): Promise<{ ok: true } | { ok: false; reason: string }> {
  if (process.getuid?.() !== 0)
    return { ok: false, reason: 'the lab needs root (it creates network namespaces, veths and iptables rules)' };
  for (const [bin, pkg] of [
    ['ip', 'iproute2'],
    ['iptables', 'iptables'],
    ['iptables-restore', 'iptables'],
  ] as const) {
    const found = await exec([bin, '-V'], { timeoutMs: TIMEOUT_MS }).then(
      () => true,
      () => false,
    );
    if (!found) return { ok: false, reason: `the lab needs ${bin} on PATH (install ${pkg})` };
  }
  const steps: Array<[string, string[]]> = [
    ['cannot create a network namespace', ['ip', 'netns', 'add', PROBE]],
    ['cannot create a veth pair', ['ip', '-n', PROBE, 'link', 'add', 'nm-probe0', 'type', 'veth', 'peer', 'name', 'nm-probe1']],
    ['cannot create a bridge', ['ip', '-n', PROBE, 'link', 'add', 'nm-probebr', 'type', 'bridge']],
    ['iptables cannot use the nat table in a namespace', netnsExec(PROBE, ['iptables', '-t', 'nat', '-S'])],
  ];
  await exec(['ip', 'netns', 'del', PROBE]).catch(() => undefined);
  try {
    for (const [what, argv] of steps) {
      const r = await exec(argv, { timeoutMs: TIMEOUT_MS });
      if (r.exitCode !== 0) return { ok: false, reason: `${what}: ${r.stderr.trim().split('\n')[0] ?? ''} (${argv.join(' ')})` };
    }
    return { ok: true };
  } finally {
    await exec(['ip', 'netns', 'del', PROBE]).catch(() => undefined);
  }
}
