/**
 * How the aggregator finds the Kubernetes API, against a real kube-apiserver: in a pod (the
 * service account's token, CA and namespace files plus KUBERNETES_SERVICE_HOST/PORT), from a
 * kubeconfig outside, not at all when off, and a clear error when `on` has neither. How often
 * it calls it: once per resync when all is well, at the backoff's pace when refused. And the
 * dataplane fingerprint it reads from Calico's, Cilium's and kube-proxy's objects as the
 * apiserver stores them, each read failing on its own.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiextensionsV1Api, AppsV1Api, CoreV1Api, CustomObjectsApi, KubeConfig, type V1DaemonSetStatus } from '@kubernetes/client-node';
import { afterAll, beforeAll, expect, it } from 'vitest';
import pino from 'pino';
import { AgentRegistry } from '../../aggregator/agents.js';
import { connectKube, type KubeClient } from '../../aggregator/kube/client.js';
import { DATAPLANE_SOURCES, interpretDataplane, readDataplaneObjects } from '../../aggregator/kube/dataplane.js';
import { ServiceDirectory } from '../../aggregator/kube/services.js';
import { KubeStatus } from '../../aggregator/kube/status.js';
import { missingK8sTools, startKubeCluster, type KubeCluster } from '../helpers/kube-cluster.js';
import { describeWith, waitFor } from '../helpers/requirements.js';
import { DataplaneSchema } from '../../shared/environment.js';

/** The real client, with its list calls counted. */
function counting(client: KubeClient): { client: KubeClient; lists: () => number } {
  let n = 0;
  const counted = Object.create(client) as KubeClient;
  counted.listServices = (selector) => {
    n++;
    return client.listServices(selector);
  };
  return { client: counted, lists: () => n };
}

/** Let time pass: the point is that nothing happens during it. */
const idle = (ms: number) => new Promise((r) => setTimeout(r, ms));

describeWith({ check: missingK8sTools }, 'finding the Kubernetes API, and the pace of its calls', () => {
  let cluster: KubeCluster;
  let root: string;
  let saToken: string;

  beforeAll(async () => {
    cluster = await startKubeCluster();
    const kc = new KubeConfig();
    kc.loadFromFile(cluster.kubeconfigPath);
    const core = kc.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: 'in-pod' } } });
    await core.createNamespacedServiceAccount({ namespace: 'in-pod', body: { metadata: { name: 'aggregator' } } });
    const tr = await core.createNamespacedServiceAccountToken({
      name: 'aggregator',
      namespace: 'in-pod',
      body: { spec: { audiences: [] } },
    });
    saToken = tr.status?.token ?? '';
    // The files the kubelet mounts into a pod, under a folder of our own.
    root = await mkdtemp(join(tmpdir(), 'netmatrix-pod-'));
    const sa = join(root, 'var/run/secrets/kubernetes.io/serviceaccount');
    await mkdir(sa, { recursive: true });
    await writeFile(join(sa, 'token'), saToken);
    await writeFile(join(sa, 'ca.crt'), await readFile(cluster.caFile));
    await writeFile(join(sa, 'namespace'), 'in-pod');
  }, 120_000);

  afterAll(async () => {
    await cluster?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('uses the service account in a pod: its token, its CA and its namespace', async () => {
    const { port } = new URL(cluster.url);
    const saved = { host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT };
    process.env.KUBERNETES_SERVICE_HOST = '127.0.0.1';
    process.env.KUBERNETES_SERVICE_PORT = port;
    try {
      const client = connectKube({ kubernetes: 'auto', kubeconfig: undefined, namespace: undefined }, process.env, root);
      expect(client?.source).toBe('in-cluster');
      expect(client?.namespace).toBe('in-pod');
      // Authenticated as the service account, which has no role: the API names it in the refusal.
      await expect(client?.listServices('')).rejects.toMatchObject({
        code: 403,
        body: expect.stringContaining('system:serviceaccount:in-pod:aggregator') as unknown,
      });
    } finally {
      process.env.KUBERNETES_SERVICE_HOST = saved.host;
      process.env.KUBERNETES_SERVICE_PORT = saved.port;
      if (saved.host === undefined) delete process.env.KUBERNETES_SERVICE_HOST;
      if (saved.port === undefined) delete process.env.KUBERNETES_SERVICE_PORT;
    }
  });

  it('uses a kubeconfig outside a cluster, in the namespace asked for', async () => {
    const client = connectKube({ kubernetes: 'auto', kubeconfig: cluster.kubeconfigPath, namespace: 'elsewhere' }, {});
    expect(client?.source).toBe(`kubeconfig ${cluster.kubeconfigPath}`);
    expect(client?.namespace).toBe('elsewhere');
    expect(await client?.listServices('')).toEqual([]);
  });

  it('stays off when asked, or when auto finds neither; and says what is missing when it must be on', () => {
    expect(connectKube({ kubernetes: 'off', kubeconfig: cluster.kubeconfigPath, namespace: undefined }, {})).toBeNull();
    expect(connectKube({ kubernetes: 'auto', kubeconfig: undefined, namespace: undefined }, {}, root + '-absent')).toBeNull();
    expect(() => connectKube({ kubernetes: 'on', kubeconfig: undefined, namespace: undefined }, {}, root + '-absent')).toThrow(
      'NETMATRIX_KUBERNETES=on, but there is no in-cluster service account and no NETMATRIX_KUBECONFIG',
    );
  });

  const directory = (client: KubeClient, status: KubeStatus) =>
    new ServiceDirectory({
      client,
      agents: new AgentRegistry(),
      status,
      log: pino({ level: 'silent' }),
      instance: 'pace',
      staleGraceMs: 60_000,
      resyncMs: 60_000,
      backoff: { initialMs: 400, maxMs: 400, random: () => 0 },
    });

  it('lists its Services once per resync period when the API answers', async () => {
    const real = connectKube({ kubernetes: 'on', kubeconfig: cluster.kubeconfigPath, namespace: 'in-pod' }, {});
    const { client, lists } = counting(real as KubeClient);
    const status = new KubeStatus(client.source);
    const d = directory(client, status);
    d.start();
    await idle(2000);
    await d.stop();
    expect(status.get('services')?.state).toBe('ok');
    expect(lists()).toBe(1);
  });

  it('retries a refusing API at the backoff pace, not in a loop, and says why', async () => {
    const kubeconfig = await cluster.kubeconfigFor(saToken, 'refused');
    const real = connectKube({ kubernetes: 'on', kubeconfig, namespace: 'in-pod' }, {});
    const { client, lists } = counting(real as KubeClient);
    const status = new KubeStatus(client.source);
    const d = directory(client, status);
    d.start();
    await idle(2000);
    await d.stop();
    // 200 ms between attempts (the backoff's lower half with random 0): about 10 in 2 s.
    expect(lists()).toBeGreaterThanOrEqual(3);
    expect(lists()).toBeLessThanOrEqual(12);
    expect(status.get('services')).toMatchObject({ state: 'unavailable', reason: expect.stringMatching(/^403 Forbidden/) as unknown });
  });
});

/** A CustomResourceDefinition that stores any spec: enough for the apiserver to serve the kind. */
function crd(group: string, version: string, kind: string, plural: string) {
  return {
    metadata: { name: `${plural}.${group}` },
    spec: {
      group,
      scope: 'Cluster',
      names: { plural, singular: kind.toLowerCase(), kind },
      versions: [
        {
          name: version,
          served: true,
          storage: true,
          schema: { openAPIV3Schema: { type: 'object', x_kubernetes_preserve_unknown_fields: true } },
        },
      ],
    },
  };
}

describeWith({ check: missingK8sTools }, "the dataplane fingerprint, read from the cluster's objects", () => {
  let cluster: KubeCluster;
  let client: KubeClient;
  let admin: KubeConfig;

  beforeAll(async () => {
    cluster = await startKubeCluster();
    admin = new KubeConfig();
    admin.loadFromFile(cluster.kubeconfigPath);
    client = connectKube({ kubernetes: 'on', kubeconfig: cluster.kubeconfigPath, namespace: 'default' }, {}) as KubeClient;
  }, 120_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  // The tests build on each other in order, on one apiserver: each adds objects to what the one before left.
  const fingerprint = async () => {
    const objects = await readDataplaneObjects(client);
    return { objects, dataplane: DataplaneSchema.parse(interpretDataplane(objects)) };
  };

  /** Creates a kind's CRD, then an object of it once the apiserver serves the kind (a new CRD takes a moment). */
  async function serve(group: string, version: string, kind: string, plural: string, objects: Record<string, unknown>[]) {
    await admin.makeApiClient(ApiextensionsV1Api).createCustomResourceDefinition({ body: crd(group, version, kind, plural) });
    const custom = admin.makeApiClient(CustomObjectsApi);
    for (const body of objects) {
      await waitFor(
        () =>
          custom
            .createClusterCustomObject({ group, version, plural, body: { apiVersion: `${group}/${version}`, kind, ...body } })
            .then(() => true),
        30_000,
        `the ${kind} CRD to be served`,
        250,
      );
    }
  }

  /**
   * The DaemonSet's status as the DaemonSet controller would write it. No controller and no
   * kubelet run here: this status is written by the test, through the status subresource.
   */
  async function setStatus(name: string, counts: Pick<V1DaemonSetStatus, 'desiredNumberScheduled' | 'numberReady'>) {
    const apps = admin.makeApiClient(AppsV1Api);
    const ds = await apps.readNamespacedDaemonSet({ namespace: 'kube-system', name });
    const status: V1DaemonSetStatus = { currentNumberScheduled: counts.desiredNumberScheduled, numberMisscheduled: 0, ...counts };
    await apps.replaceNamespacedDaemonSetStatus({ namespace: 'kube-system', name, body: { ...ds, status } });
  }

  it('finds nothing, and no problem, where no Calico, Cilium or kube-proxy object exists', async () => {
    const { objects, dataplane } = await fingerprint();
    expect(objects.problems).toEqual([]);
    expect(dataplane).toEqual({
      kind: 'unknown',
      settings: {},
      provenance: {},
      source: 'no Calico, Cilium or kube-proxy configuration found',
    });
  });

  it("reads kube-proxy's mode, marked assumed when its ConfigMap leaves it empty, and whether its DaemonSet's pods are ready", async () => {
    const core = admin.makeApiClient(CoreV1Api);
    await core.createNamespacedConfigMap({
      namespace: 'kube-system',
      body: {
        metadata: { name: 'kube-proxy' },
        data: { 'config.conf': 'apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: ""\n' },
      },
    });
    const labels = { 'k8s-app': 'kube-proxy' };
    await admin.makeApiClient(AppsV1Api).createNamespacedDaemonSet({
      namespace: 'kube-system',
      body: {
        metadata: { name: 'kube-proxy' },
        spec: {
          selector: { matchLabels: labels },
          template: { metadata: { labels }, spec: { containers: [{ name: 'kube-proxy', image: 'registry.k8s.io/kube-proxy:v1.34.4' }] } },
        },
      },
    });
    await setStatus('kube-proxy', { desiredNumberScheduled: 3, numberReady: 3 });

    const { objects, dataplane } = await fingerprint();
    expect(objects.problems).toEqual([]);
    expect(objects.kubeProxyDaemonSet).toEqual({ desired: 3, ready: 3 });
    expect(dataplane.kind).toBe('kube-proxy');
    expect(dataplane.settings).toEqual({ kubeProxyMode: 'iptables', kubeProxyRunning: 'true' });
    expect(dataplane.provenance).toEqual({
      kubeProxyMode: { mark: 'assumed', because: "kube-proxy's default on Linux when mode is empty" },
      kubeProxyRunning: { mark: 'read', from: 'DaemonSet kube-system/kube-proxy status: 3 of 3 pods ready' },
    });
  });

  it('lists IPPools from projectcalico.org/v3 while only that API serves them', async () => {
    await serve('projectcalico.org', 'v3', 'IPPool', 'ippools', [
      { metadata: { name: 'v3-pool' }, spec: { cidr: '10.244.0.0/16', ipipMode: 'Always', vxlanMode: 'Never' } },
    ]);
    const { objects, dataplane } = await fingerprint();
    expect(objects.problems).toEqual([]);
    expect(objects.ipPools?.from).toBe('IPPools (projectcalico.org/v3)');
    expect(dataplane.settings).toMatchObject({ ipipMode: 'Always', vxlanMode: 'Never' });
  });

  it("reads Calico's eBPF mode from the Installation, FelixConfiguration and IPPools, and the kube-proxy it turned off", async () => {
    await serve('operator.tigera.io', 'v1', 'Installation', 'installations', [
      { metadata: { name: 'default' }, spec: { calicoNetwork: { linuxDataplane: 'BPF' } } },
    ]);
    await serve('crd.projectcalico.org', 'v1', 'FelixConfiguration', 'felixconfigurations', [
      { metadata: { name: 'default' }, spec: { bpfEnabled: true, bpfExternalServiceMode: 'DSR' } },
    ]);
    await serve('crd.projectcalico.org', 'v1', 'IPPool', 'ippools', [
      { metadata: { name: 'default-ipv4-ippool' }, spec: { cidr: '192.168.0.0/16', ipipMode: 'Never', vxlanMode: 'CrossSubnet' } },
      { metadata: { name: 'retired' }, spec: { cidr: '10.0.0.0/16', vxlanMode: 'Always', disabled: true } },
    ]);
    // What Calico's eBPF guide does to kube-proxy: a nodeSelector no node has. The DaemonSet
    // controller would then count no desired pod; here the test writes that status.
    const apps = admin.makeApiClient(AppsV1Api);
    const ds = await apps.readNamespacedDaemonSet({ namespace: 'kube-system', name: 'kube-proxy' });
    const template = ds.spec?.template;
    if (!ds.spec || !template?.spec) throw new Error('kube-proxy DaemonSet without a pod template');
    await apps.replaceNamespacedDaemonSet({
      namespace: 'kube-system',
      name: 'kube-proxy',
      body: { ...ds, spec: { ...ds.spec, template: { ...template, spec: { ...template.spec, nodeSelector: { 'non-calico': 'true' } } } } },
    });
    await setStatus('kube-proxy', { desiredNumberScheduled: 0, numberReady: 0 });

    const { objects, dataplane } = await fingerprint();
    expect(objects.problems).toEqual([]);
    expect(dataplane.kind).toBe('calico');
    expect(dataplane.settings).toEqual({
      kubeProxyMode: 'iptables',
      kubeProxyRunning: 'false',
      linuxDataplane: 'BPF',
      ipipMode: 'Never',
      vxlanMode: 'CrossSubnet',
      bpfEnabled: 'true',
      bpfExternalServiceMode: 'DSR',
      bpfConnectTimeLoadBalancing: 'TCP',
      bpfKubeProxyIptablesCleanupEnabled: 'true',
    });
    expect(dataplane.provenance).toMatchObject({
      kubeProxyRunning: {
        mark: 'read',
        from: 'DaemonSet kube-system/kube-proxy status: 0 of 0 pods ready, its nodeSelector matching no node',
      },
      linuxDataplane: { mark: 'read', from: 'Installation default' },
      ipipMode: { mark: 'read', from: 'IPPools (crd.projectcalico.org/v1): default-ipv4-ippool' },
      bpfExternalServiceMode: { mark: 'read', from: 'FelixConfiguration default' },
      bpfConnectTimeLoadBalancing: { mark: 'assumed' },
    });
    expect(dataplane.source).toBe(
      'read ConfigMap kube-system/kube-proxy, DaemonSet kube-system/kube-proxy, Installation default, IPPools (crd.projectcalico.org/v1), FelixConfiguration default',
    );
  });

  it("reads Cilium's settings from cilium-config, assuming its defaults for the keys left out", async () => {
    await admin.makeApiClient(CoreV1Api).createNamespacedConfigMap({
      namespace: 'kube-system',
      body: {
        metadata: { name: 'cilium-config' },
        data: {
          'kube-proxy-replacement': 'true',
          'routing-mode': 'native',
          'enable-ipv4-big-tcp': 'true',
          'bpf-lb-acceleration': 'native',
        },
      },
    });
    const { objects } = await fingerprint();
    expect(objects.problems).toEqual([]);
    // Calico's objects are still there; Cilium's settings alone are what this test looks at.
    const cilium = DataplaneSchema.parse(interpretDataplane({ ...objects, felix: null, installation: null, ipPools: null }));
    expect(cilium.kind).toBe('cilium');
    expect(cilium.settings).toMatchObject({
      'kube-proxy-replacement': 'true',
      'routing-mode': 'native',
      'enable-ipv4-big-tcp': 'true',
      'bpf-lb-acceleration': 'native',
      'enable-wireguard': 'false',
      socketLB: 'true',
    });
    expect(cilium.provenance?.['enable-wireguard']?.mark).toBe('assumed');
    expect(cilium.provenance?.['bpf-lb-acceleration']).toEqual({ mark: 'read', from: 'ConfigMap kube-system/cilium-config' });
  });

  it('lets every read fail on its own under a ServiceAccount without RBAC, each saying why', async () => {
    const core = admin.makeApiClient(CoreV1Api);
    await core.createNamespacedServiceAccount({ namespace: 'default', body: { metadata: { name: 'no-rbac' } } });
    const tr = await core.createNamespacedServiceAccountToken({ name: 'no-rbac', namespace: 'default', body: { spec: { audiences: [] } } });
    const kubeconfig = await cluster.kubeconfigFor(tr.status?.token ?? '', 'no-rbac');
    const refused = connectKube({ kubernetes: 'on', kubeconfig, namespace: 'default' }, {}) as KubeClient;
    const objects = await readDataplaneObjects(refused);
    expect(objects.problems).toHaveLength(DATAPLANE_SOURCES);
    for (const p of objects.problems) expect(p).toMatch(/: 403 Forbidden: .*system:serviceaccount:default:no-rbac/);
    expect(objects.problems.find((p) => p.startsWith('DaemonSet kube-system/kube-proxy: '))).toBeDefined();
    expect(interpretDataplane(objects).kind).toBe('unknown');
  });
});
