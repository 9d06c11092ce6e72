/**
 * The pod network registry: every pod network plug-in under its name in LabProfileSchema's
 * `podNetwork` enum (the Record type makes a missing or extra name a compile error, and
 * test/unit/lab-registry.test.ts checks the same at run time).
 */
import type { LabProfile } from '../../shared/lab-profile.js';
import { direct } from './direct.js';
import type { PodNetwork } from './pod-network.js';
import { vxlan } from './vxlan.js';

export type { PodNetwork } from './pod-network.js';

export const POD_NETWORKS: Readonly<Record<LabProfile['podNetwork'], PodNetwork>> = Object.freeze({ direct, vxlan });

/** The plug-in of pod network `name`. */
export function podNetworkOf(name: LabProfile['podNetwork']): PodNetwork {
  return POD_NETWORKS[name];
}
