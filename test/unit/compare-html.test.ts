/**
 * The HTML report and its charts: every string from a results file is escaped (a label with
 * a <script> tag arrives as text, in the tables, the headers and the vega-rendered SVG), and
 * the charts are named predictably with titles that say what they show and in which unit.
 */
import { describe, expect, it } from 'vitest';
import { comparisonCharts, renderCharts } from '../../client/compare/charts.js';
import { compareRuns } from '../../client/compare/compare.js';
import { escapeHtml, renderHtml } from '../../client/compare/html.js';
import type { LoadedRun } from '../../client/compare/load.js';
import { EBPF, IPTABLES, resultsFile, scenarioFile, testResult } from '../fixtures/results/builder.js';

const EVIL = '<script>alert("x")</script>';

function evilRuns(): LoadedRun[] {
  const results = (t: number) => [
    testResult({ path: 'node', protocol: 'tcp', throughput: t, clientCpu: 10, serverCpu: 12 }),
    testResult({ path: 'pod', protocol: 'tcp', throughput: t * 0.9, clientCpu: 11, serverCpu: 13, index: 1 }),
  ];
  return [
    { name: 'base&co.json', file: resultsFile({ label: 'base', results: results(9e9) }) },
    {
      name: `<img src=x onerror=alert(1)>.json`,
      file: resultsFile({
        label: EVIL,
        results: results(5e9),
        lab: null,
        dataplane: { kind: '<b>calico</b>', settings: { "x'y": '"quoted"' }, source: 'test' },
      }),
    },
  ];
}

describe('escapeHtml', () => {
  it('escapes the five characters that matter in content and attributes', () => {
    expect(escapeHtml(`<a href="x" title='y'>&</a>`)).toBe('&#60;a href=&#34;x&#34; title=&#39;y&#39;&#62;&#38;&#60;/a&#62;');
  });
});

describe('renderHtml', () => {
  it('escapes labels, file names and dataplane settings from the files, in text and in the SVGs', async () => {
    const c = compareRuns(evilRuns());
    const html = renderHtml(c, await renderCharts(c));
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toContain('<img');
    expect(html).not.toContain('<b>calico');
    expect(html).toContain('&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62;');
    expect(html).toContain('&#60;img src=x onerror=alert(1)&#62;.json');
    // Vega's own escaping inside the embedded SVG.
    expect(html).toContain('&lt;script&gt;');
  });

  it('forbids scripts in its Content-Security-Policy and is one self-contained page', () => {
    const c = compareRuns(evilRuns());
    const html = renderHtml(c, []);
    expect(html).toContain(`content="default-src 'none'; style-src 'unsafe-inline'; img-src data:"`);
    expect(html).not.toMatch(/<(link|script)\b|src="http/i);
    expect(html.startsWith('<!doctype html>')).toBe(true);
  });
});

describe('charts', () => {
  const c = compareRuns([
    { name: 'iptables.json', file: scenarioFile(IPTABLES) },
    { name: 'ebpf.json', file: scenarioFile(EBPF) },
  ]);

  it('names files by kind, path and protocol, with the overview first', () => {
    expect(comparisonCharts(c).map((ch) => ch.file)).toEqual([
      'overview.svg',
      'throughput-node-tcp.svg',
      'cpu-node-tcp.svg',
      'throughput-node-udp.svg',
      'cpu-node-udp.svg',
      'throughput-pod-tcp.svg',
      'cpu-pod-tcp.svg',
      'throughput-pod-udp.svg',
      'cpu-pod-udp.svg',
      'throughput-service-tcp.svg',
      'cpu-service-tcp.svg',
      'throughput-service-udp.svg',
      'cpu-service-udp.svg',
    ]);
  });

  it('titles say what and in which unit: Gbit/s for TCP, Mbit/s for UDP below 1 Gbit/s', () => {
    const titles = Object.fromEntries(comparisonCharts(c).map((ch) => [ch.file, ch.title]));
    expect(titles['throughput-pod-tcp.svg']).toBe('pod-to-pod TCP throughput (Gbit/s)');
    expect(titles['throughput-pod-udp.svg']).toBe('pod-to-pod UDP throughput (Mbit/s)');
    expect(titles['cpu-service-tcp.svg']).toBe('pod-to-service TCP node CPU busy (% of all cores)');
  });

  it('puts every run on the axis even when one has no figures for that path', async () => {
    const partial = compareRuns([
      { name: 'a.json', file: resultsFile({ label: 'alpha', results: [testResult({ path: 'pod', protocol: 'tcp', throughput: 2e9 })] }) },
      { name: 'b.json', file: resultsFile({ label: 'beta', results: [testResult({ path: 'pod', protocol: 'tcp', throughput: null })] }) },
    ]);
    const svg = (await renderCharts(partial)).find((ch) => ch.file === 'throughput-pod-tcp.svg')?.svg ?? '';
    expect(svg).toContain('>alpha<');
    expect(svg).toContain('>beta<');
  });
});
