/**
 * A small service proxy for the lab, driven by a real kube-apiserver: it watches Services and
 * EndpointSlices in one namespace (client-node informers) and programs, in every lab node
 * namespace, one iptables DNAT rule per ClusterIP, port and protocol to the slice's endpoint —
 * what kube-proxy's iptables mode does, reduced to the one-endpoint Services netmatrix keeps.
 * Test harness only: the product relies on the cluster's own proxy.
 */
import {
  CoreV1Api,
  DiscoveryV1Api,
  KubeConfig,
  makeInformer,
  type Informer,
  type ObjectCache,
  type V1EndpointSlice,
  type V1Service,
} from '@kubernetes/client-node';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execChecked } from '../../sys/exec.js';
import { netnsExec, type LabPlan } from '../../lab/plan.js';

export const KUBE_SERVICES_CHAIN = 'NETMATRIX-KUBE-SERVICES';

export interface DnatRule {
  clusterIp: string;
  protocol: 'tcp' | 'udp';
  port: number;
  endpoint: string;
  endpointPort: number;
}

/** Pure: the rules for these Services and slices (a Service without a ready endpoint gets none). */
export function dnatRules(services: readonly V1Service[], slices: readonly V1EndpointSlice[]): DnatRule[] {
  const rules: DnatRule[] = [];
  for (const svc of services) {
    const name = svc.metadata?.name;
    const clusterIp = svc.spec?.clusterIP;
    if (!name || !clusterIp || clusterIp === 'None') continue;
    const slice = slices.find((s) => s.metadata?.labels?.['kubernetes.io/service-name'] === name);
    const endpoint = slice?.endpoints.find((e) => e.conditions?.ready !== false)?.addresses[0];
    if (!slice || !endpoint) continue;
    for (const p of svc.spec?.ports ?? []) {
      const protocol = (p.protocol ?? 'TCP').toLowerCase();
      if (protocol !== 'tcp' && protocol !== 'udp') continue;
      const sp = slice.ports?.find((x) => x.name === p.name);
      rules.push({ clusterIp, protocol, port: p.port, endpoint, endpointPort: sp?.port ?? p.port });
    }
  }
  return rules;
}

/** `iptables-restore --noflush` input: declaring the chain flushes it, so each sync replaces every rule. */
export function restoreScript(rules: readonly DnatRule[]): string {
  return [
    '*nat',
    `:${KUBE_SERVICES_CHAIN} - [0:0]`,
    ...rules.map(
      (r) =>
        `-A ${KUBE_SERVICES_CHAIN} -d ${r.clusterIp}/32 -p ${r.protocol} -m ${r.protocol} --dport ${r.port}` +
        ` -j DNAT --to-destination ${r.endpoint}:${r.endpointPort}`,
    ),
    'COMMIT',
    '',
  ].join('\n');
}

export interface LabKubeProxy {
  /** The rules last programmed. */
  rules(): DnatRule[];
  /** Packets that went through the chain's DNAT rules, over all nodes. */
  packets(): Promise<number>;
  stop(): Promise<void>;
}

export async function startLabKubeProxy(plan: LabPlan, kubeconfigPath: string, namespace: string): Promise<LabKubeProxy> {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  const core = kc.makeApiClient(CoreV1Api);
  const discovery = kc.makeApiClient(DiscoveryV1Api);
  const services: Informer<V1Service> & ObjectCache<V1Service> = makeInformer(kc, `/api/v1/namespaces/${namespace}/services`, () =>
    core.listNamespacedService({ namespace }),
  );
  const slices: Informer<V1EndpointSlice> & ObjectCache<V1EndpointSlice> = makeInformer(
    kc,
    `/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices`,
    () => discovery.listNamespacedEndpointSlice({ namespace }),
  );

  for (const n of plan.nodes) {
    for (const hook of ['PREROUTING', 'OUTPUT']) {
      await execChecked(netnsExec(n.netns, ['iptables', '-t', 'nat', '-N', KUBE_SERVICES_CHAIN]), { timeoutMs: 10_000 }).catch(
        () => undefined,
      );
      await execChecked(netnsExec(n.netns, ['iptables', '-t', 'nat', '-I', hook, '1', '-j', KUBE_SERVICES_CHAIN]), { timeoutMs: 10_000 });
    }
  }

  const dir = await mkdtemp(join(tmpdir(), 'netmatrix-kube-proxy-'));
  let current: DnatRule[] = [];
  let chain = Promise.resolve();
  let stopped = false;
  const sync = () => {
    chain = chain.then(async () => {
      if (stopped) return;
      const next = dnatRules(services.list(), slices.list());
      if (JSON.stringify(next) === JSON.stringify(current)) return;
      const file = join(dir, 'rules');
      await writeFile(file, restoreScript(next));
      for (const n of plan.nodes) await execChecked(netnsExec(n.netns, ['iptables-restore', '--noflush', file]), { timeoutMs: 10_000 });
      current = next;
    });
    chain = chain.catch((e: unknown) => console.error('lab kube proxy: sync failed:', e));
  };
  for (const inf of [services, slices] as Array<Informer<V1Service | V1EndpointSlice>>) {
    for (const verb of ['add', 'update', 'delete'] as const) inf.on(verb, sync);
    // Informers stop on errors; the test's apiserver may be stopped on purpose. Keep the rules.
    inf.on('error', () => undefined);
  }
  await Promise.all([services.start(), slices.start()]);
  sync();
  await chain;

  return {
    rules: () => current,
    async packets() {
      let total = 0;
      for (const n of plan.nodes) {
        const out = await execChecked(netnsExec(n.netns, ['iptables', '-t', 'nat', '-L', KUBE_SERVICES_CHAIN, '-v', '-x', '-n']), {
          timeoutMs: 10_000,
        });
        for (const line of out.split('\n')) {
          const m = /^\s*(\d+)\s+\d+\s+DNAT\b/.exec(line);
          if (m) total += Number(m[1]);
        }
      }
      return total;
    },
    async stop() {
      stopped = true;
      await Promise.all([services.stop(), slices.stop()]);
      await chain;
      await rm(dir, { recursive: true, force: true });
    },
  };
}
