import { describe, expect, it } from 'vitest';
import { resultsCsv } from '../../client/csv.js';
import { progressLine } from '../../client/progress.js';
import { parseRunArgs, summaryLines, toResultsFile } from '../../client/run.js';
import type { RunWithResults } from '../../client/api-client.js';
import { SettingsError } from '../../shared/settings.js';
import { ResultsFileSchema } from '../../shared/results-file.js';
import type { TestResult } from '../../shared/result.js';

const spec = {
  paths: ['pod' as const],
  protocols: ['tcp' as const],
  durationSeconds: 1,
  repeat: 2,
  streams: 1,
  tcpBitrateBitsPerSecond: 0,
  udpBitrateBitsPerSecond: 1e9,
};

function result(source: string, target: string, bps: number | null, n: number): TestResult {
  return {
    id: `t-${source}-${target}-${n}`,
    runId: 'run-1',
    label: 'iptables',
    path: 'pod',
    protocol: 'tcp',
    spec: { protocol: 'tcp', durationSeconds: 1, bitrateBitsPerSecond: 0, streams: 1, reverse: false },
    source: { node: source, pod: `p-${source}`, topology: null, cpu: null, cpuSecondsPerGigabyte: null },
    target: { node: target, pod: `p-${target}`, topology: null, cpu: null, cpuSecondsPerGigabyte: null, address: '198.19.2.2', port: 5201 },
    startedAt: '2026-11-24T10:00:00.000Z',
    endedAt: '2026-11-24T10:00:01.000Z',
    ok: bps !== null,
    error: bps === null ? { code: 'connection-refused', message: 'nothing listening, "quoted", here' } : null,
    throughputBitsPerSecond: bps,
    iperf: null,
    serverIperf: null,
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
  environment: { nodes: [], dataplane: { kind: 'lab', settings: { serviceProxy: 'iptables' }, source: 'test' }, lab: null },
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

  it('writes one CSV row per test, quoting fields with commas and quotes', () => {
    const csv = resultsCsv(run.results).trimEnd().split('\n');
    expect(csv).toHaveLength(5);
    expect(csv[0]?.split(',')[0]).toBe('label');
    expect(csv[4]).toContain('"connection-refused: nothing listening, ""quoted"", here"');
  });

  it('shows done/total, the current pair, elapsed time and an estimate', () => {
    const line = progressLine(
      { ...run, status: 'running', done: 1, total: 4, current: { path: 'pod', protocol: 'tcp', source: 'a', target: 'b' } },
      10_000,
      8,
    );
    expect(line).toBe('[##......] 1/4 tests  pod tcp a -> b  elapsed 0:10 eta 0:30  1 failed');
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
