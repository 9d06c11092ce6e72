/**
 * The netmatrix alerting rules, in one place. One function writes them twice: with concrete
 * thresholds (a Prometheus rule file, what the tests give promtool and a real Prometheus), and
 * with Helm expressions in place of the thresholds (charts/netmatrix/files/alerts.yaml, which the
 * chart's PrometheusRule renders with `tpl`), so the chart ships exactly the expressions tested.
 */
import { MATRIX_METRIC as M } from '../aggregator/figures.js';

/** Thresholds of the rules; the chart's `prometheusRule.*` values have the same shape. */
export interface AlertSettings {
  throughputDrop: {
    /** Fire below this percentage of the node's own average over `baselineWindow`. */
    percent: number;
    baselineWindow: string;
    for: string;
  };
  /** NetmatrixLatencyRise. */
  latencyRise: {
    /** Fire when a node's p99 round trip is more than this many times its own average over `baselineWindow`. */
    factor: number;
    baselineWindow: string;
    for: string;
  };
  pairFailing: {
    /** Failed tests in a row of one ordered pair and kind of test. */
    consecutiveFailures: number;
    for: string;
  };
  nodeStale: {
    /** Seconds without a successful test involving the node (per path and protocol). */
    seconds: number;
    for: string;
  };
  agentsMissing: {
    /** Fewer agents connected than the most seen within this window. */
    window: string;
    for: string;
  };
}

/** The chart's defaults (values.yaml `prometheusRule`; a test keeps them equal). */
export const DEFAULT_ALERT_SETTINGS: AlertSettings = {
  throughputDrop: { percent: 50, baselineWindow: '1d', for: '30m' },
  pairFailing: { consecutiveFailures: 3, for: '0s' },
  nodeStale: { seconds: 3600, for: '10m' },
  agentsMissing: { window: '1h', for: '10m' },
  latencyRise: { factor: 3, baselineWindow: '1d', for: '15m' },
};

export interface AlertRule {
  alert: string;
  expr: string;
  for: string;
  labels: Record<string, string>;
  annotations: { summary: string; description: string };
}

export interface RuleFile {
  groups: { name: string; rules: AlertRule[] }[];
}

type AllSettings = Required<AlertSettings>;
type Setting = {
  [G in keyof AllSettings]: `${G}.${Extract<keyof AllSettings[G], string>}`;
}[keyof AllSettings];

/** How thresholds and Prometheus template references are written into the rules. */
interface Writer {
  setting(name: Setting): string;
  /** `{{ X }}` of Prometheus's alert templating. */
  template(x: string): string;
}

function rules(w: Writer): AlertRule[] {
  const s = (name: Setting) => w.setting(name);
  const t = (x: string) => w.template(x);
  const pathProtocol = `${t('$labels.path')} ${t('$labels.protocol')}`;
  const labels = { severity: 'warning' };
  return [
    {
      alert: 'NetmatrixThroughputDrop',
      expr:
        `${M.nodeThroughput} < ${s('throughputDrop.percent')} / 100` +
        ` * avg_over_time(${M.nodeThroughput}[${s('throughputDrop.baselineWindow')}])`,
      for: s('throughputDrop.for'),
      labels,
      annotations: {
        summary: `${pathProtocol} throughput of ${t('$labels.node')} (${t('$labels.direction')}) dropped below ${s('throughputDrop.percent')}% of its own average`,
        description:
          `The median throughput of ${t('$labels.node')}'s pairs (${pathProtocol}, direction ${t('$labels.direction')}) is ` +
          `${t('$value | humanize')}B/s, under ${s('throughputDrop.percent')}% of its average over the last ` +
          `${s('throughputDrop.baselineWindow')}. See the netmatrix Node dashboard.`,
      },
    },
    {
      alert: 'NetmatrixLatencyRise',
      // The node's own recent past is the baseline: round trips differ too much between clusters
      // (and paths) for one absolute threshold.
      expr:
        `${M.nodeRtt}{percentile="99"} > ${s('latencyRise.factor')}` +
        ` * avg_over_time(${M.nodeRtt}{percentile="99"}[${s('latencyRise.baselineWindow')}])`,
      for: s('latencyRise.for'),
      labels,
      annotations: {
        summary: `${pathProtocol} p99 round trip of ${t('$labels.node')} rose above ${s('latencyRise.factor')} times its own average`,
        description:
          `The median over ${t('$labels.node')}'s pairs of their 99th percentile full round trip (${pathProtocol}, sockperf ` +
          `ping-pong) is ${t('$value | humanizeDuration')}, more than ${s('latencyRise.factor')} times its average over the last ` +
          `${s('latencyRise.baselineWindow')}. See the latency row of the netmatrix Node dashboard.`,
      },
    },
    {
      alert: 'NetmatrixPairFailing',
      expr: `${M.pairFailures} >= ${s('pairFailing.consecutiveFailures')}`,
      for: s('pairFailing.for'),
      labels,
      annotations: {
        summary: `${pathProtocol} ${t('$labels.kind')} tests from ${t('$labels.source')} to ${t('$labels.target')} failed ${t('$value')} times in a row`,
        description:
          `The last ${t('$value')} ${pathProtocol} ${t('$labels.kind')} tests of ${t('$labels.source')} -> ${t('$labels.target')} failed. ` +
          "The error code of the latest is in the aggregator's /api/matrix; netmatrix_test_failures_total counts failures by kind and reason.",
      },
    },
    {
      alert: 'NetmatrixNodeStale',
      expr: `time() - ${M.nodeLastSuccess} > ${s('nodeStale.seconds')}`,
      for: s('nodeStale.for'),
      labels,
      annotations: {
        summary: `No successful ${pathProtocol} test involving ${t('$labels.node')} for ${t('$value | humanizeDuration')}`,
        description:
          `No ${pathProtocol} test involving ${t('$labels.node')} has succeeded for more than ${s('nodeStale.seconds')} s. ` +
          'Its agents may be gone, or all its tests failing (see NetmatrixPairFailing). On a large cluster a sweep takes ' +
          'longer: raise the threshold above the sweep period.',
      },
    },
    {
      alert: 'NetmatrixAgentsMissing',
      expr: `netmatrix_agents_connected < max_over_time(netmatrix_agents_connected[${s('agentsMissing.window')}])`,
      for: s('agentsMissing.for'),
      labels,
      annotations: {
        summary: `${t('$value')} ${t('$labels.mode')} agents connected, fewer than within the last ${s('agentsMissing.window')}`,
        description:
          `Only ${t('$value')} agents of mode ${t('$labels.mode')} are connected to the aggregator, fewer than earlier in the ` +
          `last ${s('agentsMissing.window')}: nodes without an agent are not measured. Check the agent DaemonSet's pods.`,
      },
    },
    {
      alert: 'NetmatrixAgentModesUnequal',
      // Both counts above 0: with one DaemonSet disabled its count is always 0, which is no alert.
      expr:
        'netmatrix_agents_connected{mode="pod"} != ignoring(mode) netmatrix_agents_connected{mode="host"}' +
        ' and ignoring(mode) netmatrix_agents_connected{mode="host"} > 0' +
        ' and ignoring(mode) netmatrix_agents_connected{mode="pod"} > 0',
      for: s('agentsMissing.for'),
      labels,
      annotations: {
        summary: `${t('$value')} pod-network agents connected, and a different number of host-network agents`,
        description:
          'Every node should run one agent of each mode: some nodes miss one, so their node-to-node or pod paths are not ' +
          'measured. Compare GET /api/agents with the nodes.',
      },
    },
    {
      alert: 'NetmatrixMetricsAbsent',
      expr: 'absent(netmatrix_agents_connected)',
      for: s('agentsMissing.for'),
      labels,
      annotations: {
        summary: 'No netmatrix metrics',
        description: 'Prometheus has no netmatrix_agents_connected series: the aggregator is down or its /metrics is not scraped.',
      },
    },
  ];
}

const GROUP = 'netmatrix';

/** The rules with concrete thresholds. */
export function ruleFile(settings: AlertSettings = DEFAULT_ALERT_SETTINGS): RuleFile {
  const all: AllSettings = settings;
  const setting = (name: Setting) => {
    const [group, key] = name.split('.') as [keyof AllSettings, string];
    return String((all[group] as unknown as Record<string, string | number>)[key]);
  };
  return { groups: [{ name: GROUP, rules: rules({ setting, template: (x) => `{{ ${x} }}` }) }] };
}

/**
 * The rules with each threshold as a Helm expression on `.Values.prometheusRule`, and
 * Prometheus's own `{{ }}` escaped from Helm's `tpl`.
 */
export function helmRuleFile(): RuleFile {
  const integers = new Set<Setting>(['pairFailing.consecutiveFailures', 'nodeStale.seconds']);
  // Helm reads YAML numbers as float64: `int` keeps a large integer from printing as 1e+06.
  const setting = (name: Setting) => {
    return `{{ ${integers.has(name) ? 'int ' : ''}.Values.prometheusRule.${name} }}`;
  };
  const template = (x: string) => `{{\`{{\`}} ${x} {{\`}}\`}}`;
  return { groups: [{ name: GROUP, rules: rules({ setting, template }) }] };
}

/** YAML of a rule file (strings as JSON strings: valid YAML scalars, nothing to escape by hand). */
export function ruleFileYaml(f: RuleFile, header = ''): string {
  const q = (s: string) => JSON.stringify(s);
  const lines = header ? header.split('\n').map((l) => `# ${l}`.trimEnd()) : [];
  lines.push('groups:');
  for (const g of f.groups) {
    lines.push(`  - name: ${q(g.name)}`, '    rules:');
    for (const r of g.rules) {
      lines.push(`      - alert: ${q(r.alert)}`, `        expr: ${q(r.expr)}`, `        for: ${q(r.for)}`, '        labels:');
      for (const [k, v] of Object.entries(r.labels)) lines.push(`          ${k}: ${q(v)}`);
      lines.push('        annotations:');
      for (const [k, v] of Object.entries(r.annotations)) lines.push(`          ${k}: ${q(v)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
