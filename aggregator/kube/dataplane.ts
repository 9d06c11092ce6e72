/**
 * The cluster's dataplane, read from the objects that configure it (never declared by hand):
 *   Calico: FelixConfiguration "default" (crd.projectcalico.org/v1): bpfEnabled,
 *           bpfExternalServiceMode (Tunnel or DSR), bpfKubeProxyIptablesCleanupEnabled.
 *   Cilium: ConfigMap kube-system/cilium-config: kube-proxy-replacement, routing-mode (or the
 *           older tunnel key), tunnel-protocol, bpf-lb-mode.
 *   kube-proxy: ConfigMap kube-system/kube-proxy, config.conf's mode ("" means iptables).
 * What cannot be read (absent, or forbidden) is said in `source`, so a results file shows why a
 * setting is missing.
 */
import type { Dataplane } from '../../shared/environment.js';
import { describeKubeError, type KubeClient } from './client.js';

export interface DataplaneObjects {
  felix: Record<string, unknown> | null;
  cilium: Record<string, string> | null;
  kubeProxy: Record<string, string> | null;
  /** What could not be read, and why. */
  problems: string[];
}

const CILIUM_KEYS = ['kube-proxy-replacement', 'routing-mode', 'tunnel', 'tunnel-protocol', 'bpf-lb-mode', 'enable-ipv4-masquerade'];

/** kube-proxy's mode from its KubeProxyConfiguration YAML: the top-level `mode:` line; empty means iptables. */
export function kubeProxyMode(configYaml: string): string {
  const m = /^mode:[ \t]*["']?([A-Za-z]*)["']?[ \t]*(?:#.*)?$/m.exec(configYaml);
  return m?.[1] || 'iptables';
}

/** A setting's value as text (FelixConfiguration fields are scalars; anything else is shown as JSON). */
const text = (v: unknown): string =>
  typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v);

/** Pure: the detected dataplane from the objects read. */
export function interpretDataplane(o: DataplaneObjects): Dataplane {
  const settings: Record<string, string> = {};
  const sources: string[] = [];
  let kind = 'unknown';
  if (o.kubeProxy) {
    kind = 'kube-proxy';
    settings.kubeProxyMode = kubeProxyMode(o.kubeProxy['config.conf'] ?? '');
    sources.push('ConfigMap kube-system/kube-proxy');
  }
  if (o.cilium) {
    kind = 'cilium';
    for (const k of CILIUM_KEYS) if (o.cilium[k] !== undefined) settings[k] = o.cilium[k];
    sources.push('ConfigMap kube-system/cilium-config');
  }
  if (o.felix) {
    kind = 'calico';
    const spec = (o.felix.spec ?? {}) as Record<string, unknown>;
    settings.bpfEnabled = text(spec.bpfEnabled ?? false);
    if (spec.bpfEnabled === true) settings.bpfExternalServiceMode = text(spec.bpfExternalServiceMode ?? 'Tunnel');
    if (spec.bpfKubeProxyIptablesCleanupEnabled !== undefined) {
      settings.bpfKubeProxyIptablesCleanupEnabled = text(spec.bpfKubeProxyIptablesCleanupEnabled);
    }
    sources.push('FelixConfiguration default');
  }
  const source = [
    sources.length > 0 ? `read ${sources.join(', ')}` : 'no Calico, Cilium or kube-proxy configuration found',
    ...o.problems,
  ].join('; ');
  // Read or assumed is not told apart here yet: no marks rather than wrong ones.
  return { kind, settings, provenance: null, source };
}

/** How many objects readDataplaneObjects reads. */
export const DATAPLANE_SOURCES = 3;

/** Read the objects (each independently: one forbidden read does not hide the others). */
export async function readDataplaneObjects(client: KubeClient): Promise<DataplaneObjects> {
  const problems: string[] = [];
  const read = async <T>(what: string, f: () => Promise<T | null>): Promise<T | null> => {
    try {
      return await f();
    } catch (e) {
      problems.push(`${what}: ${describeKubeError(e)}`);
      return null;
    }
  };
  const [felix, cilium, kubeProxy] = await Promise.all([
    read('FelixConfiguration default', () =>
      client.getClusterCustomObject('crd.projectcalico.org', 'v1', 'felixconfigurations', 'default'),
    ),
    read('ConfigMap kube-system/cilium-config', () => client.getConfigMapData('kube-system', 'cilium-config')),
    read('ConfigMap kube-system/kube-proxy', () => client.getConfigMapData('kube-system', 'kube-proxy')),
  ]);
  return { felix, cilium, kubeProxy, problems };
}
