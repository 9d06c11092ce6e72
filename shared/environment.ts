/**
 * The environment a run measured: what a later reader needs to know what was compared.
 * Served by GET /api/environment and recorded in every results file.
 */
import { z } from 'zod';
import { CpuWindowSchema } from './cpu.js';
import { LabProfileSchema } from './lab-profile.js';

export const NodeEnvironmentSchema = z.strictObject({
  name: z.string(),
  kernel: z.string(),
  cpuModel: z.string(),
  cpuCores: z.number().int(),
  nic: z.string(),
  mtu: z.number().int(),
  /** Kubernetes topology labels, when known. */
  instanceType: z.string().nullable(),
  zone: z.string().nullable(),
  agentVersions: z.array(z.string()),
  iperf3Versions: z.array(z.string()),
  /** The node's CPU, measured idle just before the run (null when it could not be measured). */
  idleCpu: CpuWindowSchema.nullable(),
});
export type NodeEnvironment = z.infer<typeof NodeEnvironmentSchema>;

/** The dataplane under test, as detected (never declared by hand). */
export const DataplaneSchema = z.strictObject({
  /** "lab", "calico", "cilium", "kube-proxy", or "unknown". */
  kind: z.string(),
  /** Detected settings, e.g. { serviceProxy: "ebpf" } or { bpfEnabled: "true" }. */
  settings: z.record(z.string(), z.string()),
  /** Where it was read from, or why it could not be. */
  source: z.string(),
});
export type Dataplane = z.infer<typeof DataplaneSchema>;

export const EnvironmentSchema = z.strictObject({
  nodes: z.array(NodeEnvironmentSchema),
  dataplane: DataplaneSchema,
  lab: LabProfileSchema.nullable(),
});
export type Environment = z.infer<typeof EnvironmentSchema>;
