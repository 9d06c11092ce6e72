/**
 * `netmatrix compare` end to end on real files in a temporary directory: two results files in,
 * the text tables on stdout, a self-contained report.html and one SVG per chart out, with vega
 * and vega-lite really rendering (no canvas needed).
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EBPF, IPTABLES, scenarioFile, VXLAN_5_NODES } from '../fixtures/results/builder.js';
import { captureCompare } from '../helpers/compare.js';

let dir: string;
const at = (...parts: string[]) => join(dir, ...parts);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'netmatrix-compare-'));
  for (const s of [IPTABLES, EBPF, VXLAN_5_NODES]) {
    await writeFile(at(`${s.label}.json`), JSON.stringify(scenarioFile(s)));
  }
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
