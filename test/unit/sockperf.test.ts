/**
 * The sockperf parser, argv builders and connect statistics, against real sockperf 3.7 output
 * captured on loopback (test/fixtures/sockperf/capture.sh). The exact values below are read off
 * those files: recapturing means updating them.
 */
import { readdirSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../shared/errors.js';
import { LatencySpecSchema, parseAggregatorMessage } from '../../shared/protocol.js';
import {
  connectStats,
  findSockperfError,
  LatencyResultSchema,
  parseSockperfOutput,
  parseSockperfVersion,
  sockperfClientArgs,
  sockperfConnected,
  sockperfServerArgs,
  stripAnsi,
  type LatencyResult,
  type SockperfOutcome,
  type SockperfSpec,
} from '../../shared/sockperf.js';

const dir = new URL('../fixtures/sockperf/', import.meta.url);
const text = (name: string) => readFileSync(new URL(name, dir), 'utf8');

function ok(outcome: SockperfOutcome): LatencyResult {
  if (!outcome.ok) throw new Error(`expected success, got ${outcome.failure.code}: ${outcome.failure.message}`);
  return outcome.result;
}

describe('parseSockperfOutput on captured ping-pong reports', () => {
  it('reads every field of a TCP report, in round-trip µs over the valid duration', () => {
    expect(ok(parseSockperfOutput(text('tcp-64.txt'), 'tcp', 64))).toEqual({
      protocol: 'tcp',
      messageSizeBytes: 64,
      durationSeconds: 1.548,
      sentMessages: 776,
      receivedMessages: 776,
      droppedMessages: 0,
      duplicatedMessages: 0,
      outOfOrderMessages: 0,
      observations: 776,
      rttMicroseconds: {
        min: 19.697,
        p25: 99.428,
        p50: 103.836,
        p75: 116.671,
        p90: 242.79,
        p99: 2871.035,
        p999: 6818.251,
        max: 9989.837,
        mean: 242.691,
        stdDev: 682.338,
      },
    });
  });

  it('reads every field of a UDP report with large messages', () => {
    expect(ok(parseSockperfOutput(text('udp-1400.txt'), 'udp', 1400))).toEqual({
      protocol: 'udp',
      messageSizeBytes: 1400,
      durationSeconds: 1.54,
      sentMessages: 309,
      receivedMessages: 309,
      droppedMessages: 0,
      duplicatedMessages: 0,
      outOfOrderMessages: 0,
      observations: 309,
      rttMicroseconds: {
        min: 23.294,
        p25: 71.165,
        p50: 142.981,
        p75: 200.239,
        p90: 885.67,
        p99: 4422.76,
        p999: 7660.513,
        max: 7660.513,
        mean: 406.689,
        stdDev: 912.317,
      },
    });
  });

  it.each([
    ['tcp-1400.txt', 'tcp', 1400, 310, 106.623],
    ['udp-64.txt', 'udp', 64, 774, 260.756],
  ] as const)('reads %s (%s, %i B): observations and median', (name, protocol, size, observations, p50) => {
    const r = ok(parseSockperfOutput(text(name), protocol, size));
    expect(r).toMatchObject({ protocol, messageSizeBytes: size, observations, receivedMessages: observations });
    expect(r.rttMicroseconds.p50).toBe(p50);
    expect(LatencyResultSchema.safeParse(r).success).toBe(true);
  });

  it('strips the colour escapes sockperf prints into a pipe', () => {
    const raw = text('tcp-64.txt');
    expect(raw).toContain('\x1b[2;35m');
    expect(stripAnsi(raw)).not.toContain('\x1b');
    expect(parseSockperfOutput(stripAnsi(raw), 'tcp', 64)).toEqual(parseSockperfOutput(raw, 'tcp', 64));
  });

  it('refuses a report of the other protocol than the one that was asked for', () => {
    expect(parseSockperfOutput(text('tcp-64.txt'), 'udp', 64)).toMatchObject({ ok: false, failure: { code: 'sockperf-bad-output' } });
  });

  it('refuses one-way latency (a run without --full-rtt) rather than report half the round trip', () => {
    const halved = text('udp-64.txt').replace('avg-rtt=', 'avg-lat=');
    expect(parseSockperfOutput(halved, 'udp', 64)).toMatchObject({ ok: false, failure: { code: 'sockperf-bad-output' } });
  });
});

describe('parseSockperfOutput on captured UDP under-load reports (what UDP latency tests run)', () => {
  it.each([
    ['udp-under-load-64.txt', 64],
    ['udp-under-load-1400.txt', 1400],
  ] as const)('reads %s like a ping-pong report', (name, size) => {
    const r = ok(parseSockperfOutput(text(name), 'udp', size));
    expect(r).toMatchObject({ protocol: 'udp', messageSizeBytes: size, droppedMessages: 0 });
    expect(r.rttMicroseconds.p50).toBeGreaterThan(0);
    expect(LatencyResultSchema.safeParse(r).success).toBe(true);
  });

  it('reports the requests that got no reply as dropped: 145 of 768 with 20% of datagrams dropped by nftables', () => {
    expect(ok(parseSockperfOutput(text('udp-under-load-loss-20.txt'), 'udp', 64))).toMatchObject({
      sentMessages: 768,
      receivedMessages: 623,
      droppedMessages: 145,
      observations: 623,
      rttMicroseconds: { p50: 23.224, p99: 12153.639 },
    });
  });

  it('reads a run with no server as no-replies, never as a zero latency', () => {
    expect(parseSockperfOutput(text('udp-under-load-no-server.txt'), 'udp', 64)).toMatchObject({
      ok: false,
      failure: { code: 'no-replies' },
    });
  });
});

describe('parseSockperfOutput on failed runs', () => {
  it.each([
    ['tcp-refused.txt', 'tcp', 'connection-refused', /errno=111 Connection refused/],
    ['udp-no-server.txt', 'udp', 'no-replies', /no reply/],
    ['udp-one-observation.txt', 'udp', 'sockperf-error', /only 1 observation/],
    ['param-error.txt', 'udp', 'sockperf-error', /Invalid message size: 13/],
    ['server-port-taken-tcp.txt', 'tcp', 'port-in-use', /127\.0\.0\.1:46207 \(errno=98 Address already in use\)/],
    ['server-port-taken-udp.txt', 'udp', 'port-in-use', /errno=98/],
    ['server-tcp.txt', 'tcp', 'sockperf-bad-output', /no statistics/],
    ['version.txt', 'tcp', 'sockperf-bad-output', /no statistics/],
  ] as const)('%s is %s, with no result at all', (name, protocol, code, message) => {
    const outcome = parseSockperfOutput(text(name), protocol, 64);
    expect(outcome).toEqual({ ok: false, failure: { code, message: expect.stringMatching(message) } });
  });

  it('gives bad output for empty output', () => {
    expect(parseSockperfOutput('', 'tcp', 64)).toMatchObject({ ok: false, failure: { code: 'sockperf-bad-output' } });
    expect(parseSockperfOutput(' \n', 'udp', 64)).toMatchObject({ ok: false, failure: { code: 'sockperf-bad-output' } });
  });

  it('never turns a failed run into a zero or missing latency: every cut of a good report is a failure or the whole result', () => {
    const raw = text('udp-64.txt');
    const whole = ok(parseSockperfOutput(raw, 'udp', 64));
    for (let n = 0; n < raw.length; n++) {
      const outcome = parseSockperfOutput(raw.slice(0, n), 'udp', 64);
      if (outcome.ok) expect(outcome.result).toEqual(whole);
      else expect(outcome).not.toHaveProperty('result');
    }
    expect(parseSockperfOutput(raw.slice(0, -1), 'udp', 64).ok).toBe(false);
  });

  it('fails a report with an ERROR line even when statistics follow', () => {
    const both = text('tcp-refused.txt') + text('tcp-64.txt');
    expect(parseSockperfOutput(both, 'tcp', 64)).toMatchObject({ ok: false, failure: { code: 'connection-refused' } });
  });
});

describe('findSockperfError', () => {
  it('classifies the bind error of a taken port, whose errno sockperf puts on the next line', () => {
    expect(findSockperfError(text('server-port-taken-udp.txt'))).toEqual({
      code: 'port-in-use',
      message: 'ERROR: [fd=3] Can`t bind socket, IP to bind: 127.0.0.1:46208 (errno=98 Address already in use)',
    });
  });

  it('finds nothing in a server that was running fine', () => {
    expect(findSockperfError(text('server-tcp.txt'))).toBeUndefined();
    expect(findSockperfError(text('udp-64.txt'))).toBeUndefined();
  });

  it('maps other errors to sockperf-error with their text, and a connect timeout to connect-timeout', () => {
    expect(findSockperfError('sockperf: ERROR: Can`t connect socket (errno=110 Connection timed out)\n')?.code).toBe('connect-timeout');
    expect(findSockperfError('sockperf: ERROR: Failed setting test duration timer\n')).toEqual({
      code: 'sockperf-error',
      message: 'sockperf: ERROR: Failed setting test duration timer',
    });
  });
});

describe('sockperfConnected', () => {
  it('tells a client that got past connect() from one that did not', () => {
    expect(sockperfConnected(text('tcp-64.txt'))).toBe(true);
    expect(sockperfConnected(text('udp-no-server.txt'))).toBe(true);
    expect(sockperfConnected(text('tcp-refused.txt'))).toBe(false);
  });
});

const spec = (o: Partial<SockperfSpec> = {}): SockperfSpec => ({
  protocol: 'tcp',
  durationSeconds: 5,
  messageSizeBytes: 64,
  messagesPerSecond: 200,
  ...o,
});

describe('sockperf argv', () => {
  it('builds a TCP ping-pong client with an explicit rate and full round trips', () => {
    expect(sockperfClientArgs({ target: '10.0.0.2', port: 5202, spec: spec() })).toEqual(
      'sockperf ping-pong --tcp -i 10.0.0.2 -p 5202 -t 5 -m 64 --mps 200 --full-rtt'.split(' '),
    );
  });

  it('builds a UDP client in under-load mode with a reply to every request (ping-pong would stall on the first lost reply)', () => {
    expect(
      sockperfClientArgs({ target: '10.0.0.2', port: 5202, spec: spec({ protocol: 'udp', messageSizeBytes: 14, messagesPerSecond: 1 }) }),
    ).toEqual('sockperf under-load -i 10.0.0.2 -p 5202 -t 5 -m 14 --mps 1 --full-rtt --reply-every 1'.split(' '));
  });

  it('builds servers for both protocols', () => {
    expect(sockperfServerArgs({ protocol: 'tcp', bindAddress: '0.0.0.0', port: 5202 })).toEqual(
      'sockperf server --tcp --uc-reuseaddr -i 0.0.0.0 -p 5202'.split(' '),
    );
    expect(sockperfServerArgs({ protocol: 'udp', bindAddress: '10.0.0.1', port: 5202 })).toEqual(
      'sockperf server -i 10.0.0.1 -p 5202'.split(' '),
    );
  });

  it.each([
    ['a fractional duration', spec({ durationSeconds: 1.5 })],
    ['a zero duration', spec({ durationSeconds: 0 })],
    ['a message below sockperf minimum', spec({ messageSizeBytes: 13 })],
    ['a message above sockperf maximum', spec({ messageSizeBytes: 65_508 })],
    ['no rate (sockperf would send flat out)', spec({ messagesPerSecond: 0 })],
    ['an infinite rate', spec({ messagesPerSecond: Infinity })],
  ])('a latency spec with %s never reaches the argv builder: its schema refuses it where it enters', (_, s) => {
    expect(LatencySpecSchema.safeParse({ kind: 'latency', connectSamples: 0, ...s }).success).toBe(false);
  });

  it('refuses port 0 on both sides, at the frame parser', () => {
    const latency = { kind: 'latency' as const, connectSamples: 0, ...spec() };
    const probe = { type: 'probe', testId: 't', target: '10.0.0.2', port: 0, spec: latency };
    const serve = { type: 'serve', testId: 't', bindAddress: '10.0.0.2', port: 0, spec: latency, idleTimeoutSeconds: 10 };
    expect(() => parseAggregatorMessage(JSON.stringify(probe))).toThrow(/port/);
    expect(() => parseAggregatorMessage(JSON.stringify(serve))).toThrow(/port/);
  });
});

describe('parseSockperfVersion', () => {
  it('reads the captured banner', () => expect(parseSockperfVersion(text('version.txt'))).toBe('3.7'));
  it('throws on anything else', () => expect(() => parseSockperfVersion('iperf 3.12 (cJSON 1.7.15)')).toThrow(/not a sockperf/));
});

describe('connectStats', () => {
  it('gives null times, never zeros, when no connection completed', () => {
    expect(connectStats([], 3)).toEqual({
      samples: 0,
      failures: 3,
      minMicroseconds: null,
      p50Microseconds: null,
      p90Microseconds: null,
      p99Microseconds: null,
      maxMicroseconds: null,
    });
  });

  it('takes nearest-rank percentiles of samples in any order', () => {
    const samples = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(connectStats(samples, 0)).toEqual({
      samples: 100,
      failures: 0,
      minMicroseconds: 1,
      p50Microseconds: 50,
      p90Microseconds: 90,
      p99Microseconds: 99,
      maxMicroseconds: 100,
    });
    expect(connectStats([7.5], 1)).toMatchObject({ samples: 1, minMicroseconds: 7.5, p50Microseconds: 7.5, p99Microseconds: 7.5 });
  });
});

// ------------------------------------------------------------------ hostile input

const SEED = 20_261_125;
const opts = (numRuns = 300) => ({ seed: SEED, numRuns });
const codes = new Set(Object.keys(ERROR_CODES));

const fixtures = readdirSync(dir)
  .filter((f) => f.endsWith('.txt') && f !== 'exit-codes.txt')
  .sort()
  .map((f) => text(f));
const reports = ['tcp-64.txt', 'tcp-1400.txt', 'udp-64.txt', 'udp-1400.txt'].map(text);

/** The parser's contract: never throws; a schema-valid result, or a catalogue failure and nothing else. */
function contract(input: string, protocol: 'tcp' | 'udp' = 'tcp'): void {
  let outcome: SockperfOutcome;
  try {
    outcome = parseSockperfOutput(input, protocol, 64);
  } catch (e) {
    throw new Error(`parseSockperfOutput threw ${String(e)} (input ${JSON.stringify(input.slice(0, 200))})`, { cause: e });
  }
  if (outcome.ok) {
    expect(LatencyResultSchema.safeParse(outcome.result).success).toBe(true);
    return;
  }
  expect(codes.has(outcome.failure.code)).toBe(true);
  expect(outcome.failure.message.length).toBeGreaterThan(0);
  expect(outcome.failure.message.length).toBeLessThanOrEqual(1200);
  expect(Object.keys(outcome).sort()).toEqual(['failure', 'ok']);
}

const HOSTILE = ['', '-1', '0', '1e999', 'NaN', 'Infinity', '0x10', '1.2.3', `1${'0'.repeat(400)}`, '9007199254740993', ' ', '\x1b[0m'];

/** A real report with some numbers replaced, lines dropped, doubled or swapped, or text spliced in. */
const mutated: fc.Arbitrary<string> = fc
  .tuple(
    fc.constantFrom(...reports),
    fc.array(
      fc.oneof(
        fc.record({
          kind: fc.constant('number' as const),
          pick: fc.nat(),
          value: fc.oneof(fc.constantFrom(...HOSTILE), fc.nat().map(String)),
        }),
        fc.record({ kind: fc.constantFrom('drop' as const, 'double' as const, 'swap' as const), pick: fc.nat() }),
        fc.record({ kind: fc.constant('splice' as const), pick: fc.nat(), value: fc.string({ unit: 'binary', maxLength: 40 }) }),
      ),
      { minLength: 1, maxLength: 3 },
    ),
  )
  .map(([report, edits]) => {
    let t = report;
    for (const edit of edits) {
      const lines = t.split('\n');
      const i = edit.pick % lines.length;
      if (edit.kind === 'number') {
        const spans = [...t.matchAll(/\d+(?:\.\d+)?/g)];
        const span = spans[edit.pick % Math.max(1, spans.length)];
        if (span?.index !== undefined) t = t.slice(0, span.index) + edit.value + t.slice(span.index + span[0].length);
        continue;
      }
      if (edit.kind === 'drop') lines.splice(i, 1);
      if (edit.kind === 'double') lines.splice(i, 0, lines[i] ?? '');
      if (edit.kind === 'swap') lines.splice(i, 2, ...lines.slice(i, i + 2).reverse());
      if (edit.kind === 'splice') lines.splice(i, 0, edit.value);
      t = lines.join('\n');
    }
    return t;
  });

describe('parseSockperfOutput on hostile input', () => {
  it('holds its contract on every captured fixture (the generators start from real output)', () => {
    for (const f of fixtures) {
      contract(f, 'tcp');
      contract(f, 'udp');
    }
  });

  it('never throws on random text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 500 }), (s) => contract(s)),
      opts(),
    );
  });

  it('never throws on random lines in sockperf words', () => {
    const word = fc.constantFrom(
      'sockperf: ',
      '---> percentile ',
      '<MAX> observation = ',
      'Total ',
      ' observations',
      'ERROR: ',
      '\n',
      '99.900',
      ' = ',
      '12.5',
      '[Valid Duration] ',
      'avg-rtt=',
    );
    fc.assert(
      fc.property(
        fc.array(word, { maxLength: 60 }).map((w) => w.join('')),
        (s) => contract(s),
      ),
      opts(),
    );
  });

  it('never throws on real reports with numbers, lines and text mutated', () => {
    fc.assert(
      fc.property(mutated, fc.constantFrom('tcp' as const, 'udp' as const), (t, p) => contract(t, p)),
      opts(500),
    );
  });

  it('keeps some mutated reports parseable and refuses others, so the property covers both', () => {
    const outcomes = fc
      .sample(mutated, { seed: SEED, numRuns: 300 })
      .map((t) => parseSockperfOutput(t, t.includes('# TCP') ? 'tcp' : 'udp', 64));
    expect(outcomes.filter((o) => o.ok).length).toBeGreaterThan(0);
    expect(outcomes.filter((o) => !o.ok).length).toBeGreaterThan(0);
  });

  it('never throws on real output cut short or with fixtures back to back', () => {
    const cut = fc.constantFrom(...fixtures).chain((t) => fc.nat(t.length).map((n) => t.slice(0, n)));
    fc.assert(
      fc.property(cut, (t) => contract(t)),
      opts(),
    );
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...fixtures), { maxLength: 3 }), (parts) => contract(parts.join(''))),
      opts(100),
    );
  });
});
