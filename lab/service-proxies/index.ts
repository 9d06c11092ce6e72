/**
 * The Service proxy registry: every Service proxy plug-in under its name in LabProfileSchema's
 * `serviceProxy` enum (the Record type makes a missing or extra name a compile error, and
 * test/unit/lab-registry.test.ts checks the same at run time).
 */
import type { LabProfile } from '../../shared/lab-profile.js';
import { ebpf } from './ebpf.js';
import { iptables } from './iptables.js';
import { nftables } from './nftables.js';
import type { ServiceProxy } from './service-proxy.js';

export type { ServiceCounter, ServiceProxy, ServiceTranslations } from './service-proxy.js';

export const SERVICE_PROXIES: Readonly<Record<LabProfile['serviceProxy'], ServiceProxy>> = Object.freeze({ iptables, nftables, ebpf });

/** The plug-in of Service proxy `name`. */
export function serviceProxyOf(name: LabProfile['serviceProxy']): ServiceProxy {
  return SERVICE_PROXIES[name];
}
