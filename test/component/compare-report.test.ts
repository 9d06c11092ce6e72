/**
 * `netmatrix compare` end to end on real files in a temporary directory: two results files in,
 * the text tables on stdout, a self-contained report.html and one SVG per chart out, with vega
 * and vega-lite really rendering (no canvas needed). With latency tests, the report is also
 * opened in a real browser (Debian's Chromium) to see its round-trip charts drawn.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

  it('prints both labels, the dataplane setting compared and a change column', () => {
    expect(result.stdout).toContain('netmatrix compare: iptables vs ebpf');
    expect(result.stdout).toMatch(/^iptables\s+18\/18\s+.*\bbase\b/m);
    expect(result.stdout).toMatch(/^ebpf\s+18\/18\s+/m);
    expect(result.stdout).toMatch(/ change /);
    expect(result.stdout).toContain('serviceProxy=ebpf');
    const service = result.stdout.slice(result.stdout.indexOf('pod-to-service TCP throughput'));
    expect(service).toMatch(/^ebpf\s+18\/18\s+8\.\d\d Gbit\/s\s+\S+ Gbit\/s\s+\+1\d\.\d%/m);
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
    expect(html.match(/<table>/g)).toHaveLength(7);
    expect(html).toContain('<h2>pod-to-service TCP</h2>');
    expect(html).toContain('<th class="num">change</th>');
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

  it('prints a latency table per path and protocol with the faster eBPF Service path as a significant change', () => {
    const service = result.stdout.slice(result.stdout.indexOf('pod-to-service TCP latency (round-trip time)'));
    expect(service).toMatch(/^iptables\s+18\/18\s+7\d\.\d µs\s+\S+ µs\s+base\s+1\d\d µs\s+\S+ µs\s+base\s+1\d\d µs$/m);
    expect(service).toMatch(/^ebpf\s+18\/18\s+6\d\.\d µs\s+\S+ µs\s+-1\d\.\d%\s+1\d\d µs\s+\S+ µs\s+-\d\d\.\d%/m);
    const node = result.stdout.slice(result.stdout.indexOf('node-to-node UDP latency (round-trip time)'));
    expect(node).toMatch(/^ebpf\s+18\/18\s+\d\d\.\d µs\s+\S+ µs\s+~\s+/m);
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
    expect(html.match(/<table>/g)).toHaveLength(13);
    const section = html.slice(html.indexOf('<h2>pod-to-service TCP</h2>'), html.indexOf('<h2>pod-to-service UDP</h2>'));
    const order = ['throughput-service-tcp.svg', '<h3>pod-to-service TCP latency (round-trip time)</h3>', 'latency-service-tcp.svg'];
    const at2 = order.map((x) => section.indexOf(x));
    expect(at2.every((i) => i >= 0)).toBe(true);
    expect([...at2].sort((a, b) => a - b)).toEqual(at2);
    expect(section).toMatch(/<th class="num">connect p50<\/th>/);
    expect(section).toMatch(/<td>ebpf<\/td><td class="num">18\/18<\/td><td class="num">6\d\.\d µs<\/td>/);
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
    expect(service).toMatch(/^iptables\s+0\/0\s+-\s+-\s+base\s+-\s+-\s+base\s+-$/m);
    expect(service).toMatch(/^ebpf\s+18\/18\s+6\d\.\d µs\s+\S+ µs\s+-\s+/m);
    expect(r.stdout).toMatch(/^ebpf\s+18\/18\s+8\.\d\d Gbit\/s\s+\S+ Gbit\/s\s+\+1\d\.\d%/m);
    const html = await readFile(at('mixed', 'report.html'), 'utf8');
    expect(html).toContain('<li>note: no latency tests in iptables; latency is shown for ebpf only</li>');
  });
});

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
