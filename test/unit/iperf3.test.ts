/**
 * The iperf3 parser and argv builders against real iperf3 3.12 output captured on loopback
 * (test/fixtures/iperf3/capture.sh). Expected values are read from the fixture JSON itself.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_CONNECT_TIMEOUT_MS,
  iperf3ClientArgs,
  iperf3RunSeconds,
  iperf3ServerArgs,
  parseIperf3Output,
  parseIperf3Version,
  type Iperf3Outcome,
} from '../../shared/iperf3.js';
import type { IperfResult } from '../../shared/iperf3-result.js';
import { ThroughputSpecSchema, type ThroughputSpec } from '../../shared/protocol.js';
import { agentSlackMs } from '../../shared/deadlines.js';
import { loadAgentConfig } from '../../agent/config.js';
import { throughputSpec } from '../helpers/specs.js';

const dir = new URL('../fixtures/iperf3/', import.meta.url);
const text = (name: string) => readFileSync(new URL(name, dir), 'utf8');

/** The fields of a captured report the tests compare against (iperf3's own names). */
interface Sum {
  bytes: number;
  bits_per_second: number;
  retransmits?: number;
  jitter_ms?: number;
  lost_packets?: number;
  packets?: number;
  lost_percent?: number;
}
interface Fixture {
  start: { test_start: { duration: number; num_streams: number; omit: number; reverse: number } };
  /** One entry per second; `omitted` marks the seconds of -O. */
  intervals: { sum: Sum & { omitted: boolean } }[];
  end: {
    sum: Sum;
    sum_sent: Sum;
    sum_received: Sum;
    streams: { sender: { min_rtt?: number; mean_rtt?: number; max_rtt?: number } }[];
    cpu_utilization_percent: { host_total: number; remote_total: number };
  };
  extra_data?: string;
}
const fixture = (name: string) => JSON.parse(text(name)) as Fixture;

function ok(outcome: Iperf3Outcome): IperfResult {
  if (!outcome.ok) throw new Error(`expected success, got ${outcome.failure.code}: ${outcome.failure.message}`);
  return outcome.result;
}

function expectSumsMatch(r: IperfResult, json: Fixture) {
  expect(r.sentBitsPerSecond).toBe(json.end.sum_sent.bits_per_second);
  expect(r.sentBytes).toBe(json.end.sum_sent.bytes);
  expect(r.receivedBitsPerSecond).toBe(json.end.sum_received.bits_per_second);
  expect(r.receivedBytes).toBe(json.end.sum_received.bytes);
  expect(r.durationSeconds).toBe(json.start.test_start.duration);
  expect(r.streams).toBe(json.start.test_start.num_streams);
  expect(r.iperfCpu).toEqual({
    hostTotalPercent: json.end.cpu_utilization_percent.host_total,
    remoteTotalPercent: json.end.cpu_utilization_percent.remote_total,
  });
}

describe('parseIperf3Output on TCP client reports', () => {
  it('reads throughput, retransmits and RTT in seconds from a plain test', () => {
    const json = fixture('tcp.json');
    const r = ok(parseIperf3Output(text('tcp.json')));
    expect(r).toMatchObject({ protocol: 'tcp', reverse: false, streams: 1 });
    expectSumsMatch(r, json);
    expect(r.receivedBitsPerSecond).toBeGreaterThan(0);
    expect(r.tcp?.retransmits).toBe(json.end.sum_sent.retransmits);
    expect(Number.isInteger(r.tcp?.retransmits)).toBe(true);
    const sender = json.end.streams[0]?.sender;
    expect(r.tcp?.rttMinSeconds).toBeCloseTo((sender?.min_rtt ?? NaN) / 1e6, 12);
    expect(r.tcp?.rttMeanSeconds).toBeCloseTo((sender?.mean_rtt ?? NaN) / 1e6, 12);
    expect(r.tcp?.rttMaxSeconds).toBeCloseTo((sender?.max_rtt ?? NaN) / 1e6, 12);
    expect(r.tcp?.rttMaxSeconds).toBeLessThan(1);
    expect(r.udp).toBeUndefined();
    expect(r.error).toBeUndefined();
  });

  it('gives null RTT for -R, where 3.12 prints zeros on the receiving client', () => {
    const json = fixture('tcp-reverse.json');
    expect(json.end.streams[0]?.sender.mean_rtt).toBe(0);
    const r = ok(parseIperf3Output(text('tcp-reverse.json')));
    expect(r.reverse).toBe(true);
    expectSumsMatch(r, json);
    // The server's retransmits come back to the client in the results exchange.
    expect(r.tcp).toEqual({ retransmits: json.end.sum_sent.retransmits, rttMinSeconds: null, rttMeanSeconds: null, rttMaxSeconds: null });
  });

  it('combines RTT across parallel streams and takes the summed throughput', () => {
    const json = fixture('tcp-parallel.json');
    const r = ok(parseIperf3Output(text('tcp-parallel.json')));
    expect(r.streams).toBe(4);
    expectSumsMatch(r, json);
    const senders = json.end.streams.map((s) => s.sender);
    const mins = senders.map((s) => s.min_rtt ?? NaN);
    const means = senders.map((s) => s.mean_rtt ?? NaN);
    const maxes = senders.map((s) => s.max_rtt ?? NaN);
    expect(r.tcp?.rttMinSeconds).toBeCloseTo(Math.min(...mins) / 1e6, 12);
    expect(r.tcp?.rttMeanSeconds).toBeCloseTo(means.reduce((a, b) => a + b, 0) / means.length / 1e6, 12);
    expect(r.tcp?.rttMaxSeconds).toBeCloseTo(Math.max(...maxes) / 1e6, 12);
  });
});

describe('parseIperf3Output on UDP client reports', () => {
  it.each(['udp.json', 'udp-reverse.json', 'udp-parallel.json'])('reads %s with the receiver view of jitter and loss', (name) => {
    const json = fixture(name);
    const r = ok(parseIperf3Output(text(name)));
    expect(r.protocol).toBe('udp');
    expectSumsMatch(r, json);
    expect(r.receivedBitsPerSecond).toBeGreaterThan(0);
    const recv = json.end.sum_received;
    expect(r.udp).toEqual({
      jitterSeconds: (recv.jitter_ms ?? NaN) / 1000,
      lostPackets: recv.lost_packets,
      packets: recv.packets,
      lossRatio: (recv.lost_percent ?? NaN) / 100,
    });
    expect(r.udp?.packets).toBeGreaterThan(0);
    expect(r.udp?.lossRatio).toBeGreaterThanOrEqual(0);
    expect(r.udp?.lossRatio).toBeLessThanOrEqual(1);
    expect(r.tcp).toBeUndefined();
  });

  it('matches the 3.12 layout the parser relies on: end.sum has the sender bitrate', () => {
    const json = fixture('udp.json');
    expect(json.end.sum.bits_per_second).toBe(json.end.sum_sent.bits_per_second);
    expect(json.end.sum_sent.jitter_ms).toBe(0);
    expect(json.end.sum.jitter_ms).toBe(json.end.sum_received.jitter_ms);
  });

  it('records the reverse and stream count of the run', () => {
    expect(ok(parseIperf3Output(text('udp-reverse.json'))).reverse).toBe(true);
    expect(ok(parseIperf3Output(text('udp-parallel.json'))).streams).toBe(2);
  });
});

describe('parseIperf3Output on one-off server reports', () => {
  it('parses the receiving server of a TCP test: the sent half is zero, no tcp block', () => {
    const json = fixture('server-tcp.json');
    const r = ok(parseIperf3Output(text('server-tcp.json')));
    expectSumsMatch(r, json);
    expect(r.receivedBitsPerSecond).toBeGreaterThan(0);
    expect(r.sentBitsPerSecond).toBe(0);
    expect(r.tcp).toBeUndefined();
  });

  it('parses the sending server of a -R TCP test with its RTT', () => {
    const json = fixture('server-tcp-reverse.json');
    const r = ok(parseIperf3Output(text('server-tcp-reverse.json')));
    expectSumsMatch(r, json);
    expect(r.sentBitsPerSecond).toBeGreaterThan(0);
    expect(r.tcp?.rttMeanSeconds).toBeCloseTo((json.end.streams[0]?.sender.mean_rtt ?? NaN) / 1e6, 12);
  });

  it('parses UDP server reports; the sending server (-R) has no loss view, so no udp block', () => {
    const recv = ok(parseIperf3Output(text('server-udp.json')));
    expectSumsMatch(recv, fixture('server-udp.json'));
    expect(recv.udp?.packets).toBeGreaterThan(0);
    const send = ok(parseIperf3Output(text('server-udp-reverse.json')));
    expectSumsMatch(send, fixture('server-udp-reverse.json'));
    expect(send.udp).toBeUndefined();
  });

  it('carries --extra-data at the top level of client and server reports', () => {
    for (const name of ['tcp.json', 'server-tcp.json', 'udp.json', 'server-udp.json', 'refused.json', 'busy.json']) {
      expect(fixture(name).extra_data, name).toBe('TESTID');
    }
  });
});

/** Bytes (or another field) of a report's intervals, measured or omitted ones. */
function intervalTotal(json: Fixture, omitted: boolean, field: 'bytes' | 'lost_packets' = 'bytes'): number {
  return json.intervals.filter((i) => i.sum.omitted === omitted).reduce((a, i) => a + (i.sum[field] ?? NaN), 0);
}

describe('parseIperf3Output on -O (omit) reports', () => {
  it.each(['tcp-omit.json', 'udp-omit.json', 'udp-reverse-omit.json'])('%s: the omitted second is in the capture', (name) => {
    const json = fixture(name);
    expect(json.start.test_start.omit).toBe(1);
    expect(json.intervals.filter((i) => i.sum.omitted)).toHaveLength(1);
    expect(intervalTotal(json, true)).toBeGreaterThan(0);
    expect(ok(parseIperf3Output(text(name))).durationSeconds).toBe(json.start.test_start.duration);
  });

  it('TCP: the throughput leaves the omitted second out, on both sides', () => {
    const client = ok(parseIperf3Output(text('tcp-omit.json')));
    const server = fixture('server-tcp-omit.json');
    // The receiver's bytes are the server's measured intervals, not the omitted one.
    expect(client.receivedBytes).toBe(intervalTotal(server, false));
    expect(client.receivedBytes).toBeLessThan(intervalTotal(server, false) + intervalTotal(server, true));
    // The same bytes over the same seconds, divided on each side (they differ in the last digit).
    expect(client.receivedBitsPerSecond / ok(parseIperf3Output(text('server-tcp-omit.json'))).receivedBitsPerSecond).toBeCloseTo(1, 12);
    expect(client.sentBytes).toBe(intervalTotal(fixture('tcp-omit.json'), false));
  });

  it("UDP at -b 0: the headline rate is the receiver's, without the omitted second", () => {
    const client = ok(parseIperf3Output(text('udp-omit.json')));
    const server = ok(parseIperf3Output(text('server-udp-omit.json')));
    expect(client.receivedBitsPerSecond).toBe(server.receivedBitsPerSecond);
    expect(client.receivedBytes).toBe(intervalTotal(fixture('server-udp-omit.json'), false));
    // Unlimited UDP on loopback loses most datagrams: the sender's rate is not the throughput.
    expect(client.receivedBitsPerSecond).toBeLessThan(client.sentBitsPerSecond);
    expect(client.sentBytes).toBe(intervalTotal(fixture('udp-omit.json'), false));
  });

  it("UDP: the receiving server's loss counts its measured seconds only", () => {
    const json = fixture('server-udp-omit.json');
    const r = ok(parseIperf3Output(text('server-udp-omit.json')));
    expect(r.udp?.lostPackets).toBe(intervalTotal(json, false, 'lost_packets'));
    expect(r.udp?.lossRatio).toBeCloseTo(json.end.sum_received.lost_percent! / 100, 12);
    expect(r.udp?.lossRatio).toBeGreaterThan(0);
    expect(r.udp?.lossRatio).toBeLessThan(1);
  });

  it("UDP: the forward client's loss is left out, because 3.12 counts the omitted second's losses in it", () => {
    const json = fixture('udp-omit.json');
    const server = fixture('server-udp-omit.json');
    // The quirk itself: the client's lost count is the server's measured losses plus its omitted ones, over
    // a packet count without the omitted ones.
    expect(json.end.sum_received.lost_packets).toBe(
      intervalTotal(server, false, 'lost_packets') + intervalTotal(server, true, 'lost_packets'),
    );
    expect(json.end.sum_received.lost_percent).toBeGreaterThan(server.end.sum_received.lost_percent!);
    expect(ok(parseIperf3Output(text('udp-omit.json'))).udp).toBeUndefined();
    // Without -O the client's loss is the server's, and is kept.
    expect(ok(parseIperf3Output(text('udp.json'))).udp).toEqual(ok(parseIperf3Output(text('server-udp.json'))).udp);
  });

  it('UDP -R: the receiving client keeps its own loss; the sending server parses despite its wrapped packet count', () => {
    const client = ok(parseIperf3Output(text('udp-reverse-omit.json')));
    const recv = fixture('udp-reverse-omit.json').end.sum_received;
    expect(client.udp?.lostPackets).toBe(intervalTotal(fixture('udp-reverse-omit.json'), false, 'lost_packets'));
    expect(client.udp?.lossRatio).toBeCloseTo(recv.lost_percent! / 100, 12);
    const json = fixture('server-udp-reverse-omit.json');
    expect(json.end.sum_received.packets).toBeGreaterThan(Number.MAX_SAFE_INTEGER);
    const server = ok(parseIperf3Output(text('server-udp-reverse-omit.json')));
    expect(server.sentBytes).toBe(json.end.sum_sent.bytes);
    expect(server.udp).toBeUndefined();
  });
});

describe('parseIperf3Output on captured failures', () => {
  it.each([
    ['refused.json', 'connection-refused'],
    ['busy.json', 'iperf3-busy'],
    ['connect-timeout.json', 'connect-timeout'],
    ['server-idle.json', 'iperf3-bad-output'],
    ['param-error.txt', 'iperf3-bad-output'],
  ])('classifies %s as %s', (name, code) => {
    const outcome = parseIperf3Output(text(name));
    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.failure.code).toBe(code);
    expect(outcome.result).toBeUndefined();
  });

  it('keeps the iperf3 error text in the message', () => {
    const outcome = parseIperf3Output(text('busy.json'));
    expect(!outcome.ok && outcome.failure.message).toBe('the server is busy running a test. try again later');
  });
});

describe('parseIperf3Output on back-to-back documents', () => {
  const multi = text('server-multi.json');

  it('uses the last document: a stopped long-running server ends with an interrupt error', () => {
    const outcome = parseIperf3Output(multi);
    expect(outcome.ok).toBe(false);
    expect(!outcome.ok && outcome.failure).toEqual({
      code: 'iperf3-error',
      message: 'iperf3-error: interrupt - the server has terminated',
    });
  });

  it('skips an unfinished last document and uses the last complete one', () => {
    const lastStart = multi.lastIndexOf('\n{');
    const r = ok(parseIperf3Output(multi.slice(0, lastStart + 40)));
    expect(r.protocol).toBe('udp');
  });

  it('splits documents printed with nothing between them', () => {
    const r = ok(parseIperf3Output(text('tcp.json').trim() + text('udp.json').trim()));
    expect(r.protocol).toBe('udp');
  });
});

describe('parseIperf3Output on garbage', () => {
  const tcp = text('tcp.json');
  /** tcp.json with the field at `path` set to `value`, or deleted when `value` is undefined. */
  const edit = (path: string[], value: unknown): string => {
    type Obj = Record<string, unknown>;
    const doc = JSON.parse(tcp) as Obj;
    let node = doc;
    for (const key of path.slice(0, -1)) node = node[key] as Obj;
    const last = path[path.length - 1] ?? '';
    if (value === undefined) delete node[last];
    else node[last] = value;
    return JSON.stringify(doc);
  };

  it.each([
    ['empty output', ''],
    ['blank output', ' \n\t\n'],
    ['plain text', 'not json'],
    ['an empty object', '{}'],
    ['an array', '[1, 2]'],
    ['a number', '42'],
    ['truncated JSON', tcp.slice(0, tcp.length / 2)],
    ['unbalanced-but-closed JSON', '{"start": }'],
    ['a report without end sums', edit(['end'], {})],
    ['a report without test_start', edit(['start', 'test_start'], undefined)],
    ['a null bitrate (cJSON prints NaN as null)', edit(['end', 'sum_received', 'bits_per_second'], null)],
    ['a negative byte count', edit(['end', 'sum_sent', 'bytes'], -1)],
    ['a string where a number belongs', edit(['end', 'sum_sent', 'bits_per_second'], '1e9')],
    ['an SCTP report', edit(['start', 'test_start', 'protocol'], 'SCTP')],
  ])('gives iperf3-bad-output for %s', (_why, input) => {
    const outcome = parseIperf3Output(input);
    expect(outcome.ok).toBe(false);
    expect(!outcome.ok && outcome.failure.code).toBe('iperf3-bad-output');
  });

  it.each([
    ['unable to connect stream: Connection timed out', 'connect-timeout'],
    ['unable to connect stream: Connection refused', 'connection-refused'],
    ['control socket has closed unexpectedly', 'iperf3-error'],
  ])('classifies a bare error document "%s" as %s', (error, code) => {
    const outcome = parseIperf3Output(JSON.stringify({ error }));
    expect(!outcome.ok && outcome.failure.code).toBe(code);
  });

  it('prefixes unknown error text with iperf3-error', () => {
    const outcome = parseIperf3Output('{"error": "something odd"}');
    expect(!outcome.ok && outcome.failure).toEqual({ code: 'iperf3-error', message: 'iperf3-error: something odd' });
  });

  it('fails a report with both sums and an error, returning what was measured', () => {
    const outcome = parseIperf3Output(edit(['error'], 'unable to receive results'));
    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.failure.code).toBe('iperf3-error');
    expect(outcome.result?.error).toBe('unable to receive results');
    expect(outcome.result?.receivedBitsPerSecond).toBe(fixture('tcp.json').end.sum_received.bits_per_second);
  });

  it('never throws and never succeeds on any prefix of a report', () => {
    for (let n = 0; n < tcp.trimEnd().length; n += 7) {
      expect(parseIperf3Output(tcp.slice(0, n)).ok).toBe(false);
    }
  });
});

describe('parseIperf3Version', () => {
  it('reads the captured 3.12 banner', () => {
    expect(parseIperf3Version(text('version.txt'))).toBe('3.12');
  });
  it('reads a patch version', () => {
    expect(parseIperf3Version('iperf 3.17.1 (cJSON 1.7.15)\nLinux x 6.1.0\n')).toBe('3.17.1');
  });
  it.each(['', 'garbage', 'iperf version 2.1.9 (14 March 2023) pthreads'])('throws on %j', (input) => {
    expect(() => parseIperf3Version(input)).toThrow(/not an iperf3 version banner/);
  });
});

describe('iperf3ClientArgs', () => {
  const spec = throughputSpec();
  const base = { target: '10.0.0.2', port: 5201, testId: 't-1' };

  it('builds a TCP client with an unlimited rate and the default connect timeout', () => {
    expect(iperf3ClientArgs({ ...base, spec })).toEqual([
      'iperf3',
      '-c',
      '10.0.0.2',
      '-p',
      '5201',
      '-J',
      '-t',
      '10',
      '--connect-timeout',
      String(DEFAULT_CONNECT_TIMEOUT_MS),
      '--extra-data',
      't-1',
      '-b',
      '0',
      '-P',
      '1',
    ]);
  });

  it('builds a reverse parallel UDP client, splitting the total bitrate per stream (rounded up)', () => {
    const udp: ThroughputSpec = {
      kind: 'throughput',
      protocol: 'udp',
      durationSeconds: 2,
      bitrateBitsPerSecond: 100_000_000,
      streams: 3,
      reverse: true,
    };
    expect(iperf3ClientArgs({ ...base, spec: udp, connectTimeoutMs: 3000 })).toEqual([
      'iperf3',
      '-c',
      '10.0.0.2',
      '-p',
      '5201',
      '-J',
      '-t',
      '2',
      '--connect-timeout',
      '3000',
      '--extra-data',
      't-1',
      '-u',
      '-b',
      '33333334',
      '-P',
      '3',
      '-R',
    ]);
  });

  it('passes -b 0 for an unlimited UDP test rather than leaving iperf3 at 1 Mbit/s', () => {
    const argv = iperf3ClientArgs({ ...base, spec: { ...spec, protocol: 'udp' } });
    expect(argv.slice(argv.indexOf('-b'), argv.indexOf('-b') + 2)).toEqual(['-b', '0']);
  });

  it('never gets a fractional duration, which iperf3 would run forever: the spec schema refuses it where it enters', () => {
    expect(ThroughputSpecSchema.safeParse({ ...spec, durationSeconds: 1.5 }).success).toBe(false);
  });

  it('passes -O with the omitted seconds after -t, and leaves it out at 0 or when absent', () => {
    const argv = iperf3ClientArgs({ ...base, spec: { ...spec, omitSeconds: 2 } });
    expect(argv.slice(argv.indexOf('-t'), argv.indexOf('-t') + 4)).toEqual(['-t', '10', '-O', '2']);
    expect(iperf3ClientArgs({ ...base, spec: { ...spec, omitSeconds: 0 } })).toEqual(iperf3ClientArgs({ ...base, spec }));
    expect(iperf3ClientArgs({ ...base, spec })).not.toContain('-O');
  });

  it('passes -O and -b 0 together for an unlimited UDP test with omitted seconds', () => {
    const argv = iperf3ClientArgs({ ...base, spec: { ...spec, protocol: 'udp', bitrateBitsPerSecond: 0, omitSeconds: 1 } });
    expect(argv).toEqual(expect.arrayContaining(['-u']));
    expect(argv.slice(argv.indexOf('-O'), argv.indexOf('-O') + 2)).toEqual(['-O', '1']);
    expect(argv.slice(argv.indexOf('-b'), argv.indexOf('-b') + 2)).toEqual(['-b', '0']);
  });

  it('never gets a fractional or negative omit: the spec schema refuses them', () => {
    expect(ThroughputSpecSchema.safeParse({ ...spec, omitSeconds: 0.5 }).success).toBe(false);
    expect(ThroughputSpecSchema.safeParse({ ...spec, omitSeconds: -1 }).success).toBe(false);
  });

  it('counts a run as its omitted seconds plus its measured ones', () => {
    expect(iperf3RunSeconds(spec)).toBe(10);
    expect(iperf3RunSeconds({ ...spec, omitSeconds: 3 })).toBe(13);
  });
});

describe('iperf3ServerArgs', () => {
  it('builds a one-off JSON server with receive and send timeouts', () => {
    expect(
      iperf3ServerArgs({ bindAddress: '10.0.0.2', port: 5201, idleTimeoutSeconds: 30, rcvTimeoutMs: 5000, sndTimeoutMs: 5000 }),
    ).toEqual([
      'iperf3',
      '-s',
      '-1',
      '-J',
      '-B',
      '10.0.0.2',
      '-p',
      '5201',
      '--idle-timeout',
      '30',
      '--rcv-timeout',
      '5000',
      '--snd-timeout',
      '5000',
    ]);
  });

  it('leaves out the timeouts that are not given', () => {
    expect(iperf3ServerArgs({ bindAddress: '127.0.0.1', port: 5201, idleTimeoutSeconds: 5 })).toEqual([
      'iperf3',
      '-s',
      '-1',
      '-J',
      '-B',
      '127.0.0.1',
      '-p',
      '5201',
      '--idle-timeout',
      '5',
    ]);
  });

  it('never gets a receive timeout below the 100 ms that 3.12 accepts: it is the agent slack, whose connect timeout is at least 100 ms', () => {
    const env = { NETMATRIX_AGGREGATOR_URL: 'ws://127.0.0.1:8080/agent', NETMATRIX_TOKEN: 'secret' };
    expect(loadAgentConfig({ ...env, NETMATRIX_CONNECT_TIMEOUT_MS: '100' }, []).connectTimeoutMs).toBe(100);
    expect(() => loadAgentConfig({ ...env, NETMATRIX_CONNECT_TIMEOUT_MS: '99' }, [])).toThrow(/CONNECT_TIMEOUT/);
    expect(agentSlackMs({ connectTimeoutMs: 100, marginMs: 0 })).toBeGreaterThanOrEqual(100);
  });
});
