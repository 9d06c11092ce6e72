/**
 * The aggregator's Kubernetes integration against a real kube-apiserver (built from upstream
 * source), with the lab's agents in real network namespaces:
 *  - for each pod agent, a selector-less Service and an EndpointSlice; the ClusterIP the
 *    apiserver allocated is the pod-to-service target, translated by a small service proxy that
 *    watches the same apiserver (test/helpers/lab-kube-proxy.ts);
 *  - stale objects removed, objects of an agent that left deleted, names valid for any node name;
 *  - node topology from the Node watch on results, /api/matrix and the run's environment;
 *  - the dataplane read from FelixConfiguration and the kube-proxy ConfigMap;
 *  - all of it under the chart's own RBAC: the aggregator runs with a token of the ServiceAccount
 *    that `helm install` of charts/netmatrix created;
 *  - a forbidden and then an unreachable apiserver: node and pod tests go on, pod-to-service is
 *    reported unavailable with the reason, in /api/status and netmatrix_kubernetes_up.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import pino from 'pino';
import {
  ApiextensionsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  DiscoveryV1Api,
  KubeConfig,
  type V1EndpointSlice,
  type V1Service,
} from '@kubernetes/client-node';
import { buildAggregator, type Aggregator } from '../../aggregator/app.js';
import { loadAggregatorConfig } from '../../aggregator/config.js';
import { endpointSliceBody, serviceBody } from '../../aggregator/kube/services.js';
import { isDns1035, ownedSelector, serviceName } from '../../aggregator/kube/names.js';
import { AgentProcesses } from '../../lab/agents.js';
import { planLab } from '../../lab/plan.js';
import { startLabSession, type LabSession } from '../../lab/session.js';
import type { Environment } from '../../shared/environment.js';
import type { TestResult } from '../../shared/result.js';
import { k8sTools, missingK8sTools, startKubeCluster, TEST_SERVICE_CIDR, type KubeCluster } from '../helpers/kube-cluster.js';
import { startLabKubeProxy, type LabKubeProxy } from '../helpers/lab-kube-proxy.js';
import { parseExposition, sampleValue } from '../helpers/prometheus-text.js';
import { describeWith, waitFor } from '../helpers/requirements.js';
import { exec } from '../../sys/exec.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const NS = 'netmatrix-it';
const CHART = fileURLToPath(new URL('../../charts/netmatrix', import.meta.url));
const INSTANCE = 'nm-it';
/** A node name as long and odd as Kubernetes allows in spirit: dots, capitals cut by the sanitizer, 80 characters. */
const LONG_NODE = `ip-198-19-3-2.${'very-long-segment.'.repeat(3)}compute.internal.Example`;

type Status = {
  kubernetes: { source: string | null; components: Record<string, { state: string; reason: string | null; retryAt: string | null }> };
  servicePath: { ready: number; missing: string[]; reason: string | null };
};

const inCidr = (ip: string, cidr: string) => {
  const [base, bits] = cidr.split('/') as [string, string];
  const n = (a: string) => a.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
  const mask = 2 ** 32 - 2 ** (32 - Number(bits));
  return (n(ip) & mask) >>> 0 === (n(base) & mask) >>> 0;
};

describeWith(
  { root: true, binaries: ['ip', 'iptables', 'iptables-restore', 'iperf3'], check: missingK8sTools },
  'the Kubernetes integration against a real kube-apiserver, on a 3-node lab',
  () => {
    const plan = planLab(3);
    let cluster: KubeCluster;
    let core: CoreV1Api;
    let discovery: DiscoveryV1Api;
    let proxy: LabKubeProxy;
    let session: LabSession;
    let extraAgent: AgentProcesses | undefined;

    const api = async <T>(url: string): Promise<T> => (await session.aggregator.app.inject({ method: 'GET', url })).json<T>();
    const ours = async () => ({
      services: (await core.listNamespacedService({ namespace: NS, labelSelector: ownedSelector(INSTANCE) })).items,
      slices: (await discovery.listNamespacedEndpointSlice({ namespace: NS, labelSelector: ownedSelector(INSTANCE) })).items,
    });
    const runAndWait = async (body: object) => {
      const res = await session.aggregator.app.inject({
        method: 'POST',
        url: '/api/runs',
        headers: { authorization: `Bearer ${session.token}` },
        payload: body,
      });
      expect(res.statusCode).toBe(202);
      const { id } = res.json<{ id: string }>();
      return waitFor(
        async () => {
          const r = await api<{ status: string; results: TestResult[]; environment: Environment | null }>(`/api/runs/${id}`);
          return r.status === 'done' ? r : undefined;
        },
        120_000,
        'the run to finish',
        500,
      );
    };

    beforeAll(async () => {
      cluster = await startKubeCluster();
      const kc = new KubeConfig();
      kc.loadFromFile(cluster.kubeconfigPath);
      core = kc.makeApiClient(CoreV1Api);
      discovery = kc.makeApiClient(DiscoveryV1Api);
      await core.createNamespace({ body: { metadata: { name: NS } } });
      // Nodes as a cloud provider labels them: node1 and node2 share a zone, node3 is elsewhere.
      const zones = { node1: 'zone-a', node2: 'zone-a', node3: 'zone-b' } as Record<string, string>;
      for (const n of plan.nodes) {
        await core.createNode({
          body: {
            metadata: {
              name: n.name,
              labels: {
                'topology.kubernetes.io/zone': zones[n.name] as string,
                'topology.kubernetes.io/region': 'lab-1',
                'node.kubernetes.io/instance-type': 'lab.small',
              },
            },
          },
        });
      }
      // Left over from an earlier aggregator: an agent that will never come back.
      await core.createNamespacedService({ namespace: NS, body: serviceBody(INSTANCE, 'ghost-node', 5201) });
      await discovery.createNamespacedEndpointSlice({ namespace: NS, body: endpointSliceBody(INSTANCE, 'ghost-node', '198.19.9.2', 5201) });
      // Another installation's objects in the same namespace are not ours to touch.
      await core.createNamespacedService({ namespace: NS, body: serviceBody('someone-else', 'node1', 5201) });

      // The dataplane as Calico (FelixConfiguration CRD) and kube-proxy record it.
      const ext = kc.makeApiClient(ApiextensionsV1Api);
      await ext.createCustomResourceDefinition({
        body: {
          metadata: { name: 'felixconfigurations.crd.projectcalico.org' },
          spec: {
            group: 'crd.projectcalico.org',
            scope: 'Cluster',
            names: { plural: 'felixconfigurations', singular: 'felixconfiguration', kind: 'FelixConfiguration' },
            versions: [
              {
                name: 'v1',
                served: true,
                storage: true,
                schema: { openAPIV3Schema: { type: 'object', x_kubernetes_preserve_unknown_fields: true } },
              },
            ],
          },
        },
      });
      const custom = kc.makeApiClient(CustomObjectsApi);
      await waitFor(
        () =>
          custom
            .createClusterCustomObject({
              group: 'crd.projectcalico.org',
              version: 'v1',
              plural: 'felixconfigurations',
              body: {
                apiVersion: 'crd.projectcalico.org/v1',
                kind: 'FelixConfiguration',
                metadata: { name: 'default' },
                spec: { bpfEnabled: true, bpfExternalServiceMode: 'DSR' },
              },
            })
            .then(() => true),
        30_000,
        'the FelixConfiguration CRD to be served',
        250,
      );
      await core.createNamespacedConfigMap({
        namespace: 'kube-system',
        body: {
          metadata: { name: 'kube-proxy' },
          data: { 'config.conf': 'apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: "nftables"\n' },
        },
      });

      // The chart's RBAC, installed for real; the aggregator gets its ServiceAccount's token, nothing more.
      const helmHome = await mkdtemp(join(tmpdir(), 'netmatrix-helm-'));
      const helm = await exec([k8sTools().helm, 'install', 'nm', CHART, '--namespace', NS, '--kubeconfig', cluster.kubeconfigPath], {
        timeoutMs: 60_000,
        env: { ...process.env, HELM_CONFIG_HOME: helmHome, HELM_CACHE_HOME: helmHome, HELM_DATA_HOME: helmHome },
      });
      await rm(helmHome, { recursive: true, force: true });
      expect(helm.exitCode, helm.stderr).toBe(0);
      const token = await core.createNamespacedServiceAccountToken({
        name: 'nm-netmatrix-aggregator',
        namespace: NS,
        body: { spec: { audiences: [], expirationSeconds: 3600 } },
      });
      const aggregatorKubeconfig = await cluster.kubeconfigFor(token.status?.token ?? '', 'aggregator');

      session = await startLabSession(plan, pino({ level: 'silent' }), {
        NETMATRIX_SERVICE_ADDRESSES: '',
        NETMATRIX_KUBECONFIG: aggregatorKubeconfig,
        NETMATRIX_NAMESPACE: NS,
        NETMATRIX_INSTANCE: INSTANCE,
        NETMATRIX_STALE_SERVICE_GRACE_SECONDS: '3',
        NETMATRIX_KUBERNETES_RESYNC_SECONDS: '2',
        NETMATRIX_IDLE_SAMPLE_MS: '0',
      });
      proxy = await startLabKubeProxy(plan, cluster.kubeconfigPath, NS);
    }, 180_000);

    afterAll(async () => {
      await extraAgent?.stop();
      await proxy?.stop();
      await session?.stop();
      await cluster?.stop();
    });

    it('keeps a Service and an EndpointSlice per pod agent, with a ClusterIP the apiserver allocated, and removes stale ones', async () => {
      await waitFor(async () => (await ours()).services.length === 3 && (await ours()).slices.length === 3, 30_000, 'three Services');
      const { services, slices } = await ours();
      const byName = new Map<string, V1EndpointSlice>(slices.map((s) => [s.metadata?.name ?? '', s]));
      for (const n of plan.nodes) {
        const svc = services.find((s) => s.metadata?.name === serviceName(INSTANCE, n.name)) as V1Service;
        expect(svc.spec?.selector).toBeUndefined();
        expect(inCidr(svc.spec?.clusterIP ?? '', TEST_SERVICE_CIDR)).toBe(true);
        expect(svc.spec?.ports?.map((p) => `${p.protocol}/${p.port}`).sort()).toEqual(['TCP/5201', 'UDP/5201']);
        const slice = byName.get(svc.metadata?.name ?? '');
        expect(slice?.endpoints[0]?.addresses).toEqual([n.podIp]);
        expect(slice?.metadata?.labels?.['kubernetes.io/service-name']).toBe(svc.metadata?.name);
      }
      // The ghost's objects went after the grace; the other installation's Service stayed.
      expect(services.some((s) => s.metadata?.annotations?.['netmatrix.io/node'] === 'ghost-node')).toBe(false);
      const all = (await core.listNamespacedService({ namespace: NS })).items.map((s) => s.metadata?.name);
      expect(all).toContain(serviceName('someone-else', 'node1'));
      const status = await api<Status>('/api/status');
      expect(status.kubernetes.components.services?.state).toBe('ok');
      expect(status.servicePath).toEqual({ ready: 3, missing: [], reason: null });
    }, 40_000);

    it('measures pod-to-service through the allocated ClusterIPs, translated by a proxy that watches the apiserver', async () => {
      await waitFor(() => proxy.rules().length === 6, 20_000, 'the lab proxy to program 3 Services x TCP/UDP');
      const before = await proxy.packets();
      const run = await runAndWait({ label: 'kube-service', paths: ['service'], protocols: ['tcp', 'udp'], durationSeconds: 1 });
      const failed = run.results.filter((r) => !r.ok).map((r) => `${r.source.node}->${r.target.node} ${r.error?.message}`);
      expect(failed).toEqual([]);
      expect(run.results).toHaveLength(3 * 2 * 2);
      const { services } = await ours();
      const clusterIps = new Set(services.map((s) => s.spec?.clusterIP));
      for (const r of run.results) expect(clusterIps.has(r.target.address)).toBe(true);
      expect(await proxy.packets()).toBeGreaterThanOrEqual(before + run.results.length);
    }, 150_000);

    it('attaches each node’s zone, region and instance type to results, matrix rows and the environment', async () => {
      const run = await runAndWait({ label: 'kube-topology', paths: ['node'], protocols: ['tcp'], durationSeconds: 1 });
      const r13 = run.results.find((r) => r.source.node === 'node1' && r.target.node === 'node3');
      expect(r13?.source.topology).toEqual({ zone: 'zone-a', region: 'lab-1', instanceType: 'lab.small' });
      expect(r13?.target.topology?.zone).toBe('zone-b');
      const m = await api<{ nodes: Array<{ name: string; topology: unknown }>; cells: Array<Record<string, unknown>> }>('/api/matrix');
      const cell = (s: string, t: string) => m.cells.find((c) => c.path === 'node' && c.source === s && c.target === t);
      expect(cell('node1', 'node3')?.crossZone).toBe(true);
      expect(cell('node1', 'node2')?.crossZone).toBe(false);
      expect(m.nodes.find((n) => n.name === 'node3')?.topology).toEqual({ zone: 'zone-b', region: 'lab-1', instanceType: 'lab.small' });
      expect(run.environment?.nodes.map((n) => [n.name, n.zone, n.instanceType])).toEqual([
        ['node1', 'zone-a', 'lab.small'],
        ['node2', 'zone-a', 'lab.small'],
        ['node3', 'zone-b', 'lab.small'],
      ]);
      // The dataplane the cluster's own configuration objects describe.
      expect(run.environment?.dataplane).toMatchObject({
        kind: 'calico',
        settings: { bpfEnabled: 'true', bpfExternalServiceMode: 'DSR', kubeProxyMode: 'nftables' },
      });
      expect(run.environment?.dataplane.source).toContain('FelixConfiguration default');
    }, 60_000);

    it('gives any node name a valid Service, and deletes it when the agent leaves', async () => {
      const port = new URL(session.url).port;
      extraAgent = new AgentProcesses({ aggregatorUrl: `ws://${plan.aggregatorIp}:${port}/ws/agent`, token: session.token });
      // A second pod agent in node3's pod namespace, under an 80-character node name.
      extraAgent.start([
        { netns: 'nm-pod3', nodeName: LONG_NODE, mode: 'pod', podIp: '198.19.3.2', hostIp: '198.18.0.13', iperf3Port: 5202 },
      ]);
      const name = serviceName(INSTANCE, LONG_NODE);
      expect(isDns1035(name)).toBe(true);
      const svc = await waitFor(
        async () => (await ours()).services.find((s) => s.metadata?.name === name),
        30_000,
        'the long-named node’s Service',
      );
      expect(svc.metadata?.annotations?.['netmatrix.io/node']).toBe(LONG_NODE);
      await extraAgent.stop();
      await waitFor(async () => !(await ours()).services.some((s) => s.metadata?.name === name), 30_000, 'its Service to be deleted');
      expect((await ours()).slices.some((s) => s.metadata?.name === name)).toBe(false);
    }, 70_000);

    it('reports a forbidden apiserver as the reason pod-to-service is unavailable', async () => {
      // A service account with no role at all.
      await core.createNamespacedServiceAccount({ namespace: NS, body: { metadata: { name: 'nobody' } } });
      const tr = await core.createNamespacedServiceAccountToken({
        name: 'nobody',
        namespace: NS,
        body: { spec: { audiences: [], expirationSeconds: 3600 } },
      });
      const kubeconfig = await cluster.kubeconfigFor(tr.status?.token ?? '', 'nobody');
      const config = loadAggregatorConfig(
        { NETMATRIX_TOKEN: 't', NETMATRIX_LISTEN_HOST: '127.0.0.1', NETMATRIX_LISTEN_PORT: '0', NETMATRIX_CONTINUOUS: 'false' },
        ['--kubeconfig', kubeconfig, '--namespace', NS, '--instance', 'forbidden'],
      );
      const agg: Aggregator = await buildAggregator({ config, log: pino({ level: 'silent' }) });
      try {
        await agg.listen();
        const status = await waitFor(
          async () => {
            const s = (await agg.app.inject({ method: 'GET', url: '/api/status' })).json<Status>();
            return s.kubernetes.components.services?.state === 'unavailable' && s.kubernetes.components.nodes?.state === 'unavailable'
              ? s
              : undefined;
          },
          20_000,
          'the forbidden status',
        );
        expect(status.kubernetes.components.services?.reason).toMatch(
          /^403 Forbidden: [a-z0-9.]+ is forbidden: User "system:serviceaccount:netmatrix-it:nobody" cannot list/,
        );
        expect(status.kubernetes.components.nodes?.reason).toMatch(/403|forbidden/i);
        expect(status.kubernetes.components.services?.retryAt).not.toBeNull();
      } finally {
        await agg.close();
      }
    }, 40_000);

    it('keeps measuring node and pod paths when the apiserver goes away, and says why the service path is down', async () => {
      await cluster.stopServers();
      const status = await waitFor(
        async () => {
          const s = await api<Status>('/api/status');
          return s.kubernetes.components.services?.state === 'unavailable' ? s : undefined;
        },
        30_000,
        'the services component to notice',
      );
      expect(status.kubernetes.components.services?.reason).toMatch(/ECONNREFUSED|connect/i);
      const run = await runAndWait({ label: 'kube-down', paths: ['node', 'pod'], protocols: ['tcp'], durationSeconds: 1 });
      expect(run.results).toHaveLength(2 * 6);
      expect(run.results.filter((r) => !r.ok)).toEqual([]);
      const metrics = parseExposition((await session.aggregator.app.inject({ method: 'GET', url: '/metrics' })).body);
      expect(sampleValue(metrics, 'netmatrix_kubernetes_up', { component: 'services' })).toBe(0);
    }, 150_000);
  },
);
