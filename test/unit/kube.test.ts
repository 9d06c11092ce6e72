/**
 * The pure parts of the Kubernetes integration: object names for any node name, topology from
 * node labels, the dataplane from Calico/Cilium/kube-proxy configuration, and the lab proxy's
 * rules. (Everything that talks to the API is tested against a real kube-apiserver in
 * test/integration/kube-lab.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { interpretDataplane, kubeProxyMode } from '../../aggregator/kube/dataplane.js';
import { isDns1035, labelValue, serviceName } from '../../aggregator/kube/names.js';
import { endpointSliceBody, serviceBody } from '../../aggregator/kube/services.js';
import { topologyOf } from '../../aggregator/kube/topology.js';
import { dnatRules, restoreScript } from '../helpers/lab-kube-proxy.js';
import { seededRandom } from '../helpers/prng.js';

describe('serviceName', () => {
  it('is a DNS-1035 label of at most 63 characters for any node name, and distinct for distinct nodes', () => {
    const random = seededRandom(7);
    const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._';
    const names = new Set<string>();
    const nodes = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const len = 1 + Math.floor(random() * 253);
      const node = Array.from({ length: len }, () => alphabet[Math.floor(random() * alphabet.length)]).join('');
      if (nodes.has(node)) continue;
      nodes.add(node);
      const name = serviceName('netmatrix', node);
      expect(isDns1035(name), `${node} -> ${name}`).toBe(true);
      names.add(name);
    }
    expect(names.size).toBe(nodes.size);
  });

  it('reads like the node it serves where it can, and fixes instance names that start with a digit', () => {
    expect(serviceName('netmatrix', 'node1')).toMatch(/^netmatrix-node1-[0-9a-f]{8}$/);
    expect(serviceName('netmatrix', 'ip-10-0-1-17.eu-west-1.compute.internal')).toMatch(
      /^netmatrix-ip-10-0-1-17-eu-west-1-compute-internal-[0-9a-f]{8}$/,
    );
    expect(isDns1035(serviceName('1st', 'node1'))).toBe(true);
    expect(serviceName('a', 'node1')).not.toBe(serviceName('b', 'node1'));
    expect(serviceName('netmatrix', 'Node1')).not.toBe(serviceName('netmatrix', 'node1'));
  });

  it('makes label values within the label rules', () => {
    expect(labelValue('netmatrix')).toBe('netmatrix');
    const v = labelValue(`-${'x'.repeat(80)}/`);
    expect(v.length).toBeLessThanOrEqual(63);
    expect(v).toMatch(/^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$/);
  });
});

describe('topologyOf', () => {
  it('reads the well-known labels, falling back to the deprecated beta ones', () => {
    expect(
      topologyOf({
        metadata: {
          labels: { 'topology.kubernetes.io/zone': 'z1', 'topology.kubernetes.io/region': 'r1', 'node.kubernetes.io/instance-type': 'm5' },
        },
      }),
    ).toEqual({ zone: 'z1', region: 'r1', instanceType: 'm5' });
    expect(
      topologyOf({ metadata: { labels: { 'failure-domain.beta.kubernetes.io/zone': 'old', 'beta.kubernetes.io/instance-type': 'c4' } } }),
    ).toEqual({ zone: 'old', region: null, instanceType: 'c4' });
    expect(topologyOf({ metadata: {} })).toEqual({ zone: null, region: null, instanceType: null });
  });
});

describe('dataplane detection', () => {
  const none = { felix: null, cilium: null, kubeProxy: null, problems: [] };

  it("reads kube-proxy's mode, empty meaning iptables", () => {
    expect(kubeProxyMode('apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: "ipvs"\n')).toBe('ipvs');
    expect(kubeProxyMode('mode: nftables # new in 1.31\n')).toBe('nftables');
    expect(kubeProxyMode('mode: ""\n')).toBe('iptables');
    expect(kubeProxyMode('iptables:\n  mode: ignored-nested\n')).toBe('iptables');
  });

  it('names Calico eBPF with DSR, and kube-proxy beside it', () => {
    const d = interpretDataplane({
      ...none,
      felix: { spec: { bpfEnabled: true, bpfExternalServiceMode: 'DSR' } },
      kubeProxy: { 'config.conf': 'mode: iptables' },
    });
    expect(d).toEqual({
      kind: 'calico',
      settings: { kubeProxyMode: 'iptables', bpfEnabled: 'true', bpfExternalServiceMode: 'DSR' },
      provenance: null,
      source: 'read ConfigMap kube-system/kube-proxy, FelixConfiguration default',
    });
  });

  it('says Calico iptables when bpfEnabled is unset', () => {
    expect(interpretDataplane({ ...none, felix: { spec: {} } }).settings).toEqual({ bpfEnabled: 'false' });
  });

  it("takes Cilium's kube-proxy replacement and routing mode", () => {
    const d = interpretDataplane({
      ...none,
      cilium: { 'kube-proxy-replacement': 'true', 'routing-mode': 'native', 'bpf-lb-mode': 'dsr', unrelated: 'x' },
    });
    expect(d.kind).toBe('cilium');
    expect(d.settings).toEqual({ 'kube-proxy-replacement': 'true', 'routing-mode': 'native', 'bpf-lb-mode': 'dsr' });
  });

  it('says what it could not read, and why', () => {
    const d = interpretDataplane({ ...none, problems: ['ConfigMap kube-system/kube-proxy: 403 Forbidden'] });
    expect(d.kind).toBe('unknown');
    expect(d.source).toBe('no Calico, Cilium or kube-proxy configuration found; ConfigMap kube-system/kube-proxy: 403 Forbidden');
  });
});

describe('the lab proxy rules', () => {
  it('DNATs each ClusterIP, port and protocol to its slice endpoint, and skips Services without one', () => {
    const svc = { ...serviceBody('nm', 'node1', 5201), spec: { ...serviceBody('nm', 'node1', 5201).spec, clusterIP: '198.18.224.9' } };
    const lonely = { ...serviceBody('nm', 'node2', 5201), spec: { ...serviceBody('nm', 'node2', 5201).spec, clusterIP: '198.18.224.10' } };
    const rules = dnatRules([svc, lonely], [endpointSliceBody('nm', 'node1', '198.19.1.2', 5201)]);
    expect(rules).toEqual([
      { clusterIp: '198.18.224.9', protocol: 'tcp', port: 5201, endpoint: '198.19.1.2', endpointPort: 5201 },
      { clusterIp: '198.18.224.9', protocol: 'udp', port: 5201, endpoint: '198.19.1.2', endpointPort: 5201 },
    ]);
    expect(restoreScript(rules)).toContain(
      '-A NETMATRIX-KUBE-SERVICES -d 198.18.224.9/32 -p udp -m udp --dport 5201 -j DNAT --to-destination 198.19.1.2:5201',
    );
  });
});
