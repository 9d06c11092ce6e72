/**
 * compare with latency tests: p50 and p99 round trips pooled over pairs and repetitions like
 * throughput (median, p10-p90 as measured), each latency figure (p50, p99, TCP connect p50, UDP
 * dropped) judged per pairing of runs like throughput (paired change, 95 % CI, verdict), the
 * latency tables and charts, and runs without latency compared with runs that have it.
 * Results files from before latency tests (a captured real one) still load and compare.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { comparisonCharts } from '../../client/compare/charts.js';
import {
  compareRuns,
  latencyFigures,
  type Comparison,
  type FigureAnalysis,
  type LatencySection,
  type Section,
} from '../../client/compare/compare.js';
import { runHeaderLines } from '../../client/compare/describe.js';
import type { Effect } from '../../client/compare/effect.js';
import type { LoadedRun } from '../../client/compare/load.js';
import {
  footnotes,
  formatEffect,
  formatInterval,
  judgedTables,
  latencyTable,
  renderComparisonText,
  type Table,
} from '../../client/compare/table.js';
import { formatDropped, formatRtt, formatRttRange } from '../../client/compare/units.js';
import type { Path, Protocol } from '../../shared/protocol.js';
import { parseResultsFile, summarizePairs } from '../../shared/results-file.js';
import { quantile } from '../../shared/stats.js';
import {
  EBPF_WITH_LATENCY,
  IPTABLES,
  IPTABLES_WITH_LATENCY,
  latencyResult,
  resultsFile,
  scenarioFile,
} from '../fixtures/results/builder.js';

const captured = (name: string) => readFileSync(new URL(`../fixtures/results/captured/${name}`, import.meta.url), 'utf8');

/** Latency tests of one path/protocol with these p50s (µs; null = failed), p99 = 2 x p50. */
function tests(path: Path, protocol: Protocol, p50s: (number | null)[]) {
  return p50s.map((p50, index) => latencyResult({ path, protocol, rttP50: p50, index }));
}

function latencyOf(sections: readonly Section[], path: Path, protocol: Protocol): LatencySection {
  const l = sections.find((s) => s.path === path && s.protocol === protocol)?.latency;
  if (!l) throw new Error(`no latency in ${path} ${protocol}`);
  return l;
}

/** One latency figure of a path and protocol ("rtt-p50", "rtt-p99", "connect-p50", "udp-dropped"). */
function figureOf(c: Comparison, path: Path, protocol: Protocol, id: string): FigureAnalysis {
  const f = latencyOf(c.sections, path, protocol).figures.find((x) => x.figure.id === id);
  if (!f) throw new Error(`no ${id} in ${path} ${protocol}`);
  return f;
}

/** The comparison of one latency figure in the i-th pairing. */
const effectOf = (c: Comparison, path: Path, protocol: Protocol, id: string, pairing = 0): Effect =>
  figureOf(c, path, protocol, id).comparisons[pairing] as Effect;

const NODES = ['node-1', 'node-2', 'node-3'];
const PAIRS = NODES.flatMap((s) => NODES.filter((t) => t !== s).map((t) => [s, t] as const));

/**
 * `repeat` passes of pod-to-pod TCP latency tests over the 6 ordered pairs of 3 nodes, each test's
 * p50 `p50(pass, pair)` µs (null = failed), p99 twice that, connect setup twice that too.
 */
function passes(repeat: number, p50: (pass: number, pair: number) => number | null) {
  const out = [];
  for (let pass = 0; pass < repeat; pass++) {
    for (const [i, [source, target]] of PAIRS.entries()) {
      const rtt = p50(pass, i);
      out.push(
        latencyResult({
          path: 'pod',
          protocol: 'tcp',
          source,
          target,
          rttP50: rtt,
          connectP50: rtt === null ? null : 2 * rtt,
          index: pass * 10 + i,
        }),
      );
    }
  }
  return out;
}

/** A deterministic +-1 % wobble per pass and pair. */
const wobble = (pass: number, pair: number) => 1 + 0.01 * Math.sin(2 + 5 * pass + 3 * pair);

const run = (label: string, results: ReturnType<typeof passes>): LoadedRun => ({
  name: `${label}.json`,
  file: resultsFile({ label, results }),
});

describe('results files from before latency tests', () => {
  const text = captured('loopback-v1.json');
  const raw = JSON.parse(text) as Record<string, unknown> & { spec: object; pairs: object[]; results: object[] };

  it('are really of the old format: no kinds, no kind and no latency anywhere', () => {
    expect(raw.spec).not.toHaveProperty('kinds');
    expect(raw.results.length).toBeGreaterThan(0);
    for (const r of raw.results) expect(Object.keys(r)).not.toEqual(expect.arrayContaining(['kind']));
    for (const r of raw.results) expect(r).not.toHaveProperty('latency');
    for (const p of raw.pairs) expect(p).not.toHaveProperty('rttP50Microseconds');
  });

  it('load with every value they hold unchanged, read as throughput tests without latency', () => {
    const file = parseResultsFile('loopback-v1.json', text);
    expect(file).toMatchObject(raw);
    expect(file.spec.kinds).toEqual(['throughput']);
    expect(file.results.every((r) => r.kind === 'throughput' && r.latency === null)).toBe(true);
    expect(file.pairs.every((p) => p.kind === 'throughput' && p.rttP50Microseconds === null && p.droppedRatio === null)).toBe(true);
    // What they recorded is what summarizePairs makes of their results today.
    expect(summarizePairs(file.results)).toEqual(file.pairs);
  });

  it('compare with a run that has latency, with one note saying which run has none', () => {
    const old = { name: 'loopback-v1.json', file: parseResultsFile('loopback-v1.json', text) };
    const latency = { name: 'loopback-latency.json', file: parseResultsFile('loopback-latency.json', captured('loopback-latency.json')) };
    const c = compareRuns([old, latency]);
    expect(c.notes.filter((n) => n.startsWith('note: no '))).toEqual([
      'note: no throughput tests in loopback-latency; throughput is shown for loopback-v1 only',
      'note: no latency tests in loopback-v1; latency is shown for loopback-latency only',
    ]);
    // Both captures predate the read/assumed marks: each gets one note saying it is older.
    expect(c.notes.filter((n) => n.includes('was written by an older netmatrix')).map((n) => n.split(' ')[1])).toEqual([
      'loopback-v1',
      'loopback-latency',
    ]);
    const tcp = latencyOf(c.sections, 'node', 'tcp');
    expect(tcp.runs[0]).toMatchObject({ tests: 0, rttP50: null });
    expect(tcp.runs[1]?.rttP50?.samples).toBe(2);
    // Nothing to judge the latency run against: no change and no verdict, and the reason.
    expect(effectOf(c, 'node', 'tcp', 'rtt-p50')).toMatchObject({
      estimate: null,
      low: null,
      high: null,
      verdict: null,
      reason: 'no usable values in the baseline',
    });
    const text2 = renderComparisonText(c);
    expect(text2).toMatch(/^loopback-v1\s+0\/0\s+-\s+-\s+-\s+-\s+-$/m);
    expect(text2).toContain('node-to-node TCP latency (round-trip time)');
    expect(text2).toMatch(/^round trip p50\s+-\s+123 µs\s+-\s+-\s+no verdict\s+-$/m);
    expect(text2).toContain('* round trip p50: no verdict, no usable values in the baseline');
  });
});

describe('a captured run with latency tests', () => {
  const file = parseResultsFile('loopback-latency.json', captured('loopback-latency.json'));

  it('loads, its pair summaries being those of its latency results', () => {
    expect(file.spec.kinds).toEqual(['latency']);
    expect(file.results.every((r) => r.kind === 'latency' && r.latency !== null && r.throughputBitsPerSecond === null)).toBe(true);
    expect(summarizePairs(file.results)).toEqual(file.pairs);
    const udp = file.pairs.find((p) => p.protocol === 'udp');
    expect(udp?.droppedRatio).not.toBeNull();
    expect(file.pairs.find((p) => p.protocol === 'tcp')?.droppedRatio).toBeNull();
  });

  it('gives compare the median of its tests p50s', () => {
    const c = compareRuns([{ name: 'l.json', file }]);
    const p50s = file.results.filter((r) => r.protocol === 'udp').map((r) => r.latency?.rttMicroseconds.p50 ?? NaN);
    expect(latencyOf(c.sections, 'node', 'udp').runs[0]?.rttP50?.median).toBeCloseTo(quantile(p50s, 0.5) as number);
    // A latency-only run has no throughput table and no overhead table.
    expect(renderComparisonText(c)).not.toContain('throughput\nrun');
    expect(c.overhead).toEqual([]);
  });
});

describe('latencyFigures', () => {
  it('pools each test p50 and p99 with shared/stats quantiles, keeping failures out', () => {
    const p50s = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100];
    const f = latencyFigures(tests('pod', 'tcp', [...p50s, null, null]));
    expect(f.tests).toBe(12);
    expect(f.failures).toBe(2);
    expect(f.rttP50).toEqual({ median: 55, p10: quantile(p50s, 0.1), p90: quantile(p50s, 0.9), samples: 10 });
    expect(f.rttP99?.median).toBe(110);
    expect(f.rttP99?.p10).toBeCloseTo(38);
  });

  it('pools dropped messages over UDP tests rather than taking a median of ratios', () => {
    const udp = [0, 0, 0.01].map((d, index) => latencyResult({ path: 'pod', protocol: 'udp', rttP50: 40, droppedRatio: d, index }));
    // 20 of 2000 in one test, none in the other two: 20 / 6000, where a median of ratios says 0.
    expect(latencyFigures(udp).droppedRatio).toBeCloseTo(20 / 6000);
    expect(latencyFigures(tests('pod', 'tcp', [40])).droppedRatio).toBeNull();
  });

  it('takes the median of the connection setup times of TCP tests that timed connects', () => {
    const tcp = [100, 300, null].map((c, index) => latencyResult({ path: 'pod', protocol: 'tcp', rttP50: 40, connectP50: c, index }));
    expect(latencyFigures(tcp).connectP50Microseconds).toBe(200);
    expect(latencyFigures(tests('pod', 'tcp', [40])).connectP50Microseconds).toBeNull();
  });

  it('has no round trips when every test failed', () => {
    expect(latencyFigures(tests('pod', 'udp', [null, null]))).toEqual({
      tests: 2,
      failures: 2,
      rttP50: null,
      rttP99: null,
      droppedRatio: null,
      connectP50Microseconds: null,
    });
  });
});

describe('latency judged against the first run', () => {
  const base = passes(3, (pass, pair) => 80 * wobble(pass, pair));
  const faster = passes(3, (pass, pair) => 66 * wobble(pass, pair + 1));
  const same = passes(3, (pass, pair) => 80 * wobble(pass + 1, pair));
  const c = compareRuns([run('base', base), run('faster', faster), run('same', same)]);

  it('judges p50, p99 and connect setup per pair: a 17.5 % faster run changed, an unchanged one equivalent', () => {
    expect(c.pairings).toEqual([
      { baseline: 0, run: 1, drift: false },
      { baseline: 0, run: 2, drift: false },
    ]);
    expect(latencyOf(c.sections, 'pod', 'tcp').figures.map((f) => f.figure.id)).toEqual(['rtt-p50', 'rtt-p99', 'connect-p50']);
    for (const id of ['rtt-p50', 'rtt-p99', 'connect-p50']) {
      const f = effectOf(c, 'pod', 'tcp', id, 0);
      expect(f, id).toMatchObject({ method: 'paired', pairsA: 6, pairsB: 6, repeatsA: 3, repeatsB: 3, verdict: 'changed', reason: null });
      expect(f.estimate).toBeCloseTo(-17.5, 0);
      expect(f.high).toBeLessThan(-3);
      expect(f.low).toBeGreaterThan(-30);
      const s = effectOf(c, 'pod', 'tcp', id, 1);
      expect(s.verdict, id).toBe('equivalent');
      expect(Math.abs(s.estimate as number)).toBeLessThan(1);
      expect(s.low).toBeGreaterThanOrEqual(-3);
      expect(s.high).toBeLessThanOrEqual(3);
    }
    // A run's figure: the median over pairs of each pair's median over its repetitions.
    expect(figureOf(c, 'pod', 'tcp', 'rtt-p50').runs[0]).toMatchObject({ pairs: 6, values: 18 });
    expect(figureOf(c, 'pod', 'tcp', 'rtt-p50').runs[0]?.value).toBeCloseTo(80, -1);
  });

  it('gives no verdict when a run measured each pair once, counting only successful tests', () => {
    const once = passes(1, (pass, pair) => 66 * wobble(pass, pair));
    // Every second test failed: one success per pair is no repetition either.
    const halfFailed = passes(2, (pass, pair) => (pass === 1 ? null : 66 * wobble(pass, pair)));
    const c2 = compareRuns([run('base', base), run('once', once), run('half', halfFailed)]);
    for (const pairing of [0, 1]) {
      const e = effectOf(c2, 'pod', 'tcp', 'rtt-p50', pairing);
      expect(e.verdict).toBeNull();
      expect(e.estimate).toBeCloseTo(-17.5, 0);
      expect(e.low).toBeNull();
      expect(e.mde).toBeNull();
      expect(e.reason).toMatch(/^too few repetitions to tell a change from test-to-test noise in this run \(6 pairs;/);
    }
    expect(latencyOf(c2.sections, 'pod', 'tcp').runs[2]).toMatchObject({ tests: 12, failures: 6 });
  });

  it('gives no verdict against a run without latency tests, saying it has none', () => {
    const c3 = compareRuns([run('base', base), run('none', [])]);
    expect(effectOf(c3, 'pod', 'tcp', 'rtt-p50')).toMatchObject({ estimate: null, verdict: null, reason: 'no usable values in this run' });
  });

  it('judges UDP requests dropped as a difference in points against a margin of 0.5 points', () => {
    const udp = (ratio: number) =>
      PAIRS.flatMap(([source, target], i) =>
        [0, 1, 2].map((pass) =>
          latencyResult({
            path: 'pod',
            protocol: 'udp',
            source,
            target,
            rttP50: 50,
            droppedRatio: ratio * wobble(pass, i),
            index: pass * 10 + i,
          }),
        ),
      );
    const c4 = compareRuns([run('a', udp(0.001)), run('b', udp(0.03))]);
    const dropped = figureOf(c4, 'pod', 'udp', 'udp-dropped');
    expect(dropped.figure.scale).toBe('linear');
    expect(dropped.comparisons[0]?.margin).toBe(0.5);
    expect(dropped.comparisons[0]?.estimate).toBeCloseTo(2.9, 1);
    expect(dropped.comparisons[0]?.verdict).toBe('changed');
    // TCP has no dropped figure and UDP no connect figure.
    expect(latencyOf(c4.sections, 'pod', 'udp').figures.map((f) => f.figure.id)).toEqual(['rtt-p50', 'rtt-p99', 'udp-dropped']);
  });

  it('shows the eBPF Service path changed and the node path not, on the builder scenarios', () => {
    const b = compareRuns([
      { name: 'iptables.json', file: scenarioFile(IPTABLES_WITH_LATENCY) },
      { name: 'ebpf.json', file: scenarioFile(EBPF_WITH_LATENCY) },
    ]);
    for (const p of ['tcp', 'udp'] as const) {
      for (const id of ['rtt-p50', 'rtt-p99']) {
        const svc = effectOf(b, 'service', p, id);
        expect(svc, `service ${p} ${id}`).toMatchObject({ method: 'paired', pairsA: 6, repeatsA: 3, repeatsB: 3, verdict: 'changed' });
        expect(svc.estimate).toBeLessThan(-10);
        expect(svc.high).toBeLessThan(0);
        const node = effectOf(b, 'node', p, id);
        expect(node.verdict, `node ${p} ${id}`).not.toBe('changed');
        expect(node.verdict).not.toBeNull();
        expect(node.low).toBeLessThan(0);
        expect(node.high).toBeGreaterThan(0);
      }
    }
    expect(effectOf(b, 'service', 'tcp', 'connect-p50').verdict).toBe('changed');
    expect(effectOf(b, 'node', 'tcp', 'connect-p50').verdict).not.toBe('changed');
  });
});

describe('the latency table', () => {
  const c = compareRuns([
    { name: 'iptables.json', file: scenarioFile(IPTABLES_WITH_LATENCY) },
    { name: 'ebpf.json', file: scenarioFile(EBPF_WITH_LATENCY) },
  ]);
  const table = (path: Path, protocol: Protocol) => {
    const s = c.sections.find((x) => x.path === path && x.protocol === protocol);
    if (!s?.latency) throw new Error(`no latency in ${path} ${protocol}`);
    return latencyTable(c, { ...s, latency: s.latency });
  };

  it('has p50 and p99 with their p10-p90 as measured, and connect p50 for TCP, without a change column', () => {
    const t = table('service', 'tcp');
    expect(t.title).toBe('pod-to-service TCP latency (round-trip time)');
    expect(t.columns.map((col) => col.header)).toEqual(['run', 'ok/tests', 'p50', 'p10-p90', 'p99', 'p10-p90', 'connect p50']);
    const [base, ebpf] = t.rows;
    expect(base?.slice(0, 2)).toEqual(['iptables', '18/18']);
    expect(base?.[2]).toMatch(/^7\d\.\d µs$/);
    expect(base?.[3]).toMatch(/^7\d\.\d-[78]\d\.\d µs$/);
    expect(base?.[4]).toMatch(/^1\d\d µs$/);
    expect(ebpf?.[2]).toMatch(/^6\d\.\d µs$/);
    expect(ebpf?.[4]).toMatch(/^1\d\d µs$/);
    expect(ebpf?.[6]).toMatch(/^1\d\d µs$/);
    expect(t.rows.flat()).not.toContain('base');
  });

  it('is followed by a judged table of p50, p99 and connect p50 (TCP) or dropped in points (UDP)', () => {
    const s = c.sections.find((x) => x.path === 'service' && x.protocol === 'tcp');
    if (!s?.latency) throw new Error('no service tcp latency');
    const [t, ...more] = judgedTables(c, 'pod-to-service TCP latency', s.latency.figures);
    expect(more).toEqual([]);
    expect(t?.title).toBe('pod-to-service TCP latency: ebpf against iptables; paired, 6 pairs x 3 repeats');
    expect(t?.columns.map((col) => col.header)).toEqual(['figure', 'iptables', 'ebpf', 'change', '95% CI', 'verdict', 'detects']);
    expect(t?.rows.map((r) => r[0])).toEqual(['round trip p50', 'round trip p99', 'TCP connect p50']);
    const p50 = t?.rows[0] ?? [];
    expect(p50[1]).toMatch(/^7\d\.\d µs$/);
    expect(p50[2]).toMatch(/^6\d\.\d µs$/);
    expect(p50[3]).toMatch(/^-1\d\.\d%$/);
    expect(p50[4]).toMatch(/^-\d+\.\d\.\.-\d+\.\d%$/);
    expect(p50[5]).toBe('changed');
    const e = s.latency.figures[0]?.comparisons[0] as Effect;
    expect(p50.slice(3, 6)).toEqual([formatEffect(e.estimate, false), formatInterval(e, false), e.verdict]);

    const u = c.sections.find((x) => x.path === 'service' && x.protocol === 'udp');
    if (!u?.latency) throw new Error('no service udp latency');
    const udp = judgedTables(c, 'pod-to-service UDP latency', u.latency.figures)[0] as Table;
    expect(udp.rows.map((r) => r[0])).toEqual(['round trip p50', 'round trip p99', 'UDP dropped (pt)']);
    const dropped = udp.rows[2] ?? [];
    expect(dropped[3]).toMatch(/^[-+]?0\.\d\d pt$/);
    expect(dropped[4]).toMatch(/ pt$/);
    // A twentieth of a point less is well within the 0.5-point margin.
    expect(dropped[5]).toBe('equivalent');
  });

  it('has the dropped share for UDP instead of connection setup', () => {
    const t = table('pod', 'udp');
    expect(t.columns.at(-1)?.header).toBe('dropped');
    expect(t.rows[0]?.at(-1)).toMatch(/^0\.0\d%$/);
    expect(table('node', 'udp').rows[0]?.at(-1)).toBe('0%');
  });

  it('comes after the throughput tables of its section, judged after measured, and the text still fits 100 columns', () => {
    const text = renderComparisonText(c);
    for (const line of text.split('\n')) expect(line.length).toBeLessThanOrEqual(100);
    const at = (s: string) => text.indexOf(s);
    const order = [
      'pod-to-pod TCP throughput\n',
      'pod-to-pod TCP throughput: ebpf against iptables; paired, 6 pairs x 3 repeats\n',
      'pod-to-pod TCP latency (round-trip time)\n',
      'pod-to-pod TCP latency: ebpf against iptables; paired, 6 pairs x 3 repeats\n',
      'pod-to-pod UDP throughput\n',
    ].map(at);
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(text).toContain('tests: 10 s, 1 stream, repeat 3; node/pod/service tcp/udp\n            latency tests: 2 s, 64 B at 1000/s\n');
  });

  it('is explained in the footnotes only when some run has latency, busy-waiting client included', () => {
    expect(footnotes(c).join(' ')).toMatch(/full round trips.*A positive change is slower/);
    expect(footnotes(c).join(' ')).toMatch(/busy-waits/);
    const plain = compareRuns([{ name: 'a.json', file: scenarioFile(IPTABLES) }]);
    expect(footnotes(plain).join(' ')).not.toMatch(/round trip/);
  });
});

describe('round-trip units', () => {
  it('writes µs with one decimal below 100, whole µs below 1 ms, then ms', () => {
    expect(formatRtt(48.25)).toBe('48.3 µs');
    expect(formatRtt(99.96)).toBe('100 µs');
    expect(formatRtt(172.4)).toBe('172 µs');
    expect(formatRtt(999.7)).toBe('1.00 ms');
    expect(formatRtt(1254)).toBe('1.25 ms');
    expect(formatRtt(25_300)).toBe('25.3 ms');
    expect(formatRtt(null)).toBe('-');
  });

  it('writes a range with one unit when both ends share it', () => {
    expect(formatRttRange(45.1, 52.34)).toBe('45.1-52.3 µs');
    expect(formatRttRange(900, 1500)).toBe('900 µs-1.50 ms');
    expect(formatRttRange(undefined, 3)).toBe('-');
  });

  it('writes dropped shares in %, with a floor for losses too small to print', () => {
    expect(formatDropped(0)).toBe('0%');
    expect(formatDropped(0.0005)).toBe('0.05%');
    expect(formatDropped(0.00001)).toBe('<0.01%');
    expect(formatDropped(null)).toBe('-');
  });
});

describe('runs with and without latency', () => {
  const plain: LoadedRun = { name: 'iptables.json', file: scenarioFile(IPTABLES) };
  const withLatency: LoadedRun = { name: 'ebpf.json', file: scenarioFile(EBPF_WITH_LATENCY) };

  it('say in one note which run has no latency, and compare throughput as before', () => {
    const c = compareRuns([plain, withLatency]);
    expect(c.notes.filter((n) => n.includes('latency'))).toEqual(['note: no latency tests in iptables; latency is shown for ebpf only']);
    expect(latencyOf(c.sections, 'pod', 'tcp').runs.map((f) => f.tests)).toEqual([0, 18]);
    const svc = c.sections.find((s) => s.path === 'service' && s.protocol === 'tcp');
    expect(svc?.figures.find((f) => f.figure.id === 'throughput')?.comparisons[0]?.verdict).toBe('changed');
    expect(effectOf(c, 'pod', 'tcp', 'rtt-p50')).toMatchObject({
      estimate: null,
      verdict: null,
      reason: 'no usable values in the baseline',
    });
  });

  it('suspects missing sockperf when a run asked for latency and got none', () => {
    const asked: LoadedRun = {
      name: 'a.json',
      file: { ...plain.file, label: 'asked', spec: { ...plain.file.spec, kinds: ['throughput', 'latency'] } },
    };
    expect(compareRuns([asked, withLatency]).notes).toContain(
      'note: no latency tests in asked (asked for, none ran: agents without sockperf?); latency is shown for ebpf only',
    );
  });

  it('notes latency test settings that differ, and ignores throughput settings of a latency-only run', () => {
    const slow = latencyResult({ path: 'pod', protocol: 'tcp', rttP50: 50, messagesPerSecond: 100, durationSeconds: 5 });
    const a = { name: 'a.json', file: resultsFile({ label: 'a', results: tests('pod', 'tcp', [50]) }) };
    const b = { name: 'b.json', file: resultsFile({ label: 'b', results: [slow], spec: { durationSeconds: 60 } }) };
    expect(compareRuns([a, b]).notes).toEqual(['note: latency test differs - a: 2 s, 64 B at 1000/s; b: 5 s, 64 B at 100/s']);
  });

  it('show a latency-only run header without throughput knobs', () => {
    const c = compareRuns([{ name: 'l.json', file: resultsFile({ label: 'l', results: tests('pod', 'udp', [40]) }) }]);
    expect(runHeaderLines(c.runs[0] as (typeof c.runs)[number]).slice(2)).toEqual([
      'tests: repeat 1; pod udp',
      'latency tests: 2 s, 64 B at 1000/s',
    ]);
  });
});

describe('latency charts', () => {
  const c = compareRuns([
    { name: 'iptables.json', file: scenarioFile(IPTABLES_WITH_LATENCY) },
    { name: 'ebpf.json', file: scenarioFile(EBPF_WITH_LATENCY) },
  ]);

  it('add an overview by path and one chart per path and protocol, after the throughput charts', () => {
    const files = comparisonCharts(c).map((ch) => ch.file);
    expect(files.slice(13)).toEqual([
      'latency.svg',
      'latency-node-tcp.svg',
      'latency-node-udp.svg',
      'latency-pod-tcp.svg',
      'latency-pod-udp.svg',
      'latency-service-tcp.svg',
      'latency-service-udp.svg',
    ]);
    expect(files.slice(0, 13).some((f) => f.startsWith('latency'))).toBe(false);
  });

  it('draw p50 and p99 per run in the unit of their title', () => {
    const charts = comparisonCharts(c);
    const chart = charts.find((ch) => ch.file === 'latency-service-tcp.svg');
    expect(chart?.title).toBe('pod-to-service TCP round-trip time (µs)');
    expect(chart?.kind).toBe('latency');
    const values = (chart?.spec as { data: { values: { run: string; p50: number; p99: number }[] } }).data.values;
    expect(values.map((v) => v.run)).toEqual(['iptables', 'ebpf']);
    const svc = latencyOf(c.sections, 'service', 'tcp');
    expect(values[1]?.p50).toBe(svc.runs[1]?.rttP50?.median);
    expect(values[1]?.p99).toBe(svc.runs[1]?.rttP99?.median);
    const overview = charts.find((ch) => ch.file === 'latency.svg');
    expect(overview?.section).toBeNull();
    expect(overview?.title).toBe('Round-trip time by path and run');
  });

  it('switch to ms when round trips reach 10 ms', () => {
    const slow = [12_000, 13_000, 14_000].map((p50, index) => latencyResult({ path: 'pod', protocol: 'tcp', rttP50: p50, index }));
    const chart = comparisonCharts(compareRuns([{ name: 's.json', file: resultsFile({ label: 's', results: slow }) }])).find(
      (ch) => ch.file === 'latency-pod-tcp.svg',
    );
    expect(chart?.title).toBe('pod-to-pod TCP round-trip time (ms)');
    expect((chart?.spec as { data: { values: { p50: number }[] } }).data.values[0]?.p50).toBe(13);
  });

  it('are none when no run measured latency', () => {
    expect(comparisonCharts(compareRuns([{ name: 'a.json', file: scenarioFile(IPTABLES) }])).some((ch) => ch.kind === 'latency')).toBe(
      false,
    );
  });
});
