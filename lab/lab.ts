/**
 * Builds and tears down the lab (see plan.ts) with iproute2 and iptables. Each namespace is
 * configured by one batch (`ip -batch`, `iptables-restore`) rather than one process per address,
 * route and rule, so a 50-node lab takes seconds, not minutes.
 */
import { mkdtemp, readdir, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exec, execChecked, ExecError } from '../sys/exec.js';
import { natTableScript, parseServiceCounters, ROOT_FORWARD_RULE, type ServiceCounter } from './iptables.js';
import {
  LAB_LINK_PATTERN, LAB_NETNS_PATTERN, LAB_PREFIX_LENGTH, LAB_RANGE, SERVICE_CIDR, SERVICES_CHAIN,
  netnsExec, podCidr, podLinkName, uplinkName, type LabNode, type LabPlan,
} from './plan.js';

export { planLab, netnsExec, type LabNode, type LabPlan } from './plan.js';
export type { ServiceCounter } from './iptables.js';

const TIMEOUT_MS = 30_000;

/** Run a script file through `argv` (which ends with the file); name the failing line on error. */
async function runScript(argv: string[], script: string): Promise<void> {
  const file = argv[argv.length - 1] ?? '';
  await writeFile(file, script);
  try {
    await execChecked(argv, { timeoutMs: TIMEOUT_MS });
  } catch (e) {
    if (!(e instanceof ExecError)) throw e;
    // ip -batch says "Command failed FILE:N" after a kernel error, iptables-restore "line N
    // failed"; an argument ip cannot parse ends it at once, naming only the quoted argument.
    const lines = script.split('\n');
    const n = /Command failed \S+:(\d+)|line (\d+) failed/.exec(e.stderr);
    const quoted = /"([^"]+)"/.exec(e.stderr)?.[1];
    const line = n ? lines[Number(n[1] ?? n[2]) - 1] : quoted ? lines.find((l) => l.split(' ').includes(quoted)) : undefined;
    const where = line ? ` at line "${line}"` : '';
    throw new ExecError(`${e.message}${where}`, e.argv, e.exitCode, e.stderr, e.stdout);
  }
}

function rootScript(plan: LabPlan): string {
  const br = plan.bridge;
  const lines = [
    `link add ${br} type bridge stp_state 0 forward_delay 0`,
    // No IPv6 link-local addresses: the lab is IPv4 only, and this keeps DAD and router
    // solicitations off the bridge.
    `link set ${br} addrgenmode none`,
    `addr add ${plan.aggregatorIp}/${LAB_PREFIX_LENGTH} dev ${br}`,
    `link set ${br} up`,
    // Safety net: any lab destination without a more specific route is dropped here rather than
    // following the default route out of the machine.
    `route add blackhole ${LAB_RANGE}`,
  ];
  for (const n of plan.nodes) {
    lines.push(
      `netns add ${n.netns}`,
      `netns add ${n.podNetns}`,
      `link add ${uplinkName(n)} type veth peer name eth0 netns ${n.netns}`,
      `link set ${uplinkName(n)} master ${br} addrgenmode none up`,
      `link add ${podLinkName(n)} netns ${n.netns} type veth peer name eth0 netns ${n.podNetns}`,
      `route add ${podCidr(n)} via ${n.hostIp} dev ${br}`,
    );
  }
  return lines.join('\n') + '\n';
}

function nodeScript(plan: LabPlan, n: LabNode): string {
  const lines = [
    'link set lo up',
    'link set eth0 addrgenmode none',
    `addr add ${n.hostIp}/${LAB_PREFIX_LENGTH} dev eth0`,
    'link set eth0 up',
    `link set ${podLinkName(n)} addrgenmode none`,
    `addr add ${n.podGateway}/${LAB_PREFIX_LENGTH} dev ${podLinkName(n)}`,
    `link set ${podLinkName(n)} up`,
    // Host-network clients of a ClusterIP need some route for the first lookup, before OUTPUT
    // DNAT rewrites the destination. Toward the root namespace, which drops what was not DNATed.
    `route add ${SERVICE_CIDR} via ${plan.aggregatorIp} dev eth0`,
  ];
  for (const other of plan.nodes) {
    if (other !== n) lines.push(`route add ${podCidr(other)} via ${other.hostIp} dev eth0`);
  }
  return lines.join('\n') + '\n';
}

function podScript(n: LabNode): string {
  return [
    'link set lo up',
    'link set eth0 addrgenmode none',
    `addr add ${n.podIp}/${LAB_PREFIX_LENGTH} dev eth0`,
    'link set eth0 up',
    `route add default via ${n.podGateway} dev eth0`,
    '',
  ].join('\n');
}

async function setUpNode(plan: LabPlan, n: LabNode, dir: string): Promise<void> {
  await runScript(['ip', '-n', n.netns, '-batch', join(dir, `${n.netns}.ip`)], nodeScript(plan, n));
  await runScript(['ip', '-n', n.podNetns, '-batch', join(dir, `${n.podNetns}.ip`)], podScript(n));
  // Forwarding makes the node a router for its pod. No ICMP redirects: in the hairpin case a
  // packet leaves by the interface it came in on, and the pod must not learn a "shortcut".
  const link = podLinkName(n);
  await execChecked(
    netnsExec(n.netns, ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1',
      'net.ipv4.conf.all.send_redirects=0', `net.ipv4.conf.${link}.send_redirects=0`]),
    { timeoutMs: TIMEOUT_MS },
  );
  await runScript(netnsExec(n.netns, ['iptables-restore', join(dir, `${n.netns}.nat`)]), natTableScript(plan, n));
}

/**
 * Build the lab of `plan`, replacing any lab already there and ending what runs in it (so running
 * it twice, or over a half-built lab, ends in the same state). On failure it removes what it made and throws an
 * ExecError naming the command (and batch line) that failed.
 */
export async function labUp(plan: LabPlan): Promise<void> {
  await labDown();
  const dir = await mkdtemp(join(tmpdir(), 'netmatrix-lab-'));
  try {
    await runScript(['ip', '-batch', join(dir, 'root.ip')], rootScript(plan));
    // Two cores: one node after another is as fast as racing them, and errors stay readable.
    for (const n of plan.nodes) await setUpNode(plan, n, dir);
    await execChecked(['iptables', '-I', 'FORWARD', '1', ...ROOT_FORWARD_RULE], { timeoutMs: TIMEOUT_MS });
    await waitBridgeForwarding(plan);
  } catch (e) {
    await labDown().catch(() => undefined);
    if (e instanceof ExecError) throw new ExecError(`lab up failed: ${e.message}`, e.argv, e.exitCode, e.stderr, e.stdout);
    throw e;
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
    if (Date.now() > deadline) throw new Error(`lab up failed: ${forwarding} of ${plan.nodes.length} bridge ports forwarding after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function listLabNetns(): Promise<string[]> {
  const out = await execChecked(['ip', 'netns', 'list'], { timeoutMs: TIMEOUT_MS });
  return out.split('\n').map((l) => l.split(' ')[0] ?? '').filter((name) => LAB_NETNS_PATTERN.test(name));
}

async function listLabLinks(): Promise<string[]> {
  const out = await execChecked(['ip', '-o', 'link', 'show'], { timeoutMs: TIMEOUT_MS });
  // "7: nm-n1@if2: <BROADCAST,..." -> nm-n1
  return out.split('\n').map((l) => (l.split(': ')[1] ?? '').split('@')[0] ?? '').filter((name) => LAB_LINK_PATTERN.test(name));
}

async function listLabRoutes(): Promise<string[]> {
  const out = await execChecked(['ip', '-4', 'route', 'show', 'root', LAB_RANGE], { timeoutMs: TIMEOUT_MS });
  return out.split('\n').map((l) => l.trim()).filter((l) => l.length > 0);
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
 * Remove everything any lab made, without knowing its size: processes in and namespaces named
 * nm-node*, nm-pod*, nm-probe; the nm-* links and the bridge; every route inside 198.18.0.0/15
 * (the blackhole included); the root FORWARD rule. Idempotent; throws only if something remains.
 */
export async function labDown(): Promise<void> {
  const netns = await listLabNetns();
  await killLabProcesses(netns);
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
  const left = [...(await listLabNetns()), ...(await listLabLinks()), ...(await listLabRoutes())];
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

/**
 * What lab is there now, read from the system: the node namespaces with their node and pod IPs.
 * `up` when the bridge exists and every node has both addresses.
 */
export async function labStatus(): Promise<{ up: boolean; nodes: Array<{ name: string; netns: string; hostIp?: string; podIp?: string }> }> {
  const all = await listLabNetns();
  const indexes = all.flatMap((n) => /^nm-node(\d+)$/.exec(n)?.[1] ?? []).map(Number).sort((a, b) => a - b);
  const nodes = await Promise.all(
    indexes.map(async (i) => {
      const netns = `nm-node${i}`;
      const hostIp = await eth0Address(netns);
      const podIp = all.includes(`nm-pod${i}`) ? await eth0Address(`nm-pod${i}`) : undefined;
      return { name: `node${i}`, netns, ...(hostIp ? { hostIp } : {}), ...(podIp ? { podIp } : {}) };
    }),
  );
  const bridge = (await listLabLinks()).includes('nmbr0');
  return { up: bridge && nodes.length > 0 && nodes.every((n) => n.hostIp && n.podIp), nodes };
}

/**
 * Packet and byte counts of the Service DNAT rules in node namespace `netns`. The nat table sees
 * only the first packet of each connection, so `packets` counts connections (UDP: flows).
 */
export async function serviceCounters(netns: string): Promise<ServiceCounter[]> {
  const out = await execChecked(netnsExec(netns, ['iptables', '-t', 'nat', '-S', SERVICES_CHAIN, '-v']), { timeoutMs: TIMEOUT_MS });
  return parseServiceCounters(out);
}

const PROBE = 'nm-probe';

/**
 * Can this machine run the lab? Checks root, iproute2, iptables, and that a throwaway namespace
 * (nm-probe) can be made with a veth, a bridge and a nat table. The reason is one line for a user.
 */
export async function checkLabSupport(): Promise<{ ok: true } | { ok: false; reason: string }> {
  if (process.getuid?.() !== 0) return { ok: false, reason: 'the lab needs root (it creates network namespaces, veths and iptables rules)' };
  for (const [bin, pkg] of [['ip', 'iproute2'], ['iptables', 'iptables'], ['iptables-restore', 'iptables']] as const) {
    const found = await exec([bin, '-V'], { timeoutMs: TIMEOUT_MS }).then(() => true, () => false);
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
