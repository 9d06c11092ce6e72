/**
 * The ebpf Service proxy on the system: check that this machine can build it, compile
 * bpf/service.c with clang, load and pin it with bpftool under /sys/fs/bpf/netmatrix, fill its
 * maps, attach its programs to the lab's cgroup v2 folder; read its counters; and take all of it
 * down again. Translation happens at connect(), for the processes of one cgroup, with no rule in
 * any node namespace (the connect-time load balancing of Calico's and Cilium's eBPF dataplanes).
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rm, rmdir, writeFile } from 'node:fs/promises';
import { arch } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exec, execChecked, ExecError } from '../../sys/exec.js';
import type { LabPlan } from '../addresses.js';
import { LAB_COMMAND_TIMEOUT_MS as TIMEOUT_MS } from '../batch.js';
import { firstLine } from '../profile-part.js';
import { BPF_MAPS, BPF_PROGRAMS, bpfMapBatch, mountPoints, parseServiceHits, type ServiceHits } from './ebpf-maps.js';
import { sumTranslations, type ServiceProxy } from './service-proxy.js';

/** The lab's cgroup folder name under the cgroup2 mount. */
export const LAB_CGROUP_NAME = 'netmatrix-lab';
/** bpffs folder holding the pinned programs and maps. */
export const LAB_BPF_PIN_DIR = '/sys/fs/bpf/netmatrix';
const BPFFS = '/sys/fs/bpf';
const MAP_DIR = join(LAB_BPF_PIN_DIR, 'maps');

/** Debian's multiarch include folder for this CPU, where clang finds <asm/types.h> for BPF. */
function multiarchInclude(): string {
  return `/usr/include/${arch() === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`;
}

/** lab/service-proxies/bpf/service.c: next to this module in the sources, three levels up from dist/lab/service-proxies when compiled. */
export function serviceProgramSource(): string {
  const candidates = ['./bpf/service.c', '../../../lab/service-proxies/bpf/service.c'].map((p) =>
    fileURLToPath(new URL(p, import.meta.url)),
  );
  return candidates.find((p) => existsSync(p)) ?? (candidates[0] as string);
}

/** The argv that compiles service.c into `object`. */
export function compileArgv(object: string): string[] {
  return ['clang', '-O2', '-g', '-target', 'bpf', `-I${multiarchInclude()}`, '-c', serviceProgramSource(), '-o', object];
}

/** Where the compiled program is in `dir`, the temp folder of one `lab up` (the object is never committed). */
function serviceObject(dir: string): string {
  return join(dir, 'service.o');
}

/** Compile service.c into `dir` and return its path. */
export async function compileServiceProgram(dir: string): Promise<string> {
  const object = serviceObject(dir);
  await execChecked(compileArgv(object), { timeoutMs: TIMEOUT_MS });
  return object;
}

async function mountinfo(): Promise<string> {
  return readFile('/proc/self/mountinfo', 'utf8');
}

/** Where cgroup2 is mounted, in mount order (empty when it is not). */
export async function cgroup2Mounts(): Promise<string[]> {
  return mountPoints(await mountinfo(), 'cgroup2');
}

/**
 * Load the program compiled into `dir`, pin its programs and maps under /sys/fs/bpf/netmatrix,
 * fill the maps for `plan` and attach the programs to `plan.cgroup`, which this creates. bpffs is
 * mounted at /sys/fs/bpf first if it is not (it stays mounted: it is the system's, not the lab's).
 */
async function ebpfUp(plan: LabPlan, dir: string): Promise<void> {
  const cgroup = plan.cgroup;
  if (!cgroup) throw new Error('ebpfUp: the plan has no cgroup (its Service proxy is not ebpf)');
  if (!mountPoints(await mountinfo(), 'bpf').includes(BPFFS)) {
    await execChecked(['mount', '-t', 'bpf', 'bpf', BPFFS], { timeoutMs: TIMEOUT_MS });
  }
  await mkdir(cgroup);
  await mkdir(LAB_BPF_PIN_DIR);
  await execChecked(['bpftool', 'prog', 'loadall', serviceObject(dir), LAB_BPF_PIN_DIR, 'pinmaps', MAP_DIR], { timeoutMs: TIMEOUT_MS });
  const batch = join(dir, 'maps.bpftool');
  await writeFile(batch, bpfMapBatch(plan, MAP_DIR).join('\n') + '\n');
  await execChecked(['bpftool', 'batch', 'file', batch], { timeoutMs: TIMEOUT_MS });
  for (const p of BPF_PROGRAMS) {
    await execChecked(['bpftool', 'cgroup', 'attach', cgroup, p.attachType, 'pinned', join(LAB_BPF_PIN_DIR, p.name)], {
      timeoutMs: TIMEOUT_MS,
    });
  }
}

/** The ebpf proxy's counters, or undefined when it is not loaded. */
export async function readServiceHits(): Promise<ServiceHits[] | undefined> {
  const map = join(MAP_DIR, BPF_MAPS.hits);
  if (!existsSync(map)) return undefined;
  return parseServiceHits(await execChecked(['bpftool', '-j', 'map', 'dump', 'pinned', map], { timeoutMs: TIMEOUT_MS }));
}

/** The lab cgroup folder under every cgroup2 mount that has one. */
async function labCgroups(): Promise<string[]> {
  return (await cgroup2Mounts()).map((m) => join(m, LAB_CGROUP_NAME)).filter((p) => existsSync(p));
}

async function pidsOf(cgroup: string): Promise<string[]> {
  const text = await readFile(join(cgroup, 'cgroup.procs'), 'utf8').catch(() => '');
  return text.split('\n').filter((l) => /^\d+$/.test(l));
}

/**
 * Remove the lab's cgroup folders and pinned programs and maps. Processes still in a folder
 * (the lab's own were killed before) are moved to the cgroup2 root, not killed: they are not
 * the lab's. Detaching first is for clarity; removing the folder would release the programs too.
 */
async function ebpfDown(): Promise<void> {
  for (const cgroup of await labCgroups()) {
    for (const pid of await pidsOf(cgroup)) {
      await writeFile(join(dirname(cgroup), 'cgroup.procs'), pid).catch(() => undefined);
    }
    const shown = await exec(['bpftool', '-j', 'cgroup', 'show', cgroup], { timeoutMs: TIMEOUT_MS }).catch(() => undefined);
    const attached =
      shown?.exitCode === 0 && shown.stdout.trim() ? (JSON.parse(shown.stdout) as Array<{ id: number; attach_type: string }>) : [];
    for (const a of attached) {
      await exec(['bpftool', 'cgroup', 'detach', cgroup, a.attach_type, 'id', String(a.id)], { timeoutMs: TIMEOUT_MS }).catch(
        () => undefined,
      );
    }
    // A killed process leaves the cgroup when the kernel has reaped it, a moment after SIGKILL.
    for (let i = 0; i < 200 && existsSync(cgroup); i++) {
      try {
        await rmdir(cgroup);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EBUSY') throw e;
        for (const pid of await pidsOf(cgroup)) await writeFile(join(dirname(cgroup), 'cgroup.procs'), pid).catch(() => undefined);
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  }
  await rm(LAB_BPF_PIN_DIR, { recursive: true, force: true });
}

/** What the ebpf proxy left on the system: lab cgroup folders and pins (empty after ebpfDown). */
async function ebpfLeftovers(): Promise<string[]> {
  const pins = existsSync(BPFFS)
    ? (await readdir(BPFFS).catch(() => [])).filter((n) => n.startsWith('netmatrix')).map((n) => join(BPFFS, n))
    : [];
  return [...(await labCgroups()), ...pins];
}

/** The checks beyond clang and bpftool: headers, cgroup2 where the plan says, bpffs, and a program that compiles into `dir`. */
async function checkEbpf(plan: LabPlan, dir: string): Promise<string | undefined> {
  const why = 'the ebpf service proxy needs';
  if (!existsSync('/usr/include/bpf/bpf_helpers.h'))
    return `${why} the libbpf headers, /usr/include/bpf/bpf_helpers.h (install libbpf-dev)`;
  const root = dirname(plan.cgroup ?? '/');
  const mounts = await cgroup2Mounts();
  if (!mounts.includes(root)) {
    const where =
      mounts.length > 0
        ? `cgroup2 is mounted at ${mounts.join(', ')}; plan the lab with that cgroupRoot`
        : 'no cgroup2 filesystem is mounted';
    return `${why} cgroup2 at ${root}, but ${where}`;
  }
  if (!existsSync(BPFFS)) return `${why} /sys/fs/bpf to mount bpffs on (a kernel with CONFIG_BPF_SYSCALL)`;
  try {
    await compileServiceProgram(dir);
    return undefined;
  } catch (e) {
    if (!(e instanceof ExecError)) throw e;
    return `${why} lab/service-proxies/bpf/service.c to compile, but clang failed: ${firstLine(e.stderr)}`;
  }
}

export const ebpf: ServiceProxy = {
  name: 'ebpf',
  description: "a cgroup/connect4 eBPF program rewriting the destination at connect() (Calico's and Cilium's eBPF dataplanes)",
  noun: 'the ebpf service proxy',
  tools: [
    { bin: 'clang', versionFlag: '--version', install: 'clang' },
    { bin: 'bpftool', versionFlag: 'version', install: 'bpftool' },
  ],
  check: checkEbpf,
  probes: () => [],
  cgroup: (cgroupRoot) => `${cgroupRoot.replace(/\/+$/, '')}/${LAB_CGROUP_NAME}`,
  // Nothing per node: one program on the lab's cgroup serves every namespace.
  nodeUp: async () => undefined,
  up: ebpfUp,
  down: ebpfDown,
  leftovers: ebpfLeftovers,
  nodeCounters: async () => [],
  async evidence() {
    const hits = await readServiceHits();
    if (!hits) throw new Error(`the ebpf service proxy is not loaded (no pinned ${BPF_MAPS.hits} map)`);
    return {
      source: `eBPF counter map ${BPF_MAPS.hits} (connect4 + sendmsg4 rewrites)`,
      services: sumTranslations(
        hits.map((h) => ({ serviceIp: h.serviceIp, protocol: h.protocol, port: h.port, translations: h.connect + h.sendmsg })),
      ),
    };
  },
};
