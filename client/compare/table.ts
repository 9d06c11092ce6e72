/**
 * The comparison as tables: per path and protocol one of throughput and one of latency (when
 * measured), plus the CNI overhead table, built once
 * as rows of formatted cells (the HTML report renders the same cells) and laid out here as
 * plain text that fits a 100-column terminal for labels up to about 12 characters.
 */
import { hasThroughput, MIN_SAMPLES_FOR_SIGNIFICANCE, type Change, type Comparison, type LatencySection, type Section } from './compare.js';
import { runHeaderLines } from './describe.js';
import {
  formatBitrate,
  formatBitrateRange,
  formatCpuCost,
  formatDropped,
  formatPercent,
  formatRatio,
  formatRtt,
  formatRttRange,
  formatSignedPercent,
  NONE,
  pathProtocolTitle,
} from './units.js';

export interface Column {
  header: string;
  align: 'left' | 'right';
}

/** A table of already formatted cells; `rows[i][j]` is under `columns[j]`. */
export interface Table {
  title: string;
  columns: Column[];
  rows: string[][];
}

/** Shown in the change column of the baseline run. */
export const BASELINE = 'base';
/** A change within the run-to-run spread. */
export const NOT_SIGNIFICANT = '~';
/** Too few tests to tell a change from noise. */
export const UNJUDGED = '?';

/** The change column's cell: the % when it stands out of both runs' spread, else ~ or ?. */
export function formatChange(c: Change | null): string {
  if (c === null) return NONE;
  if (c.significant === null) return UNJUDGED;
  return c.significant ? formatSignedPercent(c.percent) : NOT_SIGNIFICANT;
}

const SECTION_COLUMNS: Column[] = [
  { header: 'run', align: 'left' },
  { header: 'ok/tests', align: 'right' },
  { header: 'median', align: 'right' },
  { header: 'p10-p90', align: 'right' },
  { header: 'change', align: 'right' },
  { header: 'cli CPU%', align: 'right' },
  { header: 'srv CPU%', align: 'right' },
  { header: 'CPU-s/GB c/s', align: 'right' },
];

/** One path and protocol: a row per run. */
export function sectionTable(c: Comparison, s: Section): Table {
  const rows = s.runs.map((f, i) => [
    c.runs[i]?.label ?? '?',
    `${f.tests - f.failures}/${f.tests}`,
    formatBitrate(f.throughput?.median),
    formatBitrateRange(f.throughput?.p10, f.throughput?.p90),
    i === 0 ? BASELINE : formatChange(s.changes[i] ?? null),
    formatPercent(f.clientCpuBusyPercent),
    formatPercent(f.serverCpuBusyPercent),
    `${formatCpuCost(f.clientCpuSecondsPerGigabyte)}/${formatCpuCost(f.serverCpuSecondsPerGigabyte)}`,
  ]);
  return { title: `${pathProtocolTitle(s.path, s.protocol)} throughput`, columns: SECTION_COLUMNS, rows };
}

/**
 * One path and protocol's round trips: a row per run, median and p10-p90 of p50 and of p99,
 * each with its change; TCP adds connection setup, UDP the share of requests without reply.
 */
export function latencyTable(c: Comparison, s: Section & { latency: LatencySection }): Table {
  const udp = s.protocol === 'udp';
  const columns: Column[] = [
    { header: 'run', align: 'left' },
    { header: 'ok/tests', align: 'right' },
    { header: 'p50', align: 'right' },
    { header: 'p10-p90', align: 'right' },
    { header: 'change', align: 'right' },
    { header: 'p99', align: 'right' },
    { header: 'p10-p90', align: 'right' },
    { header: 'change', align: 'right' },
    { header: udp ? 'dropped' : 'connect p50', align: 'right' },
  ];
  const l = s.latency;
  const rows = l.runs.map((f, i) => [
    c.runs[i]?.label ?? '?',
    `${f.tests - f.failures}/${f.tests}`,
    formatRtt(f.rttP50?.median),
    formatRttRange(f.rttP50?.p10, f.rttP50?.p90),
    i === 0 ? BASELINE : formatChange(l.p50Changes[i] ?? null),
    formatRtt(f.rttP99?.median),
    formatRttRange(f.rttP99?.p10, f.rttP99?.p90),
    i === 0 ? BASELINE : formatChange(l.p99Changes[i] ?? null),
    udp ? formatDropped(f.droppedRatio) : formatRtt(f.connectP50Microseconds),
  ]);
  return { title: `${pathProtocolTitle(s.path, s.protocol)} latency (round-trip time)`, columns, rows };
}

/** The tables of one section: throughput when measured, then latency when measured. */
export function sectionTables(c: Comparison, s: Section): Table[] {
  const latency = s.latency;
  return [...(hasThroughput(s) ? [sectionTable(c, s)] : []), ...(latency ? [latencyTable(c, { ...s, latency })] : [])];
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
  const base = c.runs[0]?.label ?? 'the first run';
  const notes = [
    `change: median throughput against the first run (${base}), shown only when larger than the ` +
      `run-to-run spread: the run's median lies outside ${base}'s p10-p90 band and ${base}'s median ` +
      `lies outside the run's band. ${NOT_SIGNIFICANT} = within the spread; ${UNJUDGED} = fewer than ` +
      `${MIN_SAMPLES_FOR_SIGNIFICANCE} successful tests in a run, too few to judge.`,
    'throughput: data rate at the receiver; median and p10-p90 over every successful test, each ' +
      'pair and repetition one sample. ok/tests: successful tests / tests run.',
    'cli/srv: the client (iperf3 -c) and server node of a test. CPU%: node CPU busy, % of all its ' +
      'cores, median over tests. CPU-s/GB: node busy CPU-seconds per 10^9 bytes moved, median.',
  ];
  if (c.sections.some((s) => s.latency)) notes.push(...LATENCY_FOOTNOTES);
  return notes;
}

const LATENCY_FOOTNOTES = [
  'latency: full round trips (request sent to reply received) of sockperf ping-pong. p50 and p99 ' +
    "are each test's median and 99th percentile; the table gives their median and p10-p90 over " +
    'every successful test, each pair and repetition one sample, and their change judged as for ' +
    'throughput. A positive change is slower.',
  'connect p50 (TCP): median time to set up a connection. dropped (UDP): requests without a ' +
    'reply / requests sent, over all tests. Node CPU is not shown for latency tests: the sockperf ' +
    'client busy-waits to pace its messages (about one core of the client node) while its ' +
    'network load is tiny.',
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
  return [t.title, line(t.columns.map((c) => c.header)), line(widths.map((w) => '-'.repeat(w))), ...t.rows.map(line)].join('\n');
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
