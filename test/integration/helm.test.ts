/**
 * The Helm chart (charts/netmatrix): lint, what it renders with default and other values, what
 * its schema refuses, and a real `helm install` against a real kube-apiserver, after which the
 * aggregator's and the agents' ServiceAccounts are put to the test with real API calls under
 * their own tokens: everything the aggregator needs is allowed, and nothing more.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  DiscoveryV1Api,
  KubeConfig,
  KubernetesObjectApi,
  Watch,
  loadAllYaml,
  type KubernetesObject,
  type V1ClusterRole,
  type V1Container,
  type V1DaemonSet,
  type V1Deployment,
  type V1EnvVar,
  type V1PodSpec,
  type V1Role,
  type V1Secret,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { AGENT_SETTINGS, loadAgentConfig } from '../../agent/config.js';
import { AGGREGATOR_SETTINGS, loadAggregatorConfig } from '../../aggregator/config.js';
import { DEFAULT_ALERT_SETTINGS, ruleFile, type AlertSettings } from '../../dashboards/alerts.js';
import { dashboards, generatedFiles, REPO_ROOT } from '../../dashboards/generate.js';
import { exec } from '../../sys/exec.js';
import { k8sTools, missingK8sTools, startKubeCluster, type KubeCluster } from '../helpers/kube-cluster.js';
import { describeWith } from '../helpers/requirements.js';

const CHART = fileURLToPath(new URL('../../charts/netmatrix', import.meta.url));
const RELEASE = 'nm';
const NAMESPACE = 'netmatrix-helm';
/** fullname of release "nm": "<release>-<chart>". */
const FULLNAME = 'nm-netmatrix';
const KUBE_VERSION = k8sTools().versions.KUBE_APISERVER_VERSION ?? 'v1.34.4';

type Obj = KubernetesObject & Record<string, unknown>;

interface Helm {
  run(args: string[], timeoutMs?: number): Promise<{ code: number | null; stdout: string; stderr: string }>;
  /** `helm template` for RELEASE in NAMESPACE; fails the test (with helm's stderr) when helm does. */
  render(...args: string[]): Promise<Obj[]>;
}

/**
 * helm with its own config, cache and data folders (nothing read from or written to the user's),
 * and `--kube-version` on every render, so the chart is rendered for the same Kubernetes version
 * as the test apiserver.
 */
function makeHelm(home: () => string): Helm {
  const run: Helm['run'] = async (args, timeoutMs = 60_000) => {
    const env = {
      ...process.env,
      HELM_CONFIG_HOME: join(home(), 'config'),
      HELM_CACHE_HOME: join(home(), 'cache'),
      HELM_DATA_HOME: join(home(), 'data'),
    };
    const r = await exec([k8sTools().helm, ...args], { timeoutMs, env });
    if (r.timedOut) throw new Error(`helm ${args.join(' ')} timed out after ${timeoutMs} ms\n${r.stderr}`);
    return { code: r.exitCode, stdout: r.stdout, stderr: r.stderr };
  };
  return {
    run,
    async render(...args) {
      const r = await run(['template', RELEASE, CHART, '--namespace', NAMESPACE, '--kube-version', KUBE_VERSION, ...args]);
      expect(r.code, `helm template ${args.join(' ')}:\n${r.stderr}`).toBe(0);
      return (loadAllYaml(r.stdout) as (Obj | null)[]).filter((o): o is Obj => o !== null);
    },
  };
}

const kinds = (objs: Obj[]) => objs.map((o) => o.kind ?? '').sort();
const ofKind = <T>(objs: Obj[], kind: string) => objs.filter((o) => o.kind === kind) as T[];
const named = <T>(objs: Obj[], kind: string, name: string) => {
  const found = objs.find((o) => o.kind === kind && o.metadata?.name === name);
  if (!found) throw new Error(`no ${kind} ${name} in: ${objs.map((o) => `${o.kind}/${o.metadata?.name}`).join(', ')}`);
  return found as T;
};
const podSpec = (w: V1DaemonSet | V1Deployment): V1PodSpec => {
  const spec = w.spec?.template.spec;
  if (!spec) throw new Error(`${w.metadata?.name} has no pod spec`);
  return spec;
};
const container = (w: V1DaemonSet | V1Deployment): V1Container => {
  const c = podSpec(w).containers[0];
  if (!c) throw new Error(`${w.metadata?.name} has no container`);
  return c;
};
const env = (c: V1Container, name: string): V1EnvVar | undefined => c.env?.find((e) => e.name === name);
const envValue = (c: V1Container, name: string) => env(c, name)?.value;
const workloads = (objs: Obj[]) => [...ofKind<V1Deployment>(objs, 'Deployment'), ...ofKind<V1DaemonSet>(objs, 'DaemonSet')];

const DEFAULT_KINDS = [
  'ClusterRole',
  'ConfigMap',
  'ClusterRoleBinding',
  'DaemonSet',
  'DaemonSet',
  'Deployment',
  'Role',
  'Role',
  'RoleBinding',
  'RoleBinding',
  'Secret',
  'Service',
  'ServiceAccount',
  'ServiceAccount',
].sort();

/** Non-default values for lint and render: an existing token Secret, no host agent, no dataplane detection, a ServiceMonitor, other ports, limits and settings. */
const OTHER_VALUES = {
  fullnameOverride: 'matrix',
  image: { repository: 'registry.example/netmatrix', tag: '9.9.9', pullPolicy: 'Always' },
  imagePullSecrets: [{ name: 'regcred' }],
  token: { existingSecret: 'my-token', existingSecretKey: 'bearer' },
  aggregator: {
    settings: {
      paths: ['pod'],
      protocols: ['tcp'],
      testDurationSeconds: 5,
      tcpBitrateBitsPerSecond: 5_000_000_000,
      streams: 4,
      coverage: {
        mode: 'budget',
        fullMaxNodes: 50,
        referencePeers: 5,
        crossZonePeers: 2,
        testsPerHour: 600,
        nodeBytesPerHour: 500_000_000_000,
        assumedTcpBitsPerSecond: 25_000_000_000,
        quietHours: '22:30-04:15',
        roundPauseJitterPercent: 25,
        busyNodeCpuPercent: 80,
        busyNodeNicBitsPerSecond: 5_000_000_000,
        busyNodeRestSeconds: 1800,
      },
    },
    dataplaneDetection: false,
    extraEnv: [{ name: 'NETMATRIX_RESULTS_KEPT', value: '500' }],
    service: { port: 9090 },
    priorityClassName: 'system-cluster-critical',
  },
  agents: {
    maxBitrateBitsPerSecond: 10_000_000_000,
    allowedTargetCidrs: ['10.0.0.0/8', '192.168.0.0/16'],
    updateStrategy: { maxUnavailable: '25%' },
    priorityClassName: 'system-node-critical',
    pod: { iperf3Port: 5301, healthPort: 8181 },
    host: { enabled: false },
  },
  serviceMonitor: { enabled: true, labels: { release: 'kube-prometheus-stack' }, interval: '1m' },
  grafana: {
    dashboards: {
      labels: { grafana_dashboard: 'yes', team: 'network' },
      annotations: { grafana_folder: 'netmatrix' },
      namespace: 'monitoring',
    },
  },
  prometheusRule: {
    enabled: true,
    labels: { release: 'kube-prometheus-stack' },
    throughputDrop: { percent: 30, baselineWindow: '7d' },
    nodeStale: { seconds: 2_000_000 },
  },
};
/** The alert settings OTHER_VALUES asks for. */
const OTHER_ALERTS: AlertSettings = {
  ...DEFAULT_ALERT_SETTINGS,
  throughputDrop: { ...DEFAULT_ALERT_SETTINGS.throughputDrop, percent: 30, baselineWindow: '7d' },
  nodeStale: { ...DEFAULT_ALERT_SETTINGS.nodeStale, seconds: 2_000_000 },
};
type PrometheusRule = Obj & { spec: unknown };

let helmHome = '';
const helm = makeHelm(() => helmHome);

beforeAll(async () => {
  helmHome = await mkdtemp(join(tmpdir(), 'netmatrix-helm-'));
});
afterAll(async () => {
  if (helmHome) await rm(helmHome, { recursive: true, force: true });
});

describe('chart documentation', () => {
  /** key -> default (as JSON) of the README's values table. */
  async function documentedValues(): Promise<Map<string, string>> {
    const readme = await readFile(join(CHART, 'README.md'), 'utf8');
    const section = readme.split('## Values')[1] ?? '';
    return new Map([...section.matchAll(/^\| `([^`]+)` \| `([^`]*)` \|/gm)].map((m) => [m[1] as string, m[2] as string]));
  }
  /** Schema paths down to where the README documents them (a documented object covers its children). */
  function undocumented(schema: Record<string, unknown>, documented: Set<string>, path = ''): string[] {
    const props = schema.properties as Record<string, Record<string, unknown>> | undefined;
    if (path && documented.has(path)) return [];
    if (!props) return [path];
    return Object.entries(props)
      .filter(([k]) => k !== 'global')
      .flatMap(([k, s]) => undocumented(s, documented, path ? `${path}.${k}` : k));
  }
  const at = (o: unknown, path: string) => path.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], o);

  it('documents every value of the schema in the README, with the default of values.yaml', async () => {
    const docs = await documentedValues();
    const schema = JSON.parse(await readFile(join(CHART, 'values.schema.json'), 'utf8')) as Record<string, unknown>;
    const values = loadAllYaml(await readFile(join(CHART, 'values.yaml'), 'utf8'))[0] as Record<string, unknown>;
    expect(undocumented(schema, new Set(docs.keys()))).toEqual([]);
    for (const [key, def] of docs) {
      expect(at(values, key), `${key} is documented but not in values.yaml`).not.toBeUndefined();
      expect(def, `README default of ${key}`).toBe(JSON.stringify(at(values, key)));
    }
  });
});

/** A value under aggregator.settings: its path, the NETMATRIX_ variable its schema names, its schema and its default. */
interface SettingValue {
  path: string;
  env: string;
  schema: Record<string, unknown>;
  value: unknown;
}

/** Every leaf of aggregator.settings in values.schema.json, with its default from values.yaml. */
async function settingValues(): Promise<SettingValue[]> {
  const schema = JSON.parse(await readFile(join(CHART, 'values.schema.json'), 'utf8')) as Schema;
  const values = loadAllYaml(await readFile(join(CHART, 'values.yaml'), 'utf8'))[0] as { aggregator: { settings: unknown } };
  const walk = (s: Schema, value: unknown, path: string): SettingValue[] =>
    s.type === 'object' && s.properties
      ? Object.entries(s.properties).flatMap(([k, child]) => walk(child, (value as Record<string, unknown>)[k], `${path}.${k}`))
      : [{ path, env: String(s.description), schema: s, value }];
  return walk(schema.properties?.aggregator?.properties?.settings ?? {}, values.aggregator.settings, 'aggregator.settings');
}
interface Schema {
  type?: string;
  description?: string;
  properties?: Record<string, Schema>;
  [k: string]: unknown;
}

/** A chart value as the template writes it into the environment (lists joined; empty = unset). */
const asEnv = (v: unknown): string | undefined => {
  if (Array.isArray(v)) return v.join(',');
  if (typeof v === 'number' || typeof v === 'boolean' || (typeof v === 'string' && v !== '')) return String(v);
  return undefined;
};

/**
 * Aggregator settings the chart neither exposes as values nor sets itself: they are left to
 * aggregator.extraEnv. A new setting must be added to the chart or here.
 */
const NOT_CHART_VALUES = new Set([
  'NETMATRIX_LISTEN_HOST',
  'NETMATRIX_SERVER_READY_TIMEOUT_MS',
  'NETMATRIX_RESULT_TIMEOUT_MARGIN_MS',
  'NETMATRIX_RESULTS_KEPT',
  'NETMATRIX_TLS_RELOAD_SECONDS',
  'NETMATRIX_SERVICE_ADDRESSES',
  'NETMATRIX_LAB_STATE_FILE',
  'NETMATRIX_KUBECONFIG',
  'NETMATRIX_STALE_SERVICE_GRACE_SECONDS',
  'NETMATRIX_KUBERNETES_RESYNC_SECONDS',
  'NETMATRIX_IDLE_SAMPLE_MS',
  'NETMATRIX_HEARTBEAT_MS',
  'NETMATRIX_LOG_FORMAT',
]);

describe("the chart's aggregator settings against the aggregator's config", () => {
  const configSchema = (env: string) => {
    const s = Object.values(AGGREGATOR_SETTINGS).find((x) => x.env === env);
    if (!s) throw new Error(`${env} is not an aggregator setting`);
    return s.schema as z.ZodType;
  };
  const accepts = (env: string, raw: string | undefined) => configSchema(env).safeParse(raw).success;
  /** The values an enum setting accepts, from the issue zod raises for one it does not. */
  const enumValues = (env: string) => {
    const r = configSchema(env).safeParse('no-such-value');
    const issue = r.error?.issues.find((i) => 'values' in i) as { values: unknown[] } | undefined;
    return issue?.values.map(String).sort();
  };

  it('names a NETMATRIX_ variable of the aggregator for every value, each set by the Deployment template', async () => {
    const template = await readFile(join(CHART, 'templates', 'deployment.yaml'), 'utf8');
    const known = new Set(Object.values(AGGREGATOR_SETTINGS).map((s) => s.env));
    for (const v of await settingValues()) {
      expect(known, `${v.path}: description must be its variable`).toContain(v.env);
      expect(template, v.path).toContain(`- name: ${v.env}\n`);
    }
  });

  it('exposes every aggregator setting, sets it in the template, or lists it as left to extraEnv', async () => {
    // The token's variable is in a helper the Deployment includes.
    const template = ['deployment.yaml', '_helpers.tpl'].map((f) => readFile(join(CHART, 'templates', f), 'utf8'));
    const text = (await Promise.all(template)).join('\n');
    const inChart = new Set([...text.matchAll(/- name: (NETMATRIX_[A-Z0-9_]+)/g)].map((m) => m[1]));
    const missing = Object.values(AGGREGATOR_SETTINGS)
      .map((s) => s.env)
      .filter((env) => !inChart.has(env));
    expect(missing.sort()).toEqual([...NOT_CHART_VALUES].sort());
  });

  it("defaults every value to the aggregator's own default", async () => {
    for (const v of await settingValues()) {
      const schema = configSchema(v.env);
      expect(schema.parse(asEnv(v.value)), `${v.path} (${v.env})`).toEqual(schema.parse(undefined));
    }
  });

  it('bounds every value as the aggregator does: types, ranges, enums and the quiet-hours format', async () => {
    for (const { path, env, schema } of await settingValues()) {
      const where = `${path} (${env})`;
      const items = schema.items as Schema | undefined;
      if (schema.type === 'integer') {
        const [min, max] = [schema.minimum, schema.maximum] as [number, number];
        expect(typeof min === 'number' && typeof max === 'number', `${where} has a minimum and a maximum`).toBe(true);
        expect(accepts(env, String(min)), `${where} accepts the minimum ${min}`).toBe(true);
        expect(accepts(env, String(min - 1)), `${where} refuses ${min - 1}`).toBe(false);
        expect(accepts(env, String(max)), `${where} accepts the maximum ${max}`).toBe(true);
        expect(accepts(env, String(max + 1)), `${where} refuses ${max + 1}`).toBe(false);
      } else if (schema.type === 'boolean') {
        expect(accepts(env, 'true') && accepts(env, 'false'), where).toBe(true);
      } else if (schema.type === 'string' && schema.enum) {
        expect((schema.enum as string[]).slice().sort(), where).toEqual(enumValues(env));
      } else if (schema.type === 'array' && items?.enum) {
        expect((items.enum as string[]).slice().sort(), where).toEqual(enumValues(env));
        expect(schema.minItems, `${where}: the aggregator needs at least one`).toBe(1);
      } else if (schema.type === 'string' && typeof schema.pattern === 'string') {
        // "02:00-02:00" fits the pattern but is refused by the template (netmatrix.validate).
        const pattern = new RegExp(schema.pattern);
        const samples = ['', '22:00-02:00', '00:00-23:59', '23:59-00:00', '24:00-01:00', '01:60-02:00', '1:00-2:00', '01:00', 'x'];
        for (const sample of samples) expect(pattern.test(sample), `${where} "${sample}"`).toBe(accepts(env, sample || undefined));
      } else {
        throw new Error(`${where}: no check for schema ${JSON.stringify(schema)}`);
      }
    }
  });
});

describe('files generated into the chart', () => {
  it('are the dashboards and rules dashboards/ generates now (run `npm run dashboards` after changing them)', async () => {
    for (const [path, text] of Object.entries(await generatedFiles())) {
      expect(await readFile(join(REPO_ROOT, path), 'utf8'), path).toBe(text);
    }
  });

  it('has no dashboard the generator does not make', async () => {
    expect((await readdir(join(CHART, 'dashboards'))).sort()).toEqual(Object.keys(dashboards()).sort());
  });

  it("uses the generator's default alert thresholds in values.yaml", async () => {
    const values = loadAllYaml(await readFile(join(CHART, 'values.yaml'), 'utf8'))[0] as { prometheusRule: Record<string, unknown> };
    const { enabled: _enabled, labels: _labels, ...thresholds } = values.prometheusRule;
    expect(thresholds).toEqual(DEFAULT_ALERT_SETTINGS);
  });
});

const helmMissing = () => (existsSync(k8sTools().helm) ? undefined : `needs ${k8sTools().helm} (build it with: bash scripts/k8s-tools.sh)`);

describeWith({ check: helmMissing }, 'the Helm chart, rendered', () => {
  let otherValuesFile = '';
  beforeAll(async () => {
    otherValuesFile = join(helmHome, 'other-values.json');
    await writeFile(otherValuesFile, JSON.stringify(OTHER_VALUES));
  });

  it('passes helm lint --strict with default and with non-default values', async () => {
    for (const extra of [[], ['--values', otherValuesFile]]) {
      const r = await helm.run(['lint', '--strict', CHART, ...extra]);
      expect(r.code, `helm lint ${extra.join(' ')}:\n${r.stdout}\n${r.stderr}`).toBe(0);
      expect(r.stdout).toContain('0 chart(s) failed');
    }
  });

  describe('with default values', () => {
    let objs: Obj[];
    beforeAll(async () => {
      objs = await helm.render();
    });
    const hostAgent = () => named<V1DaemonSet>(objs, 'DaemonSet', `${FULLNAME}-host-agent`);
    const podAgent = () => named<V1DaemonSet>(objs, 'DaemonSet', `${FULLNAME}-pod-agent`);
    const aggregator = () => named<V1Deployment>(objs, 'Deployment', `${FULLNAME}-aggregator`);

    it('renders exactly the aggregator, two agent DaemonSets, their ServiceAccounts, RBAC and the token Secret', () => {
      expect(kinds(objs)).toEqual(DEFAULT_KINDS);
      expect(objs.filter((o) => o.kind === 'ServiceMonitor')).toEqual([]);
      expect(objs.filter((o) => o.kind === 'PrometheusRule')).toEqual([]);
      expect(aggregator().spec?.replicas).toBe(1);
    });

    it('puts the host agent on the node network with cluster DNS, and the pod agent on the pod network', () => {
      expect(podSpec(hostAgent()).hostNetwork).toBe(true);
      expect(podSpec(hostAgent()).dnsPolicy).toBe('ClusterFirstWithHostNet');
      expect(envValue(container(hostAgent()), 'NETMATRIX_NETWORK_MODE')).toBe('host');
      expect(podSpec(podAgent()).hostNetwork).toBeFalsy();
      expect(podSpec(podAgent()).dnsPolicy).toBeUndefined();
      expect(envValue(container(podAgent()), 'NETMATRIX_NETWORK_MODE')).toBe('pod');
    });

    it('lets both agents tolerate every taint, so every node is measured', () => {
      for (const ds of [podAgent(), hostAgent()]) {
        expect(podSpec(ds).tolerations, ds.metadata?.name).toContainEqual({ operator: 'Exists' });
      }
    });

    it('runs every container non-root, without capabilities or privilege escalation, read-only, with resources and a /tmp emptyDir', () => {
      const all = workloads(objs);
      expect(all).toHaveLength(3);
      for (const w of all) {
        const name = w.metadata?.name;
        const spec = podSpec(w);
        expect(spec.securityContext, name).toMatchObject({ runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001 });
        expect(spec.securityContext?.seccompProfile?.type, name).toBe('RuntimeDefault');
        for (const c of spec.containers) {
          expect(c.securityContext, name).toMatchObject({
            runAsNonRoot: true,
            runAsUser: 10001,
            runAsGroup: 10001,
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            capabilities: { drop: ['ALL'] },
            seccompProfile: { type: 'RuntimeDefault' },
          });
          expect(c.securityContext?.privileged, name).toBeFalsy();
          expect(c.securityContext?.capabilities?.add, name).toBeUndefined();
          expect(c.resources?.requests?.cpu, name).toBeDefined();
          expect(c.resources?.requests?.memory, name).toBeDefined();
          expect(c.resources?.limits?.memory, name).toBeDefined();
          const tmp = c.volumeMounts?.find((m) => m.mountPath === '/tmp');
          expect(tmp, `${name}: /tmp mount`).toBeDefined();
          expect(spec.volumes?.find((v) => v.name === tmp?.name)?.emptyDir, `${name}: /tmp is an emptyDir`).toBeDefined();
        }
      }
    });

    it('points the agents at the aggregator Service, which selects the aggregator pod', () => {
      const svc = named<Obj & { spec: { selector: Record<string, string>; ports: { name: string; port: number }[] } }>(
        objs,
        'Service',
        `${FULLNAME}-aggregator`,
      );
      expect(svc.spec.ports).toEqual([expect.objectContaining({ name: 'http', port: 8080 })]);
      expect(aggregator().spec?.template.metadata?.labels).toMatchObject(svc.spec.selector);
      for (const ds of [podAgent(), hostAgent()]) {
        expect(ds.spec?.template.metadata?.labels).not.toMatchObject(svc.spec.selector);
        expect(envValue(container(ds), 'NETMATRIX_AGGREGATOR_URL')).toBe(`ws://${FULLNAME}-aggregator.${NAMESPACE}.svc:8080/ws/agent`);
      }
    });

    it('gives every pod the token from the generated Secret', () => {
      const secret = named<V1Secret>(objs, 'Secret', `${FULLNAME}-token`);
      expect(Buffer.from(secret.data?.token ?? '', 'base64').toString()).toMatch(/^[A-Za-z0-9]{48}$/);
      for (const w of workloads(objs)) {
        expect(env(container(w), 'NETMATRIX_TOKEN')?.valueFrom?.secretKeyRef, w.metadata?.name).toEqual({
          name: `${FULLNAME}-token`,
          key: 'token',
        });
      }
    });

    it('tells the aggregator to use the Kubernetes API in its own namespace, under the release fullname', () => {
      const c = container(aggregator());
      expect(c.args).toEqual(['aggregator']);
      expect(envValue(c, 'NETMATRIX_KUBERNETES')).toBe('on');
      expect(env(c, 'NETMATRIX_NAMESPACE')?.valueFrom?.fieldRef?.fieldPath).toBe('metadata.namespace');
      expect(envValue(c, 'NETMATRIX_INSTANCE')).toBe(FULLNAME);
      expect(envValue(c, 'NETMATRIX_LISTEN_PORT')).toBe('8080');
      expect(aggregator().spec?.strategy?.type).toBe('Recreate');
    });

    it('probes the aggregator on /healthz and the agents on /healthz and /readyz of their health port', () => {
      const agg = container(aggregator());
      const http = agg.ports?.find((p) => p.name === 'http');
      expect(http?.containerPort).toBe(8080);
      for (const probe of [agg.livenessProbe, agg.readinessProbe]) expect(probe?.httpGet).toMatchObject({ path: '/healthz', port: 'http' });
      for (const [ds, port] of [
        [podAgent(), 8081],
        [hostAgent(), 9781],
      ] as const) {
        const c = container(ds);
        expect(c.args).toEqual(['agent']);
        expect(envValue(c, 'NETMATRIX_HEALTH_PORT')).toBe(String(port));
        expect(c.ports?.find((p) => p.name === 'health')?.containerPort).toBe(port);
        expect(c.livenessProbe?.httpGet).toMatchObject({ path: '/healthz', port: 'health' });
        expect(c.readinessProbe?.httpGet).toMatchObject({ path: '/readyz', port: 'health' });
        expect(envValue(c, 'NETMATRIX_IPERF3_PORT')).toBe('5201');
        for (const [name, field] of [
          ['NETMATRIX_NODE_NAME', 'spec.nodeName'],
          ['NETMATRIX_POD_NAME', 'metadata.name'],
          ['NETMATRIX_POD_IP', 'status.podIP'],
          ['NETMATRIX_HOST_IP', 'status.hostIP'],
        ]) {
          expect(env(c, name as string)?.valueFrom?.fieldRef?.fieldPath, name).toBe(field);
        }
        expect(ds.spec?.updateStrategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } });
      }
    });

    it('sets only settings the processes know, and with default values the defaults of their config', () => {
      // Set on purpose to something other than the code's default, or with no default at all.
      const deliberate = new Set([
        'NETMATRIX_TOKEN',
        'NETMATRIX_KUBERNETES',
        'NETMATRIX_NAMESPACE',
        'NETMATRIX_INSTANCE',
        'NETMATRIX_AGGREGATOR_URL',
        'NETMATRIX_NETWORK_MODE',
        'NETMATRIX_NODE_NAME',
        'NETMATRIX_POD_NAME',
        'NETMATRIX_POD_IP',
        'NETMATRIX_HOST_IP',
        'NETMATRIX_PORT_MAX',
        'NETMATRIX_HEALTH_PORT',
      ]);
      for (const [w, table] of [
        [aggregator(), AGGREGATOR_SETTINGS],
        [podAgent(), AGENT_SETTINGS],
        [hostAgent(), AGENT_SETTINGS],
      ] as const) {
        const settings = new Map(Object.values(table).map((s) => [s.env, s.schema as { parse(v: unknown): unknown }]));
        const set = (container(w).env ?? []).map((e) => e.name);
        expect(
          set.filter((name) => !settings.has(name)),
          `${w.metadata?.name} sets variables its config does not read`,
        ).toEqual([]);
        for (const e of container(w).env ?? []) {
          const schema = settings.get(e.name);
          if (deliberate.has(e.name) || !schema || e.value === undefined) continue;
          expect(schema.parse(e.value), `${w.metadata?.name} ${e.name}=${e.value}`).toEqual(schema.parse(undefined));
        }
      }
    });

    it("grants the aggregator exactly the RBAC it needs and the agents' ServiceAccount none, without a mounted token", () => {
      const rules = (o: V1ClusterRole | V1Role) => o.rules?.map((r) => ({ ...r }));
      const clusterRoles = ofKind<V1ClusterRole>(objs, 'ClusterRole');
      expect(clusterRoles).toHaveLength(1);
      expect(rules(clusterRoles[0] as V1ClusterRole)).toEqual([
        { apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: ['crd.projectcalico.org'], resources: ['felixconfigurations'], resourceNames: ['default'], verbs: ['get'] },
        { apiGroups: ['operator.tigera.io'], resources: ['installations'], resourceNames: ['default'], verbs: ['get'] },
        { apiGroups: ['crd.projectcalico.org', 'projectcalico.org'], resources: ['ippools'], verbs: ['list'] },
      ]);
      const roles = ofKind<V1Role>(objs, 'Role');
      const write = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'];
      expect(rules(roles.find((r) => r.metadata?.namespace === NAMESPACE) as V1Role)).toEqual([
        { apiGroups: [''], resources: ['services'], verbs: write },
        { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: write },
      ]);
      expect(rules(roles.find((r) => r.metadata?.namespace === 'kube-system') as V1Role)).toEqual([
        { apiGroups: [''], resources: ['configmaps'], resourceNames: ['kube-proxy', 'cilium-config'], verbs: ['get'] },
        { apiGroups: ['apps'], resources: ['daemonsets'], resourceNames: ['kube-proxy'], verbs: ['get'] },
      ]);
      const bindings = [...ofKind<Obj>(objs, 'ClusterRoleBinding'), ...ofKind<Obj>(objs, 'RoleBinding')];
      expect(bindings).toHaveLength(3);
      for (const b of bindings) {
        expect(b.subjects, `${b.kind} ${b.metadata?.name}`).toEqual([
          { kind: 'ServiceAccount', name: `${FULLNAME}-aggregator`, namespace: NAMESPACE },
        ]);
      }
      const agentSa = named<Obj>(objs, 'ServiceAccount', `${FULLNAME}-agent`);
      expect(agentSa.automountServiceAccountToken).toBe(false);
      for (const ds of [podAgent(), hostAgent()]) {
        expect(podSpec(ds).serviceAccountName).toBe(`${FULLNAME}-agent`);
        expect(podSpec(ds).automountServiceAccountToken).toBe(false);
      }
      expect(podSpec(aggregator()).serviceAccountName).toBe(`${FULLNAME}-aggregator`);
    });

    it('ships every generated dashboard in a ConfigMap labelled for the Grafana sidecar', async () => {
      const cm = named<Obj & { data: Record<string, string> }>(objs, 'ConfigMap', `${FULLNAME}-dashboards`);
      expect(cm.metadata?.namespace).toBe(NAMESPACE);
      expect(cm.metadata?.labels).toMatchObject({ grafana_dashboard: '1', 'app.kubernetes.io/component': 'dashboards' });
      expect(cm.metadata?.annotations).toBeUndefined();
      expect(Object.keys(cm.data).sort()).toEqual(Object.keys(dashboards()).sort());
      for (const [name, d] of Object.entries(dashboards())) {
        expect(cm.data[name], name).toBe(await readFile(join(CHART, 'dashboards', name), 'utf8'));
        expect((JSON.parse(cm.data[name] ?? '{}') as { uid?: string }).uid, name).toBe(d.uid);
      }
    });

    it('renders the dashboards ConfigMap only when grafana.dashboards.enabled', async () => {
      expect(ofKind(await helm.render('--set', 'grafana.dashboards.enabled=false'), 'ConfigMap')).toEqual([]);
    });

    it("renders the PrometheusRule, when enabled where the cluster serves monitoring.coreos.com/v1, with the generator's rules", async () => {
      const rules = ofKind<PrometheusRule>(
        await helm.render('--set', 'prometheusRule.enabled=true', '--api-versions', 'monitoring.coreos.com/v1'),
        'PrometheusRule',
      );
      expect(rules).toHaveLength(1);
      expect(rules[0]?.spec).toEqual(ruleFile(DEFAULT_ALERT_SETTINGS));
      expect(ofKind(await helm.render('--set', 'prometheusRule.enabled=true'), 'PrometheusRule'), 'without the CRD').toEqual([]);
    });

    it('labels every object with the standard labels', () => {
      for (const o of objs) {
        expect(o.metadata?.labels, `${o.kind} ${o.metadata?.name}`).toMatchObject({
          'app.kubernetes.io/name': 'netmatrix',
          'app.kubernetes.io/instance': RELEASE,
          'app.kubernetes.io/version': '0.1.0',
          'app.kubernetes.io/managed-by': 'Helm',
          'helm.sh/chart': 'netmatrix-0.1.0',
        });
        expect(o.metadata?.labels?.['app.kubernetes.io/component'], `${o.kind} ${o.metadata?.name}`).toMatch(/^[a-z-]+$/);
      }
    });
  });

  describe('with non-default values', () => {
    const render = (...extra: string[]) => helm.render('--values', otherValuesFile, ...extra);

    it('uses an existing Secret for the token and renders none', async () => {
      const objs = await render();
      expect(objs.filter((o) => o.kind === 'Secret')).toEqual([]);
      for (const w of workloads(objs)) {
        expect(env(container(w), 'NETMATRIX_TOKEN')?.valueFrom?.secretKeyRef).toEqual({ name: 'my-token', key: 'bearer' });
      }
    });

    it('renders only the pod-network agent when the host agent is disabled', async () => {
      const daemonSets = ofKind<V1DaemonSet>(await render(), 'DaemonSet');
      expect(daemonSets.map((d) => d.metadata?.name)).toEqual(['matrix-pod-agent']);
      const ds = daemonSets[0] as V1DaemonSet;
      expect(podSpec(ds).hostNetwork).toBeFalsy();
      const c = container(ds);
      expect(envValue(c, 'NETMATRIX_AGGREGATOR_URL')).toBe(`ws://matrix-aggregator.${NAMESPACE}.svc:9090/ws/agent`);
      expect(envValue(c, 'NETMATRIX_IPERF3_PORT')).toBe('5301');
      expect(envValue(c, 'NETMATRIX_PORT_MIN')).toBe('5301');
      expect(envValue(c, 'NETMATRIX_PORT_MAX')).toBe('5301');
      expect(envValue(c, 'NETMATRIX_HEALTH_PORT')).toBe('8181');
      expect(envValue(c, 'NETMATRIX_ALLOWED_TARGET_CIDRS')).toBe('10.0.0.0/8,192.168.0.0/16');
      expect(envValue(c, 'NETMATRIX_MAX_BITRATE_BITS_PER_SECOND')).toBe('10000000000');
      expect(c.image).toBe('registry.example/netmatrix:9.9.9');
      expect(c.imagePullPolicy).toBe('Always');
      expect(podSpec(ds).imagePullSecrets).toEqual([{ name: 'regcred' }]);
      expect(podSpec(ds).priorityClassName).toBe('system-node-critical');
      expect(ds.spec?.updateStrategy?.rollingUpdate?.maxUnavailable).toBe('25%');
    });

    it('passes the sweep settings and extra variables to the aggregator', async () => {
      const c = container(named<V1Deployment>(await render(), 'Deployment', 'matrix-aggregator'));
      expect(envValue(c, 'NETMATRIX_PATHS')).toBe('pod');
      expect(envValue(c, 'NETMATRIX_PROTOCOLS')).toBe('tcp');
      expect(envValue(c, 'NETMATRIX_TEST_DURATION_SECONDS')).toBe('5');
      // A large number stays an integer (Helm reads YAML numbers as floats: 5e+09 would be refused).
      expect(envValue(c, 'NETMATRIX_TCP_BITRATE_BITS_PER_SECOND')).toBe('5000000000');
      expect(envValue(c, 'NETMATRIX_UDP_BITRATE_BITS_PER_SECOND')).toBe('1000000000');
      expect(envValue(c, 'NETMATRIX_STREAMS')).toBe('4');
      expect(envValue(c, 'NETMATRIX_INSTANCE')).toBe('matrix');
      expect(envValue(c, 'NETMATRIX_RESULTS_KEPT')).toBe('500');
    });

    it('passes the coverage settings to the aggregator, which reads them as set', async () => {
      const c = container(named<V1Deployment>(await render(), 'Deployment', 'matrix-aggregator'));
      expect(envValue(c, 'NETMATRIX_COVERAGE')).toBe('budget');
      expect(envValue(c, 'NETMATRIX_COVERAGE_FULL_MAX_NODES')).toBe('50');
      expect(envValue(c, 'NETMATRIX_REFERENCE_PEERS')).toBe('5');
      expect(envValue(c, 'NETMATRIX_CROSS_ZONE_PEERS')).toBe('2');
      expect(envValue(c, 'NETMATRIX_TESTS_PER_HOUR')).toBe('600');
      // Large numbers stay integers (not 5e+11).
      expect(envValue(c, 'NETMATRIX_NODE_BYTES_PER_HOUR')).toBe('500000000000');
      expect(envValue(c, 'NETMATRIX_ASSUMED_TCP_BITS_PER_SECOND')).toBe('25000000000');
      expect(envValue(c, 'NETMATRIX_QUIET_HOURS')).toBe('22:30-04:15');
      expect(envValue(c, 'NETMATRIX_ROUND_PAUSE_JITTER_PERCENT')).toBe('25');
      expect(envValue(c, 'NETMATRIX_BUSY_NODE_CPU_PERCENT')).toBe('80');
      expect(envValue(c, 'NETMATRIX_BUSY_NODE_NIC_BITS_PER_SECOND')).toBe('5000000000');
      expect(envValue(c, 'NETMATRIX_BUSY_NODE_REST_SECONDS')).toBe('1800');

      const literal = Object.fromEntries((c.env ?? []).flatMap((e) => (e.value === undefined ? [] : [[e.name, e.value]])));
      const config = loadAggregatorConfig({ ...literal, NETMATRIX_TOKEN: 't' }, []);
      expect(config).toMatchObject({
        coverage: 'budget',
        coverageFullMaxNodes: 50,
        referencePeers: 5,
        crossZonePeers: 2,
        testsPerHour: 600,
        nodeBytesPerHour: 500_000_000_000,
        assumedTcpBitsPerSecond: 25_000_000_000,
        quietHours: { startMinute: 22 * 60 + 30, endMinute: 4 * 60 + 15 },
        pauseJitterPercent: 25,
        busyNodeCpuPercent: 80,
        busyNodeNicBitsPerSecond: 5_000_000_000,
        busyNodeRestSeconds: 1800,
      });
    });

    it("names the host agent's NIC only when told, and never the pod agent's (a pod has no such interface)", async () => {
      const agentEnv = async (...args: string[]) =>
        Object.fromEntries(
          ofKind<V1DaemonSet>(await helm.render(...args), 'DaemonSet').map((ds) => [
            ds.metadata?.name,
            env(container(ds), 'NETMATRIX_NIC')?.value,
          ]),
        );
      expect(await agentEnv()).toEqual({ [`${FULLNAME}-pod-agent`]: undefined, [`${FULLNAME}-host-agent`]: undefined });
      expect(await agentEnv('--set', 'agents.host.nic=bond0')).toEqual({
        [`${FULLNAME}-pod-agent`]: undefined,
        [`${FULLNAME}-host-agent`]: 'bond0',
      });
      expect(loadAgentConfig({ NETMATRIX_TOKEN: 't', NETMATRIX_NIC: 'bond0' }, []).nic).toBe('bond0');
    });

    it('sets no quiet hours by default', async () => {
      const c = container(named<V1Deployment>(await helm.render(), 'Deployment', `${FULLNAME}-aggregator`));
      expect(env(c, 'NETMATRIX_QUIET_HOURS')).toBeUndefined();
      expect(envValue(c, 'NETMATRIX_COVERAGE')).toBe('auto');
    });

    it('renders the ServiceMonitor with the configured labels only where the cluster serves monitoring.coreos.com/v1', async () => {
      const withCrd = await render('--api-versions', 'monitoring.coreos.com/v1');
      const monitors = ofKind<Obj & { spec: Record<string, unknown> }>(withCrd, 'ServiceMonitor');
      expect(monitors).toHaveLength(1);
      const sm = monitors[0] as Obj & { spec: { selector: { matchLabels: Record<string, string> }; endpoints: unknown[] } };
      expect(sm.metadata?.labels).toMatchObject({ release: 'kube-prometheus-stack', 'app.kubernetes.io/instance': RELEASE });
      expect(sm.spec.endpoints).toEqual([expect.objectContaining({ port: 'http', path: '/metrics', interval: '1m' })]);
      const svc = named<Obj>(withCrd, 'Service', 'matrix-aggregator');
      expect(svc.metadata?.labels).toMatchObject(sm.spec.selector.matchLabels);

      expect(ofKind(await render(), 'ServiceMonitor')).toEqual([]);
      const enabledByDefault = await helm.render('--api-versions', 'monitoring.coreos.com/v1');
      expect(ofKind(enabledByDefault, 'ServiceMonitor'), 'serviceMonitor.enabled defaults to false').toEqual([]);
    });

    it('puts the dashboards ConfigMap in the configured namespace with the configured labels and annotations', async () => {
      const cm = named<Obj>(await render(), 'ConfigMap', 'matrix-dashboards');
      expect(cm.metadata?.namespace).toBe('monitoring');
      expect(cm.metadata?.labels).toMatchObject({ grafana_dashboard: 'yes', team: 'network', 'app.kubernetes.io/instance': RELEASE });
      expect(cm.metadata?.annotations).toEqual({ grafana_folder: 'netmatrix' });
    });

    it('renders the PrometheusRule with the configured labels and thresholds only where the cluster serves monitoring.coreos.com/v1', async () => {
      const rules = ofKind<PrometheusRule>(await render('--api-versions', 'monitoring.coreos.com/v1'), 'PrometheusRule');
      expect(rules).toHaveLength(1);
      const rule = rules[0] as PrometheusRule;
      expect(rule.metadata?.name).toBe('matrix-aggregator');
      expect(rule.metadata?.namespace).toBe(NAMESPACE);
      expect(rule.metadata?.labels).toMatchObject({ release: 'kube-prometheus-stack', 'app.kubernetes.io/instance': RELEASE });
      // A large threshold stays an integer (not 2e+06), and Prometheus's own templates survive Helm's.
      expect(rule.spec).toEqual(ruleFile(OTHER_ALERTS));
      expect(JSON.stringify(rule.spec)).toContain('> 2000000');
      expect(JSON.stringify(rule.spec)).toContain('{{ $labels.node }}');

      expect(ofKind(await render(), 'PrometheusRule')).toEqual([]);
      const enabledByDefault = await helm.render('--api-versions', 'monitoring.coreos.com/v1');
      expect(ofKind(enabledByDefault, 'PrometheusRule'), 'prometheusRule.enabled defaults to false').toEqual([]);
    });

    it('drops the kube-system Role and the Calico rules when dataplane detection is off', async () => {
      const objs = await render();
      const clusterRole = ofKind<V1ClusterRole>(objs, 'ClusterRole')[0];
      expect(clusterRole?.rules).toEqual([{ apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch'] }]);
      for (const kind of ['Role', 'RoleBinding']) {
        expect(
          objs.filter((o) => o.kind === kind).map((o) => o.metadata?.namespace),
          kind,
        ).toEqual([NAMESPACE]);
      }
    });
  });

  describe('with TLS', () => {
    const svcName = `${FULLNAME}-aggregator.${NAMESPACE}.svc`;

    it('generates a CA and a certificate for the aggregator Service, serves HTTPS, and gives the agents only the CA', async () => {
      const objs = await helm.render(
        '--set',
        'tls.enabled=true',
        '--set',
        'serviceMonitor.enabled=true',
        '--api-versions',
        'monitoring.coreos.com/v1',
      );
      const secret = named<V1Secret>(objs, 'Secret', `${FULLNAME}-tls`);
      expect(secret.type).toBe('kubernetes.io/tls');
      const pem = (k: string) => Buffer.from(secret.data?.[k] ?? '', 'base64').toString();
      const cert = new X509Certificate(pem('tls.crt'));
      const ca = new X509Certificate(pem('ca.crt'));
      expect(cert.verify(ca.publicKey)).toBe(true);
      expect(cert.subjectAltName).toContain(`DNS:${svcName}`);
      expect(cert.subjectAltName).toContain('DNS:localhost');
      expect(cert.checkPrivateKey(createPrivateKey(pem('tls.key')))).toBe(true);

      const agg = named<V1Deployment>(objs, 'Deployment', `${FULLNAME}-aggregator`);
      const c = container(agg);
      expect(envValue(c, 'NETMATRIX_TLS_CERT_FILE')).toBe('/etc/netmatrix/tls/tls.crt');
      expect(envValue(c, 'NETMATRIX_TLS_KEY_FILE')).toBe('/etc/netmatrix/tls/tls.key');
      expect(c.livenessProbe?.httpGet?.scheme).toBe('HTTPS');
      expect(c.readinessProbe?.httpGet?.scheme).toBe('HTTPS');
      for (const ds of ofKind<V1DaemonSet>(objs, 'DaemonSet')) {
        const a = container(ds);
        expect(envValue(a, 'NETMATRIX_AGGREGATOR_URL')).toBe(`wss://${svcName}:8080/ws/agent`);
        expect(envValue(a, 'NODE_EXTRA_CA_CERTS')).toBe('/etc/netmatrix/tls/ca.crt');
        const tlsVolume = podSpec(ds).volumes?.find((v) => v.secret?.secretName === `${FULLNAME}-tls`);
        expect(tlsVolume?.secret?.items?.map((i) => i.key)).toEqual(['ca.crt']);
      }
      const sm = named<Obj>(objs, 'ServiceMonitor', `${FULLNAME}-aggregator`);
      expect(sm.spec).toMatchObject({
        endpoints: [{ scheme: 'https', tlsConfig: { serverName: svcName, ca: { secret: { name: `${FULLNAME}-tls`, key: 'ca.crt' } } } }],
      });
    });

    it('uses an existing TLS Secret and generates none', async () => {
      const objs = await helm.render('--set', 'tls.enabled=true', '--set', 'tls.existingSecret=my-certs');
      expect(ofKind<V1Secret>(objs, 'Secret').map((x) => x.metadata?.name)).toEqual([`${FULLNAME}-token`]);
      const agg = named<V1Deployment>(objs, 'Deployment', `${FULLNAME}-aggregator`);
      expect(podSpec(agg).volumes?.find((v) => v.name === 'tls')?.secret?.secretName).toBe('my-certs');
    });

    it('keeps plain HTTP and no TLS Secret by default', async () => {
      const objs = await helm.render();
      expect(ofKind<V1Secret>(objs, 'Secret').map((x) => x.metadata?.name)).toEqual([`${FULLNAME}-token`]);
      for (const ds of ofKind<V1DaemonSet>(objs, 'DaemonSet'))
        expect(envValue(container(ds), 'NETMATRIX_AGGREGATOR_URL')).toMatch(/^ws:\/\//);
    });
  });

  describe('refuses bad values with a message naming the field', () => {
    const cases: [string, string[], RegExp][] = [
      ['a port out of range', ['--set', 'agents.pod.iperf3Port=70000'], /agents\/pod\/iperf3Port.*65,?535/],
      ['an unknown top-level key', ['--set', 'colour=blue'], /additional properties 'colour' not allowed/],
      ['an unknown nested key (a typo)', ['--set', 'agents.host.iperfPort=5201'], /\/agents\/host.*'iperfPort' not allowed/],
      ['a wrong pull policy', ['--set', 'image.pullPolicy=Sometimes'], /\/image\/pullPolicy.*one of/],
      ['a NIC name with a space', ['--set', 'agents.host.nic=eth 0'], /\/agents\/host\/nic/],
      ['a wrong per-pair mode', ['--set', 'aggregator.settings.perPairMetrics=sometimes'], /\/aggregator\/settings\/perPairMetrics/],
      ['an unknown path', ['--set-json', 'aggregator.settings.paths=["node","icmp"]'], /\/aggregator\/settings\/paths\/1/],
      ['a wrong log level', ['--set', 'agents.logLevel=verbose'], /\/agents\/logLevel/],
      ['a zero test duration', ['--set', 'aggregator.settings.testDurationSeconds=0'], /\/aggregator\/settings\/testDurationSeconds/],
      ['a string where a number belongs', ['--set-string', 'aggregator.service.port=http'], /\/aggregator\/service\/port/],
      ['a bad CIDR', ['--set', 'agents.allowedTargetCidrs={10.0.0.0/33}'], /\/agents\/allowedTargetCidrs\/0/],
      ['maxUnavailable 0', ['--set', 'agents.updateStrategy.maxUnavailable=0'], /\/agents\/updateStrategy\/maxUnavailable/],
      [
        'a zero throughput-drop percentage',
        ['--set', 'prometheusRule.throughputDrop.percent=0'],
        /\/prometheusRule\/throughputDrop\/percent/,
      ],
      ['a duration Prometheus cannot read', ['--set', 'prometheusRule.nodeStale.for=10 minutes'], /\/prometheusRule\/nodeStale\/for/],
      ['a bad dashboards namespace', ['--set', 'grafana.dashboards.namespace=Monitoring'], /\/grafana\/dashboards\/namespace/],
      [
        'an unknown coverage mode',
        ['--set', 'aggregator.settings.coverage.mode=sometimes'],
        /\/aggregator\/settings\/coverage\/mode': value must be one of 'auto', 'full', 'budget'/,
      ],
      [
        'a negative byte budget',
        ['--set', 'aggregator.settings.coverage.nodeBytesPerHour=-1'],
        /\/aggregator\/settings\/coverage\/nodeBytesPerHour': minimum: got -1, want 0/,
      ],
      [
        'an unknown coverage key (a typo)',
        ['--set', 'aggregator.settings.coverage.testPerHour=10'],
        /\/aggregator\/settings\/coverage': additional properties 'testPerHour' not allowed/,
      ],
      [
        'a jitter above 100%',
        ['--set', 'aggregator.settings.coverage.roundPauseJitterPercent=150'],
        /coverage\/roundPauseJitterPercent': maximum: got 150, want 100/,
      ],
      [
        'quiet hours without leading zeros',
        ['--set', 'aggregator.settings.coverage.quietHours=22:00-2:00'],
        /coverage\/quietHours.*pattern/,
      ],
      ['quiet hours past 23:59', ['--set', 'aggregator.settings.coverage.quietHours=23:00-24:00'], /coverage\/quietHours.*pattern/],
      [
        'quiet hours that start where they end',
        ['--set', 'aggregator.settings.coverage.quietHours=02:00-02:00'],
        /coverage\.quietHours \("02:00-02:00"\) starts where it ends/,
      ],
      [
        'a bitrate cap the sweep exceeds',
        ['--set', 'agents.maxBitrateBitsPerSecond=1000000'],
        /agents\.maxBitrateBitsPerSecond .*tcpBitrateBitsPerSecond/,
      ],
      [
        'more streams than the agents accept',
        ['--set', 'aggregator.settings.streams=32'],
        /streams \(32\) exceeds agents\.maxStreams \(16\)/,
      ],
      [
        'longer tests than the agents accept',
        ['--set', 'aggregator.settings.testDurationSeconds=600'],
        /exceeds agents\.maxTestDurationSeconds/,
      ],
      ['no agent at all', ['--set', 'agents.pod.enabled=false', '--set', 'agents.host.enabled=false'], /nothing would be measured/],
      [
        'an existing ServiceAccount without a name',
        ['--set', 'aggregator.serviceAccount.create=false'],
        /aggregator\.serviceAccount\.name is required/,
      ],
    ];
    it.each(cases)('%s', async (_what, args, message) => {
      const r = await helm.run(['template', RELEASE, CHART, '--kube-version', KUBE_VERSION, ...args]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(message);
    });
  });
});

/** 'allowed', or the HTTP status the apiserver refused the call with. */
async function outcome(call: () => Promise<unknown>): Promise<'allowed' | number> {
  try {
    await call();
    return 'allowed';
  } catch (e) {
    if (e instanceof ApiException) return e.code;
    throw e;
  }
}

/** Open a watch and resolve with 'allowed' at its first event, or with the status it was refused with. */
async function watchOutcome(kc: KubeConfig, path: string): Promise<'allowed' | number> {
  let controller: AbortController | undefined;
  let stop = false;
  const result = await new Promise<'allowed' | number>((resolve, reject) => {
    new Watch(kc)
      .watch(
        path,
        { timeoutSeconds: 10 },
        () => resolve('allowed'),
        (err: unknown) => {
          const status = (err as { statusCode?: unknown } | null)?.statusCode;
          if (typeof status === 'number') resolve(status);
          else reject(new Error(`watch ${path} ended without an event: ${String(err)}`));
        },
      )
      .then((c) => {
        controller = c;
        if (stop) c.abort();
      }, reject);
  });
  stop = true;
  controller?.abort();
  return result;
}

describeWith({ check: missingK8sTools }, 'the Helm chart, installed on a real kube-apiserver', () => {
  let cluster: KubeCluster;
  let admin: KubeConfig;
  let core: CoreV1Api;
  let installOutput = '';
  const ALLOWED = 'allowed';

  const helmKube = (...args: string[]) => helm.run([...args, '--kubeconfig', cluster.kubeconfigPath], 120_000);
  /** A KubeConfig authenticating as `serviceAccount` of NAMESPACE, with a token from the TokenRequest API. */
  const as = async (serviceAccount: string): Promise<KubeConfig> => {
    const tr = await core.createNamespacedServiceAccountToken({
      name: serviceAccount,
      namespace: NAMESPACE,
      body: { spec: { audiences: [], expirationSeconds: 600 } },
    });
    const token = tr.status?.token;
    if (!token) throw new Error(`no token for ${serviceAccount}`);
    const kc = new KubeConfig();
    kc.loadFromFile(await cluster.kubeconfigFor(token, serviceAccount));
    return kc;
  };

  beforeAll(async () => {
    cluster = await startKubeCluster();
    admin = new KubeConfig();
    admin.loadFromFile(cluster.kubeconfigPath);
    core = admin.makeApiClient(CoreV1Api);
    // What the aggregator may read, so "allowed" is a real 200 rather than a 404.
    await core.createNode({ body: { metadata: { name: 'node-a' } } });
    const apps = admin.makeApiClient(AppsV1Api);
    for (const name of ['kube-proxy', 'coredns']) {
      await core.createNamespacedConfigMap({ namespace: 'kube-system', body: { metadata: { name }, data: { k: 'v' } } });
      const labels = { app: name };
      await apps.createNamespacedDaemonSet({
        namespace: 'kube-system',
        body: {
          metadata: { name },
          spec: { selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name, image: 'none' }] } } },
        },
      });
    }
    await core.createNamespacedSecret({ namespace: 'kube-system', body: { metadata: { name: 'probe' }, stringData: { k: 'v' } } });

    const r = await helmKube('install', RELEASE, CHART, '--namespace', NAMESPACE, '--create-namespace', '--wait=false');
    expect(r.code, `helm install:\n${r.stdout}\n${r.stderr}`).toBe(0);
    installOutput = r.stdout;
  }, 150_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it('creates every object of the release', async () => {
    const r = await helmKube('get', 'manifest', RELEASE, '--namespace', NAMESPACE);
    expect(r.code, r.stderr).toBe(0);
    const manifest = (loadAllYaml(r.stdout) as (Obj | null)[]).filter((o): o is Obj => o !== null);
    expect(kinds(manifest)).toEqual(DEFAULT_KINDS);
    const objects = KubernetesObjectApi.makeApiClient(admin);
    for (const o of manifest) {
      const live = await objects.read({
        apiVersion: o.apiVersion ?? '',
        kind: o.kind ?? '',
        metadata: { name: o.metadata?.name ?? '', namespace: o.metadata?.namespace },
      });
      expect(live.metadata?.labels?.['app.kubernetes.io/instance'], `${o.kind} ${o.metadata?.name}`).toBe(RELEASE);
    }
  });

  it('tells the user how to open the UI and metrics, run a benchmark, and allow the host agent', () => {
    expect(installOutput).toContain(`kubectl -n ${NAMESPACE} port-forward svc/${FULLNAME}-aggregator 8080`);
    expect(installOutput).toContain('http://localhost:8080/metrics');
    expect(installOutput).toContain('netmatrix run --aggregator http://localhost:8080');
    expect(installOutput).toContain(`kubectl label namespace ${NAMESPACE} pod-security.kubernetes.io/enforce=privileged`);
  });

  it('keeps the generated token across an upgrade', async () => {
    const read = async () => (await core.readNamespacedSecret({ name: `${FULLNAME}-token`, namespace: NAMESPACE })).data?.token ?? '';
    const before = await read();
    expect(before).not.toBe('');
    const r = await helmKube('upgrade', RELEASE, CHART, '--namespace', NAMESPACE, '--reuse-values', '--set', 'aggregator.logLevel=debug');
    expect(r.code, `helm upgrade:\n${r.stderr}`).toBe(0);
    const deployment = await admin
      .makeApiClient(AppsV1Api)
      .readNamespacedDeployment({ name: `${FULLNAME}-aggregator`, namespace: NAMESPACE });
    expect(envValue(container(deployment), 'NETMATRIX_LOG_LEVEL'), 'the upgrade took effect').toBe('debug');
    expect(await read()).toBe(before);
  });

  it('meets PodSecurity Restricted except for the host agent, and installs the same release name in a second namespace', async () => {
    // PodSecurity admission checks the pod templates of workloads too, as warnings: in a
    // namespace that warns at Restricted, only the host agent's hostNetwork may be reported.
    const namespace = 'netmatrix-restricted';
    await core.createNamespace({
      body: {
        metadata: {
          name: namespace,
          labels: { 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/warn': 'restricted' },
        },
      },
    });
    const r = await helmKube('install', RELEASE, CHART, '--namespace', namespace, '--wait=false');
    expect(r.code, `helm install:\n${r.stderr}`).toBe(0);
    const warnings = r.stderr.split('\n').filter((l) => /violate PodSecurity/.test(l));
    expect(warnings, r.stderr).toHaveLength(1);
    expect(warnings[0]).toMatch(/hostNetwork=true/);
  });

  describe("the aggregator's ServiceAccount", () => {
    let kc: KubeConfig;
    let sa: { core: CoreV1Api; apps: AppsV1Api; discovery: DiscoveryV1Api; custom: CustomObjectsApi };
    beforeAll(async () => {
      kc = await as(`${FULLNAME}-aggregator`);
      sa = {
        core: kc.makeApiClient(CoreV1Api),
        apps: kc.makeApiClient(AppsV1Api),
        discovery: kc.makeApiClient(DiscoveryV1Api),
        custom: kc.makeApiClient(CustomObjectsApi),
      };
    });

    it('can get, list and watch nodes', async () => {
      const nodes = await sa.core.listNode();
      expect(nodes.items.map((n) => n.metadata?.name)).toContain('node-a');
      expect(await outcome(() => sa.core.readNode({ name: 'node-a' }))).toBe(ALLOWED);
      expect(await watchOutcome(kc, '/api/v1/nodes')).toBe(ALLOWED);
    });

    it('can create, update, patch and delete a Service and an EndpointSlice in its namespace', async () => {
      const namespace = NAMESPACE;
      const svc = await sa.core.createNamespacedService({
        namespace,
        body: { metadata: { name: 'rbac-probe' }, spec: { ports: [{ port: 5201, protocol: 'TCP' }] } },
      });
      expect(await outcome(() => sa.core.listNamespacedService({ namespace }))).toBe(ALLOWED);
      expect(
        await outcome(() =>
          sa.core.replaceNamespacedService({
            name: 'rbac-probe',
            namespace,
            body: { ...svc, metadata: { ...svc.metadata, labels: { updated: 'yes' } } },
          }),
        ),
      ).toBe(ALLOWED);
      const slice = await sa.discovery.createNamespacedEndpointSlice({
        namespace,
        body: {
          metadata: { name: 'rbac-probe', labels: { 'kubernetes.io/service-name': 'rbac-probe' } },
          addressType: 'IPv4',
          endpoints: [{ addresses: ['198.18.0.10'] }],
          ports: [{ port: 5201, protocol: 'TCP' }],
        },
      });
      expect(await outcome(() => sa.discovery.listNamespacedEndpointSlice({ namespace }))).toBe(ALLOWED);
      expect(
        await outcome(() =>
          sa.discovery.replaceNamespacedEndpointSlice({
            name: 'rbac-probe',
            namespace,
            body: { ...slice, endpoints: [{ addresses: ['198.18.0.11'] }] },
          }),
        ),
      ).toBe(ALLOWED);
      expect(await watchOutcome(kc, `/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices`)).toBe(ALLOWED);
      expect(await outcome(() => sa.discovery.deleteNamespacedEndpointSlice({ name: 'rbac-probe', namespace }))).toBe(ALLOWED);
      expect(await outcome(() => sa.core.deleteNamespacedService({ name: 'rbac-probe', namespace }))).toBe(ALLOWED);
    });

    it("can read the dataplane's objects (ConfigMaps and kube-proxy's DaemonSet in kube-system, Calico's FelixConfiguration, Installation and IPPools), and nothing near them", async () => {
      const calico = (group: string, version: string, plural: string, name: string) =>
        outcome(() => sa.custom.getClusterCustomObject({ group, version, plural, name }));
      const ipPools = (group: string, version: string) =>
        outcome(() => sa.custom.listClusterCustomObject({ group, version, plural: 'ippools' }));
      expect(await outcome(() => sa.core.readNamespacedConfigMap({ namespace: 'kube-system', name: 'kube-proxy' }))).toBe(ALLOWED);
      expect(await outcome(() => sa.apps.readNamespacedDaemonSet({ namespace: 'kube-system', name: 'kube-proxy' }))).toBe(ALLOWED);
      // Allowed but absent (no Cilium, no Calico CRDs here): a 404, not a 403.
      expect(await outcome(() => sa.core.readNamespacedConfigMap({ namespace: 'kube-system', name: 'cilium-config' }))).toBe(404);
      expect(await calico('crd.projectcalico.org', 'v1', 'felixconfigurations', 'default')).toBe(404);
      expect(await calico('operator.tigera.io', 'v1', 'installations', 'default')).toBe(404);
      expect(await ipPools('crd.projectcalico.org', 'v1')).toBe(404);
      expect(await ipPools('projectcalico.org', 'v3')).toBe(404);
      // Nothing near them.
      expect(await outcome(() => sa.core.readNamespacedConfigMap({ namespace: 'kube-system', name: 'coredns' }))).toBe(403);
      expect(await outcome(() => sa.core.listNamespacedConfigMap({ namespace: 'kube-system' }))).toBe(403);
      expect(await outcome(() => sa.apps.readNamespacedDaemonSet({ namespace: 'kube-system', name: 'coredns' }))).toBe(403);
      expect(await outcome(() => sa.apps.listNamespacedDaemonSet({ namespace: 'kube-system' }))).toBe(403);
      expect(await calico('crd.projectcalico.org', 'v1', 'felixconfigurations', 'other')).toBe(403);
      expect(await calico('operator.tigera.io', 'v1', 'installations', 'other')).toBe(403);
      // IPPools are listed, never read one by one.
      expect(await calico('crd.projectcalico.org', 'v1', 'ippools', 'default-ipv4-ippool')).toBe(403);
    });

    it('is refused Secrets, pods, Services elsewhere and changes to nodes', async () => {
      const refused: [string, () => Promise<unknown>][] = [
        ['list Secrets in its namespace', () => sa.core.listNamespacedSecret({ namespace: NAMESPACE })],
        ['get its own token Secret', () => sa.core.readNamespacedSecret({ namespace: NAMESPACE, name: `${FULLNAME}-token` })],
        ['get a Secret in kube-system', () => sa.core.readNamespacedSecret({ namespace: 'kube-system', name: 'probe' })],
        [
          'create a Service in default',
          () =>
            sa.core.createNamespacedService({ namespace: 'default', body: { metadata: { name: 'x' }, spec: { ports: [{ port: 1 }] } } }),
        ],
        ['list Services in all namespaces', () => sa.core.listServiceForAllNamespaces()],
        ['delete a node', () => sa.core.deleteNode({ name: 'node-a' })],
        ['label a node', () => sa.core.replaceNode({ name: 'node-a', body: { metadata: { name: 'node-a', labels: { x: 'y' } } } })],
        ['list pods in its namespace', () => sa.core.listNamespacedPod({ namespace: NAMESPACE })],
        ['list pods in all namespaces', () => sa.core.listPodForAllNamespaces()],
      ];
      for (const [what, call] of refused) expect(await outcome(call), what).toBe(403);
    });
  });

  it("refuses the agents' ServiceAccount everything, nodes included", async () => {
    const kc = await as(`${FULLNAME}-agent`);
    const agent = kc.makeApiClient(CoreV1Api);
    expect(await outcome(() => agent.listNode())).toBe(403);
    expect(await outcome(() => agent.listNamespacedService({ namespace: NAMESPACE }))).toBe(403);
    expect(await outcome(() => agent.readNamespacedSecret({ namespace: NAMESPACE, name: `${FULLNAME}-token` }))).toBe(403);
  });
});
