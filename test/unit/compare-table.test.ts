/**
 * compare's text output: units (Gbit/s with two decimals, Mbit/s below 1 Gbit/s), the change
 * column (a % only when significant, ~ within the spread, ? with too few tests), the overhead
 * table, and a layout that fits a 100-column terminal.
 */
import { describe, expect, it } from 'vitest';
import { compareRuns } from '../../client/compare/compare.js';
import type { LoadedRun } from '../../client/compare/load.js';
import { formatChange, overheadTable, renderComparisonText, renderTable, sectionTable } from '../../client/compare/table.js';
import { formatBitrate, formatBitrateRange, formatCpuCost, formatPercent, formatRatio } from '../../client/compare/units.js';
import { EBPF, IPTABLES, resultsFile, scenarioFile, testResult } from '../fixtures/results/builder.js';

const G = 1e9;
const M = 1e6;

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

  it('writes a change as a signed % only when significant', () => {
    expect(formatChange({ percent: 17.46, significant: true })).toBe('+17.5%');
    expect(formatChange({ percent: -4.2, significant: true })).toBe('-4.2%');
    expect(formatChange({ percent: 3, significant: false })).toBe('~');
    expect(formatChange({ percent: 30, significant: null })).toBe('?');
    expect(formatChange(null)).toBe('-');
  });
});

describe('tables', () => {
  const runs: LoadedRun[] = [
    { name: 'iptables.json', file: scenarioFile(IPTABLES) },
    { name: 'ebpf.json', file: scenarioFile(EBPF) },
  ];
  const c = compareRuns(runs);

  it('has a row per run with tests, median, p10-p90, change, CPU and CPU cost', () => {
    const svc = c.sections.find((s) => s.path === 'service' && s.protocol === 'tcp');
    if (!svc) throw new Error('no service tcp section');
    const t = sectionTable(c, svc);
    expect(t.title).toBe('pod-to-service TCP throughput');
    expect(t.columns.map((col) => col.header)).toEqual([
      'run',
      'ok/tests',
      'median',
      'p10-p90',
      'change',
      'cli CPU%',
      'srv CPU%',
      'CPU-s/GB c/s',
    ]);
    const [base, ebpf] = t.rows;
    expect(base?.[0]).toBe('iptables');
    expect(base?.[1]).toBe('18/18');
    expect(base?.[2]).toMatch(/^7\.\d\d Gbit\/s$/);
    expect(base?.[4]).toBe('base');
    expect(ebpf?.[4]).toMatch(/^\+1\d\.\d%$/);
    expect(ebpf?.[7]).toMatch(/^\d\.\d+\/\d\.\d+$/);
  });

  it('writes UDP below 1 Gbit/s in Mbit/s', () => {
    const udp = c.sections.find((s) => s.path === 'pod' && s.protocol === 'udp');
    if (!udp) throw new Error('no pod udp section');
    expect(sectionTable(c, udp).rows[0]?.[2]).toMatch(/^\d{3}\.\d Mbit\/s$/);
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

  it('fits a 100-column terminal and says what the change column means', () => {
    const text = renderComparisonText(c);
    for (const line of text.split('\n')) expect(line.length).toBeLessThanOrEqual(100);
    expect(text).toContain('note: dataplane serviceProxy differs - iptables: iptables; ebpf: ebpf');
    expect(text).toContain('dataplane: lab  linkRate=none podNetwork=direct serviceProxy=ebpf');
    expect(text).toMatch(/~ = within the spread/);
    expect(text.indexOf('note:')).toBeLessThan(text.indexOf('node-to-node TCP throughput'));
  });

  it('prints a table for a single file, with the run as its own baseline', () => {
    const one = compareRuns([
      { name: 'a.json', file: resultsFile({ label: 'a', results: [testResult({ path: 'node', protocol: 'tcp', throughput: G })] }) },
    ]);
    const text = renderComparisonText(one);
    expect(text).toContain('node-to-node TCP throughput');
    expect(text).toMatch(/^a\s+1\/1\s+1\.00 Gbit\/s\s+1\.00-1\.00 Gbit\/s\s+base/m);
  });
});
