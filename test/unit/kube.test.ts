/**
 * The pure parts of the Kubernetes integration: object names for any node name, topology from
 * node labels, and the lab proxy's rules (the dataplane's are in kube-dataplane.test.ts).
 * (Everything that talks to the API is tested against a real kube-apiserver in
 * test/integration/kube-lab.test.ts.)
 */
import { describe, expect, it } from 'vitest';
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
