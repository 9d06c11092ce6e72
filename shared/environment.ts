/**
 * The environment a run measured: what a later reader needs to know what was compared.
 * Served by GET /api/environment and recorded in every results file. Fields added after the
 * first results files load from those files as null (`.nullable().default(null)`): old files
 * stay valid, and null reads as "not recorded", never as a value.
 */
import { z } from 'zod';
import { CpuWindowSchema } from './cpu.js';
import { LabProfileSchema } from './lab-profile.js';

export const NodeEnvironmentSchema = z.strictObject({
  name: z.string(),
  /** The running kernel (uname release): one per node, whichever agent reads it. */
  kernel: z.string(),
  cpuModel: z.string(),
  cpuCores: z.number().int(),
  /**
   * The node NIC: the interface of the host agent's default route, and its MTU. Null when the
   * node has no host agent: a pod's interface is not the node's NIC. (Files written before
   * `podMtu` always have values here, taken from the pod agent when the node had no host agent.)
   */
  nic: z.string().nullable(),
  mtu: z.number().int().nullable(),
  /**
   * The MTU of the pod agent's own interface (its default route's, inside the pod): the pod
   * network's MTU, e.g. 1450 on a VXLAN overlay over a 1500 NIC. Null without a pod agent.
   */
  podMtu: z.number().int().nullable().default(null),
  /**
   * net.ipv4.tcp_congestion_control as the host agent reads it: the node's own (root network
   * namespace). Null without a host agent, or from agents too old to report it.
   */
  congestionControl: z.string().nullable().default(null),
  /**
   * The same sysctl as the pod agent reads it. It is per network namespace (since Linux 4.15):
   * a pod starts with the node's choice but may differ, and it is the pod's that TCP uses on
   * the pod and service paths. Null without a pod agent, or from agents too old to report it.
   */
  podCongestionControl: z.string().nullable().default(null),
  /**
   * Whether the pod agent reads the node's own /proc/stat (sameProcStat on the two agents'
   * hello readings): false inside LXCFS, gVisor or Kata, where pod-path CPU figures are not the
   * node's; null when it cannot tell (an agent missing or too old, readings too far apart).
   */
  podProcStatIsNodes: z.boolean().nullable().default(null),
  /** Kubernetes topology labels, when known. */
  instanceType: z.string().nullable(),
  zone: z.string().nullable(),
  agentVersions: z.array(z.string()),
  iperf3Versions: z.array(z.string()),
  /** The node's CPU, measured idle just before the run (null when it could not be measured). */
  idleCpu: CpuWindowSchema.nullable(),
});
export type NodeEnvironment = z.infer<typeof NodeEnvironmentSchema>;

/** How a dataplane setting's value is known: read from an object, or assumed. */
export const SettingProvenanceSchema = z.discriminatedUnion('mark', [
  z.strictObject({
    mark: z.literal('read'),
    /** What it was read from, e.g. "ConfigMap kube-system/kube-proxy" or "Installation default". */
    from: z.string(),
  }),
  z.strictObject({
    mark: z.literal('assumed'),
    /** The documented default taken because the source leaves it unset, e.g. "kube-proxy's default when mode is empty". */
    because: z.string(),
  }),
]);
export type SettingProvenance = z.infer<typeof SettingProvenanceSchema>;

/**
 * The dataplane under test, as detected (never declared by hand).
 *
 * Each setting's provenance is a record parallel to `settings` rather than a new shape of
 * `settings`: files written before provenance existed hold `settings` alone and load unchanged,
 * with `provenance` null (their values carry no mark), and readers of `settings` keep reading
 * strings. When present, `provenance` has exactly the keys of `settings`.
 */
export const DataplaneSchema = z
  .strictObject({
    /** "lab", "calico", "cilium", "kube-proxy", or "unknown". */
    kind: z.string(),
    /** Detected settings, e.g. { serviceProxy: "ebpf" } or { bpfEnabled: "true" }. */
    settings: z.record(z.string(), z.string()),
    /** Per setting: read (and from what) or assumed (and why). Null in files from before it. */
    provenance: z.record(z.string(), SettingProvenanceSchema).nullable().default(null),
    /** Where it was read from, or why it could not be. */
    source: z.string(),
  })
  .superRefine((d, ctx) => {
    if (d.provenance === null) return;
    const settings = Object.keys(d.settings).sort();
    const marked = Object.keys(d.provenance).sort();
    if (settings.join('\u0000') !== marked.join('\u0000')) {
      ctx.addIssue({
        code: 'custom',
        path: ['provenance'],
        message: `must mark exactly the settings (${settings.join(', ') || 'none'}), not ${marked.join(', ') || 'none'}`,
      });
    }
  });
export type Dataplane = z.infer<typeof DataplaneSchema>;

export const EnvironmentSchema = z.strictObject({
  nodes: z.array(NodeEnvironmentSchema),
  dataplane: DataplaneSchema,
  lab: LabProfileSchema.nullable(),
});
export type Environment = z.infer<typeof EnvironmentSchema>;

/** A dataplane's settings and their provenance, built together so that neither misses a key. */
export class MarkedSettings {
  readonly settings: Record<string, string> = {};
  readonly provenance: Record<string, SettingProvenance> = {};

  /** `key` is `value`, read from `from`. */
  read(key: string, value: string, from: string): void {
    this.settings[key] = value;
    this.provenance[key] = { mark: 'read', from };
  }

  /** `key` is taken to be `value`, a documented default, because its source leaves it unset. */
  assumed(key: string, value: string, because: string): void {
    this.settings[key] = value;
    this.provenance[key] = { mark: 'assumed', because };
  }
}
