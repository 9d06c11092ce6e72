/**
 * `netmatrix run` without an aggregator: its flags, the results file and per-pair summaries it
 * writes (throughput and latency pairs apart), the summary it prints, the CSV and the progress line.
 */
import { describe, expect, it } from 'vitest';
import { resultsCsv } from '../../client/csv.js';
import { progressLine } from '../../client/progress.js';
import { failureLines, parseRunArgs, summaryLines, toResultsFile } from '../../client/run.js';
import { parseBitsPerSecond } from '../../shared/bitrate.js';
import type { RunWithResults } from '../../client/api-client.js';
import { SettingsError } from '../../shared/settings.js';
import { ResultsFileSchema } from '../../shared/results-file.js';
import type { TestResult } from '../../shared/result.js';
import { latencyResult } from '../fixtures/results/builder.js';

const spec = {
  kinds: ['throughput' as const],
  paths: ['pod' as const],
  protocols: ['tcp' as const],
  durationSeconds: 1,
  repeat: 2,
  streams: 1,
  tcpBitrateBitsPerSecond: 0,
  udpBitrateBitsPerSecond: 1e9,
  omitSeconds: 1,
};

function result(source: string, target: string, bps: number | null, n: number): TestResult {
  return {
    id: `t-${source}-${target}-${n}`,
    runId: 'run-1',
    label: 'iptables',
    kind: 'throughput',
    path: 'pod',
    protocol: 'tcp',
    spec: { protocol: 'tcp', durationSeconds: 1, bitrateBitsPerSecond: 0, streams: 1, reverse: false },
    source: { node: source, pod: `p-${source}`, topology: null, cpu: null, cpuSecondsPerGigabyte: null, nic: null },
    target: {
      node: target,
      pod: `p-${target}`,
      topology: null,
      cpu: null,
      cpuSecondsPerGigabyte: null,
      nic: null,
      address: '198.19.2.2',
      port: 5201,
    },
    startedAt: '2026-11-24T10:00:00.000Z',
    endedAt: '2026-11-24T10:00:01.000Z',
    ok: bps !== null,
    error: bps === null ? { code: 'connection-refused', message: 'nothing listening, "quoted", here' } : null,
    throughputBitsPerSecond: bps,
    iperf: null,
    serverIperf: null,
    latency: null,
  };
}

const run: RunWithResults = {
  id: 'run-1',
  label: 'iptables',
  status: 'done',
  createdAt: '2026-11-24T09:59:59.000Z',
  startedAt: '2026-11-24T10:00:00.000Z',
  endedAt: '2026-11-24T10:00:05.000Z',
  spec,
  environment: {
    nodes: [],
    dataplane: { kind: 'lab', settings: { serviceProxy: 'iptables' }, provenance: null, source: 'test' },
    lab: null,
  },
  total: 4,
  done: 4,
  failed: 1,
  current: null,
  results: [result('a', 'b', 9e9, 1), result('b', 'a', 7e9, 1), result('a', 'b', 8e9, 2), result('b', 'a', null, 2)],
};

describe('netmatrix run', () => {
  it('writes a results file that the schema accepts, with median, min and max per pair over the repeats', () => {
    const file = toResultsFile(run, 'http://127.0.0.1:8080');
    expect(ResultsFileSchema.parse(file)).toEqual(file);
    const ab = file.pairs.find((p) => p.source === 'a' && p.target === 'b');
    expect(ab).toMatchObject({ samples: 2, failures: 0, throughputBitsPerSecond: { median: 8.5e9, min: 8e9, max: 9e9 } });
    const ba = file.pairs.find((p) => p.source === 'b' && p.target === 'a');
    expect(ba).toMatchObject({ samples: 2, failures: 1, throughputBitsPerSecond: { median: 7e9, min: 7e9, max: 7e9 } });
  });

  it('refuses to write a file for a run without a captured environment', () => {
    expect(() => toResultsFile({ ...run, environment: null }, 'x')).toThrow(/no environment/);
  });

  it('summarises the median of successful tests and counts failures', () => {
    expect(summaryLines(toResultsFile(run, 'x'))).toEqual(['  pod     tcp      8.00 Gbit/s median of 3, 1 failed']);
  });

  it('says why tests failed: one line per reason, the most frequent first, with one of its tests', () => {
    const refused = (source: string, target: string, n: number): TestResult => ({
      ...result(source, target, null, n),
      error: { code: 'spec-refused', message: 'unlimited bitrate requested but the agent caps it at 1000000000 bit/s' },
    });
    const results = [...run.results, refused('a', 'c', 1), refused('c', 'a', 1), refused('b', 'c', 1)];
    expect(failureLines(results)).toEqual([
      'failed tests, by reason:',
      '  3 x spec-refused: unlimited bitrate requested but the agent caps it at 1000000000 bit/s (throughput pod tcp a -> c and 2 more)',
      '  1 x connection-refused: nothing listening, "quoted", here (throughput pod tcp b -> a)',
    ]);
    expect(failureLines(results, 1)).toEqual([
      'failed tests, by reason:',
      expect.stringMatching(/^ {2}3 x spec-refused: /),
      "  and 1 more reasons (every test's is in the results file)",
    ]);
    expect(failureLines(run.results.filter((r) => r.ok))).toEqual([]);
  });

  it('writes one CSV row per test, quoting fields with commas and quotes', () => {
    const csv = resultsCsv(run.results).trimEnd().split('\n');
    expect(csv).toHaveLength(5);
    expect(csv[0]?.split(',')[0]).toBe('label');
    expect(csv[4]).toContain('"connection-refused: nothing listening, ""quoted"", here"');
  });

  it('shows done/total, the current pair, elapsed time and an estimate', () => {
    const line = progressLine(
      {
        ...run,
        status: 'running',
        done: 1,
        total: 4,
        current: { kind: 'throughput', path: 'pod', protocol: 'tcp', source: 'a', target: 'b' },
      },
      10_000,
      8,
    );
    expect(line).toBe('[##......] 1/4 tests  throughput pod tcp a -> b  elapsed 0:10 eta 0:30  1 failed');
  });

  it('names the kind of the test running now', () => {
    const current = { kind: 'latency', path: 'service', protocol: 'udp', source: 'a', target: 'b' };
    const line = progressLine({ ...run, status: 'running', done: 2, total: 8, failed: 0, current }, 4_000, 8);
    expect(line).toBe('[##......] 2/8 tests  latency service udp a -> b  elapsed 0:04 eta 0:12');
  });

  it('takes --kinds as a set of throughput and latency, and leaves it to the aggregator when not given', () => {
    const args = ['--label', 'x', '--out', 'x.json'];
    expect(parseRunArgs({}, [...args, '--kinds', 'throughput,latency']).kinds).toEqual(['throughput', 'latency']);
    expect(parseRunArgs({}, [...args, '--kinds', ' latency , latency ']).kinds).toEqual(['latency']);
    expect(parseRunArgs({ NETMATRIX_RUN_KINDS: 'latency' }, args).kinds).toEqual(['latency']);
    expect(parseRunArgs({}, args).kinds).toBeUndefined();
  });

  it('refuses an unknown kind, naming the flag, the value and the kinds there are', () => {
    expect(() => parseRunArgs({}, ['--label', 'x', '--out', 'x.json', '--kinds', 'throughput,jitter'])).toThrow(
      /--kinds "throughput,jitter": .*"throughput"\|"latency"/,
    );
    expect(() => parseRunArgs({}, ['--label', 'x', '--out', 'x.json', '--kinds', ','])).toThrow(/--kinds ",": at least one value/);
  });

  it('takes --udp-bitrate max as unlimited (0) and a rate in bits/s, decimal units, and leaves it to the aggregator when not given', () => {
    const args = ['--label', 'x', '--out', 'x.json'];
    const rate = (value: string) => parseRunArgs({}, [...args, '--udp-bitrate', value]).udpBitrate;
    expect(rate('max')).toBe(0);
    expect(rate('MAX')).toBe(0);
    expect(rate('2gbit')).toBe(2e9);
    expect(rate('500m')).toBe(500e6);
    expect(rate('1.5G')).toBe(1.5e9);
    expect(rate('64kbit')).toBe(64e3);
    expect(rate('100000000')).toBe(1e8);
    expect(parseRunArgs({ NETMATRIX_RUN_UDP_BITRATE: 'max' }, args).udpBitrate).toBe(0);
    expect(parseRunArgs({}, [...args, '--udp-bitrate=10tbit']).udpBitrate).toBe(1e13);
    expect(parseRunArgs({}, args).udpBitrate).toBeUndefined();
  });

  it.each([
    ['fast', /--udp-bitrate "fast": expected max \(unlimited\) or a rate up to 10tbit, such as 2gbit, 500m/],
    ['0', /--udp-bitrate "0": a rate of 0 would be unlimited: write max for that/],
    ['-1', /--udp-bitrate "-1": expected max/],
    ['2gbps', /--udp-bitrate "2gbps": expected max/],
    ['2 gbit/s', /--udp-bitrate "2 gbit\/s": expected max/],
    ['11tbit', /--udp-bitrate "11tbit": expected max \(unlimited\) or a rate up to 10tbit/],
    ['maximum', /--udp-bitrate "maximum": expected max/],
  ])('refuses --udp-bitrate %j with a message that says what it takes', (value, message) => {
    expect(() => parseRunArgs({}, ['--label', 'x', '--out', 'x.json', '--udp-bitrate', value])).toThrow(message);
  });

  it('takes --omit as whole seconds from 0 to 60, and leaves it to the aggregator when not given', () => {
    const args = ['--label', 'x', '--out', 'x.json'];
    expect(parseRunArgs({}, [...args, '--omit', '0']).omit).toBe(0);
    expect(parseRunArgs({}, [...args, '--omit=60']).omit).toBe(60);
    expect(parseRunArgs({ NETMATRIX_RUN_OMIT_SECONDS: '2' }, args).omit).toBe(2);
    expect(parseRunArgs({}, args).omit).toBeUndefined();
    for (const bad of ['61', '-1', '1.5', 'one', '1e1', '']) {
      expect(() => parseRunArgs({}, [...args, `--omit=${bad}`]), bad).toThrow(`--omit "${bad}": whole seconds from 0 to 60`);
    }
  });

  it('reads bit rates as people write them, and nothing else', () => {
    expect(parseBitsPerSecond(' 2Gbit ')).toBe(2e9);
    expect(parseBitsPerSecond('0.5k')).toBe(500);
    expect(parseBitsPerSecond('1.0004bit')).toBe(1);
    for (const bad of ['', 'g', '1e9', '0x10', '1,000', '2 g', '2gb', '1kbps', 'Infinity', `1${'0'.repeat(400)}`]) {
      expect(parseBitsPerSecond(bad), bad).toBeUndefined();
    }
  });

  it('reports every bad flag at once and needs a label and an output file', () => {
    let e: unknown;
    try {
      parseRunArgs({}, ['--paths', 'pod,bogus', '--repeat', '0']);
    } catch (err) {
      e = err;
    }
    expect(e).toBeInstanceOf(SettingsError);
    const problems = (e as SettingsError).problems.join('\n');
    expect(problems).toMatch(/--paths/);
    expect(problems).toMatch(/--repeat/);
    expect(problems).toMatch(/NETMATRIX_RUN_LABEL not set/);
    expect(problems).toMatch(/NETMATRIX_RUN_OUT not set/);
  });
});

/** The cells of one CSV line: commas inside double quotes belong to the cell. */
function csvCells(line: string): string[] {
  const cells: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i] as string;
    if (quoted && ch === '"' && line[i + 1] === '"') {
      cell += '"';
      i++;
    } else if (ch === '"') {
      quoted = !quoted;
    } else if (ch === ',' && !quoted) {
      cells.push(cell);
      cell = '';
    } else {
      cell += ch;
    }
  }
  return [...cells, cell];
}

describe('netmatrix run with latency tests', () => {
  const latencySpec = { ...spec, kinds: ['throughput' as const, 'latency' as const], protocols: ['tcp' as const, 'udp' as const] };
  const tests: TestResult[] = [
    result('a', 'b', 9e9, 1),
    latencyResult({ path: 'pod', protocol: 'tcp', source: 'a', target: 'b', rttP50: 50, rttP99: 100, connectP50: 90, index: 1 }),
    latencyResult({ path: 'pod', protocol: 'tcp', source: 'a', target: 'b', rttP50: 70, rttP99: 300, connectP50: 110, index: 2 }),
    latencyResult({ path: 'pod', protocol: 'tcp', source: 'a', target: 'b', rttP50: null, index: 3 }),
    latencyResult({ path: 'pod', protocol: 'udp', source: 'a', target: 'b', rttP50: 40, rttP99: 80, droppedRatio: 0.001, index: 4 }),
    latencyResult({ path: 'pod', protocol: 'udp', source: 'a', target: 'b', rttP50: 44, rttP99: 96, droppedRatio: 0.003, index: 5 }),
  ];
  const file = toResultsFile({ ...run, spec: latencySpec, results: tests }, 'x');

  it('summarises latency pairs apart from throughput pairs, with p50, p99 and dropped spreads', () => {
    const pairs = file.pairs.filter((p) => p.source === 'a' && p.target === 'b');
    expect(pairs.map((p) => [p.kind, p.protocol])).toEqual([
      ['throughput', 'tcp'],
      ['latency', 'tcp'],
      ['latency', 'udp'],
    ]);
    const [tput, tcp, udp] = pairs;
    expect(tput).toMatchObject({ samples: 1, throughputBitsPerSecond: { median: 9e9 }, rttP50Microseconds: null, droppedRatio: null });
    expect(tcp).toEqual({
      kind: 'latency',
      path: 'pod',
      protocol: 'tcp',
      source: 'a',
      target: 'b',
      samples: 3,
      failures: 1,
      throughputBitsPerSecond: null,
      clientCpuBusyPercent: null,
      serverCpuBusyPercent: null,
      clientCpuSecondsPerGigabyte: null,
      serverCpuSecondsPerGigabyte: null,
      rttP50Microseconds: { median: 60, min: 50, max: 70 },
      rttP99Microseconds: { median: 200, min: 100, max: 300 },
      // TCP retransmits: nothing is ever "dropped".
      droppedRatio: null,
    });
    expect(udp?.droppedRatio).toEqual({ median: 0.002, min: 0.001, max: 0.003 });
  });

  it('prints median p50 and p99 round trips per path and protocol after the throughput lines', () => {
    expect(summaryLines(file)).toEqual([
      '  pod     tcp      9.00 Gbit/s median of 1',
      '  pod     udp         - median of 0',
      '  pod     tcp  round trip p50  60.0 µs, p99   200 µs  medians of 2, 1 failed',
      '  pod     udp  round trip p50  42.0 µs, p99  88.0 µs  medians of 2',
    ]);
  });

  it('says when a run asked for latency but got no latency test', () => {
    const none = toResultsFile({ ...run, spec: { ...spec, kinds: ['latency'] }, results: [] }, 'x');
    expect(summaryLines(none)).toEqual(['  pod     tcp  latency: no tests (no two agents with sockperf?)']);
  });

  it('appends the latency columns after the existing ones, empty where they do not apply', () => {
    const rows = resultsCsv(tests).trimEnd().split('\n').map(csvCells);
    for (const row of rows) expect(row).toHaveLength(34);
    const [header, throughputRow, tcpRow, , failedRow, udpRow] = rows;
    const extra = [
      'kind',
      'rtt_p50_us',
      'rtt_p99_us',
      'rtt_p999_us',
      'dropped_ratio',
      'connect_p50_us',
      'message_size_bytes',
      'messages_per_second',
    ];
    expect(header?.slice(0, 3)).toEqual(['label', 'run_id', 'test_id']);
    expect(header?.slice(22, 25)).toEqual(['duration_seconds', 'streams', 'bitrate_bits_per_second']);
    expect(header?.slice(25, 33)).toEqual(extra);
    const latencyCells = (row: string[] | undefined) => Object.fromEntries(extra.map((c, i) => [c, row?.[25 + i]]));
    expect(latencyCells(throughputRow)).toEqual({ ...Object.fromEntries(extra.map((c) => [c, ''])), kind: 'throughput' });
    expect(latencyCells(tcpRow)).toEqual({
      kind: 'latency',
      rtt_p50_us: '50',
      rtt_p99_us: '100',
      rtt_p999_us: '160',
      dropped_ratio: '',
      connect_p50_us: '90',
      message_size_bytes: '64',
      messages_per_second: '1000',
    });
    // A failed latency test keeps its spec but has no times.
    expect(latencyCells(failedRow)).toMatchObject({ kind: 'latency', rtt_p50_us: '', connect_p50_us: '', message_size_bytes: '64' });
    expect(latencyCells(udpRow)).toMatchObject({ rtt_p50_us: '40', dropped_ratio: '0.001', connect_p50_us: '' });
    // Throughput-only columns of a latency test stay empty; its duration is the sockperf -t.
    expect(tcpRow?.slice(11, 12)).toEqual(['']);
    expect(tcpRow?.slice(22, 25)).toEqual(['2', '', '']);
  });
});
