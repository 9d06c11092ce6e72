/**
 * Can this machine build a lab profile? Checked before `lab up` builds anything, so a profile the
 * kernel or the installed tools cannot do fails with one line naming the missing piece rather
 * than halfway through with a raw command error. What each part needs is declared by its
 * plug-in (pod network, Service proxy) or by shaping.ts (the link rate); this runs the checks.
 */
import { exec } from '../sys/exec.js';
import type { LabPlan } from './addresses.js';
import { LAB_COMMAND_TIMEOUT_MS as TIMEOUT_MS } from './batch.js';
import { podNetworkOf } from './pod-networks/index.js';
import { firstLine, type ProfileNeeds } from './profile-part.js';
import { serviceProxyOf } from './service-proxies/index.js';
import { linkRateNeeds } from './shaping.js';

/** The throwaway namespace of the kernel probes (a lab name, so labDown removes a leftover). */
const PROBE = 'nm-probe';

export type ProfileSupport = { ok: true } | { ok: false; reason: string };

/** The parts of `plan`'s profile, in the order their needs are checked. */
function profileParts(plan: LabPlan): ProfileNeeds[] {
  const { podNetwork, serviceProxy, linkRate } = plan.profile;
  return [podNetworkOf(podNetwork), serviceProxyOf(serviceProxy), ...(linkRate === null ? [] : [linkRateNeeds(linkRate)])];
}

async function onPath(bin: string, versionFlag: string): Promise<boolean> {
  return exec([bin, versionFlag], { timeoutMs: TIMEOUT_MS }).then(
    () => true,
    () => false,
  );
}

/** Run the kernel probes of `parts` in a throwaway namespace; the first failure's reason, if any. */
async function probeKernel(parts: readonly ProfileNeeds[]): Promise<string | undefined> {
  const steps = parts.flatMap((p) => p.probes(PROBE).map((probe) => ({ what: `${p.noun} needs ${probe.needs}`, argv: probe.argv })));
  if (steps.length === 0) return undefined;
  await exec(['ip', 'netns', 'del', PROBE]).catch(() => undefined);
  try {
    const made = await exec(['ip', 'netns', 'add', PROBE], { timeoutMs: TIMEOUT_MS });
    if (made.exitCode !== 0) return `cannot create a network namespace to probe the kernel: ${firstLine(made.stderr)}`;
    for (const { what, argv } of steps) {
      const r = await exec(argv, { timeoutMs: TIMEOUT_MS });
      if (r.exitCode !== 0) return `${what}: ${argv.filter((a) => a !== PROBE).join(' ')} failed: ${firstLine(r.stderr)}`;
    }
    return undefined;
  } finally {
    await exec(['ip', 'netns', 'del', PROBE]).catch(() => undefined);
  }
}

/**
 * Check that `plan`'s profile can be built here: every part's tools on PATH, then each part's own
 * checks (for ebpf a compiled program, left in `dir` for up to load), then the kernel features,
 * probed in a throwaway namespace. Builds nothing of the lab.
 */
export async function checkProfileSupport(plan: LabPlan, dir: string): Promise<ProfileSupport> {
  const parts = profileParts(plan);
  for (const part of parts) {
    for (const t of part.tools) {
      if (!(await onPath(t.bin, t.versionFlag))) return { ok: false, reason: `${part.noun} needs ${t.bin} on PATH (install ${t.install})` };
    }
  }
  for (const part of parts) {
    const reason = await part.check?.(plan, dir);
    if (reason !== undefined) return { ok: false, reason };
  }
  const kernel = await probeKernel(parts);
  return kernel ? { ok: false, reason: kernel } : { ok: true };
}
