/**
 * What each run is and what differs between runs. The dataplane settings are the variable a
 * comparison is made for; everything else that differs (cluster size, test spec, kernels, NIC
 * and pod MTUs, TCP congestion control, CPUs) may explain a change just as well, so compare
 * says so before any figure. A dataplane value the detector assumed (a documented default, not
 * read from the cluster) is shown with "(assumed)"; files from before provenance show none.
 */
import type { NodeEnvironment } from '../../shared/environment.js';
import { TEST_KINDS, type LatencySpec } from '../../shared/protocol.js';
import type { ResultsFile, RunSpec } from '../../shared/results-file.js';
import type { LoadedRun } from './load.js';
import { formatBitrate } from './units.js';

/** One run as its header shows it. */
export interface RunDescription {
  /** Unique among the compared runs. */
  label: string;
  /** The file it came from, as given. */
  file: string;
  startedAt: string;
  nodes: number;
  spec: RunSpec;
  /** Detected dataplane kind: "lab", "calico", "cilium", "kube-proxy", "unknown". */
  dataplane: string;
  /** The dataplane's detected settings merged with the lab profile, in a stable order. */
  settings: [string, string][];
  /** The names of the settings whose value was assumed rather than read, in the same order. */
  assumedSettings: string[];
  /** The knobs of the run's latency tests (the aggregator's, not in RunSpec); null without any. */
  latency: LatencySpec | null;
}

export function describeRun(run: LoadedRun, label: string): RunDescription {
  const f = run.file;
  const settings = [...dataplaneSettings(f)].sort(([a], [b]) => a.localeCompare(b));
  return {
    label,
    file: run.name,
    startedAt: f.startedAt,
    nodes: f.environment.nodes.length,
    spec: f.spec,
    dataplane: f.environment.dataplane.kind,
    settings: settings.map(([k, s]) => [k, s.value]),
    assumedSettings: settings.flatMap(([k, s]) => (s.assumed ? [k] : [])),
    latency: latencySpec(f),
  };
}

/** The spec of the run's first latency test: every latency test of a run shares the aggregator's settings. */
function latencySpec(f: ResultsFile): LatencySpec | null {
  for (const r of f.results) if (r.kind === 'latency' && r.spec.kind === 'latency') return r.spec;
  return null;
}

/** "2 s, 64 B at 1000/s". */
function latencyKnobs(l: LatencySpec): string {
  return `${l.durationSeconds} s, ${l.messageSizeBytes} B at ${l.messagesPerSecond}/s`;
}

/** The header lines under a run's label; the throughput knobs only when it measured throughput. */
export function runHeaderLines(run: RunDescription): string[] {
  const s = run.spec;
  const assumed = new Set(run.assumedSettings);
  const settings = run.settings.map(([k, v]) => `${k}=${v}${assumed.has(k) ? ASSUMED : ''}`).join(' ');
  const throughput = s.kinds.includes('throughput')
    ? `${s.durationSeconds} s${s.omitSeconds > 0 ? ` (+${s.omitSeconds} s omitted)` : ''}, ${plural(s.streams, 'stream')}, `
    : '';
  return [
    `${run.file}, started ${run.startedAt}, ${plural(run.nodes, 'node')}`,
    `dataplane: ${run.dataplane}${settings ? `  ${settings}` : ''}`,
    `tests: ${throughput}repeat ${s.repeat}; ${s.paths.join('/')} ${s.protocols.join('/')}`,
    ...(run.latency ? [`latency tests: ${latencyKnobs(run.latency)}`] : []),
  ];
}

/** Shown after a value the detector assumed. */
const ASSUMED = ' (assumed)';

/** A dataplane setting's value, and whether the detector assumed it rather than read it. */
interface Setting {
  value: string;
  assumed: boolean;
}

/** Dataplane settings, with lab profile fields the detector did not already report. */
function dataplaneSettings(f: ResultsFile): Map<string, Setting> {
  const m = new Map<string, Setting>();
  const lab = f.environment.lab;
  if (lab) {
    m.set('podNetwork', { value: lab.podNetwork, assumed: false });
    m.set('serviceProxy', { value: lab.serviceProxy, assumed: false });
    m.set('linkRate', { value: lab.linkRate ?? 'none', assumed: false });
  }
  const { settings, provenance } = f.environment.dataplane;
  for (const [k, value] of Object.entries(settings)) m.set(k, { value, assumed: provenance?.[k]?.mark === 'assumed' });
  return m;
}

/** A fact about a run as compared across runs: equal `key`s mean no difference. */
interface Fact {
  key: string;
  shown: string;
}

function fact(shown: string, key = shown): Fact {
  return { key, shown };
}

/**
 * Distinct values over the nodes; counts are shown only when the nodes of one run disagree.
 * A node without the value (null: not recorded, or its agent was missing) counts as "unknown";
 * a run none of whose nodes has it has no such fact, and is compared with nothing.
 */
function nodeFact(nodes: readonly NodeEnvironment[], pick: (n: NodeEnvironment) => string | null): Fact | null {
  if (nodes.length > 0 && nodes.every((n) => pick(n) === null)) return null;
  const counts = new Map<string, number>();
  for (const n of nodes) {
    const v = pick(n) ?? 'unknown';
    counts.set(v, (counts.get(v) ?? 0) + 1);
  }
  const values = [...counts.keys()].sort();
  if (values.length === 0) return fact('unknown (no nodes)');
  if (values.length === 1) return fact(values[0] as string);
  return fact(values.map((v) => `${v} (${plural(counts.get(v) ?? 0, 'node')})`).join(', '), values.join('\u0000'));
}

/** Equal values are no difference whether read or assumed; the mark is shown, not compared. */
const settingFact = (s: Setting | undefined): Fact => (s ? fact(`${s.value}${s.assumed ? ASSUMED : ''}`, s.value) : fact('unset'));

const bitrate = (bps: number) => (bps === 0 ? 'unlimited' : formatBitrate(bps));

/** A throughput knob, compared only among runs that measured throughput. */
const throughputFact = (f: ResultsFile, shown: string): Fact | null => (f.spec.kinds.includes('throughput') ? fact(shown) : null);

/**
 * What is compared, in the order notes are printed: the dataplane first, then the cluster, then
 * the test spec. An aspect a run does not have (null) is compared among the other runs only.
 */
const ASPECTS: { name: string; of: (f: ResultsFile) => Fact | null }[] = [
  { name: 'dataplane', of: (f) => fact(f.environment.dataplane.kind) },
  { name: 'kernel', of: (f) => nodeFact(f.environment.nodes, (n) => n.kernel) },
  { name: 'MTU', of: (f) => nodeFact(f.environment.nodes, (n) => (n.mtu === null ? null : String(n.mtu))) },
  { name: 'pod MTU', of: (f) => nodeFact(f.environment.nodes, (n) => (n.podMtu === null ? null : String(n.podMtu))) },
  { name: 'congestion control', of: (f) => nodeFact(f.environment.nodes, (n) => n.congestionControl) },
  { name: 'pod congestion control', of: (f) => nodeFact(f.environment.nodes, (n) => n.podCongestionControl) },
  { name: 'CPU model', of: (f) => nodeFact(f.environment.nodes, (n) => n.cpuModel) },
  { name: 'CPU cores', of: (f) => nodeFact(f.environment.nodes, (n) => String(n.cpuCores)) },
  { name: 'instance type', of: (f) => nodeFact(f.environment.nodes, (n) => n.instanceType ?? 'unknown') },
  { name: 'iperf3 version', of: (f) => nodeFact(f.environment.nodes, (n) => n.iperf3Versions.join('+') || 'unknown') },
  { name: 'test duration', of: (f) => throughputFact(f, `${f.spec.durationSeconds} s`) },
  { name: 'omitted seconds', of: (f) => throughputFact(f, `${f.spec.omitSeconds} s`) },
  { name: 'streams', of: (f) => throughputFact(f, String(f.spec.streams)) },
  { name: 'repeat', of: (f) => fact(String(f.spec.repeat)) },
  { name: 'TCP bitrate', of: (f) => throughputFact(f, bitrate(f.spec.tcpBitrateBitsPerSecond)) },
  { name: 'UDP bitrate', of: (f) => throughputFact(f, bitrate(f.spec.udpBitrateBitsPerSecond)) },
  {
    name: 'latency test',
    of: (f) => {
      const l = latencySpec(f);
      return l ? fact(latencyKnobs(l)) : null;
    },
  },
  { name: 'paths', of: (f) => fact(f.spec.paths.join('/')) },
  { name: 'protocols', of: (f) => fact(f.spec.protocols.join('/')) },
];

/**
 * One "note: ..." line per thing that differs between the runs, each naming every run and
 * its value. `labels[i]` is the label shown for `runs[i]`.
 */
export function differences(runs: readonly LoadedRun[], labels: readonly string[]): string[] {
  const notes: string[] = [];
  const label = (i: number) => labels[i] ?? runs[i]?.file.label ?? '?';

  const duplicated = new Set(runs.map((r) => r.file.label).filter((l, i, all) => all.indexOf(l) !== i));
  for (const l of duplicated) {
    const shown = runs.flatMap((r, i) => (r.file.label === l ? [`${label(i)} for ${r.name}`] : []));
    notes.push(`note: several files are labelled "${l}": shown as ${shown.join(', ')}`);
  }
  for (const [i, r] of runs.entries()) {
    if (r.file.results.length === 0) notes.push(`note: ${label(i)} has no test results`);
  }
  if (runs.length < 2) return notes;
  notes.push(...missingKinds(runs, label));

  const counts = runs.map((r) => r.file.environment.nodes.length);
  if (new Set(counts).size > 1) {
    notes.push(`note: ${counts.map((n, i) => (i === 0 ? `${label(i)} has ${plural(n, 'node')}` : `${label(i)} has ${n}`)).join(', ')}`);
  }
  const settingKeys = [...new Set(runs.flatMap((r) => [...dataplaneSettings(r.file).keys()]))].sort();
  const aspects = [
    ASPECTS[0] as (typeof ASPECTS)[number],
    ...settingKeys.map((k) => ({ name: `dataplane ${k}`, of: (f: ResultsFile) => settingFact(dataplaneSettings(f).get(k)) })),
    ...ASPECTS.slice(1),
  ];
  for (const a of aspects) {
    const facts = runs.flatMap((r, i) => {
      const f = a.of(r.file);
      return f ? [{ ...f, i }] : [];
    });
    if (new Set(facts.map((f) => f.key)).size > 1) {
      notes.push(`note: ${a.name} differs - ${facts.map((f) => `${label(f.i)}: ${f.shown}`).join('; ')}`);
    }
  }
  return notes;
}

/**
 * One line per kind of test some runs have and others lack: their rows of that kind stay
 * empty rather than failing the comparison. A run that asked for latency and got none ran on
 * agents without sockperf. Runs without any result have their own note already.
 */
function missingKinds(runs: readonly LoadedRun[], label: (i: number) => string): string[] {
  const notes: string[] = [];
  for (const kind of TEST_KINDS) {
    const has = runs.map((r) => r.file.results.some((t) => t.kind === kind));
    const lacking = runs.flatMap((r, i) => (has[i] || r.file.results.length === 0 ? [] : [i]));
    if (!has.some(Boolean) || lacking.length === 0) continue;
    const cause = kind === 'latency' ? ': agents without sockperf?' : '';
    const named = lacking.map((i) => (runs[i]?.file.spec.kinds.includes(kind) ? `${label(i)} (asked for, none ran${cause})` : label(i)));
    const measuredBy = has.flatMap((h, i) => (h ? [label(i)] : []));
    notes.push(`note: no ${kind} tests in ${named.join(', ')}; ${kind} is shown for ${measuredBy.join(', ')} only`);
  }
  return notes;
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
