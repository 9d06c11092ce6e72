/**
 * How the aggregator finds the Kubernetes API, against a real kube-apiserver: in a pod (the
 * service account's token, CA and namespace files plus KUBERNETES_SERVICE_HOST/PORT), from a
 * kubeconfig outside, not at all when off, and a clear error when `on` has neither. And how
 * often it calls it: once per resync when all is well, at the backoff's pace when refused.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, expect, it } from 'vitest';
import pino from 'pino';
import { AgentRegistry } from '../../aggregator/agents.js';
import { connectKube, type KubeClient } from '../../aggregator/kube/client.js';
import { ServiceDirectory } from '../../aggregator/kube/services.js';
import { KubeStatus } from '../../aggregator/kube/status.js';
import { missingK8sTools, startKubeCluster, type KubeCluster } from '../helpers/kube-cluster.js';
import { describeWith } from '../helpers/requirements.js';

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
