/**
 * When iperf3 measured, read from real iperf3 3.12 reports captured on loopback
 * (test/fixtures/iperf3/capture.sh), including a `-O 1` test whose client and server process
 * times the script recorded (wall-clock.txt): the interval placed from each side's own report
 * and exit must agree with the other side's and lie where the processes really ran.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseIperf3Output } from '../../shared/iperf3.js';
import { iperf3Timing, measuredWindowMs, SETUP_ALLOWANCE_MS } from '../../shared/iperf3-timing.js';
import type { Iperf3Timing } from '../../shared/iperf3-result.js';

const dir = new URL('../fixtures/iperf3/', import.meta.url);
const text = (name: string) => readFileSync(new URL(name, dir), 'utf8');

interface IntervalSum {
  start: number;
  end: number;
  bytes: number;
  omitted: boolean;
}
interface Report {
  start: { timestamp: { timesecs: number }; test_start: { omit: number; duration: number } };
  intervals: { sum: IntervalSum }[];
  end: { sum_sent: { end: number; bytes: number }; sum_received: { end: number; bytes: number } };
}
const report = (name: string) => JSON.parse(text(name)) as Report;

/** When the capture script started each process and saw it exit, ms since the epoch. */
const wallClock = new Map(
  text('wall-clock.txt')
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const [file = '', start = '', exit = ''] = l.split(' ');
      return [file, { startMs: Number(start), exitMs: Number(exit) }];
    }),
);
function processOf(name: string) {
  const p = wallClock.get(name);
  if (!p) throw new Error(`no wall-clock record for ${name}`);
  return p;
}
function timingOf(name: string): Iperf3Timing {
  const t = iperf3Timing(report(name));
  if (!t) throw new Error(`no timing in ${name}`);
  return t;
}

describe('iperf3Timing on real reports', () => {
  it('spans every interval of a test without --omit, from 0 to the last interval end', () => {
    for (const name of ['tcp.json', 'server-tcp.json', 'tcp-reverse.json', 'server-udp-reverse.json', 'udp.json']) {
      const json = report(name);
      expect(json.start.test_start.omit).toBe(0);
      expect(timingOf(name)).toEqual({
        connectedAtSeconds: json.start.timestamp.timesecs,
        measuredStartSeconds: 0,
        measuredEndSeconds: json.intervals[json.intervals.length - 1]?.sum.end,
      });
    }
  });

  it('starts after the omitted second of a -O 1 test, where 3.12 restarted its interval clock', () => {
    const client = report('tcp-omit.json');
    expect(client.start.test_start.omit).toBe(1);
    expect(client.intervals.map((i) => i.sum.omitted)).toEqual([true, false, false]);
    // The clock restart the timing has to undo: the second interval starts at ~0 again.
    expect(client.intervals[1]?.sum.start).toBeLessThan(0.01);
    // omitted interval [0, 1.001013], then measured [0.000046, 0.999971] and [0.999971, 1.998973] after it
    expect(timingOf('tcp-omit.json')).toEqual({
      connectedAtSeconds: 1796668335,
      measuredStartSeconds: 1.001013 + 0.000046,
      measuredEndSeconds: 1.001013 + 1.998973,
    });
    // The server's own report, on its own clock: [0, 1.000112] omitted, then 0.000043 .. 2.000597.
    expect(timingOf('server-tcp-omit.json')).toEqual({
      connectedAtSeconds: 1796668335,
      measuredStartSeconds: 1.000112 + 0.000043,
      measuredEndSeconds: 1.000112 + 2.000597,
    });
  });

  it('measures over the interval whose bytes iperf3 counted: the omitted second is in no sum', () => {
    // The client sent (its intervals count sent bytes), the server received.
    for (const [name, side] of [
      ['tcp-omit.json', 'sum_sent'],
      ['server-tcp-omit.json', 'sum_received'],
    ] as const) {
      const json = report(name);
      const measuredBytes = json.intervals.filter((i) => !i.sum.omitted).reduce((n, i) => n + i.sum.bytes, 0);
      expect(measuredBytes).toBe(json.end[side].bytes);
      const t = timingOf(name);
      // The sum's own seconds: within a millisecond of the measured span.
      expect(Math.abs(t.measuredEndSeconds - t.measuredStartSeconds - json.end[side].end)).toBeLessThan(0.001);
    }
  });

  it('reads no timing from a report without a timestamp or without measured intervals', () => {
    expect(iperf3Timing(report('refused.json'))).toBeUndefined();
    expect(iperf3Timing(report('busy.json'))).toBeUndefined();
    const { timestamp: _dropped, ...start } = report('tcp.json').start;
    expect(iperf3Timing({ ...report('tcp.json'), start })).toBeUndefined();
    const omitOnly = report('tcp-omit.json');
    expect(iperf3Timing({ ...omitOnly, intervals: omitOnly.intervals.slice(0, 1) })).toBeUndefined();
    expect(iperf3Timing({ ...omitOnly, intervals: [] })).toBeUndefined();
    expect(iperf3Timing(null)).toBeUndefined();
  });

  it('adds no offset for an iperf3 that keeps one clock across the omitted seconds', () => {
    const json = report('tcp-omit.json');
    const omitEnd = json.intervals[0]?.sum.end ?? NaN;
    const oneClock = json.intervals.map((i, n) =>
      n === 0 ? i : { ...i, sum: { ...i.sum, start: i.sum.start + omitEnd, end: i.sum.end + omitEnd } },
    );
    expect(iperf3Timing({ ...json, intervals: oneClock })).toEqual(timingOf('tcp-omit.json'));
  });

  it('comes with the parsed result, which stays valid for reports that have none', () => {
    const omit = parseIperf3Output(text('tcp-omit.json'));
    expect(omit.ok && omit.result.timing).toEqual(timingOf('tcp-omit.json'));
    expect(omit.ok && omit.result.receivedBytes).toBe(report('tcp-omit.json').end.sum_received.bytes);
    const server = parseIperf3Output(text('server-tcp-omit.json'));
    expect(server.ok && server.result.timing).toEqual(timingOf('server-tcp-omit.json'));
    const refused = parseIperf3Output(text('refused.json'));
    expect(refused.ok).toBe(false);
    expect(!refused.ok && refused.result).toBeUndefined();
  });
});

describe('measuredWindowMs on the -O 1 capture', () => {
  const client = processOf('tcp-omit.json');
  const server = processOf('server-tcp-omit.json');
  const c = measuredWindowMs(timingOf('tcp-omit.json'), client.exitMs);
  const s = measuredWindowMs(timingOf('server-tcp-omit.json'), server.exitMs);

  it('places the measured interval inside the client process, after its omitted second', () => {
    expect(c.startMs).toBeGreaterThanOrEqual(client.startMs + 1000);
    expect(c.endMs).toBeLessThanOrEqual(client.exitMs);
    expect(c.endMs - c.startMs).toBe(Math.round(1000 * (1.001013 + 1.998973)) - Math.round(1000 * (1.001013 + 0.000046)));
    expect(Math.floor(c.startMs / 1000)).toBeGreaterThanOrEqual(1796668335);
  });

  it('gives the server, from its own report and exit, the same interval within a few ms', () => {
    // The server started earlier (it waited for the client) and measured the same test.
    expect(server.startMs).toBeLessThan(client.startMs);
    expect(Math.abs(s.startMs - c.startMs)).toBeLessThanOrEqual(10);
    expect(Math.abs(s.endMs - c.endMs)).toBeLessThanOrEqual(10);
    expect(s.endMs).toBeLessThanOrEqual(server.exitMs);
  });

  it('is nothing like the process window the CPU used to span', () => {
    expect(c.startMs - client.startMs).toBeGreaterThan(1000);
    expect(s.startMs - server.startMs).toBeGreaterThan(1000);
  });
});

describe('measuredWindowMs bounds', () => {
  const t: Iperf3Timing = { connectedAtSeconds: 1_000, measuredStartSeconds: 1, measuredEndSeconds: 3 };

  it('counts back from the exit when the exit is plausible', () => {
    expect(measuredWindowMs(t, 1_003_400)).toEqual({ startMs: 1_001_400, endMs: 1_003_400 });
  });

  it('holds a late exit (a stuck results exchange, a kill) to the connection second plus the setup allowance', () => {
    const latestStart = 1_001_000 + SETUP_ALLOWANCE_MS;
    expect(measuredWindowMs(t, 1_060_000)).toEqual({ startMs: latestStart + 1000, endMs: latestStart + 3000 });
  });

  it('never starts the test before its connection second', () => {
    expect(measuredWindowMs(t, 1_002_000)).toEqual({ startMs: 1_001_000, endMs: 1_003_000 });
  });

  it('rounds to whole milliseconds', () => {
    expect(measuredWindowMs({ ...t, measuredStartSeconds: 1.0004, measuredEndSeconds: 3.0006 }, 1_003_500.6)).toEqual({
      startMs: 1_001_500,
      endMs: 1_003_501,
    });
  });
});
