/**
 * How the aggregator finds the Kubernetes API, against a real kube-apiserver: in a pod (the
 * service account's token, CA and namespace files plus KUBERNETES_SERVICE_HOST/PORT), from a
 * kubeconfig outside, not at all when off, and a clear error when `on` has neither.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connectKube } from '../../aggregator/kube/client.js';
import { missingK8sTools, startKubeCluster, type KubeCluster } from '../helpers/kube-cluster.js';
import { describeWith } from '../helpers/requirements.js';

describeWith({ check: missingK8sTools }, 'finding the Kubernetes API', () => {
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
});
