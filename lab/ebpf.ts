/**
 * The lab's ebpf Service proxy on the system: compile lab/bpf/service.c with clang, load and pin
 * it with bpftool under /sys/fs/bpf/netmatrix, fill its maps, attach its programs to the lab's
 * cgroup v2 folder; read its counters; and take all of it down again.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rm, rmdir, writeFile } from 'node:fs/promises';
import { arch } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exec, execChecked } from '../sys/exec.js';
import { BPF_MAPS, BPF_PROGRAMS, bpfMapBatch, mountPoints, parseServiceHits, type ServiceHits } from './ebpf-maps.js';
import { LAB_BPF_PIN_DIR, LAB_CGROUP_NAME, type LabPlan } from './plan.js';

const TIMEOUT_MS = 30_000;
const BPFFS = '/sys/fs/bpf';
const MAP_DIR = join(LAB_BPF_PIN_DIR, 'maps');

/** Debian's multiarch include folder for this CPU, where clang finds <asm/types.h> for BPF. */
function multiarchInclude(): string {
  return `/usr/include/${arch() === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`;
}

/** lab/bpf/service.c: next to this module in the sources, two levels up from dist/lab when compiled. */
export function serviceProgramSource(): string {
  const candidates = ['./bpf/service.c', '../../lab/bpf/service.c'].map((p) => fileURLToPath(new URL(p, import.meta.url)));
  return candidates.find((p) => existsSync(p)) ?? (candidates[0] as string);
}

/** The argv that compiles service.c into `object`. */
export function compileArgv(object: string): string[] {
  return ['clang', '-O2', '-g', '-target', 'bpf', `-I${multiarchInclude()}`, '-c', serviceProgramSource(), '-o', object];
}

/** Compile service.c into `dir` (a fresh temp folder: the object is never committed) and return its path. */
export async function compileServiceProgram(dir: string): Promise<string> {
  const object = join(dir, 'service.o');
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
 * Load `object`, pin its programs and maps under /sys/fs/bpf/netmatrix, fill the maps for `plan`
 * and attach the programs to `plan.cgroup`, which this creates. bpffs is mounted at /sys/fs/bpf
 * first if it is not (it stays mounted: it is the system's, not the lab's).
 */
export async function ebpfUp(plan: LabPlan, object: string, dir: string): Promise<void> {
  const cgroup = plan.cgroup;
  if (!cgroup) throw new Error('ebpfUp: the plan has no cgroup (its Service proxy is not ebpf)');
  if (!mountPoints(await mountinfo(), 'bpf').includes(BPFFS)) {
    await execChecked(['mount', '-t', 'bpf', 'bpf', BPFFS], { timeoutMs: TIMEOUT_MS });
  }
  await mkdir(cgroup);
  await mkdir(LAB_BPF_PIN_DIR);
  await execChecked(['bpftool', 'prog', 'loadall', object, LAB_BPF_PIN_DIR, 'pinmaps', MAP_DIR], { timeoutMs: TIMEOUT_MS });
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
export async function ebpfDown(): Promise<void> {
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
export async function ebpfLeftovers(): Promise<string[]> {
  const pins = existsSync(BPFFS)
    ? (await readdir(BPFFS).catch(() => [])).filter((n) => n.startsWith('netmatrix')).map((n) => join(BPFFS, n))
    : [];
  return [...(await labCgroups()), ...pins];
}
