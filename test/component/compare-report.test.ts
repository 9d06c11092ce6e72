/**
 * `netmatrix compare` end to end on real files in a temporary directory: two results files in,
 * the text tables on stdout (as measured, then each figure judged: change, 95 % CI, verdict),
 * a self-contained report.html and one SVG per chart out, with vega and vega-lite really
 * rendering (no canvas needed), and --json with the same numbers as the text, reproducible for
 * a seed. With latency tests, the report is also opened in a real browser (Debian's Chromium)
 * to see its round-trip charts drawn.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ComparisonJson } from '../../client/compare/json.js';
import { formatEffect, formatInterval, NO_VERDICT } from '../../client/compare/table.js';
import { pathProtocolTitle } from '../../client/compare/units.js';
import { EBPF, EBPF_WITH_LATENCY, IPTABLES, IPTABLES_WITH_LATENCY, scenarioFile, VXLAN_5_NODES } from '../fixtures/results/builder.js';
import { captureCompare } from '../helpers/compare.js';
import { describeWith } from '../helpers/requirements.js';

let dir: string;
const at = (...parts: string[]) => join(dir, ...parts);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'netmatrix-compare-'));
  for (const s of [IPTABLES, EBPF, VXLAN_5_NODES]) {
    await writeFile(at(`${s.label}.json`), JSON.stringify(scenarioFile(s)));
  }
  await writeFile(at('iptables-latency.json'), JSON.stringify(scenarioFile(IPTABLES_WITH_LATENCY)));
  await writeFile(at('ebpf-latency.json'), JSON.stringify(scenarioFile(EBPF_WITH_LATENCY)));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const compare = captureCompare;

/**
 * Every line from the first table on fits 100 columns (the run headers before it name the
 * files, whose paths here depend on the temporary directory).
 */
function expectTablesFit(stdout: string): void {
  const from = stdout.indexOf('\nnode-to-node TCP throughput\n');
  expect(from).toBeGreaterThan(0);
  for (const line of stdout.slice(from).split('\n')) expect(line.length, line).toBeLessThanOrEqual(100);
}

/**
 * The judged table of stdout whose title starts with `title`: per figure its cells (columns are
 * at least two spaces apart, cells have single spaces at most).
 */
function judgedRows(stdout: string, title: string): Map<string, string[]> {
  const block = stdout.split('\n\n').find((b) => b.startsWith(title));
  if (!block) throw new Error(`no table "${title}"`);
  const lines = block.split('\n');
  expect(lines[1]).toMatch(/^figure\s/);
  const rows = lines.slice(3).filter((l) => !/^\s*\*/.test(l) && !l.startsWith('    '));
  return new Map(rows.map((l) => l.split(/\s{2,}/)).map((cells) => [cells[0] as string, cells.slice(1)]));
}

/**
 * Well-formedness, as far as a test needs it: every tag closes in order, attributes are
 * quoted, and no raw "<" or unescaped "&" sits in text or attribute values.
 */
function expectWellFormedXml(xml: string): void {
  const stack: string[] = [];
  const tag = /<(\/?)([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+="[^"<]*")*)\s*(\/?)>/y;
  let i = 0;
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    const text = xml.slice(i, lt < 0 ? xml.length : lt);
    expect(text, `text at ${i}`).not.toMatch(/&(?!(amp|lt|gt|quot|apos|#\d+|#x[0-9a-f]+);)/i);
    if (lt < 0) break;
    tag.lastIndex = lt;
    const m = tag.exec(xml);
    expect(m, `a well-formed tag at ${lt}: ${xml.slice(lt, lt + 80)}`).not.toBeNull();
    if (!m) return;
    const [whole, closing, name, attrs, selfClosing] = m;
    expect(attrs ?? '').not.toMatch(/&(?!(amp|lt|gt|quot|apos|#\d+|#x[0-9a-f]+);)/i);
    if (closing) expect(stack.pop(), `closing </${name}>`).toBe(name);
    else if (!selfClosing) stack.push(name as string);
    i = lt + whole.length;
  }
  expect(stack).toEqual([]);
}

describe('the well-formedness check', () => {
  it('rejects unbalanced tags, raw < and bare &', () => {
    expect(() => expectWellFormedXml('<svg><g></svg>')).toThrow();
    expect(() => expectWellFormedXml('<svg><text>a < b</text></svg>')).toThrow();
    expect(() => expectWellFormedXml('<svg><text>a & b</text></svg>')).toThrow();
    expect(() => expectWellFormedXml('<svg><text x="1">a &amp; b</text><g/></svg>')).not.toThrow();
  });
});

describe('compare with a report', () => {
  let result: Awaited<ReturnType<typeof compare>>;
  let svgFiles: string[];

  beforeAll(async () => {
    result = await compare([at('iptables.json'), at('ebpf.json'), '--report', at('out', 'report.html')]);
    svgFiles = (await readdir(at('out', 'report-svg'))).sort();
  });

  it('exits 0 and says what it wrote', () => {
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(`wrote 13 charts to ${at('out', 'report-svg')}`);
    expect(result.stderr).toContain(`wrote ${at('out', 'report.html')}`);
  });

  it('prints both labels, the dataplane setting compared, each section as measured and judged', () => {
    expect(result.stdout).toContain('netmatrix compare: iptables vs ebpf');
    expect(result.stdout).toMatch(/^iptables\s+18\/18\s+9\.\d\d Gbit\/s\s+\S+ Gbit\/s$/m);
    expect(result.stdout).toMatch(/^ebpf\s+18\/18\s+/m);
    expect(result.stdout).toContain('serviceProxy=ebpf');
    expect(result.stdout).not.toMatch(/\bbase\b/);
    expect(result.stdout).toMatch(/^figure\s+iptables\s+ebpf\s+change\s+95% CI\s+verdict\s+detects$/m);
    const service = result.stdout.slice(result.stdout.indexOf('pod-to-service TCP throughput'));
    expect(service).toMatch(/^ebpf\s+18\/18\s+8\.\d\d Gbit\/s\s+\S+ Gbit\/s$/m);
    expect(service).toMatch(/^pod-to-service TCP throughput: ebpf against iptables; paired, 6 pairs x 3 repeats$/m);
    expect(service).toMatch(
      /^throughput\s+7\.\d\d Gbit\/s\s+8\.\d\d Gbit\/s\s+\+1\d\.\d%\s+\+\d+\.\d\.\.\+\d+\.\d%\s+changed\s+\d+\.\d%$/m,
    );
  });

  it('calls the eBPF Service path changed and the node path not, 6 pairs x 3 repeats each', () => {
    for (const protocol of ['tcp', 'udp'] as const) {
      const title = (path: 'node' | 'service') =>
        `${pathProtocolTitle(path, protocol)} throughput: ebpf against iptables; paired, 6 pairs x 3 repeats`;
      expect(judgedRows(result.stdout, title('service')).get('throughput')?.[4]).toBe('changed');
      const node = judgedRows(result.stdout, title('node')).get('throughput');
      expect(node?.[4]).toMatch(/^(equivalent|inconclusive)$/);
    }
  });

  it('fits a 100-column terminal', () => {
    expectTablesFit(result.stdout);
  });

  it('writes one SVG per chart beside the report, named by kind, path and protocol', () => {
    const expected = ['overview.svg'];
    for (const path of ['node', 'pod', 'service']) {
      for (const protocol of ['tcp', 'udp']) expected.push(`throughput-${path}-${protocol}.svg`, `cpu-${path}-${protocol}.svg`);
    }
    expect(svgFiles).toEqual(expected.sort());
  });

  it('writes SVGs that are well-formed and carry the run labels and axis titles', async () => {
    for (const f of svgFiles) {
      const svg = await readFile(at('out', 'report-svg', f), 'utf8');
      expect(svg.startsWith('<svg'), f).toBe(true);
      expectWellFormedXml(svg);
      expect(svg, f).toContain('>iptables<');
      expect(svg, f).toContain('>ebpf<');
    }
    const tput = await readFile(at('out', 'report-svg', 'throughput-pod-tcp.svg'), 'utf8');
    expect(tput).toContain('>throughput (Gbit/s)<');
    expect(tput).toContain('>pod-to-pod TCP throughput (Gbit/s)<');
    const udp = await readFile(at('out', 'report-svg', 'throughput-pod-udp.svg'), 'utf8');
    expect(udp).toContain('>throughput (Mbit/s)<');
    const cpu = await readFile(at('out', 'report-svg', 'cpu-pod-tcp.svg'), 'utf8');
    expect(cpu).toContain('>CPU busy (%)<');
    expect(cpu).toContain('>client node<');
    const overview = await readFile(at('out', 'report-svg', 'overview.svg'), 'utf8');
    expect(overview).toContain('>median throughput (Gbit/s)<');
    expect(overview).toContain('>median throughput (Mbit/s)<');
    expect(overview).toContain('>pod-to-service<');
  });

  it('embeds every SVG and every table in one self-contained HTML file', async () => {
    const html = await readFile(at('out', 'report.html'), 'utf8');
    for (const f of svgFiles) expect(html).toContain(await readFile(at('out', 'report-svg', f), 'utf8'));
    // Per section one table as measured and one judged, then the overhead table.
    expect(html.match(/<table>/g)).toHaveLength(13);
    expect(html).toContain('<h2>pod-to-service TCP</h2>');
    expect(html).toContain('<h3>pod-to-service TCP throughput: ebpf against iptables; paired, 6 pairs x 3 repeats</h3>');
    expect(html).toContain(
      '<thead><tr><th>figure</th><th class="num">iptables</th><th class="num">ebpf</th><th class="num">change</th>' +
        '<th class="num">95% CI</th><th>verdict</th><th class="num">detects</th></tr></thead>',
    );
    const service = html.slice(html.indexOf('<h2>pod-to-service TCP</h2>'), html.indexOf('<h2>pod-to-service UDP</h2>'));
    expect(service).toMatch(
      /<tr><td>throughput<\/td><td class="num">7\.\d\d Gbit\/s<\/td><td class="num">8\.\d\d Gbit\/s<\/td><td class="num">\+1\d\.\d%<\/td>/,
    );
    expect(service).toContain('<td>changed</td>');
    expect(html).toContain('<h2>CNI overhead</h2>');
    expect(html).toMatch(/<td>ebpf<\/td><td class="num">18\/18<\/td>/);
    expect(html).not.toMatch(/<(script|link)\b/);
  });
});

describe('compare output choices', () => {
  it('writes SVGs only into --svg-dir when no report is asked for', async () => {
    const r = await compare([at('iptables.json'), at('ebpf.json'), '--svg-dir', at('only-svg')]);
    expect(r.code).toBe(0);
    expect(await readdir(at('only-svg'))).toHaveLength(13);
  });

  it('writes nothing without --report or --svg-dir', async () => {
    const before = await readdir(dir);
    const r = await compare([at('iptables.json'), at('ebpf.json')]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(await readdir(dir)).toEqual(before);
  });

  it('compares clusters of different sizes and specs, saying what differs before the tables', async () => {
    const r = await compare([at('iptables.json'), at('vxlan-5.json')]);
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    const firstTable = lines.findIndex((l) => l.endsWith('throughput'));
    const notes = lines.filter((l) => l.startsWith('note: '));
    expect(notes).toEqual([
      'note: iptables has 3 nodes, vxlan-5 has 5',
      'note: dataplane podNetwork differs - iptables: direct; vxlan-5: vxlan',
      'note: kernel differs - iptables: 6.1.0-37-amd64; vxlan-5: 6.8.0-51-generic',
      'note: MTU differs - iptables: 1500; vxlan-5: 9000',
      'note: pod MTU differs - iptables: 1500; vxlan-5: 8950',
      'note: test duration differs - iptables: 10 s; vxlan-5: 30 s',
      'note: streams differs - iptables: 1; vxlan-5: 4',
      'note: repeat differs - iptables: 3; vxlan-5: 2',
    ]);
    expect(lines.indexOf(notes[notes.length - 1] as string)).toBeLessThan(firstTable);
    expect(r.stdout).toMatch(/^vxlan-5\s+40\/40\s+/m);
    // The 6 ordered pairs of the 3 nodes both have are judged, with each run's repeats.
    expect(r.stdout).toContain('node-to-node TCP throughput: vxlan-5 against iptables; paired, 6 pairs x 3/2 repeats\n');
    expect(judgedRows(r.stdout, 'pod-to-pod TCP throughput: vxlan-5').get('throughput')?.[4]).toBe('changed');
  });

  it('exits 1 naming the report when it cannot be written, after printing the tables', async () => {
    await writeFile(at('a-file'), 'x');
    const r = await compare([at('iptables.json'), at('ebpf.json'), '--report', at('a-file', 'report.html')]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('netmatrix compare: iptables vs ebpf');
    expect(r.stderr).toMatch(/^netmatrix compare: cannot write output: .*a-file/m);
  });
});

describe('compare with latency tests and a report', () => {
  let result: Awaited<ReturnType<typeof compare>>;
  let html: string;
  let svgFiles: string[];

  beforeAll(async () => {
    result = await compare([at('iptables-latency.json'), at('ebpf-latency.json'), '--report', at('latency', 'report.html')]);
    html = await readFile(at('latency', 'report.html'), 'utf8');
    svgFiles = (await readdir(at('latency', 'report-svg'))).sort();
  });

  it('exits 0 and writes the throughput charts plus a latency overview and one latency chart per path and protocol', () => {
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(`wrote 20 charts to ${at('latency', 'report-svg')}`);
    expect(svgFiles.filter((f) => f.startsWith('latency'))).toEqual([
      'latency-node-tcp.svg',
      'latency-node-udp.svg',
      'latency-pod-tcp.svg',
      'latency-pod-udp.svg',
      'latency-service-tcp.svg',
      'latency-service-udp.svg',
      'latency.svg',
    ]);
  });

  it('prints a latency table per path and protocol, and the faster eBPF Service path judged changed', () => {
    const service = result.stdout.slice(result.stdout.indexOf('pod-to-service TCP latency (round-trip time)'));
    expect(service).toMatch(/^iptables\s+18\/18\s+7\d\.\d µs\s+\S+ µs\s+1\d\d µs\s+\S+ µs\s+1\d\d µs$/m);
    expect(service).toMatch(/^ebpf\s+18\/18\s+6\d\.\d µs\s+\S+ µs\s+1\d\d µs\s+\S+ µs\s+1\d\d µs$/m);
    const judgedService = judgedRows(result.stdout, 'pod-to-service TCP latency: ebpf against iptables; paired, 6 pairs x 3 repeats');
    expect(judgedService.get('round trip p50')).toEqual([
      expect.stringMatching(/^7\d\.\d µs$/),
      expect.stringMatching(/^6\d\.\d µs$/),
      expect.stringMatching(/^-1\d\.\d%$/),
      expect.stringMatching(/^-\d+\.\d\.\.-\d+\.\d%$/),
      'changed',
      expect.stringMatching(/^\d+\.\d%$/),
    ]);
    expect(judgedService.get('round trip p99')?.[2]).toMatch(/^-\d\d\.\d%$/);
    expect(judgedService.get('round trip p99')?.[4]).toBe('changed');
    for (const protocol of ['tcp', 'udp'] as const) {
      const service = judgedRows(result.stdout, `${pathProtocolTitle('service', protocol)} latency: ebpf against iptables`);
      const node = judgedRows(result.stdout, `${pathProtocolTitle('node', protocol)} latency: ebpf against iptables`);
      expect(service.get('round trip p50')?.[4]).toBe('changed');
      expect(node.get('round trip p50')?.[4]).toMatch(/^(equivalent|inconclusive)$/);
      expect(node.get('round trip p99')?.[4]).toMatch(/^(equivalent|inconclusive)$/);
    }
    expectTablesFit(result.stdout);
  });

  it('writes latency SVGs that are well-formed, with both runs and the axis in µs', async () => {
    for (const f of svgFiles.filter((x) => x.startsWith('latency'))) {
      const svg = await readFile(at('latency', 'report-svg', f), 'utf8');
      expectWellFormedXml(svg);
      expect(svg, f).toContain('>iptables<');
      expect(svg, f).toContain('>ebpf<');
      expect(svg, f).toContain('>round trip (µs)<');
    }
    const overview = await readFile(at('latency', 'report-svg', 'latency.svg'), 'utf8');
    expect(overview).toContain('>Round-trip time by path and run<');
    expect(overview).toContain('>pod-to-service<');
    const service = await readFile(at('latency', 'report-svg', 'latency-service-tcp.svg'), 'utf8');
    expect(service).toContain('>pod-to-service TCP round-trip time (µs)<');
  });

  it('puts each latency table and chart in its section of the report, after the throughput ones', async () => {
    // Per section throughput and latency, each as measured and judged; then the overhead table.
    expect(html.match(/<table>/g)).toHaveLength(25);
    const section = html.slice(html.indexOf('<h2>pod-to-service TCP</h2>'), html.indexOf('<h2>pod-to-service UDP</h2>'));
    const order = [
      '<h3>pod-to-service TCP throughput: ebpf against iptables; paired, 6 pairs x 3 repeats</h3>',
      'throughput-service-tcp.svg',
      '<h3>pod-to-service TCP latency (round-trip time)</h3>',
      '<h3>pod-to-service TCP latency: ebpf against iptables; paired, 6 pairs x 3 repeats</h3>',
      'latency-service-tcp.svg',
    ];
    const at2 = order.map((x) => section.indexOf(x));
    expect(at2.every((i) => i >= 0)).toBe(true);
    expect([...at2].sort((a, b) => a - b)).toEqual(at2);
    expect(section).toMatch(/<th class="num">connect p50<\/th>/);
    expect(section).toMatch(/<td>ebpf<\/td><td class="num">18\/18<\/td><td class="num">6\d\.\d µs<\/td>/);
    expect(section).toMatch(
      /<tr><td>round trip p50<\/td><td class="num">7\d\.\d µs<\/td><td class="num">6\d\.\d µs<\/td><td class="num">-1\d\.\d%<\/td>/,
    );
    for (const f of svgFiles) expect(html).toContain(await readFile(at('latency', 'report-svg', f), 'utf8'));
    expect(html).toContain('busy-waits');
  });
});

describe('compare of a run without latency against one with it', () => {
  it('says so in one note, compares throughput as usual and leaves the first run latency rows empty', async () => {
    const r = await compare([at('iptables.json'), at('ebpf-latency.json'), '--report', at('mixed', 'report.html')]);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n').filter((l) => l.includes('latency') && l.startsWith('note: '))).toEqual([
      'note: no latency tests in iptables; latency is shown for ebpf only',
    ]);
    const service = r.stdout.slice(r.stdout.indexOf('pod-to-service TCP latency (round-trip time)'));
    expect(service).toMatch(/^iptables\s+0\/0\s+-\s+-\s+-\s+-\s+-$/m);
    expect(service).toMatch(/^ebpf\s+18\/18\s+6\d\.\d µs\s+\S+ µs\s+/m);
    expect(r.stdout).toMatch(/^ebpf\s+18\/18\s+8\.\d\d Gbit\/s\s+\S+ Gbit\/s$/m);
    expect(judgedRows(r.stdout, 'pod-to-service TCP throughput: ebpf against iptables').get('throughput')?.[4]).toBe('changed');
    // Latency: nothing to judge against, said once per figure under the table.
    const latency = judgedRows(r.stdout, 'pod-to-service TCP latency: ebpf against iptables');
    expect(latency.get('round trip p50')).toEqual(['-', expect.stringMatching(/^6\d\.\d µs$/), '-', '-', NO_VERDICT, '-']);
    expect(service).toContain('* round trip p50: no verdict, no usable values in the baseline\n');
    const html = await readFile(at('mixed', 'report.html'), 'utf8');
    expect(html).toContain('<li>note: no latency tests in iptables; latency is shown for ebpf only</li>');
    expect(html).toContain('<li>round trip p50: no verdict, no usable values in the baseline</li>');
  });
});

describe('compare --json', () => {
  const files = () => [at('iptables-latency.json'), at('ebpf-latency.json')];
  const read = async (f: string) => readFile(at('json', f), 'utf8');
  let result: Awaited<ReturnType<typeof compare>>;
  let doc: ComparisonJson;

  beforeAll(async () => {
    result = await compare([...files(), '--json', at('json', 'seed-1.json')]);
    doc = JSON.parse(await read('seed-1.json')) as ComparisonJson;
  });

  it('writes the document it says it wrote, beside the text on stdout', () => {
    expect(result.code).toBe(0);
    expect(result.stderrLines).toEqual([`wrote ${at('json', 'seed-1.json')}`]);
    expect(result.stdout).toContain('netmatrix compare: iptables vs ebpf');
  });

  it('is format netmatrix-compare version 1 with the options, runs and notes of the comparison', () => {
    expect(doc).toMatchObject({
      format: 'netmatrix-compare',
      version: 1,
      confidence: 0.95,
      marginPercent: 3,
      seed: 1,
      replicates: 1000,
      notes: ['note: dataplane serviceProxy differs - iptables: iptables; ebpf: ebpf'],
    });
    expect(doc.runs.map((r) => [r.label, r.file, r.nodes])).toEqual([
      ['iptables', at('iptables-latency.json'), 3],
      ['ebpf', at('ebpf-latency.json'), 3],
    ]);
  });

  it('has one entry per figure, path and protocol, each with one comparison per pairing', () => {
    const keys = doc.figures.map((f) => `${f.kind} ${f.path} ${f.protocol} ${f.figure}`);
    expect(new Set(keys).size).toBe(keys.length);
    // Throughput: the rate and 6 total CPU figures (no idle baseline, no UDP loss in the builder's
    // files) on 6 sections; latency: p50, p99 and connect (TCP) or dropped (UDP) on 6 sections.
    expect(doc.figures.filter((f) => f.kind === 'throughput')).toHaveLength(42);
    expect(doc.figures.filter((f) => f.kind === 'latency')).toHaveLength(18);
    expect(keys).toContain('throughput service tcp throughput');
    expect(keys).toContain('latency service udp udp-dropped');
    expect(keys).toContain('latency node tcp connect-p50');
    expect(keys).not.toContain('latency node udp connect-p50');
    for (const f of doc.figures) {
      expect(f.runs.map((r) => r.label)).toEqual(['iptables', 'ebpf']);
      expect(f.comparisons).toHaveLength(1);
      const e = f.comparisons[0];
      expect(e).toMatchObject({ baseline: 'iptables', run: 'ebpf', drift: false, method: 'paired', pairs: { baseline: 6, run: 6 } });
      expect(e?.effectUnit).toBe(f.scale === 'log' ? '%' : f.unit);
      expect(e?.margin).toBe(f.scale === 'log' ? 3 : 0.5);
      for (const k of ['estimate', 'ciLow', 'ciHigh', 'mde'] as const) expect(typeof e?.[k], `${f.figure} ${k}`).toBe('number');
      expect(e?.ciLow).toBeLessThanOrEqual(e?.ciHigh as number);
      expect(['changed', 'equivalent', 'inconclusive']).toContain(e?.verdict);
      expect(e?.reason).toBeNull();
    }
  });

  it('judges the eBPF Service path changed and the node path not', () => {
    const verdict = (kind: string, path: string, protocol: string, figure: string) =>
      doc.figures.find((f) => f.kind === kind && f.path === path && f.protocol === protocol && f.figure === figure)?.comparisons[0]
        ?.verdict;
    for (const protocol of ['tcp', 'udp']) {
      expect(verdict('throughput', 'service', protocol, 'throughput')).toBe('changed');
      expect(verdict('latency', 'service', protocol, 'rtt-p50')).toBe('changed');
      expect(verdict('throughput', 'node', protocol, 'throughput')).not.toBe('changed');
      expect(verdict('latency', 'node', protocol, 'rtt-p50')).not.toBe('changed');
    }
  });

  it('carries the very numbers of the text tables: one computation', () => {
    for (const f of doc.figures) {
      const title = `${pathProtocolTitle(f.path, f.protocol)} ${f.kind}: ebpf against iptables; paired, 6 pairs x 3 repeats`;
      const cells = judgedRows(result.stdout, title).get(f.title);
      const e = f.comparisons[0];
      if (!e) throw new Error('no comparison');
      const linear = f.scale === 'linear';
      const interval = formatInterval({ ...effectShape, low: e.ciLow, high: e.ciHigh }, linear);
      expect(cells?.slice(2, 5), `${title} ${f.title}`).toEqual([formatEffect(e.estimate, linear), interval, e.verdict]);
    }
  });

  it('is byte for byte the same for the same seed; another seed moves CI bounds, never estimates', async () => {
    const again = await compare([...files(), '--seed', '7', '--json', at('json', 'seed-7.json')]);
    const twice = await compare([...files(), '--json=' + at('json', 'seed-7-again.json'), '--seed=7']);
    const other = await compare([...files(), '--seed', '8', '--json', at('json', 'seed-8.json')]);
    expect([again.code, twice.code, other.code]).toEqual([0, 0, 0]);
    const seven = await read('seed-7.json');
    expect(await read('seed-7-again.json')).toBe(seven);
    expect(again.stdout).toBe(twice.stdout);
    const a = JSON.parse(seven) as ComparisonJson;
    const b = JSON.parse(await read('seed-8.json')) as ComparisonJson;
    expect([a.seed, b.seed]).toEqual([7, 8]);
    const entries = (d: ComparisonJson) => d.figures.flatMap((f) => f.comparisons.map((e) => ({ f, e })));
    const ea = entries(a);
    const eb = entries(b);
    expect(eb).toHaveLength(ea.length);
    ea.forEach(({ f, e }, i) => {
      expect(eb[i]?.f.figure).toBe(f.figure);
      expect(eb[i]?.e.estimate, f.figure).toBe(e.estimate);
      expect(eb[i]?.f.runs).toEqual(f.runs);
    });
    expect(ea.some(({ e }, i) => e.ciLow !== eb[i]?.e.ciLow || e.ciHigh !== eb[i]?.e.ciHigh)).toBe(true);
    // The seed before (default 1) differs from 7 too, estimates aside.
    expect(entries(doc).map(({ e }) => e.estimate)).toEqual(ea.map(({ e }) => e.estimate));
  });

  it('applies --margin and --replicates to the verdicts, the document and the footnotes', async () => {
    const r = await compare([...files(), '--margin', '20', '--replicates', '200', '--json', at('json', 'margin-20.json')]);
    expect(r.code).toBe(0);
    const wide = JSON.parse(await read('margin-20.json')) as ComparisonJson;
    expect([wide.marginPercent, wide.replicates]).toEqual([20, 200]);
    const entry = (path: string, protocol: string, figure: string) =>
      wide.figures.find((f) => f.kind === 'throughput' && f.path === path && f.protocol === protocol && f.figure === figure)
        ?.comparisons[0];
    // About +18 % is no longer beyond the margin; the node path's CI lies well within +-20 %.
    expect(entry('service', 'tcp', 'throughput')?.margin).toBe(20);
    expect(entry('service', 'tcp', 'throughput')?.estimate).toBeLessThan(20);
    expect(entry('service', 'tcp', 'throughput')?.verdict).not.toBe('changed');
    expect(entry('node', 'tcp', 'throughput')?.verdict).toBe('equivalent');
    expect(wide.figures.find((f) => f.figure === 'udp-dropped')?.comparisons[0]?.margin).toBe(0.5);
    const text = r.stdout.replace(/\s+/g, ' ');
    expect(text).toContain('(200 replicates, seed 1)');
    expect(text).toContain('(+-20.0%, +-0.5 pt for loss; --margin)');
  });

  it('exits 1 naming the file when the JSON cannot be written, after printing the tables', async () => {
    await writeFile(at('not-a-dir'), 'x');
    const r = await compare([...files(), '--json', at('not-a-dir', 'c.json')]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('netmatrix compare: iptables vs ebpf');
    expect(r.stderr).toMatch(/^netmatrix compare: cannot write output: .*not-a-dir/m);
  });
});

/** Enough of an Effect for formatInterval, which reads only low and high. */
const effectShape = {
  method: 'paired',
  estimator: 'hodges-lehmann',
  pairsA: 0,
  pairsB: 0,
  repeatsA: 0,
  repeatsB: 0,
  valueA: null,
  valueB: null,
  estimate: null,
  mde: null,
  margin: 0,
  verdict: null,
  reason: null,
} as const;

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
];

describeWith({ binaries: ['chromium'] }, 'the latency report in a browser', () => {
  let browser: Browser | undefined;
  afterAll(async () => browser?.close());

  it('draws every latency chart with a p50 and a p99 bar per run and path, under its CSP, without errors', async () => {
    const report = at('browser', 'report.html');
    const r = await compare([at('iptables-latency.json'), at('ebpf-latency.json'), '--report', report]);
    expect(r.code).toBe(0);
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('requestfailed', (q) => problems.push(`request failed: ${q.url()}`));
    await page.goto(pathToFileURL(report).href);
    const drawn = await page.$$eval('figure[data-file^="latency"]', (figures) =>
      figures.map((f) => {
        const box = f.querySelector('svg')?.getBoundingClientRect();
        // vega marks each bar for assistive technology; whisker ends are rects without that role.
        const bars = [...f.querySelectorAll('path[aria-roledescription="bar"]')].filter((p) => p.getBoundingClientRect().height > 1);
        return { file: f.getAttribute('data-file'), width: box?.width ?? 0, height: box?.height ?? 0, bars: bars.length };
      }),
    );
    expect(drawn.map((d) => d.file).sort()).toEqual([
      'latency-node-tcp.svg',
      'latency-node-udp.svg',
      'latency-pod-tcp.svg',
      'latency-pod-udp.svg',
      'latency-service-tcp.svg',
      'latency-service-udp.svg',
      'latency.svg',
    ]);
    for (const d of drawn) {
      expect(d.width, d.file ?? '').toBeGreaterThan(250);
      expect(d.height, d.file ?? '').toBeGreaterThan(200);
    }
    // Per section: 2 runs x (p50 + p99). Overview: 2 protocols x 3 paths x 2 runs x 2.
    expect(drawn.find((d) => d.file === 'latency-pod-tcp.svg')?.bars).toBe(4);
    expect(drawn.find((d) => d.file === 'latency.svg')?.bars).toBe(24);
    expect(problems).toEqual([]);
  });
});
