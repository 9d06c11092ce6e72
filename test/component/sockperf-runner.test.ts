/**
 * SockperfRunner with the real sockperf on 127.0.0.1: a served and probed test for each
 * protocol, connect samples, the failures a latency test meets (refused, no replies, a taken
 * port, a hung client killed at its deadline) and cancellation, each leaving no sockperf behind.
 */
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { afterEach, expect, it } from 'vitest';
import { isUdpListening } from '../../agent/listening.js';
import { SockperfRunner, type LatencyOutcome, type LatencyRunSpec, type SockperfServeCommand } from '../../agent/sockperf-runner.js';
import { LatencyResultSchema } from '../../shared/sockperf.js';
import { freeLoopbackPort } from '../helpers/ports.js';
import { describeWith, waitFor } from '../helpers/requirements.js';
import { processesOn } from '../helpers/processes.js';

const runner = new SockperfRunner({ binary: 'sockperf', connectTimeoutMs: 1000, deadlineMarginMs: 1000 });
const spec = (o: Partial<LatencyRunSpec> = {}): LatencyRunSpec => ({
  kind: 'latency',
  connectSamples: 0,
  protocol: 'tcp',
  durationSeconds: 1,
  messageSizeBytes: 64,
  messagesPerSecond: 200,
  ...o,
});

const sockperfOn = (port: number) => processesOn('sockperf', port);

interface Served {
  port: number;
  stop: AbortController;
  outcome: Promise<LatencyOutcome>;
  listening: () => boolean;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/** A server from the runner, stopped (and checked gone) after the test. */
async function serve(o: Partial<SockperfServeCommand> & { spec: LatencyRunSpec }): Promise<Served> {
  const port = o.port ?? (await freeLoopbackPort());
  const stop = new AbortController();
  let listening = false;
  const cmd: SockperfServeCommand = { testId: 't', bindAddress: '127.0.0.1', port, idleTimeoutSeconds: 10, ...o };
  const outcome = runner.serve(cmd, stop.signal, () => (listening = true));
  cleanups.push(async () => {
    stop.abort('test over');
    await outcome;
    await waitFor(async () => (await sockperfOn(port)).length === 0, 5000, `no sockperf left on ${port}`, 20);
  });
  return { port, stop, outcome, listening: () => listening };
}

async function listeningServer(s: LatencyRunSpec): Promise<Served> {
  const served = await serve({ spec: s });
  await waitFor(() => served.listening(), 5000, 'the server to listen', 20);
  return served;
}

function latencyOf(o: LatencyOutcome) {
  if (o.failure) throw new Error(`expected a latency, got ${o.failure.code}: ${o.failure.message}`);
  expect(LatencyResultSchema.parse(o.latency)).toEqual(o.latency);
  return o.latency as NonNullable<LatencyOutcome['latency']>;
}

describeWith({ binaries: ['sockperf', 'setpriv', 'pgrep'] }, 'SockperfRunner with real sockperf on loopback', () => {
  it('reads the version', async () => {
    expect(await runner.version()).toMatch(/^3\.\d+/);
  });

  it.each(['tcp', 'udp'] as const)(
    'serves and probes %s: a schema-valid round trip with p50 > 0, and the server ends on abort',
    async (protocol) => {
      const s = spec({ protocol });
      const server = await listeningServer(s);
      const out = await runner.probe({ testId: 't', target: '127.0.0.1', port: server.port, spec: s }, new AbortController().signal);
      const latency = latencyOf(out);
      expect(latency).toMatchObject({ protocol, messageSizeBytes: 64 });
      expect(latency.observations).toBeGreaterThan(20);
      expect(latency.rttMicroseconds.p50).toBeGreaterThan(0);
      expect(latency.connect).toBeUndefined();
      expect(out.endedAtMs - out.startedAtMs).toBeGreaterThanOrEqual(1000);

      server.stop.abort('test over');
      const ended = await server.outcome;
      expect(ended.failure).toBeUndefined();
      expect(ended.latency).toBeUndefined();
      await waitFor(async () => (await sockperfOn(server.port)).length === 0, 5000, 'the server process gone', 20);
    },
  );

  it('times TCP connection setup first when asked', async () => {
    const s = spec({ connectSamples: 5 });
    const server = await listeningServer(s);
    const latency = latencyOf(
      await runner.probe({ testId: 't', target: '127.0.0.1', port: server.port, spec: s }, new AbortController().signal),
    );
    expect(latency.connect).toMatchObject({ samples: 5, failures: 0 });
    expect(latency.connect?.p50Microseconds).toBeGreaterThan(0);
    expect(latency.connect?.maxMicroseconds).toBeGreaterThanOrEqual(latency.connect?.minMicroseconds ?? Infinity);
    expect(latency.rttMicroseconds.p50).toBeGreaterThan(0);
  });

  it('gives connection-refused for TCP with no server, without waiting out the duration', async () => {
    const port = await freeLoopbackPort();
    const out = await runner.probe(
      { testId: 't', target: '127.0.0.1', port, spec: spec({ durationSeconds: 5 }) },
      new AbortController().signal,
    );
    expect(out.failure?.code).toBe('connection-refused');
    expect(out.latency).toBeUndefined();
    expect(out.endedAtMs - out.startedAtMs).toBeLessThan(3000);
  });

  it('gives no-replies, not a zero latency, for UDP with no server', async () => {
    const port = await freeLoopbackPort();
    const out = await runner.probe(
      { testId: 't', target: '127.0.0.1', port, spec: spec({ protocol: 'udp' }) },
      new AbortController().signal,
    );
    expect(out).toMatchObject({ failure: { code: 'no-replies' } });
    expect(out.latency).toBeUndefined();
  });

  it.each(['tcp', 'udp'] as const)('refuses a %s port another server holds with port-in-use', async (protocol) => {
    const first = await listeningServer(spec({ protocol }));
    let listened = false;
    const out = await runner.serve(
      { testId: 't2', bindAddress: '127.0.0.1', port: first.port, spec: spec({ protocol }), idleTimeoutSeconds: 10 },
      new AbortController().signal,
      () => (listened = true),
    );
    expect(out.failure?.code).toBe('port-in-use');
    expect(listened).toBe(false);
    expect(await sockperfOn(first.port)).toHaveLength(1);
  });

  it('reports port-in-use from sockperf itself when it dies binding a port held by a connected UDP socket', async () => {
    const port = await freeLoopbackPort();
    const holder: Socket = createSocket('udp4');
    cleanups.push(() => new Promise((r) => holder.close(() => r())));
    await new Promise<void>((r) => holder.bind(port, '127.0.0.1', r));
    holder.connect(9, '127.0.0.1');
    await once(holder, 'connect');
    // Connected, it answers no one: the pre-check lets it pass and sockperf's bind meets it.
    expect(await isUdpListening(port)).toBe(false);
    const server = await serve({ port, spec: spec({ protocol: 'udp' }) });
    const out = await server.outcome;
    expect(out.failure).toMatchObject({ code: 'port-in-use', message: expect.stringMatching(/errno=98/) });
    expect(server.listening()).toBe(false);
  });

  it('sees a bound UDP socket as listening, and not once it is closed', async () => {
    const port = await freeLoopbackPort();
    const socket = createSocket('udp4');
    await new Promise<void>((r) => socket.bind(port, '127.0.0.1', r));
    expect(await isUdpListening(port)).toBe(true);
    await new Promise<void>((r) => socket.close(() => r()));
    expect(await isUdpListening(port)).toBe(false);
  });

  it('cancels a running client promptly and leaves no sockperf', async () => {
    const s = spec({ protocol: 'udp', durationSeconds: 20 });
    const server = await listeningServer(s);
    const abort = new AbortController();
    const probe = runner.probe({ testId: 't', target: '127.0.0.1', port: server.port, spec: s }, abort.signal);
    await waitFor(async () => (await sockperfOn(server.port)).length === 2, 5000, 'the client running', 20);
    const abortedAt = Date.now();
    abort.abort('operator cancelled');
    const out = await probe;
    expect(out.failure).toEqual({ code: 'cancelled', message: 'operator cancelled' });
    expect(out.latency).toBeUndefined();
    expect(Date.now() - abortedAt).toBeLessThan(3000);
    await waitFor(async () => (await sockperfOn(server.port)).length === 1, 3000, 'only the server left', 20);
  });

  it('ends a server at its lifetime with no failure and no process left', async () => {
    const short = new SockperfRunner({ binary: 'sockperf', connectTimeoutMs: 100, deadlineMarginMs: 100 });
    const port = await freeLoopbackPort();
    let listening = false;
    const started = Date.now();
    const out = await short.serve(
      { testId: 't', bindAddress: '127.0.0.1', port, spec: spec({ protocol: 'udp' }), idleTimeoutSeconds: 1 },
      new AbortController().signal,
      () => (listening = true),
    );
    expect(listening).toBe(true);
    expect(out.failure).toBeUndefined();
    // idle 1 s + duration 1 s + the client's 2.5 s overhead + 0.2 s.
    expect(Date.now() - started).toBeGreaterThanOrEqual(4700);
    expect(await sockperfOn(port)).toEqual([]);
  });

  it('kills a hung client at its deadline with sockperf-timeout', async () => {
    const port = await freeLoopbackPort();
    const probe = runner.probe({ testId: 't', target: '127.0.0.1', port, spec: spec({ protocol: 'udp' }) }, new AbortController().signal);
    const [pid] = await waitFor(
      async () => {
        const pids = await sockperfOn(port);
        return pids.length === 1 ? pids : undefined;
      },
      5000,
      'the client running',
      20,
    );
    // A stopped process ignores the deadline's SIGTERM: the runner must get to SIGKILL.
    process.kill(pid as number, 'SIGSTOP');
    const out = await probe;
    expect(out.failure?.code).toBe('sockperf-timeout');
    expect(out.failure?.message).toMatch(/killed after \d+ ms/);
    expect(out.latency).toBeUndefined();
    await waitFor(async () => (await sockperfOn(port)).length === 0, 3000, 'the client gone', 20);
  }, 20_000);

  it('gives sockperf-spawn-failed for a binary that does not exist', async () => {
    const missing = new SockperfRunner({ binary: '/nonexistent/sockperf', connectTimeoutMs: 100, deadlineMarginMs: 100 });
    const out = await missing.probe({ testId: 't', target: '127.0.0.1', port: 9, spec: spec() }, new AbortController().signal);
    expect(out.failure?.code).toBe('sockperf-spawn-failed');
    await expect(missing.version()).rejects.toThrow();
  });
});
