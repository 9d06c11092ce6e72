/**
 * The lab's command-line flags, one settings table shared by `lab up`, `demo` and `run --lab`
 * (each composes it with its own table). Pure: the caller hands in its arguments and gets a node
 * count and a validated profile, or one error that lists every problem.
 *
 * The values each profile flag takes come from LabProfileSchema, so a profile added there is
 * accepted and listed in --help without an edit here.
 */
import { POD_NETWORKS as POD_NETWORK_PLUGINS } from './pod-networks/index.js';
import { SERVICE_PROXIES as SERVICE_PROXY_PLUGINS } from './service-proxies/index.js';
import { z } from 'zod';
import { LabProfileSchema, type LabProfile } from '../shared/lab-profile.js';
import { loadSettings, SettingsError, type FlagRules } from '../shared/settings.js';
import { MAX_LAB_NODES } from './plan.js';

/** Nodes a lab gets when --nodes is not given. */
export const DEFAULT_LAB_NODES = 3;

const POD_NETWORKS = LabProfileSchema.shape.podNetwork.unwrap().options;
const SERVICE_PROXIES = LabProfileSchema.shape.serviceProxy.unwrap().options;
const DEFAULT_PROFILE = LabProfileSchema.parse({});

/** Bad lab flags; `problems` has one sentence per problem, the message all of them. */
export class LabFlagsError extends Error {
  override readonly name = 'LabFlagsError';
  constructor(readonly problems: readonly string[]) {
    super(`invalid lab flags: ${problems.join('; ')}`);
  }
}

/** The profile settings whose values are named choices. */
type ProfileAxis = 'podNetwork' | 'serviceProxy';

/** The one-line description of a profile value, from its plug-in registry (lab/pod-networks, lab/service-proxies). */
function profileDescription(axis: ProfileAxis, value: string): string | undefined {
  const registry: Record<string, { description: string }> = axis === 'podNetwork' ? POD_NETWORK_PLUGINS : SERVICE_PROXY_PLUGINS;
  return registry[value]?.description;
}

/** "direct (default), vxlan", each value with its description where there is one. */
function choicesHelp(axis: ProfileAxis, values: readonly string[]): string {
  return values
    .map((v) => {
      const notes = [profileDescription(axis, v), v === DEFAULT_PROFILE[axis] ? 'default' : undefined].filter(Boolean);
      return notes.length > 0 ? `${v} (${notes.join('; ')})` : v;
    })
    .join(', ');
}

/** One of `values`, or undefined (the profile's default) when the flag is not given. */
function oneOf<T extends string>(values: readonly T[]) {
  return z
    .string()
    .optional()
    .refine((v) => v === undefined || (values as readonly string[]).includes(v), `must be one of ${values.join(', ')}`)
    .transform((v) => v as T | undefined);
}

const nodesSchema = z
  .string()
  .optional()
  .transform((v, ctx) => {
    if (v === undefined) return DEFAULT_LAB_NODES;
    const n = Number(v);
    if (/^\d+$/.test(v) && n >= 1 && n <= MAX_LAB_NODES) return n;
    ctx.addIssue({ code: 'custom', message: `must be an integer from 1 to ${MAX_LAB_NODES}` });
    return z.NEVER;
  });

/** The lab's flags. They have no environment variables: a lab is built by the command that names it. */
export const LAB_SETTINGS = {
  nodes: { flag: 'nodes', schema: nodesSchema, help: `nodes of the lab, 1 to ${MAX_LAB_NODES} (default ${DEFAULT_LAB_NODES})` },
  podNetwork: {
    flag: 'pod-network',
    schema: oneOf(POD_NETWORKS),
    help: `how pods reach each other: ${choicesHelp('podNetwork', POD_NETWORKS)}`,
  },
  serviceProxy: {
    flag: 'service-proxy',
    schema: oneOf(SERVICE_PROXIES),
    help: `how Services are translated: ${choicesHelp('serviceProxy', SERVICE_PROXIES)}`,
  },
  linkRate: {
    flag: 'link-rate',
    schema: z
      .string()
      .optional()
      .refine(
        (v) => v === undefined || LabProfileSchema.shape.linkRate.safeParse(v).success,
        'must be a tc rate such as 500mbit or 1gbit (units bit, kbit, mbit, gbit)',
      ),
    help: 'cap on each node link, a tc rate such as 500mbit or 1gbit (default: none)',
  },
};

/** The lab's flags keep the wording they had before the table: each flag once, "must be ..., got "v"". */
const LAB_FLAG_RULES: FlagRules = { name: 'lab', strict: true, badValue: (flag, raw, reason) => `${flag} ${reason}, got "${raw}"` };

/**
 * Parse `--nodes N --pod-network NAME --service-proxy NAME --link-rate RATE` (all optional,
 * each as the next argument or after `=`). Throws a LabFlagsError naming every unknown flag,
 * missing value, repeated flag and bad value at once.
 */
export function parseLabFlags(args: readonly string[]): { nodes: number; profile: LabProfile } {
  try {
    const v = loadSettings(LAB_SETTINGS, {}, args, LAB_FLAG_RULES);
    const profile = LabProfileSchema.parse({ podNetwork: v.podNetwork, serviceProxy: v.serviceProxy, linkRate: v.linkRate ?? null });
    return { nodes: v.nodes, profile };
  } catch (e) {
    if (e instanceof SettingsError) throw new LabFlagsError(e.problems);
    throw e;
  }
}
