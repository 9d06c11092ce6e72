/**
 * The lab's command-line flags, shared by `lab up`, `demo` and `run --lab`. Pure: the caller
 * hands in its arguments and gets a node count and a validated profile, or one error that lists
 * every problem.
 *
 *   --nodes N  --pod-network direct|vxlan  --service-proxy iptables|nftables|ebpf  --link-rate RATE
 *
 * Each flag takes its value as the next argument or after `=` (`--nodes=3`).
 */
import { LabProfileSchema, type LabProfile } from '../shared/lab-profile.js';
import { MAX_LAB_NODES } from './plan.js';

/** Nodes a lab gets when --nodes is not given. */
export const DEFAULT_LAB_NODES = 3;

const POD_NETWORKS = LabProfileSchema.shape.podNetwork.unwrap().options;
const SERVICE_PROXIES = LabProfileSchema.shape.serviceProxy.unwrap().options;

/** Bad lab flags; `problems` has one sentence per problem, the message all of them. */
export class LabFlagsError extends Error {
  override readonly name = 'LabFlagsError';
  constructor(readonly problems: readonly string[]) {
    super(`invalid lab flags: ${problems.join('; ')}`);
  }
}

type Flag = '--nodes' | '--pod-network' | '--service-proxy' | '--link-rate';
const FLAGS: readonly Flag[] = ['--nodes', '--pod-network', '--service-proxy', '--link-rate'];

function isFlag(name: string): name is Flag {
  return (FLAGS as readonly string[]).includes(name);
}

/**
 * Parse `--nodes N --pod-network direct|vxlan --service-proxy iptables|nftables|ebpf
 * --link-rate RATE` (all optional). Throws a LabFlagsError naming every unknown flag, missing
 * value, repeated flag and bad value at once.
 */
export function parseLabFlags(args: readonly string[]): { nodes: number; profile: LabProfile } {
  const problems: string[] = [];
  const values = new Map<Flag, string>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    const eq = arg.indexOf('=');
    const name = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    if (!isFlag(name)) {
      problems.push(arg.startsWith('-') ? `unknown flag ${name} (lab flags: ${FLAGS.join(', ')})` : `unexpected argument "${arg}"`);
      continue;
    }
    let value: string | undefined;
    if (name !== arg) {
      value = arg.slice(eq + 1);
    } else {
      const next = args[i + 1];
      if (next !== undefined && !next.startsWith('--')) {
        value = next;
        i++;
      }
    }
    if (value === undefined || value === '') {
      problems.push(`${name} needs a value`);
      continue;
    }
    if (values.has(name)) problems.push(`${name} is given more than once`);
    values.set(name, value);
  }

  let nodes = DEFAULT_LAB_NODES;
  const nodesText = values.get('--nodes');
  if (nodesText !== undefined) {
    nodes = Number(nodesText);
    if (!/^\d+$/.test(nodesText) || nodes < 1 || nodes > MAX_LAB_NODES) {
      problems.push(`--nodes must be an integer from 1 to ${MAX_LAB_NODES}, got "${nodesText}"`);
    }
  }
  const podNetwork = values.get('--pod-network');
  if (podNetwork !== undefined && !(POD_NETWORKS as readonly string[]).includes(podNetwork)) {
    problems.push(`--pod-network must be one of ${POD_NETWORKS.join(', ')}, got "${podNetwork}"`);
  }
  const serviceProxy = values.get('--service-proxy');
  if (serviceProxy !== undefined && !(SERVICE_PROXIES as readonly string[]).includes(serviceProxy)) {
    problems.push(`--service-proxy must be one of ${SERVICE_PROXIES.join(', ')}, got "${serviceProxy}"`);
  }
  const linkRate = values.get('--link-rate');
  if (linkRate !== undefined && !LabProfileSchema.shape.linkRate.safeParse(linkRate).success) {
    problems.push(`--link-rate must be a tc rate such as 500mbit or 1gbit (units bit, kbit, mbit, gbit), got "${linkRate}"`);
  }
  if (problems.length > 0) throw new LabFlagsError(problems);
  return { nodes, profile: LabProfileSchema.parse({ podNetwork, serviceProxy, linkRate: linkRate ?? null }) };
}
