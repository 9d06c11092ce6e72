/**
 * compare's text output: units (Gbit/s with two decimals, Mbit/s below 1 Gbit/s), the
 * as-measured table per path and protocol (median and p10-p90 of single tests), the judged
 * table per pairing of runs (each figure's change, 95 % CI, verdict and detectable change,
 * with notes for figures without a verdict and for unpaired runs), the overhead table, the
 * footnotes, and a layout that fits a 100-column terminal.
 */
import { describe, expect, it } from 'vitest';
import { compareRuns, type Comparison, type Section } from '../../client/compare/compare.js';
import type { Effect } from '../../client/compare/effect.js';
import type { LoadedRun } from '../../client/compare/load.js';
import {
  design,
  footnotes,
  formatEffect,
  formatInterval,
  judgedTables,
  NO_VERDICT,
  overheadTable,
  renderComparisonText,
  renderTable,
  sectionTable,
  sectionTables,
  type Table,
} from '../../client/compare/table.js';
import { formatBitrate, formatBitrateRange, formatCpuCost, formatPercent, formatRatio } from '../../client/compare/units.js';
import type { Path, Protocol } from '../../shared/protocol.js';
import { EBPF, IPTABLES, resultsFile, scenarioFile, testResult } from '../fixtures/results/builder.js';

const G = 1e9;
const M = 1e6;

/** A paired effect of 6 pairs x 3 repeats, for the formatting tests. */
const effect: Effect = {
  method: 'paired',
  estimator: 'hodges-lehmann',
  pairsA: 6,
  pairsB: 6,
  repeatsA: 3,
  repeatsB: 3,
  valueA: 10,
  valueB: 10.1,
  estimate: 1,
  low: -1,
  high: 3,
  mde: 2,
  margin: 3,
  verdict: 'inconclusive',
  reason: null,
};

function sectionOf(c: Comparison, path: Path, protocol: Protocol): Section {
  const s = c.sections.find((x) => x.path === path && x.protocol === protocol);
  if (!s) throw new Error(`no ${path} ${protocol} section`);
  return s;
}

/** The judged throughput tables of a section, one per pairing. */
const judged = (c: Comparison, s: Section): Table[] => judgedTables(c, `${s.path} ${s.protocol} throughput`, s.figures);

/** The row of a figure in a judged table. */
function row(t: Table, title: string): string[] {
  const r = t.rows.find((x) => x[0] === title);
  if (!r) throw new Error(`no row ${title} in ${t.title}`);
  return r;
}

/**
 * TCP throughput tests of `repeat` passes over the ordered pairs of `nodes` (every pair
 * `rate` bit/s, times `jitter(pass, pair)`), pod-to-pod, with client and server CPU.
 */
function matrix(nodes: readonly string[], repeat: number, rate: number, jitter: (pass: number, pair: number) => number = () => 1) {
  const pairs = nodes.flatMap((s) => nodes.filter((t) => t !== s).map((t) => [s, t] as const));
  const out = [];
  for (let pass = 0; pass < repeat; pass++) {
    for (const [i, [source, target]] of pairs.entries()) {
      const throughput = Math.round(rate * jitter(pass, i));
      out.push(
        testResult({ path: 'pod', protocol: 'tcp', source, target, throughput, clientCpu: 20, serverCpu: 25, index: pass * 100 + i }),
      );
    }
  }
  return out;
}

/** A deterministic +-1 % wobble per pass and pair. */
const wobble = (pass: number, pair: number) => 1 + 0.01 * Math.sin(1 + 3 * pass + 7 * pair);

describe('units', () => {
  it('writes Gbit/s with two decimals from 1 Gbit/s and Mbit/s below', () => {
    expect(formatBitrate(9.4123 * G)).toBe('9.41 Gbit/s');
    expect(formatBitrate(1 * G)).toBe('1.00 Gbit/s');
    expect(formatBitrate(999.4 * M)).toBe('999.4 Mbit/s');
    expect(formatBitrate(850.25 * M)).toBe('850.3 Mbit/s');
    expect(formatBitrate(12.5e3)).toBe('12.5 kbit/s');
    expect(formatBitrate(0)).toBe('0 bit/s');
    expect(formatBitrate(null)).toBe('-');
  });

  it('moves to Gbit/s when Mbit/s would round up to 1000.0', () => {
    expect(formatBitrate(999.96 * M)).toBe('1.00 Gbit/s');
  });

  it('writes a range with one unit when both ends share it', () => {
    expect(formatBitrateRange(9.2 * G, 9.55 * G)).toBe('9.20-9.55 Gbit/s');
    expect(formatBitrateRange(850 * M, 1.2 * G)).toBe('850.0 Mbit/s-1.20 Gbit/s');
    expect(formatBitrateRange(null, G)).toBe('-');
  });

  it('writes CPU %, CPU-seconds per GB and ratios', () => {
    expect(formatPercent(23.456)).toBe('23.5');
    expect(formatCpuCost(0.6144)).toBe('0.614');
    expect(formatCpuCost(4.812)).toBe('4.81');
    expect(formatCpuCost(12.34)).toBe('12.3');
    expect(formatRatio(0.9234)).toBe('0.92');
    expect(formatRatio(null)).toBe('-');
  });

  it('writes a change signed, in % for ratio figures and in points for linear ones', () => {
    expect(formatEffect(17.46, false)).toBe('+17.5%');
    expect(formatEffect(-4.2, false)).toBe('-4.2%');
    expect(formatEffect(0.123, true)).toBe('+0.12 pt');
    expect(formatEffect(-0.5, true)).toBe('-0.50 pt');
    expect(formatEffect(null, false)).toBe('-');
  });

  it('writes a change that rounds to zero without a sign', () => {
    expect(formatEffect(0.04, false)).toBe('0.0%');
    expect(formatEffect(-0.04, false)).toBe('0.0%');
    expect(formatEffect(-0.001, true)).toBe('0.00 pt');
  });

  it('writes an interval with its unit once, and none when refused', () => {
    const e = (low: number | null, high: number | null) => ({ ...effect, low, high });
    expect(formatInterval(e(-4.04, 0.94), false)).toBe('-4.0..+0.9%');
    expect(formatInterval(e(14.06, 23.1), false)).toBe('+14.1..+23.1%');
    expect(formatInterval(e(-0.1, 0.2), true)).toBe('-0.10..+0.20 pt');
    expect(formatInterval(e(null, null), false)).toBe('-');
    // A bound past +1000 % carries no information beyond that.
    expect(formatInterval(e(-98.3, 11424.4), false)).toBe('-98.3..>+1000%');
  });

  it('names the design: paired pairs x repeats, or unpaired pairs of each run', () => {
    expect(design(effect)).toBe('paired, 6 pairs x 3 repeats');
    expect(design({ ...effect, pairsA: 1, pairsB: 1, repeatsA: 1, repeatsB: 1 })).toBe('paired, 1 pair x 1 repeat');
    expect(design({ ...effect, repeatsB: 2 })).toBe('paired, 6 pairs x 3/2 repeats');
    expect(design({ ...effect, method: 'unpaired', pairsA: 3, pairsB: 4, repeatsA: 5, repeatsB: 3 })).toBe(
      'unpaired, 3 + 4 pairs x 5/3 repeats',
    );
  });
});

describe('tables', () => {
  const runs: LoadedRun[] = [
    { name: 'iptables.json', file: scenarioFile(IPTABLES) },
    { name: 'ebpf.json', file: scenarioFile(EBPF) },
  ];
  const c = compareRuns(runs);

  it('has a row per run as measured: tests, median and p10-p90 of single tests, and nothing judged', () => {
    const svc = sectionOf(c, 'service', 'tcp');
    const t = sectionTable(c, svc);
    expect(t.title).toBe('pod-to-service TCP throughput');
    expect(t.columns.map((col) => col.header)).toEqual(['run', 'ok/tests', 'median', 'p10-p90']);
    const [base, ebpf] = t.rows;
    expect(base?.[0]).toBe('iptables');
    expect(base?.[1]).toBe('18/18');
    expect(base?.[2]).toMatch(/^7\.\d\d Gbit\/s$/);
    expect(base?.[3]).toMatch(/^7\.\d\d-7\.\d\d Gbit\/s$/);
    expect(ebpf?.[0]).toBe('ebpf');
    expect(ebpf?.[2]).toMatch(/^8\.\d\d Gbit\/s$/);
    expect(ebpf).toHaveLength(4);
    expect(t.rows.flat()).not.toContain('base');
  });

  it('writes UDP below 1 Gbit/s in Mbit/s', () => {
    expect(sectionTable(c, sectionOf(c, 'pod', 'udp')).rows[0]?.[2]).toMatch(/^\d{3}\.\d Mbit\/s$/);
  });

  it('judges each figure of a pairing in one table: both runs, change, 95% CI, verdict and what the design detects', () => {
    const svc = sectionOf(c, 'service', 'tcp');
    const tables = judgedTables(c, 'pod-to-service TCP throughput', svc.figures);
    expect(tables).toHaveLength(1);
    const t = tables[0] as Table;
    expect(t.title).toBe('pod-to-service TCP throughput: ebpf against iptables; paired, 6 pairs x 3 repeats');
    expect(t.columns.map((col) => col.header)).toEqual(['figure', 'iptables', 'ebpf', 'change', '95% CI', 'verdict', 'detects']);
    expect(t.columns.map((col) => col.align)).toEqual(['left', 'right', 'right', 'right', 'right', 'left', 'right']);
    // The builder's CPU reports have no idle baseline: no marginal CPU, only the totals.
    expect(t.rows.map((r) => r[0])).toEqual([
      'throughput',
      'client CPU-s/GB, total',
      'client CPU busy, total',
      'client busiest core, total',
      'server CPU-s/GB, total',
      'server CPU busy, total',
      'server busiest core, total',
    ]);
    const tput = row(t, 'throughput');
    expect(tput[1]).toMatch(/^7\.\d\d Gbit\/s$/);
    expect(tput[2]).toMatch(/^8\.\d\d Gbit\/s$/);
    expect(tput[3]).toMatch(/^\+1\d\.\d%$/);
    expect(tput[4]).toMatch(/^\+\d+\.\d\.\.\+\d+\.\d%$/);
    expect(tput[5]).toBe('changed');
    expect(tput[6]).toMatch(/^\d+\.\d%$/);
    // Less CPU per byte with eBPF Services, judged too.
    expect(row(t, 'client CPU-s/GB, total')[3]).toMatch(/^-\d\d\.\d%$/);
    expect(row(t, 'client CPU-s/GB, total')[5]).toBe('changed');
    expect(t.notes).toEqual([]);
  });

  it('shows in its cells what the comparison computed, one computation', () => {
    const svc = sectionOf(c, 'service', 'tcp');
    const t = judged(c, svc)[0] as Table;
    for (const f of svc.figures) {
      const e = f.comparisons[0] as Effect;
      const linear = f.figure.scale === 'linear';
      expect(row(t, f.figure.title).slice(1, 6)).toEqual([
        f.figure.format(f.runs[0]?.value as number),
        f.figure.format(f.runs[1]?.value as number),
        formatEffect(e.estimate, linear),
        formatInterval(e, linear),
        e.verdict,
      ]);
    }
  });

  it('calls the eBPF Service path changed on throughput and the node path not, on the builder scenarios', () => {
    for (const protocol of ['tcp', 'udp'] as const) {
      const svc = sectionOf(c, 'service', protocol).figures.find((f) => f.figure.id === 'throughput');
      const node = sectionOf(c, 'node', protocol).figures.find((f) => f.figure.id === 'throughput');
      expect(svc?.comparisons[0]).toMatchObject({ method: 'paired', pairsA: 6, repeatsA: 3, repeatsB: 3, verdict: 'changed' });
      expect(svc?.comparisons[0]?.estimate).toBeGreaterThan(10);
      expect(svc?.comparisons[0]?.low).toBeGreaterThan(3);
      expect(node?.comparisons[0]?.verdict).not.toBe('changed');
      expect(node?.comparisons[0]?.verdict).not.toBeNull();
      expect(Math.abs(node?.comparisons[0]?.estimate as number)).toBeLessThan(3);
      expect(row(judged(c, sectionOf(c, 'node', protocol))[0] as Table, 'throughput')[5]).not.toBe('changed');
    }
  });

  it('puts each section as measured first, then its judged table', () => {
    const svc = sectionOf(c, 'service', 'tcp');
    expect(sectionTables(c, svc).map((t) => t.title)).toEqual([
      'pod-to-service TCP throughput',
      'pod-to-service TCP throughput: ebpf against iptables; paired, 6 pairs x 3 repeats',
    ]);
  });

  it('has one judged table per pairing, a repeat of a label titled as drift', () => {
    const again: LoadedRun = { name: 'ebpf-2.json', file: scenarioFile({ ...EBPF, seed: 9 }) };
    const three = compareRuns([...runs, again]);
    expect(judged(three, sectionOf(three, 'service', 'tcp')).map((t) => t.title)).toEqual([
      'service tcp throughput: ebpf (1) against iptables; paired, 6 pairs x 3 repeats',
      'service tcp throughput: ebpf (2) against iptables; paired, 6 pairs x 3 repeats',
      'service tcp throughput: drift of ebpf (2) against ebpf (1) (same label); paired, 6 pairs x 3 repeats',
    ]);
    const drift = judged(three, sectionOf(three, 'service', 'tcp'))[2] as Table;
    expect(drift.columns.slice(1, 3).map((col) => col.header)).toEqual(['ebpf (1)', 'ebpf (2)']);
    expect(row(drift, 'throughput')[5]).not.toBe('changed');
  });

  it('gives no verdict, with a note why, when each pair was measured once', () => {
    const once = (label: string, rate: number) => ({
      name: `${label}.json`,
      file: resultsFile({ label, results: matrix(['node-1', 'node-2', 'node-3'], 1, rate, wobble) }),
    });
    const c1 = compareRuns([once('a', 8 * G), once('b', 9 * G)]);
    const t = judged(c1, sectionOf(c1, 'pod', 'tcp'))[0] as Table;
    expect(t.title).toBe('pod tcp throughput: b against a; paired, 6 pairs x 1 repeat');
    const tput = row(t, 'throughput');
    // The change is still estimated; only its interval and verdict need repetitions.
    expect(tput[3]).toBe('+12.5%');
    expect(tput.slice(4)).toEqual(['-', NO_VERDICT, '-']);
    expect(t.notes).toContain(
      'throughput: no verdict, too few repetitions to tell a change from test-to-test noise in the baseline and this run ' +
        '(6 pairs; needs --repeat 4 with one pair, 3 with two, 2 with three or more)',
    );
    // Under the table, a bullet per note (the leading indent is lost in wrapping: see the note test).
    expect(renderTable(t)).toMatch(/^ *\* throughput: no verdict, too few repetitions/m);
  });

  it('compares runs with no pair in common unpaired, and says so under the table', () => {
    const run = (label: string, nodes: string[], rate: number) => ({
      name: `${label}.json`,
      file: resultsFile({ label, results: matrix(nodes, 2, rate, wobble) }),
    });
    const c2 = compareRuns([run('a', ['a-1', 'a-2', 'a-3'], 8 * G), run('b', ['b-1', 'b-2', 'b-3'], 9 * G)]);
    const t = judged(c2, sectionOf(c2, 'pod', 'tcp'))[0] as Table;
    expect(t.title).toBe('pod tcp throughput: b against a; unpaired, 6 + 6 pairs x 2 repeats');
    expect(row(t, 'throughput')[3]).toBe('+12.5%');
    expect(row(t, 'throughput')[5]).toBe('changed');
    expect(t.notes?.some((n) => n.startsWith('unpaired: the runs share no pair'))).toBe(true);
  });

  it('has an overhead table with pod/node and service/node per protocol', () => {
    const t = overheadTable(c);
    expect(t?.columns.map((col) => col.header)).toEqual(['run', 'TCP pod/node', 'TCP service/node', 'UDP pod/node', 'UDP service/node']);
    expect(t?.rows[0]?.[0]).toBe('iptables');
    expect(t?.rows[0]?.slice(1).every((cell) => /^[01]\.\d\d$/.test(cell))).toBe(true);
  });

  it('aligns columns: labels left, numbers right, under a rule', () => {
    const text = renderTable({
      title: 't',
      columns: [
        { header: 'run', align: 'left' },
        { header: 'median', align: 'right' },
      ],
      rows: [
        ['a', '9.41 Gbit/s'],
        ['longer', '850.3 Mbit/s'],
      ],
    });
    expect(text.split('\n')).toEqual(['t', 'run           median', '------  ------------', 'a        9.41 Gbit/s', 'longer  850.3 Mbit/s']);
  });

  it('prints notes under a table as bullets, wrapped at 100 columns with continuation lines indented', () => {
    const note = `${'word '.repeat(30)}end`;
    const lines = renderTable({ title: 't', columns: [{ header: 'a', align: 'left' }], rows: [['x']], notes: [note] }).split('\n');
    expect(lines.slice(0, 4)).toEqual(['t', 'a', '-', 'x']);
    expect(lines).toHaveLength(6);
    expect(lines[4]).toMatch(/^ *\* word word/);
    expect(lines[5]).toMatch(/^ {4}word/);
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(100);
    expect(lines.slice(4).join(' ').replace(/\s+/g, ' ').trim()).toBe(`* ${note}`);
  });

  it('fits a 100-column terminal and says what change, CI, verdict and detects mean', () => {
    const text = renderComparisonText(c);
    for (const line of text.split('\n')) expect(line.length).toBeLessThanOrEqual(100);
    expect(text).toContain('note: dataplane serviceProxy differs - iptables: iptables; ebpf: ebpf');
    expect(text).toContain('dataplane: lab  linkRate=none podNetwork=direct serviceProxy=ebpf');
    expect(text.indexOf('note:')).toBeLessThan(text.indexOf('node-to-node TCP throughput'));
    const notes = footnotes(c).join(' ');
    expect(notes).toMatch(/Hodges-Lehmann/);
    expect(notes).toMatch(/95% CI: a parametric bootstrap of the design \(1000 replicates, seed 1\)/);
    expect(notes).toMatch(
      /verdict: changed = the CI excludes 0 and the change is beyond the margin \(\+-3\.0%, \+-0\.5 pt for loss; --margin\)/,
    );
    expect(notes).toMatch(/equivalent = the CI lies within the margin; inconclusive = neither/);
    expect(notes).toMatch(/detects: the smallest change this design would call different from 0/);
    expect(text).not.toMatch(/~ = within the spread/);
  });

  it('states the margin, seed and replicates it was given in the footnotes', () => {
    const other = compareRuns(runs, { margin: 0.05, seed: 7, replicates: 200 });
    const notes = footnotes(other).join(' ');
    expect(notes).toContain('(200 replicates, seed 7)');
    expect(notes).toContain('(+-5.0%, +-0.5 pt for loss; --margin)');
  });

  it('prints a table for a single file, with nothing to judge it against', () => {
    const one = compareRuns([
      { name: 'a.json', file: resultsFile({ label: 'a', results: [testResult({ path: 'node', protocol: 'tcp', throughput: G })] }) },
    ]);
    const text = renderComparisonText(one);
    expect(text).toContain('node-to-node TCP throughput');
    expect(text).toMatch(/^a\s+1\/1\s+1\.00 Gbit\/s\s+1\.00-1\.00 Gbit\/s$/m);
    expect(one.pairings).toEqual([]);
    expect(text).not.toContain(' against ');
    expect(text).not.toMatch(/^figure\s/m);
  });
});
