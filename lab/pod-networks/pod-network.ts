/**
 * What a lab pod network is: how a node namespace reaches the other nodes' pod /24s. One file
 * per pod network in this folder implements it, and index.ts registers it under its name in
 * LabProfileSchema's `podNetwork` enum; lab up, the profile check, the counters and the CLI's
 * help read that registry, never the name.
 */
import type { LabProfile } from '../../shared/lab-profile.js';
import type { LabNode, LabPlan } from '../addresses.js';
import type { ProfileNeeds } from '../profile-part.js';

export interface PodNetwork extends ProfileNeeds {
  name: LabProfile['podNetwork'];
  /** One line for the CLI's help. */
  description: string;
  /**
   * Its part of the plan: the MTU of both ends of each pod's veth, or undefined for a veth's
   * default. Recorded in the lab state file, where the aggregator's dataplane detector reads it.
   */
  podMtu: number | undefined;
  /** `ip -batch` lines, run in node `node`'s namespace after its eth0 is up, that reach the other pod /24s. */
  nodeLines(plan: LabPlan, node: LabNode): string[];
  /** What node `node` needs after its `ip -batch` (vxlan: the forwarding table); `dir` is a temp folder for batch files. */
  up(plan: LabPlan, node: LabNode, dir: string): Promise<void>;
  /**
   * Remove what it made outside the lab's namespaces, whatever lab is there (labDown calls every
   * pod network's). Nothing for a pod network that lives in the node namespaces.
   */
  down(): Promise<void>;
  /** What `down` should have removed and is still there (labDown fails naming it). */
  leftovers(): Promise<string[]>;
  /**
   * Evidence that pod traffic took this path: the node namespace device that carries pod
   * traffic between nodes, whose byte counters grow by at least what the pods sent.
   */
  evidence: { device: string; source: string };
}
