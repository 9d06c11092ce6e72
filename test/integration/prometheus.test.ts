/**
 * The dashboards and alerts against a real Prometheus (Debian's /usr/bin/prometheus) scraping
 * the aggregator of a 3-node lab every second: every query of every dashboard panel and template
 * variable, read back from the chart's JSON, parses and returns data (throughput and latency
 * tests alike); the aggregator's /metrics passes `promtool check metrics`; the rules pass
 * `promtool check rules`, every rule evaluates without error, and alerts fire for real:
 * NetmatrixPairFailing for a node whose host agent refuses every node-to-node throughput test
 * (a bitrate cap below the sweep's), NetmatrixAgentsMissing and NetmatrixAgentModesUnequal once a
 * pod agent is stopped. NetmatrixLatencyRise needs a node whose round trips grow, which this
 * kernel cannot make (no netem): `promtool test rules` fires it on given series instead. Without
 * the lab, every metric the dashboards and rules read is checked against the registered ones.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentRegistry } from '../../aggregator/agents.js';
import { buildAggregator, type Aggregator } from '../../aggregator/app.js';
import { loadAggregatorConfig } from '../../aggregator/config.js';
import { PAIR_FAILURES_MAX_SERIES } from '../../aggregator/matrix-figures.js';
import { Metrics } from '../../aggregator/metrics.js';
import { ResultStore } from '../../aggregator/results.js';
import { DEFAULT_ALERT_SETTINGS, ruleFile, ruleFileYaml, type AlertSettings } from '../../dashboards/alerts.js';
import { MATRIX } from '../../dashboards/queries.js';
import { AgentProcesses, labAgentSpecs } from '../../lab/agents.js';
import { labDown, labUp } from '../../lab/lab.js';
import { planLab } from '../../lab/plan.js';
import type { TestResult } from '../../shared/result.js';
import { familyNames, parseExposition } from '../helpers/prometheus-text.js';
import { freeLoopbackPort } from '../helpers/ports.js';
import { describeWith, waitFor } from '../helpers/requirements.js';

const DASHBOARDS = fileURLToPath(new URL('../../charts/netmatrix/dashboards', import.meta.url));
const TOKEN = 'prometheus-test-token';

/** Short windows and no `for:`, so the alerts can fire within the test. */
const TEST_ALERTS: AlertSettings = {
  throughputDrop: { percent: 50, baselineWindow: '10m', for: '0s' },
  latencyRise: { factor: 3, baselineWindow: '10m', for: '0s' },
  // One failure: with latency rounds between throughput rounds, a 3-node lab takes minutes to
  // test the same pair twice; the counting is tested without the lab below.
  pairFailing: { consecutiveFailures: 1, for: '0s' },
  nodeStale: { seconds: 120, for: '0s' },
  agentsMissing: { window: '10m', for: '0s' },
};

/**
 * What Grafana would put in place of the template variables: one path, protocol and node, and
 * fixed intervals (`$__rate_interval` is 4 scrape intervals at least; scrapes here are 1 s).
 */
const VARIABLES: Record<string, string> = {
  path: 'node',
  protocol: 'tcp',
  node: 'node1',
  __rate_interval: '5s',
  __interval: '1s',
  __range: '10m',
};

function substitute(expr: string): string {
  return expr.replace(/\$\{(\w+)\}|\$(\w+)/g, (whole, braced: string | undefined, bare: string | undefined) => {
    const value = VARIABLES[braced ?? bare ?? ''];
    if (value === undefined) throw new Error(`unknown variable ${whole} in ${expr}`);
    return value;
  });
}

interface PanelJson {
  title?: string;
  type?: string;
  targets?: { expr?: string; refId?: string }[];
  panels?: PanelJson[];
}
interface DashboardJson {
  title: string;
  panels?: PanelJson[];
  templating?: { list?: { name: string; type: string; query?: unknown }[] };
}

/** Every query of every panel and variable of the chart's dashboards, named for messages. */
function dashboardQueries(): { what: string; expr: string }[] {
  const out: { what: string; expr: string }[] = [];
  const files = readdirSync(DASHBOARDS).filter((f) => f.endsWith('.json'));
  expect(files.length).toBeGreaterThanOrEqual(4);
  for (const file of files) {
    const d = JSON.parse(readFileSync(join(DASHBOARDS, file), 'utf8')) as DashboardJson;
    const walk = (panels: PanelJson[]) => {
      for (const p of panels) {
        for (const t of p.targets ?? []) if (t.expr) out.push({ what: `${d.title} / ${p.title} (${t.refId})`, expr: t.expr });
        walk(p.panels ?? []);
      }
    };
    walk(d.panels ?? []);
    for (const v of d.templating?.list ?? []) {
      if (v.type !== 'query') continue;
      // label_values(metric, label): the values Grafana lists are the groups of this query.
      const m = /^label_values\((\w+),\s*(\w+)\)$/.exec(String(v.query));
      if (!m) throw new Error(`${d.title}: variable ${v.name} has a query this test cannot run: ${String(v.query)}`);
      out.push({ what: `${d.title} / variable ${v.name}`, expr: `group by (${m[2]}) (${m[1]})` });
    }
  }
  return out;
}

/** Run a command with `input` on stdin; resolves with its exit code and output. */
function run(argv: string[], input = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0] as string, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

describeWith({ binaries: ['promtool'] }, 'the alerting rules, checked by promtool', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'netmatrix-rules-'));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('passes promtool check rules with the default thresholds and with the test thresholds', async () => {
    for (const [name, settings] of [
      ['default', DEFAULT_ALERT_SETTINGS],
      ['test', TEST_ALERTS],
    ] as const) {
      const file = join(dir, `${name}.yaml`);
      await writeFile(file, ruleFileYaml(ruleFile(settings)));
      const r = await run(['promtool', 'check', 'rules', file]);
      expect(r.code, `${name}: ${r.stdout}\n${r.stderr}`).toBe(0);
      expect(r.stdout).toContain(`SUCCESS: ${ruleFile(settings).groups[0]?.rules.length} rules found`);
    }
  });

  it('fires NetmatrixLatencyRise for the node whose p99 round trip rises, and NetmatrixPairFailing by kind (promtool test rules)', async () => {
    const rules = join(dir, 'rules.yaml');
    await writeFile(rules, ruleFileYaml(ruleFile(DEFAULT_ALERT_SETTINGS)));
    const rtt = (node: string, percentile: string) =>
      `netmatrix_node_rtt_seconds{path="pod",protocol="tcp",node="${node}",percentile="${percentile}"}`;
    const failing = 'netmatrix_pair_consecutive_failures{path="pod",protocol="udp",kind="latency",source="node1",target="node2"}';
    const latencyRise = (node: string, value: string) => ({
      exp_labels: { severity: 'warning', path: 'pod', protocol: 'tcp', node, percentile: '99' },
      exp_annotations: {
        summary: `pod tcp p99 round trip of ${node} rose above 3 times its own average`,
        description:
          `The median over ${node}'s pairs of their 99th percentile full round trip (pod tcp, sockperf ping-pong) is ${value}, ` +
          'more than 3 times its average over the last 1d. See the latency row of the netmatrix Node dashboard.',
      },
    });
    const unitTests = {
      rule_files: [rules],
      evaluation_interval: '1m',
      tests: [
        {
          interval: '1m',
          input_series: [
            // node2's p99 goes from 200 µs to 1 ms after 10 h (its median too); node1 stays put.
            { series: rtt('node2', '99'), values: '0.0002x600 0.001x30' },
            { series: rtt('node2', '50'), values: '0.0001x600 0.0005x30' },
            { series: rtt('node1', '99'), values: '0.0002x630' },
            { series: failing, values: '1 2 3 4' },
          ],
          alert_rule_test: [
            // Above 3x from minute 601, pending for the rule's 15 minutes, then firing; the median never counts.
            { eval_time: '610m', alertname: 'NetmatrixLatencyRise', exp_alerts: [] },
            { eval_time: '620m', alertname: 'NetmatrixLatencyRise', exp_alerts: [latencyRise('node2', '1ms')] },
            {
              eval_time: '3m',
              alertname: 'NetmatrixPairFailing',
              exp_alerts: [
                {
                  exp_labels: { severity: 'warning', path: 'pod', protocol: 'udp', kind: 'latency', source: 'node1', target: 'node2' },
                  exp_annotations: {
                    summary: 'pod udp latency tests from node1 to node2 failed 4 times in a row',
                    description:
                      "The last 4 pod udp latency tests of node1 -> node2 failed. The error code of the latest is in the aggregator's " +
                      '/api/matrix; netmatrix_test_failures_total counts failures by kind and reason.',
                  },
                },
              ],
            },
          ],
        },
      ],
    };
    const file = join(dir, 'rules.test.yaml');
    // JSON is YAML.
    await writeFile(file, JSON.stringify(unitTests));
    const r = await run(['promtool', 'test', 'rules', file]);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toContain('SUCCESS');
  });
});

interface ApiAnswer<T> {
  status: 'success' | 'error';
  data: T;
  errorType?: string;
  error?: string;
}
interface Alert {
  labels: Record<string, string>;
  state: 'pending' | 'firing';
}

describeWith(
  { root: true, binaries: ['ip', 'iptables', 'iperf3', 'sockperf', 'prometheus', 'promtool'] },
  'dashboards and alerts against a real Prometheus scraping a 3-node lab',
  () => {
    const plan = planLab(3);
    let agg: Aggregator;
    let aggregatorUrl = '';
    /** Every agent but the two below. */
    let agents: AgentProcesses | undefined;
    /** node3's host agent, capped below the sweep's bitrates: it refuses every node-to-node test. */
    let refusing: AgentProcesses | undefined;
    /** node2's pod agent, stopped to make the agent alerts fire. */
    let stoppable: AgentProcesses | undefined;
    let prometheus: ChildProcess | undefined;
    let prometheusLog = '';
    let promUrl = '';
    let dir = '';

    const api = async <T>(path: string): Promise<ApiAnswer<T>> => (await fetch(`${promUrl}${path}`)).json() as Promise<ApiAnswer<T>>;
    const query = (expr: string) => api<{ result: unknown[] }>(`/api/v1/query?query=${encodeURIComponent(expr)}`);
    const alerts = async () => (await api<{ alerts: Alert[] }>('/api/v1/alerts')).data.alerts;
    const firing = async (alertname: string, labels: Record<string, string> = {}) =>
      (await alerts()).some(
        (a) => a.state === 'firing' && a.labels.alertname === alertname && Object.entries(labels).every(([k, v]) => a.labels[k] === v),
      );

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'netmatrix-prometheus-'));
      await labUp(plan);
      const config = loadAggregatorConfig(
        {
          NETMATRIX_TOKEN: TOKEN,
          NETMATRIX_LISTEN_HOST: plan.aggregatorIp,
          NETMATRIX_LISTEN_PORT: '0',
          NETMATRIX_TEST_DURATION_SECONDS: '1',
          // One short latency round after each throughput round: a latency test still takes about
          // 3.5 s (sockperf's warm-up), and the throughput sweep must complete within the test.
          NETMATRIX_LATENCY_ROUNDS: '1',
          NETMATRIX_LATENCY_DURATION_SECONDS: '1',
          NETMATRIX_ROUND_PAUSE_MS: '100',
          NETMATRIX_UDP_BITRATE_BITS_PER_SECOND: '200000000',
          NETMATRIX_SERVICE_ADDRESSES: plan.nodes.map((n) => `${n.name}=${n.serviceIp}`).join(','),
        },
        [],
      );
      agg = await buildAggregator({ config, log: pino({ level: 'silent' }) });
      await agg.listen();
      const port = (agg.app.server.address() as AddressInfo).port;
      aggregatorUrl = `http://${plan.aggregatorIp}:${port}`;
      const options = { aggregatorUrl: `ws://${plan.aggregatorIp}:${port}/ws/agent`, token: TOKEN };
      const specs = labAgentSpecs(plan);
      const isRefusing = (s: (typeof specs)[number]) => s.nodeName === 'node3' && s.mode === 'host';
      const isStoppable = (s: (typeof specs)[number]) => s.nodeName === 'node2' && s.mode === 'pod';
      agents = new AgentProcesses(options);
      agents.start(specs.filter((s) => !isRefusing(s) && !isStoppable(s)));
      // 100 Mbit/s: below the sweep's UDP rate, and an uncapped TCP test counts as above any cap.
      refusing = new AgentProcesses({ ...options, env: { NETMATRIX_MAX_BITRATE_BITS_PER_SECOND: '100000000' } });
      refusing.start(specs.filter(isRefusing));
      stoppable = new AgentProcesses(options);
      stoppable.start(specs.filter(isStoppable));
      // Six agents each start their own tsx: slow on a loaded 2-core machine.
      await waitFor(() => agg.agents.all().length === 6, 60_000, 'six agents to connect');

      const rules = join(dir, 'rules.yaml');
      await writeFile(rules, ruleFileYaml(ruleFile(TEST_ALERTS)));
      const configFile = join(dir, 'prometheus.yml');
      await writeFile(
        configFile,
        JSON.stringify({
          global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
          rule_files: [rules],
          scrape_configs: [
            { job_name: 'netmatrix', metrics_path: '/metrics', static_configs: [{ targets: [new URL(aggregatorUrl).host] }] },
          ],
        }),
      );
      const promPort = await freeLoopbackPort();
      promUrl = `http://127.0.0.1:${promPort}`;
      prometheus = spawn(
        'prometheus',
        [
          `--config.file=${configFile}`,
          `--storage.tsdb.path=${join(dir, 'data')}`,
          `--web.listen-address=127.0.0.1:${promPort}`,
          '--log.level=warn',
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      prometheus.stderr?.on('data', (b: Buffer) => (prometheusLog = (prometheusLog + b.toString()).slice(-4000)));
      await waitFor(
        async () => {
          if (prometheus?.exitCode !== null) throw new Error(`prometheus exited: ${prometheusLog}`);
          return (await fetch(`${promUrl}/-/ready`)).ok;
        },
        30_000,
        'prometheus to be ready',
        200,
      );
    }, 120_000);

    afterAll(async () => {
      const p = prometheus;
      if (p && p.exitCode === null) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => p.kill('SIGKILL'), 5000);
          p.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          p.kill('SIGTERM');
        });
      }
      await Promise.all([agents?.stop(), refusing?.stop(), stoppable?.stop()]);
      await agg?.close();
      await labDown();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it('runs every dashboard query against Prometheus: each parses and returns data', async () => {
      const queries = dashboardQueries();
      expect(queries.length).toBeGreaterThan(30);
      let empty: string[] = [];
      let refused: string[] = [];
      let complete = false;
      await waitFor(
        async () => {
          complete = false;
          empty = [];
          refused = [];
          for (const q of queries) {
            const expr = substitute(q.expr);
            const r = await query(expr);
            if (r.status !== 'success') refused.push(`${q.what}: ${expr}: ${r.errorType}: ${r.error}`);
            else if (r.data.result.length === 0) empty.push(`${q.what}: ${expr}`);
          }
          complete = true;
          // A query Prometheus refuses fails at once; one without data yet is waited for.
          return refused.length > 0 || empty.length === 0;
        },
        // The slowest is a completed sweep of one path and protocol: 7 rounds of it, 42 rounds of
        // throughput and as many of latency tests in all, about 200 s on a loaded 2-core machine.
        300_000,
        'data for every dashboard query',
        2000,
      ).catch(() => undefined);
      expect(complete, 'every query was sent').toBe(true);
      expect(refused, 'queries Prometheus refused').toEqual([]);
      expect(empty, 'queries still without data after 300 s').toEqual([]);
    }, 330_000);

    it("heatmaps each pair's round trip, and falls back to one row per node when per-pair series are not exported", async () => {
      type Rows = { result: { metric: Record<string, string> }[] };
      const rows = async (expr: string) => {
        const r = (await query(substitute(expr))) as ApiAnswer<Rows>;
        expect(r.status, `${expr}: ${r.error}`).toBe('success');
        return r.data.result.map((x) => x.metric.row).sort();
      };
      for (const q of [MATRIX.pairRttP50OrNode, MATRIX.pairRttP99OrNode]) {
        const pairs = await rows(q.expr);
        expect(pairs.length).toBeGreaterThan(0);
        for (const row of pairs) expect(row).toMatch(/^node\d → node\d$/);
        // As above NETMATRIX_PER_PAIR_MAX_NODES: no per-pair series under that name.
        const nodes = await rows(q.expr.replaceAll('netmatrix_pair_rtt_seconds', 'netmatrix_pair_rtt_seconds_not_exported'));
        expect(nodes.length).toBeGreaterThan(0);
        for (const row of nodes) expect(row).toMatch(/^node\d$/);
      }
    });

    it("passes promtool check metrics on the aggregator's /metrics, latency series included", async () => {
      const text = await (await fetch(`${aggregatorUrl}/metrics`)).text();
      expect(text).toContain('netmatrix_pair_consecutive_failures{');
      for (const name of [
        'netmatrix_path_rtt_seconds',
        'netmatrix_node_rtt_seconds',
        'netmatrix_pair_rtt_seconds',
        'netmatrix_node_latency_dropped_ratio',
        'netmatrix_path_connect_seconds',
        'netmatrix_rtt_p50_seconds_bucket',
        'netmatrix_rtt_p99_seconds_bucket',
      ]) {
        expect(text).toContain(`${name}{`);
      }
      expect(text).toMatch(/netmatrix_tests_total\{[^}]*kind="latency",outcome="success"\} [1-9]/);
      const r = await run(['promtool', 'check', 'metrics'], text);
      expect(`${r.stdout}${r.stderr}`).toBe('');
      expect(r.code).toBe(0);
    });

    it('evaluates every alerting rule without error, and each expression parses and runs as a query', async () => {
      const rules = ruleFile(TEST_ALERTS).groups.flatMap((g) => g.rules);
      for (const r of rules) {
        const answer = await query(r.expr);
        expect(answer.status, `${r.alert}: ${answer.error}`).toBe('success');
      }
      type Rule = { name: string; health: string; lastError?: string };
      const loaded = async () => (await api<{ groups: { rules: Rule[] }[] }>('/api/v1/rules')).data.groups.flatMap((g) => g.rules);
      await waitFor(async () => (await loaded()).every((r) => r.health !== 'unknown'), 10_000, 'every rule to be evaluated');
      const evaluated = await loaded();
      expect(evaluated.map((r) => r.name).sort()).toEqual(rules.map((r) => r.alert).sort());
      for (const r of evaluated) expect(r.health, `${r.name}: ${r.lastError}`).toBe('ok');
    });

    it('fires NetmatrixPairFailing for the refused pairs, and the agent alerts once an agent stops', async () => {
      await waitFor(() => firing('NetmatrixPairFailing', { path: 'node', target: 'node3' }), 60_000, 'NetmatrixPairFailing to fire');
      expect(await firing('NetmatrixAgentsMissing'), 'no agent is missing yet').toBe(false);
      expect(await firing('NetmatrixAgentModesUnequal'), 'as many pod as host agents yet').toBe(false);

      await stoppable?.stop();
      await waitFor(() => agg.agents.all().length === 5, 10_000, 'the aggregator to see the agent leave');
      await waitFor(() => firing('NetmatrixAgentsMissing', { mode: 'pod' }), 20_000, 'NetmatrixAgentsMissing{mode="pod"} to fire');
      await waitFor(() => firing('NetmatrixAgentModesUnequal'), 20_000, 'NetmatrixAgentModesUnequal to fire');
      expect(await firing('NetmatrixAgentsMissing', { mode: 'host' })).toBe(false);
      expect(await firing('NetmatrixMetricsAbsent')).toBe(false);
    }, 120_000);
  },
);

describe('netmatrix_pair_consecutive_failures (what NetmatrixPairFailing reads)', () => {
  let n = 0;
  const result = (source: string, target: string, ok: boolean): TestResult => ({
    id: `r${++n}`,
    runId: null,
    label: null,
    kind: 'throughput',
    path: 'pod',
    protocol: 'tcp',
    spec: { protocol: 'tcp', durationSeconds: 1, bitrateBitsPerSecond: 0, streams: 1, reverse: false },
    source: { node: source, pod: `p-${source}`, topology: null, cpu: null, cpuSecondsPerGigabyte: null, nic: null },
    target: {
      node: target,
      pod: `p-${target}`,
      topology: null,
      cpu: null,
      cpuSecondsPerGigabyte: null,
      nic: null,
      address: '198.19.2.2',
      port: 5201,
    },
    startedAt: '2026-11-24T10:00:00.000Z',
    endedAt: '2026-11-24T10:00:01.000Z',
    ok,
    error: ok ? null : { code: 'connection-refused', message: 'refused' },
    throughputBitsPerSecond: ok ? 8e9 : null,
    iperf: null,
    serverIperf: null,
    latency: null,
  });
  const series = async (metrics: Metrics) =>
    parseExposition(await metrics.exposition()).filter((x) => x.name === 'netmatrix_pair_consecutive_failures');

  it('counts failures in a row per pair, resets on success, and exports only pairs whose latest test failed', async () => {
    const store = new ResultStore(100);
    const metrics = new Metrics(new Registry(), store, new AgentRegistry(), { perPair: 'never', perPairMaxNodes: 0 });
    expect(await series(metrics)).toEqual([]);
    for (const ok of [true, false, false, false]) store.add(result('a', 'b', ok));
    store.add(result('b', 'a', false));
    store.add(result('a', 'c', false));
    store.add(result('a', 'c', true));
    // Exported whatever the per-pair setting ('never' here).
    expect(await series(metrics)).toEqual([
      {
        name: 'netmatrix_pair_consecutive_failures',
        labels: { path: 'pod', protocol: 'tcp', kind: 'throughput', source: 'a', target: 'b' },
        value: 3,
      },
      {
        name: 'netmatrix_pair_consecutive_failures',
        labels: { path: 'pod', protocol: 'tcp', kind: 'throughput', source: 'b', target: 'a' },
        value: 1,
      },
    ]);
    // The thousands of failing pairs of a cluster-wide outage: only the longest runs are exported.
    for (let i = 0; i < 2 * PAIR_FAILURES_MAX_SERIES; i++) store.add(result(`n${i}`, 'z', false));
    const capped = await series(metrics);
    expect(capped).toHaveLength(PAIR_FAILURES_MAX_SERIES);
    expect(capped[0]?.value).toBe(3);
  });
});

describe('what the dashboards and rules read (no lab)', () => {
  /** Metric names in a PromQL expression, a histogram's series named by the histogram. */
  const metricsIn = (expr: string) => [...expr.matchAll(/\bnetmatrix_[a-z0-9_]+/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, ''));
  const registered = async () => {
    const metrics = new Metrics(new Registry(), new ResultStore(1), new AgentRegistry(), { perPair: 'auto', perPairMaxNodes: 10 });
    return new Set(familyNames(await metrics.exposition()));
  };

  it('reads only metrics the aggregator registers, in every dashboard query and alerting rule', async () => {
    const known = await registered();
    const read = [...dashboardQueries(), ...ruleFile().groups.flatMap((g) => g.rules.map((r) => ({ what: r.alert, expr: r.expr })))];
    const unknown = read.flatMap((q) =>
      metricsIn(q.expr)
        .filter((m) => !known.has(m))
        .map((m) => `${q.what}: ${m}`),
    );
    expect(unknown).toEqual([]);
  });

  it('shows every latency metric on some dashboard', async () => {
    const shown = new Set(dashboardQueries().flatMap((q) => metricsIn(q.expr)));
    const latency = [...(await registered())].filter((m) => /rtt|latency|connect/.test(m) && m !== 'netmatrix_path_tcp_rtt_seconds');
    expect(latency.length).toBeGreaterThanOrEqual(7);
    expect(latency.filter((m) => !shown.has(m))).toEqual([]);
  });
});

describe('test variables', () => {
  it('substitutes every template variable and refuses unknown ones', () => {
    expect(substitute('rate(x{path=~"$path", node="${node}"}[$__rate_interval])')).toBe('rate(x{path=~"node", node="node1"}[5s])');
    expect(() => substitute('$nope')).toThrow(/unknown variable/);
  });
});
