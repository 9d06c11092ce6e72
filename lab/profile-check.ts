/**
 * Can this machine build a lab profile? Checked before `lab up` builds anything, so a profile the
 * kernel or the installed tools cannot do fails with one line naming the missing piece rather
 * than halfway through with a raw command error.
 */
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { exec, ExecError } from '../sys/exec.js';
import { compileServiceProgram, cgroup2Mounts } from './ebpf.js';
import { netnsExec, type LabPlan } from './plan.js';

const TIMEOUT_MS = 30_000;
/** The throwaway namespace of the kernel probes (a lab name, so labDown removes a leftover). */
const PROBE = 'nm-probe';

/** What up needs from the profile check: the compiled eBPF object, for the ebpf proxy. */
export type ProfileSupport = { ok: true; bpfObject?: string } | { ok: false; reason: string };

async function onPath(bin: string, versionFlag = '--version'): Promise<boolean> {
  return exec([bin, versionFlag], { timeoutMs: TIMEOUT_MS }).then(
    () => true,
    () => false,
  );
}

function firstLine(text: string): string {
  return (
    text
      .trim()
      .split('\n')
      .find((l) => l.trim().length > 0)
      ?.trim() ?? ''
  );
}

/** Run the kernel probes of `plan`'s profile in a throwaway namespace; the first failure's reason, if any. */
async function probeKernel(plan: LabPlan): Promise<string | undefined> {
  const { podNetwork, serviceProxy, linkRate } = plan.profile;
  const steps: Array<[string, string[]]> = [];
  if (podNetwork === 'vxlan') {
    steps.push([
      'the vxlan pod network needs VXLAN in the kernel (the vxlan module)',
      ['ip', '-n', PROBE, 'link', 'add', 'nm-probevx', 'type', 'vxlan', 'id', '42', 'dstport', '4789'],
    ]);
  }
  if (serviceProxy === 'nftables') {
    steps.push([
      'the nftables service proxy needs nftables NAT and verdict maps in the kernel (nf_tables, nft_nat)',
      netnsExec(PROBE, [
        'nft',
        'add table ip nmprobe; add chain ip nmprobe c { type nat hook prerouting priority dstnat; };' +
          ' add map ip nmprobe m { type ipv4_addr . inet_proto . inet_service : verdict; }',
      ]),
    ]);
  }
  if (linkRate !== null) {
    steps.push([
      'the link rate needs the tbf qdisc in the kernel (sch_tbf)',
      ['tc', '-n', PROBE, 'qdisc', 'add', 'dev', 'lo', 'root', 'tbf', 'rate', linkRate, 'burst', '16384', 'latency', '50ms'],
    ]);
  }
  if (steps.length === 0) return undefined;
  await exec(['ip', 'netns', 'del', PROBE]).catch(() => undefined);
  try {
    const made = await exec(['ip', 'netns', 'add', PROBE], { timeoutMs: TIMEOUT_MS });
    if (made.exitCode !== 0) return `cannot create a network namespace to probe the kernel: ${firstLine(made.stderr)}`;
    for (const [what, argv] of steps) {
      const r = await exec(argv, { timeoutMs: TIMEOUT_MS });
      if (r.exitCode !== 0) return `${what}: ${argv.filter((a) => a !== PROBE).join(' ')} failed: ${firstLine(r.stderr)}`;
    }
    return undefined;
  } finally {
    await exec(['ip', 'netns', 'del', PROBE]).catch(() => undefined);
  }
}

/** The ebpf proxy's needs: tools, headers, cgroup2 where the plan says, bpffs, and a program that compiles. */
async function checkEbpf(plan: LabPlan, dir: string): Promise<ProfileSupport> {
  const why = 'the ebpf service proxy needs';
  if (!(await onPath('clang'))) return { ok: false, reason: `${why} clang on PATH (install clang)` };
  if (!(await onPath('bpftool', 'version'))) return { ok: false, reason: `${why} bpftool on PATH (install bpftool)` };
  if (!existsSync('/usr/include/bpf/bpf_helpers.h'))
    return { ok: false, reason: `${why} the libbpf headers, /usr/include/bpf/bpf_helpers.h (install libbpf-dev)` };
  const root = dirname(plan.cgroup ?? '/');
  const mounts = await cgroup2Mounts();
  if (!mounts.includes(root)) {
    const where =
      mounts.length > 0
        ? `cgroup2 is mounted at ${mounts.join(', ')}; plan the lab with that cgroupRoot`
        : 'no cgroup2 filesystem is mounted';
    return { ok: false, reason: `${why} cgroup2 at ${root}, but ${where}` };
  }
  if (!existsSync('/sys/fs/bpf')) return { ok: false, reason: `${why} /sys/fs/bpf to mount bpffs on (a kernel with CONFIG_BPF_SYSCALL)` };
  try {
    return { ok: true, bpfObject: await compileServiceProgram(dir) };
  } catch (e) {
    if (!(e instanceof ExecError)) throw e;
    return { ok: false, reason: `${why} lab/bpf/service.c to compile, but clang failed: ${firstLine(e.stderr)}` };
  }
}

/**
 * Check that `plan`'s profile can be built here (tools on PATH, kernel features, for ebpf a
 * compiled program, left in `dir` for up to load). Builds nothing of the lab: kernel features
 * are probed in a throwaway namespace.
 */
export async function checkProfileSupport(plan: LabPlan, dir: string): Promise<ProfileSupport> {
  const { podNetwork, serviceProxy, linkRate } = plan.profile;
  if (podNetwork === 'vxlan' && !(await onPath('bridge', '-V')))
    return { ok: false, reason: 'the vxlan pod network needs bridge on PATH (install iproute2)' };
  if (serviceProxy === 'nftables' && !(await onPath('nft', '--version')))
    return { ok: false, reason: 'the nftables service proxy needs nft on PATH (install nftables)' };
  if (linkRate !== null && !(await onPath('tc', '-V'))) return { ok: false, reason: 'the link rate needs tc on PATH (install iproute2)' };
  let support: ProfileSupport = { ok: true };
  if (serviceProxy === 'ebpf') support = await checkEbpf(plan, dir);
  if (!support.ok) return support;
  const kernel = await probeKernel(plan);
  return kernel ? { ok: false, reason: kernel } : support;
}
