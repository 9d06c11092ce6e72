/**
 * The figures `bench:load` measures at one size, and the table that sets them beside the scale
 * issue's targets. Pure: no I/O.
 */
import type { SummaryRow } from './summary.js';

/** What one size measured. Absent figures were not reached (the run stopped before them). */
export interface Figures {
  agents: number;
  nodes: number;
  /** Aggregator RSS right after start, no agent yet, bytes. */
  startRssBytes?: number;
  /** Time from the first connection attempt to the last welcome, background sweep off, ms. */
  connectIdleMs?: number;
  /** Aggregator RSS with every agent connected and nothing scheduled, bytes. */
  idleRssBytes?: number;
  /** The same connection time with the sweep running while agents join (a rollout), ms. */
  connectLoadMs?: number;
  /** Agents welcomed in that phase (all of them, or as many as joined before the timeout). */
  joinedAgents?: number;
  /** Largest GET /healthz time while they joined, ms. */
  maxHealthzJoiningMs?: number;
  /** Connection attempts that failed and were retried, both phases. */
  retries?: number;
  /** Largest RSS sampled (1/s) in the steady window, and the kernel's peak over the load phase up to its end. */
  loadRssMaxBytes?: number;
  loadRssPeakBytes?: number;
  /** The kernel's peak after the five timed scrapes. */
  scrapeRssPeakBytes?: number;
  windowSeconds?: number;
  /** Tests answered (the generator's client results) per second in the window. */
  testsPerSecond?: number;
  /** Aggregator CPU-seconds (user + system) per 1,000 tests recorded, in the window. */
  cpuSecondsPer1000?: number;
  /** Cores busy in the window: the aggregator's, and the load generator's. */
  aggregatorCores?: number;
  generatorCores?: number;
  testsInWindow?: number;
  /** Over the whole load phase: tests the aggregator counted (netmatrix_tests_total), failed, and answered by the generator. */
  recordedTests?: number;
  failedTests?: number;
  answeredTests?: number;
  /** Of those failures, the ones between the first and the last of the five timed scrapes. */
  failedDuringScrapes?: number;
  failureReasons?: Record<string, number>;
  /** Ordered (kind, path, protocol, source, target) cells with a success: what the matrix holds. */
  pairsMeasured?: number;
  /** Largest GET /healthz time in the window: how long the aggregator's event loop stalled, ms. */
  maxHealthzMs?: number;
  metricsBytes?: number;
  series?: number;
  /** Series per metric family, the largest first. */
  seriesByFamily?: Array<[string, number]>;
  scrapeMedianMs?: number;
  scrapeMs?: number[];
  /** Agents the aggregator closed during the load phase, with the close codes. */
  dropped?: number;
  dropCodes?: Record<string, number>;
  protocolErrors?: number;
  /** Time from every agent vanishing at once to the aggregator counting none, s. */
  massDisconnectSeconds?: number;
  /** Why this size stopped early, if it did. */
  error?: string;
}

/** The issue's targets. */
export const TARGETS = {
  rssBytes: 1024 ** 3,
  testsPerSecond: 2000,
  /** For a 1,000-node cluster, per-pair metrics at their default. */
  series: 50_000,
  scrapeMs: 1000,
  seriesAtNodes: 1000,
};

const MiB = 1024 * 1024;
const mib = (b: number) => `${(b / MiB).toFixed(0)} MiB`;
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const int = (n: number) => Math.round(n).toLocaleString('en-US');

type Row = [label: string, cell: (f: Figures) => string | undefined, target: string];

function verdict(value: string, pass: boolean): string {
  return `${value} ${pass ? 'PASS' : 'MISS'}`;
}
const rssVerdict = (b: number) => verdict(mib(b), b < TARGETS.rssBytes);
const has = <T>(v: T | undefined, format: (v: T) => string): string | undefined => (v === undefined ? undefined : format(v));

const ROWS: Row[] = [
  ['simulated nodes (agents)', (f) => `${int(f.nodes)} (${int(f.agents)})`, ''],
  ['aggregator RSS at start, no agent', (f) => has(f.startRssBytes, mib), ''],
  ['connect all, sweep off', (f) => has(f.connectIdleMs, secs), ''],
  ['RSS, all connected, idle', (f) => has(f.idleRssBytes, rssVerdict), '< 1 GiB'],
  [
    'connect all, sweep running',
    (f) => (f.connectLoadMs !== undefined ? secs(f.connectLoadMs) : has(f.joinedAgents, (n) => `gave up: ${int(n)} joined`)),
    '',
  ],
  ['longest GET /healthz while joining', (f) => has(f.maxHealthzJoiningMs, (v) => `${int(v)} ms`), ''],
  ['RSS under load, max of 1 s samples', (f) => has(f.loadRssMaxBytes, rssVerdict), '< 1 GiB'],
  ['RSS peak (VmHWM), joining + window', (f) => has(f.loadRssPeakBytes, rssVerdict), '< 1 GiB'],
  ['RSS peak (VmHWM), after 5 scrapes', (f) => has(f.scrapeRssPeakBytes, rssVerdict), '< 1 GiB'],
  ['results ingested (tests)/s', (f) => has(f.testsPerSecond, (v) => verdict(int(v), v >= TARGETS.testsPerSecond)), '>= 2,000/s'],
  ['aggregator CPU-s per 1,000 results', (f) => has(f.cpuSecondsPer1000, (v) => v.toFixed(2)), ''],
  [
    'cores busy: aggregator / generator',
    (f) => has(f.aggregatorCores, (v) => `${v.toFixed(2)} / ${(f.generatorCores ?? 0).toFixed(2)}`),
    '(of 2)',
  ],
  ['tests in the window', (f) => has(f.testsInWindow, int), ''],
  ['load phase: tests recorded / failed', (f) => has(f.recordedTests, (v) => `${int(v)} / ${int(f.failedTests ?? 0)}`), ''],
  ['  of the failures, during the scrapes', (f) => has(f.failedDuringScrapes, int), '0'],
  ['pairs in the matrix after the window', (f) => has(f.pairsMeasured, int), ''],
  [
    'RSS per pair in the matrix, about',
    (f) =>
      f.pairsMeasured && f.loadRssMaxBytes !== undefined && f.idleRssBytes !== undefined
        ? `${((f.loadRssMaxBytes - f.idleRssBytes) / f.pairsMeasured / 1024).toFixed(1)} KiB`
        : undefined,
    '',
  ],
  ['longest GET /healthz in the window', (f) => has(f.maxHealthzMs, (v) => `${int(v)} ms`), ''],
  ['/metrics body', (f) => has(f.metricsBytes, (v) => `${int(v / 1024)} KiB`), ''],
  [
    '/metrics series',
    (f) => has(f.series, (v) => (f.nodes === TARGETS.seriesAtNodes ? verdict(int(v), v < TARGETS.series) : int(v))),
    '< 50,000 at 1,000 nodes',
  ],
  [
    '/metrics scrape, median of 5',
    (f) =>
      has(f.scrapeMedianMs, (v) => (f.nodes === TARGETS.seriesAtNodes ? verdict(`${int(v)} ms`, v < TARGETS.scrapeMs) : `${int(v)} ms`)),
    '< 1 s at 1,000 nodes',
  ],
  [
    'scrape time per 1,000 pairs, about',
    (f) => (f.pairsMeasured && f.scrapeMedianMs !== undefined ? `${int((f.scrapeMedianMs / f.pairsMeasured) * 1000)} ms` : undefined),
    '',
  ],
  ['agents dropped under load', (f) => has(f.dropped, int), '0'],
  ['all agents gone at once: handled in', (f) => has(f.massDisconnectSeconds, (v) => `${v.toFixed(1)} s`), ''],
];

/** The figures of every size, one column each, beside the targets. */
export function table(all: Figures[]): string[] {
  const head = ['figure', ...all.map((f) => `${int(f.agents)} agents`), 'target'];
  const rows = ROWS.map(([label, cell, target]) => [label, ...all.map((f) => cell(f) ?? '-'), target]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] as number))
      .join('  ')
      .trimEnd();
  const notes = all.flatMap((f) => [
    ...(f.error ? [`${int(f.agents)} agents: stopped early: ${f.error}`] : []),
    ...(f.failureReasons && Object.keys(f.failureReasons).length > 0
      ? [`${int(f.agents)} agents: failed tests by reason: ${JSON.stringify(f.failureReasons)}`]
      : []),
    ...(f.dropCodes && Object.keys(f.dropCodes).length > 0
      ? [`${int(f.agents)} agents: drops by close code: ${JSON.stringify(f.dropCodes)}`]
      : []),
    ...(f.seriesByFamily
      ? [`${int(f.agents)} agents: series by family: ${f.seriesByFamily.map(([name, n]) => `${name} ${int(n)}`).join(', ')}`]
      : []),
    ...(f.scrapeMs ? [`${int(f.agents)} agents: scrapes, ms: ${f.scrapeMs.map((m) => m.toFixed(0)).join(', ')}`] : []),
    ...(f.recordedTests !== undefined
      ? [
          `${int(f.agents)} agents: the aggregator counted ${int(f.recordedTests)} tests; the generator answered ${int(f.answeredTests ?? 0)} probes`,
        ]
      : []),
  ]);
  return [line(head), ...rows.map(line), ...(notes.length > 0 ? ['', ...notes] : [])];
}

/** The table's figures as rows of `npm run bench`'s summary (summary.ts), one per figure and size. */
export function summaryRows(all: Figures[]): SummaryRow[] {
  return all.flatMap((f) =>
    ROWS.flatMap(([label, cell, target]) => {
      const text = cell(f);
      if (text === undefined) return [];
      const verdict = / (PASS|MISS)$/.exec(text);
      return [
        {
          bench: 'load',
          figure: `${label}, ${int(f.agents)} agents`,
          value: verdict ? text.slice(0, verdict.index) : text,
          bound: target,
          pass: verdict ? verdict[1] === 'PASS' : null,
        },
      ];
    }),
  );
}
