/**
 * The cluster's dataplane fingerprint: what each Calico, Cilium and kube-proxy object read
 * becomes, every setting marked read (from what) or assumed (which default, and why), and which
 * calls are made, each failing on its own. The reads go to an in-memory implementation of the
 * client's interface (test/helpers/memory-kube.ts); the real client's are in
 * test/integration/kube-api.test.ts.
 */
import { describe, expect, it } from 'vitest';
import {
  DATAPLANE_SOURCES,
  interpretDataplane,
  kubeProxyMode,
  readDataplaneObjects,
  type DataplaneObjects,
} from '../../aggregator/kube/dataplane.js';
import { DataplaneSchema, type Dataplane } from '../../shared/environment.js';
import { MemoryKube } from '../helpers/memory-kube.js';

const none: DataplaneObjects = {
  felix: null,
  installation: null,
  ipPools: null,
  cilium: null,
  kubeProxy: null,
  kubeProxyDaemonSet: null,
  problems: [],
};

/** The fingerprint, checked against the results file's schema (provenance marks exactly the settings). */
function detect(o: Partial<DataplaneObjects>): Dataplane {
  return DataplaneSchema.parse(interpretDataplane({ ...none, ...o }));
}

const read = (from: string) => ({ mark: 'read', from });
const assumed = (because: string) => ({ mark: 'assumed', because });
const pools = (...items: Record<string, unknown>[]) => ({ from: 'IPPools (crd.projectcalico.org/v1)', items });
const pool = (name: string, spec: Record<string, unknown>) => ({ metadata: { name }, spec: { cidr: '10.0.0.0/16', ...spec } });

describe('kube-proxy', () => {
  it('finds the top-level mode in its configuration, and nothing when it is empty or absent', () => {
    expect(kubeProxyMode('apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: "ipvs"\n')).toBe('ipvs');
    expect(kubeProxyMode('mode: nftables # new in 1.31\n')).toBe('nftables');
    expect(kubeProxyMode('mode: ""\n')).toBeUndefined();
    expect(kubeProxyMode('iptables:\n  mode: ignored-nested\n')).toBeUndefined();
  });

  it('reads the mode it is given, and marks iptables assumed when the ConfigMap leaves it empty or has no config.conf', () => {
    const given = detect({ kubeProxy: { 'config.conf': 'mode: nftables\n' } });
    expect(given.kind).toBe('kube-proxy');
    expect(given.settings).toEqual({ kubeProxyMode: 'nftables' });
    expect(given.provenance).toEqual({ kubeProxyMode: read('ConfigMap kube-system/kube-proxy') });

    const empty = detect({ kubeProxy: { 'config.conf': 'mode: ""\n' } });
    expect(empty.settings).toEqual({ kubeProxyMode: 'iptables' });
    expect(empty.provenance).toEqual({ kubeProxyMode: assumed("kube-proxy's default on Linux when mode is empty") });

    const bare = detect({ kubeProxy: {} });
    expect(bare.provenance).toEqual({
      kubeProxyMode: assumed("kube-proxy's default on Linux: ConfigMap kube-system/kube-proxy has no config.conf"),
    });
  });

  it('says whether it runs from its DaemonSet: all ready, none (not even desired), or partly', () => {
    const running = (desired: number, ready: number) => detect({ kubeProxyDaemonSet: { desired, ready } });
    expect(running(3, 3).kind).toBe('kube-proxy');
    expect(running(3, 3).settings).toEqual({ kubeProxyRunning: 'true' });
    expect(running(3, 3).provenance).toEqual({ kubeProxyRunning: read('DaemonSet kube-system/kube-proxy status: 3 of 3 pods ready') });
    // Calico's eBPF mode turns kube-proxy off with a nodeSelector no node has.
    expect(running(0, 0).settings).toEqual({ kubeProxyRunning: 'false' });
    expect(running(0, 0).provenance).toEqual({
      kubeProxyRunning: read('DaemonSet kube-system/kube-proxy status: 0 of 0 pods ready, its nodeSelector matching no node'),
    });
    expect(running(3, 0).settings).toEqual({ kubeProxyRunning: 'false' });
    expect(running(3, 1).settings).toEqual({ kubeProxyRunning: 'partly' });
  });

  it("leaves the ConfigMap's mode beside a kube-proxy that does not run: both are recorded", () => {
    const d = detect({ kubeProxy: { 'config.conf': 'mode: iptables' }, kubeProxyDaemonSet: { desired: 0, ready: 0 } });
    expect(d.settings).toEqual({ kubeProxyMode: 'iptables', kubeProxyRunning: 'false' });
    expect(d.source).toBe('read ConfigMap kube-system/kube-proxy, DaemonSet kube-system/kube-proxy');
  });
});

describe('Calico', () => {
  it('names eBPF with DSR as FelixConfiguration sets it, assuming the other eBPF settings it leaves out', () => {
    const d = detect({
      felix: { spec: { bpfEnabled: true, bpfExternalServiceMode: 'DSR' } },
      kubeProxy: { 'config.conf': 'mode: iptables' },
    });
    expect(d.kind).toBe('calico');
    expect(d.settings).toEqual({
      kubeProxyMode: 'iptables',
      bpfEnabled: 'true',
      bpfExternalServiceMode: 'DSR',
      bpfConnectTimeLoadBalancing: 'TCP',
      bpfKubeProxyIptablesCleanupEnabled: 'true',
    });
    expect(d.provenance).toEqual({
      kubeProxyMode: read('ConfigMap kube-system/kube-proxy'),
      bpfEnabled: read('FelixConfiguration default'),
      bpfExternalServiceMode: read('FelixConfiguration default'),
      bpfConnectTimeLoadBalancing: assumed("Felix's default when FelixConfiguration default sets no bpfConnectTimeLoadBalancing"),
      bpfKubeProxyIptablesCleanupEnabled: assumed(
        "Felix's default when FelixConfiguration default sets no bpfKubeProxyIptablesCleanupEnabled",
      ),
    });
    expect(d.source).toBe('read ConfigMap kube-system/kube-proxy, FelixConfiguration default');
  });

  it('marks Tunnel assumed when eBPF is on and bpfExternalServiceMode is unset, and reads the connect-time load balancer when set', () => {
    const d = detect({ felix: { spec: { bpfEnabled: true, bpfConnectTimeLoadBalancing: 'Disabled' } } });
    expect(d.settings.bpfExternalServiceMode).toBe('Tunnel');
    expect(d.provenance?.bpfExternalServiceMode).toEqual(
      assumed("Felix's default when FelixConfiguration default sets no bpfExternalServiceMode"),
    );
    expect(d.settings.bpfConnectTimeLoadBalancing).toBe('Disabled');
    expect(d.provenance?.bpfConnectTimeLoadBalancing).toEqual(read('FelixConfiguration default'));
  });

  it('records only the deprecated boolean when only it is set, rather than assume the newer field against it', () => {
    const d = detect({ felix: { spec: { bpfEnabled: true, bpfConnectTimeLoadBalancingEnabled: false } } });
    expect(d.settings.bpfConnectTimeLoadBalancingEnabled).toBe('false');
    expect(d.settings).not.toHaveProperty('bpfConnectTimeLoadBalancing');
  });

  it('says iptables, assumed, when nothing sets bpfEnabled, and assumes no eBPF settings then', () => {
    const d = detect({ felix: { spec: {} } });
    expect(d.settings).toEqual({ bpfEnabled: 'false' });
    expect(d.provenance).toEqual({
      bpfEnabled: assumed(
        "Felix's default when FelixConfiguration default sets no bpfEnabled (calico-node's FELIX_BPFENABLED, not read, may set it)",
      ),
    });
  });

  it("reads the Installation's linuxDataplane, and takes eBPF from it when FelixConfiguration does not say", () => {
    const d = detect({
      installation: { metadata: { name: 'default' }, spec: { calicoNetwork: { linuxDataplane: 'BPF' } } },
      felix: { spec: {} },
    });
    expect(d.settings).toMatchObject({ linuxDataplane: 'BPF', bpfEnabled: 'true', bpfExternalServiceMode: 'Tunnel' });
    expect(d.provenance).toMatchObject({
      linuxDataplane: read('Installation default'),
      bpfEnabled: read('Installation default: linuxDataplane BPF'),
    });
    expect(d.source).toBe('read Installation default, FelixConfiguration default');
  });

  it("assumes the operator's Iptables when the Installation sets no linuxDataplane, and reads Nftables when it does", () => {
    const unset = detect({ installation: { spec: { calicoNetwork: {} } } });
    expect(unset.kind).toBe('calico');
    expect(unset.settings).toEqual({ linuxDataplane: 'Iptables' });
    expect(unset.provenance).toEqual({
      linuxDataplane: assumed("the operator's default when Installation default sets no calicoNetwork.linuxDataplane"),
    });
    expect(detect({ installation: { spec: { calicoNetwork: { linuxDataplane: 'Nftables' } } } }).settings).toEqual({
      linuxDataplane: 'Nftables',
    });
  });

  it("reads the IPPools' encapsulation: one value when the enabled pools agree, each pool's when not", () => {
    const one = detect({ ipPools: pools(pool('default-ipv4-ippool', { ipipMode: 'Never', vxlanMode: 'CrossSubnet' })) });
    expect(one.kind).toBe('calico');
    expect(one.settings).toEqual({ ipipMode: 'Never', vxlanMode: 'CrossSubnet' });
    expect(one.provenance).toEqual({
      ipipMode: read('IPPools (crd.projectcalico.org/v1): default-ipv4-ippool'),
      vxlanMode: read('IPPools (crd.projectcalico.org/v1): default-ipv4-ippool'),
    });
    expect(one.source).toBe('read IPPools (crd.projectcalico.org/v1)');

    const two = detect({
      ipPools: pools(
        pool('b', { ipipMode: 'Always', vxlanMode: 'Never' }),
        pool('a', { ipipMode: 'Never', vxlanMode: 'Never' }),
        pool('off', { ipipMode: 'CrossSubnet', vxlanMode: 'Always', disabled: true }),
      ),
    });
    expect(two.settings).toEqual({ ipipMode: 'a=Never, b=Always', vxlanMode: 'Never' });
    expect(two.provenance?.vxlanMode).toEqual(read('IPPools (crd.projectcalico.org/v1): a, b'));
  });

  it("marks Calico's Never assumed for a pool that sets no mode", () => {
    const d = detect({ ipPools: pools(pool('a', { vxlanMode: 'Always' }), pool('b', {})) });
    expect(d.settings).toEqual({ ipipMode: 'Never', vxlanMode: 'a=Always, b=Never' });
    expect(d.provenance).toEqual({
      ipipMode: assumed("Calico's default, Never, for a, b in IPPools (crd.projectcalico.org/v1), which set no ipipMode"),
      vxlanMode: assumed("Calico's default, Never, for b in IPPools (crd.projectcalico.org/v1), which sets no vxlanMode"),
    });
  });

  it('records no encapsulation, and no Calico, from an IPPool kind without enabled pools', () => {
    expect(detect({ ipPools: pools() })).toMatchObject({ kind: 'unknown', settings: {} });
    expect(detect({ ipPools: pools(pool('off', { vxlanMode: 'Always', disabled: true })) }).settings).toEqual({});
  });
});

describe('Cilium', () => {
  const everyKey = {
    'kube-proxy-replacement': 'true',
    'routing-mode': 'native',
    'tunnel-protocol': 'geneve',
    'bpf-lb-mode': 'dsr',
    'bpf-lb-acceleration': 'native',
    'bpf-lb-sock': 'false',
    'enable-host-legacy-routing': 'false',
    'enable-ipv4-big-tcp': 'true',
    'enable-ipv6-big-tcp': 'false',
    'enable-ipv4-masquerade': 'false',
    'enable-ipsec': 'false',
    'enable-wireguard': 'true',
    unrelated: 'x',
  };

  it('reads every key of the fingerprint it is given, and ignores the rest', () => {
    const d = detect({ cilium: everyKey });
    expect(d.kind).toBe('cilium');
    expect(d.settings).toEqual({
      'kube-proxy-replacement': 'true',
      'routing-mode': 'native',
      'tunnel-protocol': 'geneve',
      'bpf-lb-mode': 'dsr',
      'bpf-lb-acceleration': 'native',
      'enable-host-legacy-routing': 'false',
      'enable-ipv4-big-tcp': 'true',
      'enable-ipv6-big-tcp': 'false',
      'enable-ipv4-masquerade': 'false',
      'enable-ipsec': 'false',
      'enable-wireguard': 'true',
      // kube-proxy replacement turns socket LB on, whatever bpf-lb-sock says.
      socketLB: 'true',
    });
    const marks = Object.entries(d.provenance ?? {});
    expect(marks.filter(([, p]) => p.mark !== 'read')).toEqual([]);
    expect(d.provenance?.socketLB).toEqual(read('ConfigMap kube-system/cilium-config: kube-proxy-replacement=true turns it on'));
  });

  it("assumes Cilium's defaults for the keys an empty cilium-config leaves out", () => {
    const d = detect({ cilium: {} });
    expect(d.settings).toEqual({
      'kube-proxy-replacement': 'false',
      'routing-mode': 'tunnel',
      'tunnel-protocol': 'vxlan',
      'bpf-lb-mode': 'snat',
      'bpf-lb-acceleration': 'disabled',
      'enable-host-legacy-routing': 'false',
      'enable-ipv4-big-tcp': 'false',
      'enable-ipv4-masquerade': 'true',
      'enable-ipsec': 'false',
      'enable-wireguard': 'false',
      socketLB: 'false',
    });
    expect(Object.values(d.provenance ?? {}).every((p) => p.mark === 'assumed')).toBe(true);
    expect(d.provenance?.['enable-wireguard']).toEqual(
      assumed("Cilium's default when ConfigMap kube-system/cilium-config has no enable-wireguard"),
    );
  });

  it('assumes no tunnel protocol in native routing, and no routing mode beside the older tunnel key', () => {
    expect(detect({ cilium: { 'routing-mode': 'native' } }).settings).not.toHaveProperty('tunnel-protocol');
    const old = detect({ cilium: { tunnel: 'disabled' } });
    expect(old.settings.tunnel).toBe('disabled');
    expect(old.settings).not.toHaveProperty('routing-mode');
    expect(old.settings).not.toHaveProperty('tunnel-protocol');
  });

  it('reads socket LB from bpf-lb-sock without kube-proxy replacement', () => {
    const d = detect({ cilium: { 'kube-proxy-replacement': 'false', 'bpf-lb-sock': 'true' } });
    expect(d.settings.socketLB).toBe('true');
    expect(d.provenance?.socketLB).toEqual(read('ConfigMap kube-system/cilium-config: bpf-lb-sock'));
  });
});

describe('the fingerprint', () => {
  it('says what it could not read, and why', () => {
    const d = detect({ problems: ['ConfigMap kube-system/kube-proxy: 403 Forbidden'] });
    expect(d.kind).toBe('unknown');
    expect(d.source).toBe('no Calico, Cilium or kube-proxy configuration found; ConfigMap kube-system/kube-proxy: 403 Forbidden');
  });

  it('marks every setting it records, whatever it read', () => {
    const d = detect({
      felix: { spec: { bpfEnabled: true } },
      installation: { spec: { calicoNetwork: { linuxDataplane: 'BPF' } } },
      ipPools: pools(pool('p', { vxlanMode: 'Always' })),
      cilium: { 'kube-proxy-replacement': 'true', 'routing-mode': 'tunnel' },
      kubeProxy: { 'config.conf': '' },
      kubeProxyDaemonSet: { desired: 2, ready: 2 },
    });
    expect(Object.keys(d.provenance ?? {}).sort()).toEqual(Object.keys(d.settings).sort());
    expect(Object.keys(d.settings).length).toBeGreaterThan(15);
  });
});

describe('reading the objects', () => {
  const calicoEbpf = () =>
    new MemoryKube()
      .serve('crd.projectcalico.org', 'v1', 'felixconfigurations', [{ metadata: { name: 'default' }, spec: { bpfEnabled: true } }])
      .serve('operator.tigera.io', 'v1', 'installations', [
        { metadata: { name: 'default' }, spec: { calicoNetwork: { linuxDataplane: 'BPF' } } },
      ])
      .serve('crd.projectcalico.org', 'v1', 'ippools', [pool('default-ipv4-ippool', { ipipMode: 'Never', vxlanMode: 'Always' })])
      .configMap('kube-system', 'kube-proxy', { 'config.conf': 'mode: ""\n' })
      .daemonSet('kube-system', 'kube-proxy', { desired: 0, ready: 0 });

  it("reads Calico's eBPF mode, its pools, and the kube-proxy it turned off, from where each lives", async () => {
    const kube = calicoEbpf();
    const objects = await readDataplaneObjects(kube);
    expect(objects.problems).toEqual([]);
    expect(kube.calls.sort()).toEqual(
      [
        'get felixconfigurations crd.projectcalico.org/v1 default',
        'get installations operator.tigera.io/v1 default',
        'list ippools crd.projectcalico.org/v1',
        'get configmaps kube-system/cilium-config',
        'get configmaps kube-system/kube-proxy',
        'get daemonsets kube-system/kube-proxy',
      ].sort(),
    );
    const d = DataplaneSchema.parse(interpretDataplane(objects));
    expect(d.kind).toBe('calico');
    expect(d.settings).toEqual({
      kubeProxyMode: 'iptables',
      kubeProxyRunning: 'false',
      linuxDataplane: 'BPF',
      ipipMode: 'Never',
      vxlanMode: 'Always',
      bpfEnabled: 'true',
      bpfExternalServiceMode: 'Tunnel',
      bpfConnectTimeLoadBalancing: 'TCP',
      bpfKubeProxyIptablesCleanupEnabled: 'true',
    });
    expect(d.provenance?.kubeProxyMode?.mark).toBe('assumed');
    expect(d.provenance?.kubeProxyRunning?.mark).toBe('read');
  });

  it('lists IPPools from projectcalico.org/v3 when Calico has no crd.projectcalico.org kind', async () => {
    const kube = new MemoryKube().serve('projectcalico.org', 'v3', 'ippools', [pool('p', { ipipMode: 'Always', vxlanMode: 'Never' })]);
    const objects = await readDataplaneObjects(kube);
    expect(objects.ipPools?.from).toBe('IPPools (projectcalico.org/v3)');
    expect(kube.calls).toContain('list ippools crd.projectcalico.org/v1');
    expect(interpretDataplane(objects).settings).toEqual({ ipipMode: 'Always', vxlanMode: 'Never' });
  });

  it('takes a missing kind or object as absent, not as a problem', async () => {
    const objects = await readDataplaneObjects(new MemoryKube().configMap('kube-system', 'cilium-config', {}));
    expect(objects).toMatchObject({ felix: null, installation: null, ipPools: null, kubeProxy: null, kubeProxyDaemonSet: null });
    expect(objects.problems).toEqual([]);
    expect(interpretDataplane(objects).kind).toBe('cilium');
  });

  it('lets each read fail on its own: a refused one is a problem, the others are still read', async () => {
    const kube = calicoEbpf()
      .refuse('get installations operator.tigera.io/v1 default', '403 Forbidden: installations is forbidden')
      .refuse('get daemonsets kube-system/kube-proxy', '403 Forbidden: daemonsets is forbidden');
    const objects = await readDataplaneObjects(kube);
    expect(objects.problems.sort()).toEqual([
      'DaemonSet kube-system/kube-proxy: 403 Forbidden: daemonsets is forbidden',
      'Installation default: 403 Forbidden: installations is forbidden',
    ]);
    const d = interpretDataplane(objects);
    expect(d.settings).not.toHaveProperty('linuxDataplane');
    expect(d.settings).not.toHaveProperty('kubeProxyRunning');
    expect(d.settings).toMatchObject({ bpfEnabled: 'true', vxlanMode: 'Always', kubeProxyMode: 'iptables' });
    expect(d.source).toContain('Installation default: 403 Forbidden');
  });

  it('has one problem per source when every read is refused, so the integration can call itself unavailable', async () => {
    const kube = new MemoryKube()
      .refuse('get felixconfigurations crd.projectcalico.org/v1 default')
      .refuse('get installations operator.tigera.io/v1 default')
      .refuse('list ippools crd.projectcalico.org/v1')
      .refuse('get configmaps kube-system/cilium-config')
      .refuse('get configmaps kube-system/kube-proxy')
      .refuse('get daemonsets kube-system/kube-proxy');
    const objects = await readDataplaneObjects(kube);
    expect(objects.problems).toHaveLength(DATAPLANE_SOURCES);
    // A refused crd.projectcalico.org list is not taken for a missing kind: v3 is not asked.
    expect(kube.calls).not.toContain('list ippools projectcalico.org/v3');
  });
});
