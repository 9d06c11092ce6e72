/**
 * The cluster's dataplane, read from the objects that configure it (never declared by hand):
 *   kube-proxy: ConfigMap kube-system/kube-proxy (config.conf's mode) and whether it runs: the
 *           ready pods of DaemonSet kube-system/kube-proxy (Calico's eBPF mode turns it off by
 *           nodeSelector and leaves the ConfigMap as it was).
 *   Calico: Installation "default" (operator.tigera.io/v1): calicoNetwork.linuxDataplane;
 *           IPPools (crd.projectcalico.org/v1, else projectcalico.org/v3): ipipMode, vxlanMode;
 *           FelixConfiguration "default" (crd.projectcalico.org/v1): bpfEnabled and, in eBPF
 *           mode, bpfExternalServiceMode, bpfConnectTimeLoadBalancing,
 *           bpfKubeProxyIptablesCleanupEnabled.
 *   Cilium: ConfigMap kube-system/cilium-config: the keys in CILIUM_KEYS, and socket load
 *           balancing (bpf-lb-sock, which kube-proxy-replacement turns on).
 * Every setting is marked read (and from what) or assumed (a documented default taken because
 * the object leaves it unset, and which default). An absent object (or kind) leaves its settings
 * out; one that cannot be read (forbidden, unreachable) does too, and `source` says why, so a
 * results file shows why a setting is missing. One failed read never hides the others.
 */
import { MarkedSettings, type Dataplane } from '../../shared/environment.js';
import { describeKubeError, type DaemonSetCounts, type KubeClient } from './client.js';

/** The Calico IPPools read, and the API they were listed from. */
export interface IpPools {
  /** e.g. "IPPools (crd.projectcalico.org/v1)". */
  from: string;
  items: Record<string, unknown>[];
}

export interface DataplaneObjects {
  felix: Record<string, unknown> | null;
  installation: Record<string, unknown> | null;
  ipPools: IpPools | null;
  cilium: Record<string, string> | null;
  kubeProxy: Record<string, string> | null;
  kubeProxyDaemonSet: DaemonSetCounts | null;
  /** What could not be read, and why. */
  problems: string[];
}

const KUBE_PROXY_CONFIGMAP = 'ConfigMap kube-system/kube-proxy';
const KUBE_PROXY_DAEMONSET = 'DaemonSet kube-system/kube-proxy';
const CILIUM_CONFIGMAP = 'ConfigMap kube-system/cilium-config';
const FELIX = 'FelixConfiguration default';
const INSTALLATION = 'Installation default';

/**
 * The cilium-config keys recorded, each with the agent's own default (its flag default, Cilium
 * 1.15 to 1.18) taken, and marked assumed, when the key is absent; null: recorded only when
 * present. `tunnel` is the key routing-mode and tunnel-protocol replaced in 1.14. Whether BPF
 * host routing is in use is the agent's choice at start (it falls back to legacy routing where
 * the kernel or other settings do not allow it) and is not in the ConfigMap: only
 * enable-host-legacy-routing is.
 */
const CILIUM_KEYS: readonly (readonly [key: string, absent: string | null])[] = [
  ['kube-proxy-replacement', 'false'],
  ['routing-mode', 'tunnel'],
  ['tunnel', null],
  ['tunnel-protocol', 'vxlan'],
  ['bpf-lb-mode', 'snat'],
  ['bpf-lb-acceleration', 'disabled'],
  ['enable-host-legacy-routing', 'false'],
  ['enable-ipv4-big-tcp', 'false'],
  ['enable-ipv6-big-tcp', null],
  ['enable-ipv4-masquerade', 'true'],
  ['enable-ipsec', 'false'],
  ['enable-wireguard', 'false'],
];

/** The APIs IPPools are listed from, in order: Calico's CRDs, else the v3 API (Calico's API server, or v3 CRDs). */
export const IPPOOL_APIS: readonly (readonly [group: string, version: string])[] = [
  ['crd.projectcalico.org', 'v1'],
  ['projectcalico.org', 'v3'],
];

/** kube-proxy's mode as its KubeProxyConfiguration YAML writes it (the top-level `mode:` line); undefined when empty or absent. */
export function kubeProxyMode(configYaml: string): string | undefined {
  const m = /^mode:[ \t]*["']?([A-Za-z]*)["']?[ \t]*(?:#.*)?$/m.exec(configYaml);
  return m?.[1] || undefined;
}

/** A setting's value as text (FelixConfiguration fields are scalars; anything else is shown as JSON). */
const text = (v: unknown): string =>
  typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v);

const record = (v: unknown): Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};

/** Pure: the detected dataplane from the objects read. */
export function interpretDataplane(o: DataplaneObjects): Dataplane {
  const s = new MarkedSettings();
  const sources: string[] = [];
  let kind = 'unknown';
  if (o.kubeProxy) {
    kind = 'kube-proxy';
    kubeProxySettings(s, o.kubeProxy);
    sources.push(KUBE_PROXY_CONFIGMAP);
  }
  if (o.kubeProxyDaemonSet) {
    kind = 'kube-proxy';
    kubeProxyRunning(s, o.kubeProxyDaemonSet);
    sources.push(KUBE_PROXY_DAEMONSET);
  }
  if (o.cilium) {
    kind = 'cilium';
    ciliumSettings(s, o.cilium);
    sources.push(CILIUM_CONFIGMAP);
  }
  let linuxDataplane: string | undefined;
  if (o.installation) {
    kind = 'calico';
    linuxDataplane = installationSettings(s, o.installation);
    sources.push(INSTALLATION);
  }
  if (o.ipPools && o.ipPools.items.length > 0) {
    kind = 'calico';
    ipPoolSettings(s, o.ipPools);
    sources.push(o.ipPools.from);
  }
  if (o.felix) {
    kind = 'calico';
    felixSettings(s, o.felix, linuxDataplane);
    sources.push(FELIX);
  }
  const source = [
    sources.length > 0 ? `read ${sources.join(', ')}` : 'no Calico, Cilium or kube-proxy configuration found',
    ...o.problems,
  ].join('; ');
  return { kind, settings: s.settings, provenance: s.provenance, source };
}

function kubeProxySettings(s: MarkedSettings, data: Record<string, string>): void {
  const config = data['config.conf'];
  const mode = kubeProxyMode(config ?? '');
  if (mode) s.read('kubeProxyMode', mode, KUBE_PROXY_CONFIGMAP);
  else
    s.assumed(
      'kubeProxyMode',
      'iptables',
      config === undefined
        ? `kube-proxy's default on Linux: ${KUBE_PROXY_CONFIGMAP} has no config.conf`
        : `kube-proxy's default on Linux when mode is empty`,
    );
}

/** "true" when every desired pod is ready, "false" when none is (or none is desired), else "partly". */
function kubeProxyRunning(s: MarkedSettings, d: DaemonSetCounts): void {
  const value = d.ready === 0 ? 'false' : d.ready >= d.desired ? 'true' : 'partly';
  const none = d.desired === 0 ? ', its nodeSelector matching no node' : '';
  s.read('kubeProxyRunning', value, `${KUBE_PROXY_DAEMONSET} status: ${d.ready} of ${d.desired} pods ready${none}`);
}

function ciliumSettings(s: MarkedSettings, data: Record<string, string>): void {
  const at = (key: string) => data[key];
  for (const [key, absent] of CILIUM_KEYS) {
    const value = at(key);
    if (value !== undefined) {
      s.read(key, value, CILIUM_CONFIGMAP);
      continue;
    }
    if (absent === null) continue;
    // Before 1.14 the `tunnel` key said both: no routing-mode or tunnel-protocol to assume then.
    if ((key === 'routing-mode' || key === 'tunnel-protocol') && at('tunnel') !== undefined) continue;
    // A tunnel protocol means nothing in native routing.
    if (key === 'tunnel-protocol' && (at('routing-mode') ?? 'tunnel') !== 'tunnel') continue;
    s.assumed(key, absent, `Cilium's default when ${CILIUM_CONFIGMAP} has no ${key}`);
  }
  // kube-proxy replacement turns socket load balancing on whatever bpf-lb-sock says ("strict" was its full mode before 1.14).
  const kpr = at('kube-proxy-replacement');
  const sock = at('bpf-lb-sock');
  if (kpr === 'true' || kpr === 'strict') s.read('socketLB', 'true', `${CILIUM_CONFIGMAP}: kube-proxy-replacement=${kpr} turns it on`);
  else if (sock !== undefined) s.read('socketLB', sock, `${CILIUM_CONFIGMAP}: bpf-lb-sock`);
  else s.assumed('socketLB', 'false', `Cilium's default without bpf-lb-sock or kube-proxy-replacement in ${CILIUM_CONFIGMAP}`);
}

/** Records linuxDataplane, and returns it when the Installation sets it. */
function installationSettings(s: MarkedSettings, installation: Record<string, unknown>): string | undefined {
  const value = record(record(installation.spec).calicoNetwork).linuxDataplane;
  if (value !== undefined) {
    s.read('linuxDataplane', text(value), INSTALLATION);
    return text(value);
  }
  s.assumed('linuxDataplane', 'Iptables', `the operator's default when ${INSTALLATION} sets no calicoNetwork.linuxDataplane`);
  return undefined;
}

/**
 * ipipMode and vxlanMode over the enabled pools: one value when they agree, else each pool's
 * ("a=Always, b=Never"). A pool that sets neither takes Calico's default, Never, and the
 * setting is then marked assumed.
 */
function ipPoolSettings(s: MarkedSettings, pools: IpPools): void {
  const enabled = pools.items
    .map((p) => ({ name: text(record(p.metadata).name ?? '?'), spec: record(p.spec) }))
    .filter((p) => p.spec.disabled !== true)
    .sort((a, b) => a.name.localeCompare(b.name));
  if (enabled.length === 0) return;
  for (const mode of ['ipipMode', 'vxlanMode']) {
    const values = enabled.map((p) => ({ name: p.name, value: p.spec[mode] === undefined ? undefined : text(p.spec[mode]) }));
    const shown = values.map((v) => v.value ?? 'Never');
    const value = new Set(shown).size === 1 ? (shown[0] as string) : values.map((v, i) => `${v.name}=${shown[i]}`).join(', ');
    const unset = values.filter((v) => v.value === undefined).map((v) => v.name);
    if (unset.length === 0) s.read(mode, value, `${pools.from}: ${enabled.map((p) => p.name).join(', ')}`);
    else
      s.assumed(
        mode,
        value,
        `Calico's default, Never, for ${unset.join(', ')} in ${pools.from}, which set${unset.length === 1 ? 's' : ''} no ${mode}`,
      );
  }
}

function felixSettings(s: MarkedSettings, felix: Record<string, unknown>, linuxDataplane: string | undefined): void {
  const spec = record(felix.spec);
  let ebpf: boolean;
  if (spec.bpfEnabled !== undefined) {
    s.read('bpfEnabled', text(spec.bpfEnabled), FELIX);
    ebpf = spec.bpfEnabled === true;
  } else if (linuxDataplane !== undefined) {
    // The operator turns Felix's eBPF mode on or off from the Installation (as calico-node's environment, not in FelixConfiguration).
    ebpf = linuxDataplane === 'BPF';
    s.read('bpfEnabled', String(ebpf), `${INSTALLATION}: linuxDataplane ${linuxDataplane}`);
  } else {
    ebpf = false;
    s.assumed(
      'bpfEnabled',
      'false',
      `Felix's default when ${FELIX} sets no bpfEnabled (calico-node's FELIX_BPFENABLED, not read, may set it)`,
    );
  }
  const field = (key: string, absent: string | null) => {
    if (spec[key] !== undefined) s.read(key, text(spec[key]), FELIX);
    else if (ebpf && absent !== null) s.assumed(key, absent, `Felix's default when ${FELIX} sets no ${key}`);
  };
  if (ebpf) field('bpfExternalServiceMode', 'Tunnel');
  // The boolean is the older, deprecated form: when only it is set, assuming the newer field's default would contradict it.
  if (spec.bpfConnectTimeLoadBalancingEnabled !== undefined) field('bpfConnectTimeLoadBalancingEnabled', null);
  if (ebpf || spec.bpfConnectTimeLoadBalancing !== undefined) {
    field('bpfConnectTimeLoadBalancing', spec.bpfConnectTimeLoadBalancingEnabled === undefined ? 'TCP' : null);
  }
  field('bpfKubeProxyIptablesCleanupEnabled', 'true');
}

/** How many objects readDataplaneObjects reads. */
export const DATAPLANE_SOURCES = 6;

/** The Kubernetes calls the dataplane reads make: a narrow slice of KubeClient, so tests can supply just these. */
export type DataplaneReader = Pick<
  KubeClient,
  'getClusterCustomObject' | 'listClusterCustomObjects' | 'getConfigMapData' | 'getDaemonSetCounts'
>;

/** IPPools from the first API in IPPOOL_APIS that serves them; null when none does. */
async function readIpPools(client: DataplaneReader): Promise<IpPools | null> {
  for (const [group, version] of IPPOOL_APIS) {
    const items = await client.listClusterCustomObjects(group, version, 'ippools');
    if (items !== null) return { from: `IPPools (${group}/${version})`, items };
  }
  return null;
}

/** Read the objects (each independently: one forbidden read does not hide the others). */
export async function readDataplaneObjects(client: DataplaneReader): Promise<DataplaneObjects> {
  const problems: string[] = [];
  const read = async <T>(what: string, f: () => Promise<T | null>): Promise<T | null> => {
    try {
      return await f();
    } catch (e) {
      problems.push(`${what}: ${describeKubeError(e)}`);
      return null;
    }
  };
  const [felix, installation, ipPools, cilium, kubeProxy, kubeProxyDaemonSet] = await Promise.all([
    read(FELIX, () => client.getClusterCustomObject('crd.projectcalico.org', 'v1', 'felixconfigurations', 'default')),
    read(INSTALLATION, () => client.getClusterCustomObject('operator.tigera.io', 'v1', 'installations', 'default')),
    read('IPPools', () => readIpPools(client)),
    read(CILIUM_CONFIGMAP, () => client.getConfigMapData('kube-system', 'cilium-config')),
    read(KUBE_PROXY_CONFIGMAP, () => client.getConfigMapData('kube-system', 'kube-proxy')),
    read(KUBE_PROXY_DAEMONSET, () => client.getDaemonSetCounts('kube-system', 'kube-proxy')),
  ]);
  return { felix, installation, ipPools, cilium, kubeProxy, kubeProxyDaemonSet, problems };
}
