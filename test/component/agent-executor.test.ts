/**
 * The agent's executor with a real Iperf3Runner and CpuSampler over loopback: one server
 * executor, one client executor, as on two nodes. Checks what the aggregator relies on: ready
 * once the port listens, results that are valid protocol frames with node CPU, refusals that
 * spawn nothing, cancel that kills and reports nothing, and coded failures for the network
 * conditions a cluster produces.
 */
import { execFileSync } from 'node:child_process';
import net from 'node:net';
import { pino } from 'pino';
import { afterEach, expect, it } from 'vitest';
import { CpuSampler } from '../../agent/cpu-sampler.js';
import { NicSampler } from '../../agent/nic-sampler.js';
import { Executor } from '../../agent/executor.js';
import { Iperf3Runner } from '../../agent/iperf3-runner.js';
import { SockperfRunner } from '../../agent/sockperf-runner.js';
import { isListening } from '../../agent/listening.js';
import {
  ResultSchema,
  type AgentLimits,
  type LatencySpec,
  type ProbeCommand,
  type ResultMessage,
  type ServeCommand,
  type ThroughputSpec,
} from '../../shared/protocol.js';
import { describeWith, waitFor } from '../helpers/requirements.js';

const PORT_MIN = 5201;
const PORT_MAX = 5299;
const limits: AgentLimits = {
  maxDurationSeconds: 40,
  maxBitrateBitsPerSecond: 0,
  maxStreams: 4,
  portMin: PORT_MIN,
  portMax: PORT_MAX,
  allowedTargetCidrs: ['127.0.0.0/8'],
  maxOmitSeconds: 60,
};
const tcp1s: ThroughputSpec = {
  kind: 'throughput',
  protocol: 'tcp',
  durationSeconds: 1,
  bitrateBitsPerSecond: 0,
  streams: 1,
  reverse: false,
};
const log = pino({ level: 'silent' });

/** iperf3 processes that are children of this test process (other users' iperf3 do not count). */
function ourIperf3(): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(process.pid), '-x', 'iperf3'], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

const used = new Set<number>();
/** A port in the agents' range that nothing listens on and that this file has not used yet. */
async function freePort(): Promise<number> {
  for (let port = PORT_MIN; port <= PORT_MAX; port++) {
    if (used.has(port) || (await isListening(port))) continue;
    const bindable = await new Promise<boolean>((resolve) => {
      const s = net.createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (!bindable) continue;
    used.add(port);
    return port;
  }
  throw new Error(`no free port in ${PORT_MIN}-${PORT_MAX}`);
}

interface Side {
  ex: Executor;
  results: ResultMessage[];
  ready: string[];
}
const sides: Side[] = [];

function side(nic: NicSampler | null = null, deadlineMarginMs = 3000): Side {
  const results: ResultMessage[] = [];
  const ready: string[] = [];
  const ex = new Executor({
    limits,
    sampler: new CpuSampler({ intervalMs: 250 }),
    nic,
    runners: {
      throughput: new Iperf3Runner({ binary: 'iperf3', connectTimeoutMs: 1000, deadlineMarginMs }),
      latency: new SockperfRunner({ binary: 'sockperf', connectTimeoutMs: 1000, deadlineMarginMs: 3000 }),
    },
    onResult: (r) => results.push(r),
    onReady: (id) => ready.push(id),
    log,
  });
  const s = { ex, results, ready };
  sides.push(s);
  return s;
}

const serve = (testId: string, port: number, o: Partial<ServeCommand> = {}): ServeCommand => ({
  type: 'serve',
  testId,
  bindAddress: '127.0.0.1',
  port,
  spec: tcp1s,
  idleTimeoutSeconds: 10,
  ...o,
});
const probe = (testId: string, port: number, o: Partial<ProbeCommand> = {}): ProbeCommand => ({
  type: 'probe',
  testId,
  target: '127.0.0.1',
  port,
  spec: tcp1s,
  ...o,
});

/** The single result of a side, once it arrives; also checks it is a valid protocol frame. */
async function resultOf(s: Side, what: string, timeoutMs = 10_000): Promise<ResultMessage> {
  const r = await waitFor(() => s.results[0], timeoutMs, what, 20);
  expect(s.results).toHaveLength(1);
  expect(ResultSchema.parse(JSON.parse(JSON.stringify(r)))).toEqual(r);
  return r;
}

afterEach(async () => {
  for (const s of sides.splice(0)) s.ex.cancel(undefined, 'test over');
  await waitFor(() => ourIperf3().length === 0, 10_000, 'no iperf3 left running', 20);
});

describeWith({ binaries: ['iperf3', 'pgrep'] }, 'Executor with real iperf3 on loopback', () => {
  it('serves, reports ready, and a 1 s TCP probe yields client and server results with node CPU and NIC traffic', async () => {
    const server = side();
    // Loopback stands for the NIC: every test byte crosses it (once out, once in).
    const nic = new NicSampler({ iface: 'lo', intervalMs: 250 });
    nic.start();
    const client = side(nic);
    const port = await freePort();

    server.ex.serve(serve('tcp-1', port));
    await waitFor(() => server.ready.includes('tcp-1'), 5000, 'onReady', 20);
    expect(await isListening(port)).toBe(true);
    expect(server.ex.busyWith).toBe('tcp-1');

    client.ex.probe(probe('tcp-1', port));
    const c = await resultOf(client, 'client result');
    expect(c).toMatchObject({ type: 'result', testId: 'tcp-1', role: 'client', ok: true });
    expect(c.error).toBeUndefined();
    expect(c.iperf?.protocol).toBe('tcp');
    expect(c.iperf?.receivedBitsPerSecond).toBeGreaterThan(0);
    expect(c.iperf?.receivedBytes).toBeGreaterThan(0);
    expect(c.cpu?.test.busyPercent).toBeGreaterThan(0);
    expect(c.cpu?.test.busyCpuSeconds).toBeGreaterThan(0);
    expect(c.cpu?.intervals.length).toBeGreaterThanOrEqual(2);
    expect(c.endedAtMs - c.startedAtMs).toBeGreaterThanOrEqual(1000);
    nic.stopBackground();
    const window = c.nic?.test;
    expect(c.nic?.interface).toBe('lo');
    expect(window && window.endMs - window.startMs).toBeGreaterThanOrEqual(1000);
    // Everything iperf3 moved crossed loopback within the window (header overhead only adds).
    const loBytes = window ? (window.rxBitsPerSecond / 8) * ((window.endMs - window.startMs) / 1000) : 0;
    expect(loBytes).toBeGreaterThanOrEqual(0.99 * (c.iperf?.receivedBytes ?? Infinity));

    const s = await resultOf(server, 'server result');
    expect(s).toMatchObject({ testId: 'tcp-1', role: 'server', ok: true });
    expect(s.cpu?.test.busyPercent).toBeGreaterThan(0);
    expect(s.iperf?.receivedBytes).toBeGreaterThan(0);
    expect(s.resultId).not.toBe(c.resultId);

    // Each side's CPU test window is aligned to what its own iperf3 measured, not to its own
    // process: the server's started long before (it waited for the client).
    for (const r of [c, s]) {
      const measured = r.cpu?.measured;
      const test = r.cpu?.test;
      if (!measured || !test) throw new Error(`${r.role}: no measured interval in the CPU report`);
      expect(measured.startMs).toBeGreaterThanOrEqual(r.startedAtMs);
      expect(measured.endMs).toBeLessThanOrEqual(r.endedAtMs);
      expect(measured.endMs - measured.startMs).toBeGreaterThanOrEqual(990);
      expect(measured.endMs - measured.startMs).toBeLessThan(1100);
      // The snapshots (250 ms apart here) inside the interval, 50 ms of tolerance at each edge.
      expect(test.startMs).toBeGreaterThanOrEqual(measured.startMs - 50);
      expect(test.endMs).toBeLessThanOrEqual(measured.endMs + 50);
      expect(test.endMs - test.startMs).toBeGreaterThanOrEqual(500);
    }
    expect(s.startedAtMs).toBeLessThan(c.startedAtMs);
    const [cm, sm] = [c.cpu?.measured, s.cpu?.measured];
    expect(Math.abs((cm?.startMs ?? 0) - (sm?.startMs ?? Infinity))).toBeLessThan(50);
    expect(Math.abs((cm?.endMs ?? 0) - (sm?.endMs ?? Infinity))).toBeLessThan(50);

    await waitFor(() => server.ex.busyWith === undefined && client.ex.busyWith === undefined, 2000, 'both sides idle', 20);
  });

  it('runs a 1 s UDP probe at a capped bitrate and reports loss and jitter', async () => {
    const server = side();
    const client = side();
    const port = await freePort();
    server.ex.serve(serve('udp-1', port));
    await waitFor(() => server.ready.includes('udp-1'), 5000, 'onReady', 20);
    client.ex.probe(probe('udp-1', port, { spec: { ...tcp1s, protocol: 'udp', bitrateBitsPerSecond: 50_000_000 } }));
    const c = await resultOf(client, 'client result');
    expect(c.ok).toBe(true);
    expect(c.iperf?.protocol).toBe('udp');
    expect(c.iperf?.sentBitsPerSecond).toBeGreaterThan(0);
    expect(c.iperf?.sentBitsPerSecond).toBeLessThan(100_000_000);
    expect(c.iperf?.udp?.lossRatio).toBeGreaterThanOrEqual(0);
    expect((await resultOf(server, 'server result')).ok).toBe(true);
  });

  it('runs the omitted seconds before its deadline: a 1 s test with 2 s omitted outlives a 1 s + 1.5 s deadline', async () => {
    const server = side();
    // Deadline without the omitted seconds: 1 s + 1 s connect timeout + 0.5 s margin, before iperf3's 3 s are up.
    const client = side(null, 500);
    const port = await freePort();
    const spec = { ...tcp1s, omitSeconds: 2 };
    server.ex.serve(serve('omit-2', port, { spec }));
    await waitFor(() => server.ready.includes('omit-2'), 5000, 'onReady', 20);
    client.ex.probe(probe('omit-2', port, { spec }));
    const c = await resultOf(client, 'client result');
    expect(c.error).toBeUndefined();
    expect(c.ok).toBe(true);
    expect(c.endedAtMs - c.startedAtMs).toBeGreaterThanOrEqual(3000);
    // The report covers the measured second only.
    expect(c.iperf?.durationSeconds).toBe(1);
    expect(((c.iperf?.receivedBytes ?? 0) * 8) / (c.iperf?.receivedBitsPerSecond ?? Infinity)).toBeLessThan(1.5);
    expect((await resultOf(server, 'server result')).ok).toBe(true);
  });

  it('answers a command while busy at once with agent-busy, without touching the running test', async () => {
    const server = side();
    const port = await freePort();
    server.ex.serve(serve('long', port));
    await waitFor(() => server.ready.includes('long'), 5000, 'onReady', 20);
    const running = ourIperf3();
    expect(running).toHaveLength(1);

    server.ex.probe(probe('second', await freePort()));
    // Delivered before probe() returned: nothing was started.
    expect(server.results).toHaveLength(1);
    expect(server.results[0]).toMatchObject({ testId: 'second', role: 'client', ok: false, error: { code: 'agent-busy' } });
    expect(server.results[0]?.error?.message).toMatch(/long/);
    server.ex.serve(serve('third', await freePort()));
    expect(server.results[1]).toMatchObject({ testId: 'third', role: 'server', ok: false, error: { code: 'agent-busy' } });

    expect(server.ex.busyWith).toBe('long');
    expect(ourIperf3()).toEqual(running);
  });

  it.each([
    [
      'a duration over the limit',
      probe('too-long', PORT_MIN, { spec: { ...tcp1s, durationSeconds: 41 } }),
      /duration 41s exceeds the agent's limit of 40s/,
    ],
    [
      'more streams than allowed',
      probe('too-wide', PORT_MIN, { spec: { ...tcp1s, streams: 5 } }),
      /5 streams exceed the agent's limit of 4/,
    ],
    [
      'a target outside the allowed CIDRs',
      probe('far', PORT_MIN, { target: '198.18.0.11' }),
      /target 198\.18\.0\.11 is outside the agent's allowed ranges \(127\.0\.0\.0\/8\)/,
    ],
    ['a port below the range', probe('low', 5200), /port 5200 is outside the agent's range 5201-5299/],
    ['a port above the range', probe('high', 5300), /port 5300 is outside/],
  ])('refuses a probe with %s as spec-refused, spawning nothing', async (_what, cmd, message) => {
    const client = side();
    const before = ourIperf3();
    client.ex.probe(cmd);
    expect(client.results).toHaveLength(1);
    const r = client.results[0];
    expect(r).toMatchObject({ testId: cmd.testId, role: 'client', ok: false, error: { code: 'spec-refused' } });
    expect(r?.error?.message).toMatch(message);
    expect(r?.startedAtMs).toBe(r?.endedAtMs);
    expect(ResultSchema.parse(r)).toEqual(r);
    expect(client.ex.busyWith).toBeUndefined();
    expect(ourIperf3()).toEqual(before);
  });

  it('refuses to serve outside its port range or limits as spec-refused, spawning nothing', () => {
    const server = side();
    server.ex.serve(serve('low', 80));
    server.ex.serve(serve('long', PORT_MIN, { spec: { ...tcp1s, durationSeconds: 3600 } }));
    expect(server.results.map((r) => [r.testId, r.role, r.error?.code])).toEqual([
      ['low', 'server', 'spec-refused'],
      ['long', 'server', 'spec-refused'],
    ]);
    expect(server.ready).toEqual([]);
    expect(server.ex.busyWith).toBeUndefined();
    expect(ourIperf3()).toEqual([]);
  });

  it('cancel() kills a running 30 s client quickly and reports nothing', async () => {
    const server = side();
    const client = side();
    const port = await freePort();
    server.ex.serve(serve('cancel-me', port, { spec: { ...tcp1s, durationSeconds: 30 } }));
    await waitFor(() => server.ready.includes('cancel-me'), 5000, 'onReady', 20);
    client.ex.probe(probe('cancel-me', port, { spec: { ...tcp1s, durationSeconds: 30 } }));
    await waitFor(() => ourIperf3().length === 2, 5000, 'client iperf3 running', 20);

    client.ex.cancel('some-other-test', 'not this one');
    expect(client.ex.busyWith).toBe('cancel-me');

    const t0 = Date.now();
    client.ex.cancel('cancel-me', 'aggregator said so');
    await waitFor(() => client.ex.busyWith === undefined, 5000, 'client executor idle', 20);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(client.results).toEqual([]);
    expect(ourIperf3().length).toBeLessThanOrEqual(1); // only the server may be left

    server.ex.cancel(undefined, 'test over');
    await waitFor(() => ourIperf3().length === 0, 5000, 'no iperf3 left', 20);
    await waitFor(() => server.ex.busyWith === undefined, 5000, 'server executor idle', 20);
    expect(Date.now() - t0).toBeLessThan(8000);
    expect(client.results).toEqual([]);
    // A server cancelled before it finished owes no result either.
    expect(server.results.filter((r) => r.ok)).toEqual([]);
  });

  it('reports connection-refused when nothing listens on the target port', async () => {
    const client = side();
    const port = await freePort();
    client.ex.probe(probe('refused', port));
    const r = await resultOf(client, 'client result');
    expect(r).toMatchObject({ testId: 'refused', role: 'client', ok: false, error: { code: 'connection-refused' } });
    expect(r.error?.message).toMatch(/refused/i);
  });

  it('reports port-in-use when something already listens on the serve port, and never says ready', async () => {
    const server = side();
    const port = await freePort();
    const squatter = net.createServer();
    await new Promise<void>((resolve) => squatter.listen(port, '127.0.0.1', resolve));
    try {
      server.ex.serve(serve('squatted', port));
      const r = await resultOf(server, 'server result');
      expect(r).toMatchObject({ testId: 'squatted', role: 'server', ok: false, error: { code: 'port-in-use' } });
      expect(r.error?.message).toMatch(String(port));
      expect(server.ready).toEqual([]);
      expect(ourIperf3()).toEqual([]);
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
  });

  it('reports connect-timeout when no client arrives before the idle timeout', async () => {
    const server = side();
    const port = await freePort();
    server.ex.serve(serve('lonely', port, { idleTimeoutSeconds: 1 }));
    await waitFor(() => server.ready.includes('lonely'), 5000, 'onReady', 20);
    const r = await resultOf(server, 'server result', 8000);
    expect(r).toMatchObject({ testId: 'lonely', role: 'server', ok: false, error: { code: 'connect-timeout' } });
  });
});

describeWith({ binaries: ['sockperf', 'iperf3', 'pgrep'] }, 'Executor latency tests with real sockperf on loopback', () => {
  const latency: LatencySpec = {
    kind: 'latency',
    protocol: 'udp',
    durationSeconds: 1,
    messageSizeBytes: 64,
    messagesPerSecond: 500,
    connectSamples: 0,
  };
  /** sockperf servers on `port` (other tests on this machine may run their own elsewhere). */
  const sockperfOn = (port: number) => {
    try {
      return execFileSync('pgrep', ['-f', `^sockperf server .*-p ${port}( |$)`], { encoding: 'utf8' })
        .split('\n')
        .filter(Boolean);
    } catch {
      return [];
    }
  };

  it('runs a latency test, and after the server is cancelled the next serve on that port waits for it instead of failing', async () => {
    const server = side();
    const client = side();
    const port = await freePort();
    server.ex.serve({
      type: 'serve',
      testId: 'lat-1',
      bindAddress: '127.0.0.1',
      port,
      spec: latency,
      idleTimeoutSeconds: 10,
    });
    await waitFor(() => server.ready.includes('lat-1'), 5000, 'the sockperf server ready', 20);
    client.ex.probe({ type: 'probe', testId: 'lat-1', target: '127.0.0.1', port, spec: latency });
    const c = await resultOf(client, 'the latency client result', 15_000);
    expect(c).toMatchObject({ role: 'client', ok: true, latency: { protocol: 'udp', messageSizeBytes: 64 } });
    expect(c.latency?.rttMicroseconds.p50).toBeGreaterThan(0);

    // What the aggregator does: cancel the server, and send this node its next test straight away.
    server.ex.cancel('lat-1', 'done');
    server.ex.serve(serve('tcp-after-latency', port));
    await waitFor(() => server.ready.includes('tcp-after-latency'), 10_000, 'the iperf3 server on the same port', 20);
    // No agent-busy, no port-in-use, and no result for the cancelled sockperf server.
    expect(server.results).toEqual([]);
    expect(sockperfOn(port)).toEqual([]);
  }, 30_000);
});
