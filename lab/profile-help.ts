/**
 * The lab profile's flags as the CLI documents them, generated from the plug-in registries: each
 * profile flag with its values, in LabProfileSchema's order, each with its plug-in's one-line
 * description. A new plug-in shows up in the help by being registered.
 */
import { LabProfileSchema } from '../shared/lab-profile.js';
import { DEFAULT_LAB_PROFILE } from './plan.js';
import { POD_NETWORKS } from './pod-networks/index.js';
import { SERVICE_PROXIES } from './service-proxies/index.js';

/** One profile flag: its name, what it chooses, its values and its default. */
export interface LabProfileFlagHelp {
  flag: '--pod-network' | '--service-proxy';
  /** The LabProfile field it sets. */
  field: 'podNetwork' | 'serviceProxy';
  /** What the flag chooses, one line. */
  summary: string;
  values: Array<{ name: string; description: string }>;
  default: string;
}

/** The profile flags backed by a plug-in registry, in the order the CLI lists them. */
export function labProfileFlags(): LabProfileFlagHelp[] {
  return [
    {
      flag: '--pod-network',
      field: 'podNetwork',
      summary: 'how pods on different nodes reach each other',
      values: LabProfileSchema.shape.podNetwork.unwrap().options.map((name) => ({ name, description: POD_NETWORKS[name].description })),
      default: DEFAULT_LAB_PROFILE.podNetwork,
    },
    {
      flag: '--service-proxy',
      field: 'serviceProxy',
      summary: 'how a ClusterIP is translated to the pod behind it',
      values: LabProfileSchema.shape.serviceProxy
        .unwrap()
        .options.map((name) => ({ name, description: SERVICE_PROXIES[name].description })),
      default: DEFAULT_LAB_PROFILE.serviceProxy,
    },
  ];
}

/** The profile flags for a usage line: `--pod-network direct|vxlan --service-proxy iptables|nftables|ebpf`. */
export function labProfileUsage(): string {
  return labProfileFlags()
    .map((f) => `${f.flag} ${f.values.map((v) => v.name).join('|')}`)
    .join(' ');
}

/**
 * The profile flags as help text, two-space indented:
 *
 *   --pod-network NAME     how pods on different nodes reach each other (default direct)
 *       direct     routed pod /24s: ...
 */
export function labProfileHelp(): string {
  const width = Math.max(...labProfileFlags().flatMap((f) => f.values.map((v) => v.name.length)));
  return labProfileFlags()
    .flatMap((f) => [
      `  ${f.flag} NAME  ${f.summary} (default ${f.default})`,
      ...f.values.map((v) => `      ${v.name.padEnd(width)}  ${v.description}`),
    ])
    .join('\n');
}
