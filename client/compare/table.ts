/**
 * The comparison as tables: per path and protocol one of throughput and one of latency (when
 * measured), plus the CNI overhead table, built once
 * as rows of formatted cells (the HTML report renders the same cells) and laid out here as
 * plain text that fits a 100-column terminal for labels up to about 12 characters.
 */
import { hasThroughput, type Comparison, type FigureAnalysis, type LatencySection, type Pairing, type Section } from './compare.js';
import { runHeaderLines } from './describe.js';
import { CONFIDENCE, type Effect } from './effect.js';
import { CORES_PER_10_GBITS_PER_CPU_SECOND_PER_GIGABYTE } from './figures.js';
import {
  formatBitrate,
  formatBitrateRange,
  formatDropped,
  formatRatio,
  formatRtt,
  formatRttRange,
  NONE,
  pathProtocolTitle,
} from './units.js';

export interface Column {
  header: string;
  align: 'left' | 'right';
}

/** A table of already formatted cells; `rows[i][j]` is under `columns[j]`; `notes` are printed under it. */
export interface Table {
  title: string;
  columns: Column[];
  rows: string[][];
  notes?: string[];
}

/** The verdict cell of a figure the data cannot judge (its note says why). */
export const NO_VERDICT = 'no verdict';

/** A signed change: "+3.2%" for ratio figures, "+0.12 pt" for linear ones. */
export function formatEffect(value: number | null, linear: boolean): string {
  if (value === null) return NONE;
  const s = linear ? value.toFixed(2) : value.toFixed(1);
  const shown = Number(s) === 0 ? (0).toFixed(linear ? 2 : 1) : s;
  return `${value > 0 && Number(s) !== 0 ? '+' : ''}${shown}${linear ? ' pt' : '%'}`;
}

/** Beyond +1000 % a ratio's bound says only "no information"; it is shown as such. */
const SHOWN_PERCENT_LIMIT = 1000;

/** "-4.0..+0.9%", "-0.10..+0.20 pt", "-98.3..>+1000%". */
export function formatInterval(e: Effect, linear: boolean): string {
  if (e.low === null || e.high === null) return NONE;
  const unit = linear ? ' pt' : '%';
  const one = (v: number) => (!linear && v > SHOWN_PERCENT_LIMIT ? `>+${SHOWN_PERCENT_LIMIT}` : formatEffect(v, linear).replace(unit, ''));
  return `${one(e.low)}..${one(e.high)}${unit}`;
}

/** The smallest change the design detects: "2.1%". */
function formatMde(e: Effect, linear: boolean): string {
  if (e.mde === null) return NONE;
  // Beyond 1000 % the design detects nothing a reader would call a change.
  if (!linear && e.mde > SHOWN_PERCENT_LIMIT) return `>${SHOWN_PERCENT_LIMIT}%`;
  return `${linear ? e.mde.toFixed(2) : e.mde.toFixed(1)}${linear ? ' pt' : '%'}`;
}

/** "paired, 6 pairs x 5 repeats"; "unpaired, 3 + 4 pairs x 5/3 repeats". */
export function design(e: Effect): string {
  const pairs = e.method === 'paired' ? plural(e.pairsA, 'pair') : `${e.pairsA} + ${plural(e.pairsB, 'pair')}`;
  const reps = e.repeatsA === e.repeatsB ? plural(e.repeatsA, 'repeat') : `${e.repeatsA}/${e.repeatsB} repeats`;
  return `${e.method}, ${pairs} x ${reps}`;
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

const JUDGED_COLUMNS = (base: string, run: string): Column[] => [
  { header: 'figure', align: 'left' },
  { header: base, align: 'right' },
  { header: run, align: 'right' },
  { header: 'change', align: 'right' },
  { header: `${Math.round(CONFIDENCE * 100)}% CI`, align: 'right' },
  { header: 'verdict', align: 'left' },
  { header: 'detects', align: 'right' },
];

/**
 * One pairing of one section's figures: a row per figure with both runs' values, the change,
 * its interval, the verdict, the smallest change the design detects and pairs x repeats.
 * Figures without a verdict, and an unpaired method, get a note under the table.
 */
export function judgedTable(c: Comparison, title: string, figures: readonly FigureAnalysis[], pairingIndex: number): Table {
  const p = c.pairings[pairingIndex] as Pairing;
  const base = c.runs[p.baseline]?.label ?? '?';
  const run = c.runs[p.run]?.label ?? '?';
  const notes = new Set<string>();
  const first = figures.map((f) => f.comparisons[pairingIndex]).find((e) => e !== undefined && e.method !== 'none');
  const shape = first ? design(first) : '';
  const rows = figures.map((f) => {
    const e = f.comparisons[pairingIndex] as Effect;
    const linear = f.figure.scale === 'linear';
    // Over the pairs compared (all of a run's pairs when unpaired), as the change is.
    const value = (v: number | null) => (v === null ? NONE : f.figure.format(v));
    if (e.reason) notes.add(e.verdict === null ? `${f.figure.title}: no verdict, ${e.reason}` : e.reason);
    else if (e.method !== 'none' && design(e) !== shape) notes.add(`${f.figure.title}: ${design(e)} (tests without this figure left out)`);
    return [
      f.figure.title,
      value(e.valueA),
      value(e.valueB),
      formatEffect(e.estimate, linear),
      formatInterval(e, linear),
      e.verdict ?? NO_VERDICT,
      formatMde(e, linear),
    ];
  });
  const what = p.drift ? `drift of ${run} against ${base} (same label)` : `${run} against ${base}`;
  return { title: `${title}: ${what}${shape ? `; ${shape}` : ''}`, columns: JUDGED_COLUMNS(base, run), rows, notes: [...notes] };
}

const SECTION_COLUMNS: Column[] = [
  { header: 'run', align: 'left' },
  { header: 'ok/tests', align: 'right' },
  { header: 'median', align: 'right' },
  { header: 'p10-p90', align: 'right' },
];

/** One path and protocol's throughput as measured: a row per run, every test one sample. */
export function sectionTable(c: Comparison, s: Section): Table {
  const rows = s.runs.map((f, i) => [
    c.runs[i]?.label ?? '?',
    `${f.tests - f.failures}/${f.tests}`,
    formatBitrate(f.throughput?.median),
    formatBitrateRange(f.throughput?.p10, f.throughput?.p90),
  ]);
  return { title: `${pathProtocolTitle(s.path, s.protocol)} throughput`, columns: SECTION_COLUMNS, rows };
}

/**
 * One path and protocol's round trips as measured: a row per run, median and p10-p90 of p50
 * and of p99 over every test; TCP adds connection setup, UDP the share of requests without reply.
 */
export function latencyTable(c: Comparison, s: Section & { latency: LatencySection }): Table {
  const udp = s.protocol === 'udp';
  const columns: Column[] = [
    { header: 'run', align: 'left' },
    { header: 'ok/tests', align: 'right' },
    { header: 'p50', align: 'right' },
    { header: 'p10-p90', align: 'right' },
    { header: 'p99', align: 'right' },
    { header: 'p10-p90', align: 'right' },
    { header: udp ? 'dropped' : 'connect p50', align: 'right' },
  ];
  const l = s.latency;
  const rows = l.runs.map((f, i) => [
    c.runs[i]?.label ?? '?',
    `${f.tests - f.failures}/${f.tests}`,
    formatRtt(f.rttP50?.median),
    formatRttRange(f.rttP50?.p10, f.rttP50?.p90),
    formatRtt(f.rttP99?.median),
    formatRttRange(f.rttP99?.p10, f.rttP99?.p90),
    udp ? formatDropped(f.droppedRatio) : formatRtt(f.connectP50Microseconds),
  ]);
  return { title: `${pathProtocolTitle(s.path, s.protocol)} latency (round-trip time)`, columns, rows };
}

/** The judged tables of one section and kind, one per pairing. */
export function judgedTables(c: Comparison, title: string, figures: readonly FigureAnalysis[]): Table[] {
  if (figures.length === 0) return [];
  return c.pairings.map((_, i) => judgedTable(c, title, figures, i));
}

/** The tables of one section: throughput as measured and judged, then latency likewise. */
export function sectionTables(c: Comparison, s: Section): Table[] {
  const latency = s.latency;
  const title = pathProtocolTitle(s.path, s.protocol);
  return [
    ...(hasThroughput(s) ? [sectionTable(c, s), ...judgedTables(c, `${title} throughput`, s.figures)] : []),
    ...(latency ? [latencyTable(c, { ...s, latency }), ...judgedTables(c, `${title} latency`, latency.figures)] : []),
  ];
}

/** Pod/node and service/node per run and protocol; null when no protocol was measured. */
export function overheadTable(c: Comparison): Table | null {
  if (c.overhead.length === 0) return null;
  const columns: Column[] = [{ header: 'run', align: 'left' }];
  for (const o of c.overhead) {
    const p = o.protocol.toUpperCase();
    columns.push({ header: `${p} pod/node`, align: 'right' }, { header: `${p} service/node`, align: 'right' });
  }
  const rows = c.runs.map((r, i) => [
    r.label,
    ...c.overhead.flatMap((o) => [formatRatio(o.podOverNode[i]), formatRatio(o.serviceOverNode[i])]),
  ]);
  return { title: 'CNI overhead: median throughput relative to node-to-node (1.00 = no overhead)', columns, rows };
}

/** Every table, in print order. */
export function comparisonTables(c: Comparison): Table[] {
  const overhead = overheadTable(c);
  return [...c.sections.flatMap((s) => sectionTables(c, s)), ...(overhead ? [overhead] : [])];
}

/** What the columns mean; printed once under the tables. */
export function footnotes(c: Comparison): string[] {
  const o = c.options;
  const notes = [
    "Figures per run: the median over ordered pairs of each pair's median over its repetitions. " +
      'change: the typical change of a pair, the Hodges-Lehmann estimate over the pairs measured in both runs of ' +
      "each pair's log ratio (a % change; figures in pt are differences in percentage points). " +
      `${Math.round(CONFIDENCE * 100)}% CI: a parametric bootstrap of the design (${o.replicates} replicates, seed ${o.seed}): ` +
      "every repetition redrawn with its run's test-to-test and pass-to-pass noise, so it covers the change on these " +
      'pairs of this cluster; runs with no pair in common are compared unpaired (a note says so).',
    `verdict: changed = the CI excludes 0 and the change is beyond the margin (+-${(o.margin * 100).toFixed(1)}%, ` +
      '+-0.5 pt for loss; --margin); equivalent = the CI lies within the margin; inconclusive = neither. ' +
      'detects: the smallest change this design would call different from 0 four times in five (its minimum ' +
      'detectable effect): it could not have detected a smaller one.',
    'throughput: data rate at the receiver; the as-measured table pools every test (each pair and repetition one ' +
      'sample) into a median and p10-p90, the spread of single tests. ok/tests: successful tests / tests run.',
    "client/server: the node of iperf3 -c and of iperf3 -s. CPU marginal: the node's busy CPU over the test minus " +
      'its idle baseline measured just before it (per mode), what the test cost; total: all busy CPU in the test ' +
      'window, kubelet and dataplane daemons included. busy: % of all cores; CPU-s/GB: busy CPU-seconds per 10^9 ' +
      `bytes moved (1 CPU-s/GB = ${CORES_PER_10_GBITS_PER_CPU_SECOND_PER_GIGABYTE} cores busy per 10 Gbit/s).`,
  ];
  if (c.lab) {
    notes.push(
      'lab: every node of the lab is this one machine, so client and server CPU read the same /proc/stat: ' +
        "both are the whole machine's, each including the other side's work.",
    );
  }
  if (c.sections.some((s) => s.latency)) notes.push(...LATENCY_FOOTNOTES);
  return notes;
}

const LATENCY_FOOTNOTES = [
  "latency: full round trips (request sent to reply received) of sockperf ping-pong; p50 and p99 are each test's " +
    'median and 99th percentile. A positive change is slower.',
  'connect p50 (TCP): median time to set up a connection. dropped (UDP): requests without a reply / requests ' +
    'sent. Node CPU is not shown for latency tests: the sockperf client busy-waits to pace its messages (about ' +
    'one core of the client node) while its network load is tiny.',
];

/** A table as text: a title line, a header, a rule and the rows, columns two spaces apart. */
export function renderTable(t: Table): string {
  const widths = t.columns.map((col, j) => Math.max(col.header.length, ...t.rows.map((r) => (r[j] ?? '').length)));
  const line = (cells: readonly string[]) =>
    t.columns
      .map((col, j) => {
        const cell = cells[j] ?? '';
        const w = widths[j] ?? 0;
        return col.align === 'left' ? cell.padEnd(w) : cell.padStart(w);
      })
      .join('  ')
      .trimEnd();
  return [
    t.title,
    line(t.columns.map((c) => c.header)),
    line(widths.map((w) => '-'.repeat(w))),
    ...t.rows.map(line),
    // wrap() drops leading blanks: indent the bullet after wrapping.
    ...(t.notes ?? []).map((n) =>
      wrap(`* ${n}`, WIDTH - 2, '  ')
        .split('\n')
        .map((l) => `  ${l}`)
        .join('\n'),
    ),
  ].join('\n');
}

/** Greedy word wrap; `indent` starts every line after the first. */
export function wrap(text: string, width: number, indent = ''): string {
  const lines: string[] = [];
  let current = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const prefix = lines.length === 0 ? '' : indent;
    if (current && prefix.length + current.length + 1 + word.length > width) {
      lines.push(prefix + current);
      current = word;
    } else {
      current = current ? `${current} ${word}` : word;
    }
  }
  if (current) lines.push((lines.length === 0 ? '' : indent) + current);
  return lines.join('\n');
}

const WIDTH = 100;

/** The whole text output: notes, run headers, tables, footnotes. */
export function renderComparisonText(c: Comparison): string {
  const labelWidth = Math.max(...c.runs.map((r) => r.label.length));
  const blocks: string[] = [];
  blocks.push(`netmatrix compare: ${c.runs.map((r) => r.label).join(' vs ')}`);
  if (c.notes.length > 0) blocks.push(c.notes.map((n) => wrap(n, WIDTH, '      ')).join('\n'));
  blocks.push(
    ['runs:', ...c.runs.flatMap((r) => runHeaderLines(r).map((l, i) => `  ${(i === 0 ? r.label : '').padEnd(labelWidth)}  ${l}`))].join(
      '\n',
    ),
  );
  for (const t of comparisonTables(c)) blocks.push(renderTable(t));
  if (c.sections.length === 0) blocks.push('no tests in any run: nothing to compare');
  blocks.push(
    footnotes(c)
      .map((f) => wrap(f, WIDTH, '  '))
      .join('\n'),
  );
  return blocks.join('\n\n');
}
