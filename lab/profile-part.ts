/**
 * What every part of a lab profile (a pod network, a Service proxy, the link rate) has in common:
 * what it needs from the machine, declared as data so one checker (profile-check.ts) tests every
 * part the same way and words every refusal the same way before `lab up` builds anything; and
 * the teardown of a part that lives entirely in the lab's namespaces.
 */
import type { LabPlan } from './addresses.js';

/** A program the part runs, and how to ask it for its version (only to see that it is on PATH). */
export interface Tool {
  bin: string;
  versionFlag: string;
  /** The package to install, named in the refusal. */
  install: string;
}

/** A kernel feature, probed by a command that fails without it. */
export interface KernelProbe {
  /** What is missing when the command fails, e.g. "VXLAN in the kernel (the vxlan module)". */
  needs: string;
  argv: string[];
}

export interface ProfileNeeds {
  /** How a refusal names the part: "the vxlan pod network". */
  noun: string;
  /** Programs that must be on PATH; checked first, in order. */
  tools: readonly Tool[];
  /**
   * Checks beyond tools and kernel probes (ebpf: headers, cgroup2, bpffs, a program that
   * compiles), run after every part's tools. May leave in `dir` what `up` needs: `lab up` gives
   * both the same folder. Resolves to the reason it cannot, or undefined.
   */
  check?(plan: LabPlan, dir: string): Promise<string | undefined>;
  /** Commands that need a kernel feature, run in the throwaway namespace `netns` (made and removed around them). */
  probes(netns: string): KernelProbe[];
}

/** down and leftovers of a part that makes nothing outside the lab's namespaces (removing them removes it). */
export const INSIDE_LAB_NAMESPACES = {
  down: async (): Promise<void> => undefined,
  leftovers: async (): Promise<string[]> => [],
} as const;

/** The first non-blank line of a command's output, trimmed: what a one-line refusal quotes. */
export function firstLine(text: string): string {
  return (
    text
      .trim()
      .split('\n')
      .find((l) => l.trim().length > 0)
      ?.trim() ?? ''
  );
}
